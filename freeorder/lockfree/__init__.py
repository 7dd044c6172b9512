"""Lock-free structures over ``freeorder.atomic``, with nodes in arenas.

Every structure takes a reclaimer (``freeorder.reclaim``: epoch, hazard or
none) deciding when an unlinked node's slot may be reused, holds no
``threading.Lock``, and names each operation's linearization point.
"""

from .arena import NULL, Arena, ArenaExhausted, make_ref, ref_index, ref_version
from .msqueue import MSQueue
from .order_index import OrderIndex
from .seqlock import SeqLock
from .skiplist import SkipListMap
from .treiber import TreiberStack

__all__ = [
    "NULL",
    "Arena",
    "ArenaExhausted",
    "MSQueue",
    "OrderIndex",
    "SeqLock",
    "SkipListMap",
    "TreiberStack",
    "make_ref",
    "ref_index",
    "ref_version",
]
