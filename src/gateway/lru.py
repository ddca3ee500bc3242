"""A bounded map that forgets its least recently used entry: the one cache shape of the
gateway (rewrites, policy subqueries, verified statements, parses, classifications, look-ups,
views), each kept per text or key it saw so repeated templates skip the work.

Thread-safe: every operation takes the cache's own lock, so a value computed outside it by
two threads at once is simply stored twice (the last one stays). Only what passed a check is
ever stored by its callers — a refusal is never cached, so a refused text is checked again
every time.

Example:
    >>> cache: LruCache[str, int] = LruCache(2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.get("a")
    1
    >>> cache.put("c", 3)  # "b" was used least recently: it goes
    >>> cache.get("b") is None, "a" in cache, "c" in cache, len(cache)
    (True, True, True, 2)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["LruCache"]

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``max_entries`` entries; the least recently read or written goes first."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key``, forgetting the least recently used entry if full."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
