"""Value semantics for the book's NamedTuple records.

Events and results are NamedTuples because tuples are the cheapest immutable
records to build on 3.13t. Plain tuple equality would make two different
record types with equal fields compare equal, so :func:`value_type` gives a
record class type-strict ``==``, ``!=`` and ``hash``.
"""

from __future__ import annotations

from ._immortal import immortalize

_tuple_eq = tuple.__eq__
_tuple_hash = tuple.__hash__


def _eq(self, other):
    if type(self) is not type(other):
        return False  # not NotImplemented: tuple's reflected == would compare fields only
    return _tuple_eq(self, other)


def _ne(self, other):
    if type(self) is not type(other):
        return True
    return not _tuple_eq(self, other)


def _hash(self):
    return _tuple_hash((type(self).__name__, *self))


def value_type(cls):
    """Make NamedTuple ``cls`` equal only to instances of exactly its type."""
    cls.__eq__ = _eq
    cls.__ne__ = _ne
    cls.__hash__ = _hash
    # Field getters are read by every thread that reads a record: make them immortal (see _immortal).
    immortalize([cls.__dict__[name] for name in cls._fields])
    return cls
