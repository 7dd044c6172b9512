"""Memory orders, numbered as the native extension numbers them."""

from enum import IntEnum


class MemoryOrder(IntEnum):
    """C11 memory orders. A load may not be RELEASE/ACQ_REL, a store not ACQUIRE/ACQ_REL."""

    RELAXED = 0
    ACQUIRE = 1
    RELEASE = 2
    ACQ_REL = 3
    SEQ_CST = 4


RELAXED = MemoryOrder.RELAXED
ACQUIRE = MemoryOrder.ACQUIRE
RELEASE = MemoryOrder.RELEASE
ACQ_REL = MemoryOrder.ACQ_REL
SEQ_CST = MemoryOrder.SEQ_CST

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
