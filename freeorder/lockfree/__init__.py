"""Lock-free structures over ``freeorder.atomic``.

None holds a ``threading.Lock``; each names its operations' linearization
points. The node-based ones keep nodes in arenas and take a reclaimer
(``freeorder.reclaim``: epoch, hazard or none) deciding when an unlinked
node's slot may be reused; ``CommandLog`` (an append-only log truncated at
the front) keeps its entries as objects in a lookup instead.
"""

from .arena import NULL, Arena, ArenaExhausted, make_ref, ref_index, ref_version
from .command_log import CommandLog, Entry, Forgotten
from .msqueue import MSQueue
from .order_index import OrderIndex
from .seqlock import SeqLock
from .skiplist import SkipListMap
from .treiber import TreiberStack

__all__ = [
    "NULL",
    "Arena",
    "ArenaExhausted",
    "CommandLog",
    "Entry",
    "Forgotten",
    "MSQueue",
    "OrderIndex",
    "SeqLock",
    "SkipListMap",
    "TreiberStack",
    "make_ref",
    "ref_index",
    "ref_version",
]
