"""Memory-heavy query shapes, sized to a number of bytes, over the engine tests' warehouse.

Each shape asks for about ``size`` bytes in one way a query can: a sort, a hash join or a hash
aggregate that DuckDB's buffer manager counts (and can spill), or an allocation it does not
count (one huge string, a huge list, a list or string aggregate, a regular expression over a
big string, a huge Arrow result batch). Used by ``test_memory.py`` and by
``benchmarks/bench_memory.py`` (which adds the repository root to ``sys.path``).

Example:
    >>> HEAVY["repeat"](1000)
    "SELECT length(repeat('x', 1000)) AS n"
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HEAVY", "SPILLABLE", "rows"]

#: The warehouse of ``conftest.build_warehouse`` has 2,000 crimes.
_CRIMES = 2000


def rows(n: int) -> str:
    """A subquery of ``n`` distinct integers ``i`` built from the crime table alone (the
    engine refuses table functions such as ``range``)."""
    copies = max(1, -(-n // _CRIMES**2))
    return (
        "(SELECT (a.crime_id * 2000 + b.crime_id) * 1000 + c.crime_id AS i "
        f"FROM crime a, crime b, (SELECT crime_id FROM crime LIMIT {copies}) c LIMIT {n})"
    )


def _sort(size: int) -> str:
    return f"SELECT i, md5(i::VARCHAR) AS h FROM {rows(size // 50)} ORDER BY h DESC"


def _join(size: int) -> str:
    side = f"(SELECT i, md5(i::VARCHAR) AS h FROM {rows(size // 100)})"
    return f"SELECT count(*) AS n FROM {side} x JOIN {side} y ON x.h = y.h"


def _aggregate(size: int) -> str:
    return (
        f"SELECT count(*) AS n FROM (SELECT md5(i::VARCHAR) AS h, count(*) AS c "
        f"FROM {rows(size // 50)} GROUP BY h)"
    )


HEAVY: dict[str, Callable[[int], str]] = {
    "sort": _sort,
    "join": _join,
    "aggregate": _aggregate,
    "repeat": lambda size: f"SELECT length(repeat('x', {size})) AS n",
    "range_list": lambda size: f"SELECT len(range({size // 8})) AS n",
    "list_agg": lambda size: f"SELECT len(list(i)) AS n FROM {rows(size // 8)}",
    "string_agg": lambda size: (
        f"SELECT length(string_agg(md5(i::VARCHAR), ',')) AS n FROM {rows(size // 33)}"
    ),
    "regex": lambda size: (
        f"SELECT length(regexp_replace(repeat('ab', {size // 8}), 'a', 'xyz', 'g')) AS n"
    ),
    "arrow_result": lambda size: f"SELECT repeat('x', {size // 1000}) || i AS s FROM {rows(1000)}",
}
#: Shapes DuckDB's buffer manager counts: with a spill directory they may succeed.
SPILLABLE = frozenset({"sort", "join", "aggregate"})
