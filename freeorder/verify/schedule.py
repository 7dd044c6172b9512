"""Schedule strings: one model execution written down, so it can be replayed.

A schedule lists, in order, the decisions the explorer took where it had a choice:

- a **thread choice** (any memory model): the id of the model thread picked
  where more than one could run, e.g. ``2``;
- a **memory choice** (``memory="c11"`` only), taken where a load could read
  more than one store, or a store could take more than one place in its
  location's modification order: ``r<k>`` reads the k-th newest store it may
  read (``r0``: the newest), ``w<k>`` places the store k places before the end
  of the modification order (``w0``: last). A read-modify-write always reads
  and extends the newest store, so it takes no memory choice.

Runs of equal decisions are run-length encoded: ``"0x3.1.r1.2x2"`` is 0, 0, 0,
1, r1, 2, 2. A schedule of the sequentially consistent model has thread
choices only, so its strings are those of earlier versions.
"""

from __future__ import annotations

from typing import NamedTuple


class ModelError(RuntimeError):
    """The model cannot run the test: nondeterminism, a replay that does not fit, misuse."""


class Pick(NamedTuple):
    """A memory choice: ``kind`` "r" (which store a load reads) or "w" (where a store goes); ``k`` 0 = newest."""

    kind: str
    k: int

    def __str__(self) -> str:
        return f"{self.kind}{self.k}"


Choice = int | Pick


def encode_schedule(choices: list[Choice]) -> str:
    """Run-length encode decisions: [0, 0, 0, 1, Pick("r", 1), 2, 2] -> "0x3.1.r1.2x2"."""
    parts = []
    i = 0
    while i < len(choices):
        j = i
        while j < len(choices) and choices[j] == choices[i] and type(choices[j]) is type(choices[i]):
            j += 1
        n = j - i
        parts.append(f"{choices[i]}x{n}" if n > 1 else str(choices[i]))
        i = j
    return ".".join(parts)


def decode_schedule(text: str) -> list[Choice]:
    """Inverse of ``encode_schedule``; raises ModelError on malformed text."""
    choices: list[Choice] = []
    text = text.strip().strip('"').strip("'")
    if not text:
        return choices
    for part in text.split("."):
        token, _, count = part.partition("x")
        try:
            n = int(count) if count else 1
            if token[:1] in ("r", "w"):
                k = int(token[1:])
                if k < 0:
                    raise ValueError
                choice: Choice = Pick(token[0], k)
            else:
                choice = int(token)
        except ValueError:
            raise ModelError(f"malformed schedule {text!r} at {part!r}") from None
        choices.extend([choice] * n)
    return choices
