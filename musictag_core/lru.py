"""A bounded, thread-safe in-memory LRU cache shared by the stages that keep things in memory.

Used for the Explore page's datasets and matrices (:mod:`musictag_core.explore`),
fitted projections (:class:`musictag_core.explore.ProjectionCache`) and open memory
maps (:class:`musictag_core.store.MmapPool`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .errors import ParameterError

__all__ = ["BoundedCache", "nbytes_of"]


def nbytes_of(value: Any, *, _depth: int = 0, _seen: set | None = None) -> int:
    """Approximate memory held by ``value``: NumPy arrays, pandas objects, and containers, dataclasses
    and plain objects holding them (followed 4 levels deep; each object counted once).

    Small Python objects count nothing: the point is the arrays that make a cache grow.
    """
    seen = set() if _seen is None else _seen
    if value is None or id(value) in seen or _depth > 4:
        return 0
    seen.add(id(value))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and not isinstance(value, type):
        return nbytes  # ndarray (a view counts its base's shown bytes)
    usage = getattr(value, "memory_usage", None)
    if callable(usage) and hasattr(value, "columns"):  # a DataFrame (object columns: pointers only)
        try:
            return int(usage(index=True, deep=False).sum())
        except Exception:  # noqa: BLE001 - an estimate never fails the caller
            return 0
    if callable(usage) and hasattr(value, "dtype"):  # a Series
        try:
            return int(usage(index=True, deep=False))
        except Exception:  # noqa: BLE001
            return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, dict):
        return sum(nbytes_of(v, _depth=_depth + 1, _seen=seen) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(nbytes_of(v, _depth=_depth + 1, _seen=seen) for v in value)
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        return sum(nbytes_of(v, _depth=_depth + 1, _seen=seen) for v in fields.values())
    slots = getattr(type(value), "__slots__", ())
    return sum(nbytes_of(getattr(value, n, None), _depth=_depth + 1, _seen=seen) for n in slots if isinstance(n, str))


class BoundedCache:
    """Bounded, thread-safe in-memory LRU cache (a dict that forgets the least recently used entries).

    Parameters
    ----------
    max_entries : int
        Most entries kept.
    max_bytes : int or None
        Most bytes kept, as :func:`nbytes_of` estimates them (None: no byte bound). The
        least recently used entries go first; the newest entry is always kept, even alone
        over the bound.
    """

    def __init__(self, *, max_entries: int = 8, max_bytes: int | None = None) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ParameterError(f"max_entries must be a positive integer, got {max_entries!r}")
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
            raise ParameterError(f"max_bytes must be a positive integer or None, got {max_bytes!r}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._sizes: dict[Any, int] = {}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes held, as estimated when each entry was stored (0 without a byte bound)."""
        return sum(self._sizes.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Any) -> bool:
        return key in self._items

    def get(self, key: Any, default: Any = None) -> Any:
        """The value for ``key`` (marking it recently used), or ``default``."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` under ``key``, dropping the oldest entries beyond ``max_entries``."""
        size = nbytes_of(value) if self.max_bytes is not None else 0
        with self._lock:
            self._items[key] = value
            self._sizes[key] = size
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries or (
                self.max_bytes is not None and len(self._items) > 1 and sum(self._sizes.values()) > self.max_bytes
            ):
                old, _ = self._items.popitem(last=False)
                self._sizes.pop(old, None)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
            self._sizes.clear()
