"""Field names a GIS format can keep: legal characters, short enough, no collisions.

MapInfo keeps 31 characters, Shapefile (dBASE) 10; both compare names case-insensitively, and
GDAL would otherwise cut names itself, silently merging ``offence_description_2025`` and
``offence_description_2026``. The shortening is deterministic — the same column list always
gives the same names — so an analyst's MapInfo workspace keeps working from one month's export
to the next:

1. characters other than letters, digits and ``_`` become ``_``; a name starting with a digit
   (or empty) gets an ``f_`` prefix;
2. names that already fit and are unique keep their place first (so a short name is never
   displaced by a shortened long one);
3. the others are cut to the limit; on a collision the tail is replaced by ``_2``, ``_3`` …
   (the smallest free number), in column order.

Example:
    >>> shorten_names(["offence_description_2025", "offence_description_2026", "n"], 10)
    ['offence_de', 'offence__2', 'n']
    >>> shorten_names(["Count", "count", "2024"], None)
    ['Count', 'count_2', 'f_2024']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["shorten_names"]

_ILLEGAL = re.compile(r"[^A-Za-z0-9_]")


def _legal(name: str) -> str:
    cleaned = _ILLEGAL.sub("_", name)
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
        cleaned = f"f_{cleaned}"
    return cleaned


def _with_suffix(base: str, n: int, limit: int | None) -> str:
    suffix = f"_{n}"
    if limit is None:
        return base + suffix
    return base[: max(1, limit - len(suffix))] + suffix


def shorten_names(
    names: Sequence[str], limit: int | None, *, reserved: Collection[str] = ()
) -> list[str]:
    """Legal, unique (case-insensitively), at most ``limit`` characters, in the same order.

    Args:
        names: the column names, in order.
        limit: the longest name allowed (``None``: no limit, only legalise and de-duplicate).
        reserved: names the writer uses itself (``geometry``, ``fid``), never given out.
    """
    taken = {r.lower() for r in reserved}
    out: list[str | None] = [None] * len(names)
    legal = [_legal(n) for n in names]
    for i, name in enumerate(legal):  # pass 1: names that fit keep their place
        if (limit is None or len(name) <= limit) and name.lower() not in taken:
            out[i] = name
            taken.add(name.lower())
    for i, name in enumerate(legal):  # pass 2: cut, then number on collision
        if out[i] is not None:
            continue
        base = name if limit is None else name[:limit]
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = _with_suffix(base, n, limit)
        out[i] = candidate
        taken.add(candidate.lower())
    return [name for name in out if name is not None]
