"""Call sites of atomic operations: their names, the orders they use, and test-only overrides.

A *site* names one atomic operation in the source as
``"<file> | <function> | <operation> | <source line>"``, e.g.
``"lockfree/seqlock.py | SeqLock.write | store | self._seq.store(start + 2, RELEASE)"``
(files inside the ``freeorder`` package are named relative to it). The model
finds it from the stack of the thread making the operation, skipping the
atomics facade and the model's own frames.

``verify.model(body, memory="c11", orders={site: order})`` runs the body with
the operation at ``site`` using ``order`` instead of the order the code
passes (for compare-exchange: the success order; the failure order is
lowered with it when needed). Tests use it to weaken one ordering of the
product without editing the product. ``record_sites=True`` records every
site the exploration passed and the orders used there (``Report.sites``).
"""

from __future__ import annotations

import linecache
import os
import re
import sys

from freeorder.atomic._checks import as_order, default_failure

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../freeorder
_ROOT = os.path.dirname(_PACKAGE)
_VERIFY = os.path.join(_PACKAGE, "verify")
_INTERNAL = {
    os.path.join(_VERIFY, name) for name in ("model.py", "sites.py", "execution.py", "c11.py", "explore.py")
} | {os.path.join(_PACKAGE, "atomic", "__init__.py")}
_KINDS = {"load": "load", "to_list": "load", "store": "store", "fence": "rmw"}

_COMMENT = re.compile(r"\s+#.*$")  # a trailing comment is not part of a site's name
_cache: dict = {}


def _short(path: str) -> str:
    path = os.path.abspath(path)
    if path.startswith(_PACKAGE + os.sep):
        return os.path.relpath(path, _PACKAGE)
    if path.startswith(_ROOT + os.sep):
        return os.path.relpath(path, _ROOT)
    return path


def site_of(op: str) -> str:
    """The site of the atomic operation ``op`` the running code is making."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename in _INTERNAL:
        f = f.f_back
    if f is None:
        return f"? | ? | {op} | ?"
    key = (f.f_code, f.f_lineno, op)
    site = _cache.get(key)
    if site is None:
        code = f.f_code
        text = _COMMENT.sub("", linecache.getline(code.co_filename, f.f_lineno)).strip()
        site = _cache[key] = f"{_short(code.co_filename)} | {code.co_qualname} | {op} | {text}"
    return site


def where(depth: int = 1) -> str:
    """``file:line (function)`` of the code outside the model that is running (for messages)."""
    f = sys._getframe(depth)
    while f is not None and f.f_code.co_filename in _INTERNAL:
        f = f.f_back
    if f is None:
        return "?"
    return f"{_short(f.f_code.co_filename)}:{f.f_lineno} ({f.f_code.co_qualname})"


class Orders:
    """Order overrides and site recording for one ``model()`` call."""

    def __init__(self, overrides: dict | None, record: bool):
        self.overrides = {}
        for site, order in (overrides or {}).items():
            parts = site.split(" | ") if isinstance(site, str) else []
            if len(parts) < 4:
                raise ValueError(f"orders: site {site!r} is not 'file | function | operation | source line'")
            self.overrides[site] = as_order(order, _KINDS.get(parts[2], "rmw"), f"orders[{site!r}]")
        self.record: dict[str, set[int]] | None = {} if record else None
        self.hit: dict[str, set[int]] = {}  # overridden sites reached -> the orders the code passed there

    def apply(self, op: str, order: int) -> int:
        """The order the operation ``op`` at the running site uses."""
        site = site_of(op)
        if self.record is not None:
            self.record.setdefault(site, set()).add(int(order))
        new = self.overrides.get(site)
        if new is None:
            return order
        self.hit.setdefault(site, set()).add(int(order))
        return new

    def apply_cas(self, op: str, success: int, failure: int) -> tuple[int, int]:
        new = self.apply(op, success)
        if new != success:
            failure = min(failure, default_failure(new))
        return new, failure
