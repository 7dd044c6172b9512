"""Stress runs: real threads hammer one structure for a bounded time, then invariants are checked.

    freeorder stress <structure> --threads 8 --seconds 30 --reclaimer epoch|hazard|none [--seed N]

The seed is printed so a failing run can be replayed with the same per-thread
operation streams (thread interleavings, of course, differ).
"""
