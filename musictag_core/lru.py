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

__all__ = ["BoundedCache"]


class BoundedCache:
    """Bounded, thread-safe in-memory LRU cache (a dict that forgets the least recently used entries).

    Parameters
    ----------
    max_entries : int
        Most entries kept.
    """

    def __init__(self, *, max_entries: int = 8) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ParameterError(f"max_entries must be a positive integer, got {max_entries!r}")
        self.max_entries = max_entries
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

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
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
