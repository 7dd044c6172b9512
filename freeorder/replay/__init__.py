"""Order files in, events out: the library behind ``freeorder replay`` and ``freeorder book``.

- :mod:`~freeorder.replay.orderfile`: the file schema (CSV with a header row, or JSON
  Lines), read as a stream; :class:`InputError` names file, line, field and value.
- :mod:`~freeorder.replay.instruments`: instruments from a file, or inferred from the prices.
- :mod:`~freeorder.replay.runner`: :class:`Replay` applies a file to any engine, on one
  thread or split by symbol over several, and yields the events as JSON in file order.
- :mod:`~freeorder.replay.generate`: a seeded file of any length in the same schema.

>>> from freeorder.engines import ReferenceEngine
>>> from freeorder.replay import Replay, infer_instruments, sample_path
>>> with sample_path() as path:
...     engine = ReferenceEngine(infer_instruments(path).values(), record_events=False)
...     replay = Replay(engine, events=True)
...     events = list(replay.run(path))
>>> replay.totals["AAA"].trades > 0
True
"""

from .generate import generate_rows, write_generated
from .instruments import infer_instruments, load_instruments
from .orderfile import COLUMNS, InputError, OrderLine, read_orders
from .output import atomic_output
from .runner import Replay, SymbolTotals, event_record
from .sample import sample_files, sample_path


__all__ = ["COLUMNS", "InputError", "OrderLine", "Replay", "SymbolTotals", "atomic_output", "event_record",
           "generate_rows", "infer_instruments", "load_instruments", "read_orders", "sample_files", "sample_path",
           "write_generated"]
