"""Reuse of rewrite results for repeated queries (analysts and templates re-run the same SQL).

A rewrite is pure: the same SQL text, policy view, schemas, row cap and parameter *shape*
(which names, list or single value) always give the same result. The cache keys on exactly
that; parameter values are not part of the SQL (the engine binds them) and are validated again
on every hit. Bounded and thread-safe.

Example:
    >>> cache = RewriteCache(max_entries=2)
    >>> cache.key("SELECT 1", ("v",), None, {"a": [1]})[3]
    (('a', 'list'),)
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.lru import LruCache
from gateway.rewrite.context import RewriteResult

__all__ = ["RewriteCache"]


class RewriteCache:
    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: LruCache[tuple[object, ...], RewriteResult] = LruCache(max_entries)

    @staticmethod
    def key(
        sql: str, view_key: tuple[object, ...], max_rows: int | None, params: Mapping[str, object]
    ) -> tuple[object, ...]:
        shape = tuple(
            sorted(
                (str(name).lower(), "list" if isinstance(value, list | tuple) else "value")
                for name, value in params.items()
            )
        )
        return (sql, view_key, max_rows, shape)

    def get(self, key: tuple[object, ...]) -> RewriteResult | None:
        return self._entries.get(key)

    def put(self, key: tuple[object, ...], result: RewriteResult) -> None:
        self._entries.put(key, result)
