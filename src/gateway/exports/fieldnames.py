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
3. the others are *abbreviated*, word by word, so they stay readable: filler words (``in``,
   ``of``, ``per`` …) go, common words take their usual short form (``category`` → ``cat``,
   ``crimes`` → ``crm``, ``description`` → ``desc``), numbers are kept whole (they are what
   tells ``crimes_in_2024`` from ``crimes_in_2025``), and the longest remaining word loses
   letters until the name fits; only then, on a collision, the tail becomes ``_2``, ``_3`` …
   (the smallest free number), in column order.

The mapping goes beside the file (``<name>.fieldnames.csv``) and into its provenance.

Example:
    >>> shorten_names(["offence_description_2025", "offence_description_2026", "n"], 10)
    ['offde_2025', 'offde_2026', 'n']
    >>> shorten_names(["police_uk_category", "crimes_in_2024", "crimes_in_2025"], 10)
    ['pol_uk_cat', 'crm_2024', 'crm_2025']
    >>> shorten_names(["Count", "count", "2024"], None)
    ['Count', 'count_2', 'f_2024']
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["shorten_names"]

_ILLEGAL = re.compile(r"[^A-Za-z0-9_]")
#: Words left out of a name that has to be shortened.
_FILLER = frozenset({"a", "an", "and", "at", "by", "for", "in", "of", "on", "per", "the", "to"})
#: Usual short forms (British policing and statistics), used only when a name must shrink.
_SHORT = {
    "authority": "auth",
    "average": "avg",
    "category": "cat",
    "change": "chg",
    "code": "cd",
    "count": "cnt",
    "crime": "crm",
    "crimes": "crm",
    "description": "desc",
    "difference": "diff",
    "domestic": "dom",
    "incident": "inc",
    "incidents": "inc",
    "local": "loc",
    "maximum": "max",
    "minimum": "min",
    "month": "mth",
    "neighbourhood": "nbhd",
    "number": "num",
    "offence": "off",
    "offences": "off",
    "outcome": "outc",
    "percent": "pct",
    "percentage": "pct",
    "population": "pop",
    "previous": "prev",
    "total": "tot",
    "year": "yr",
}


def _abbreviate(name: str, limit: int) -> str:
    """``name`` cut word by word to at most ``limit`` characters (see the module docstring)."""
    words = [w for w in name.split("_") if w]
    if len(words) > 1:
        kept = [w for w in words if w.lower() not in _FILLER]
        words = kept or words
    words = [_SHORT.get(w.lower(), w) if not w.isdigit() else w for w in words]

    def joined(separator: str) -> str:
        out = ""
        for word in words:  # a number always keeps its "_", so 2024 and 2025 stay apart
            out += ("_" if out and (word.isdigit() or separator) else "") + word
        return out

    def shrink(floor: int, separator: str) -> None:
        while len(joined(separator)) > limit:
            letters = [i for i, w in enumerate(words) if not w.isdigit() and len(w) > floor]
            if not letters:
                return
            longest = max(letters, key=lambda i: (len(words[i]), i))
            words[longest] = words[longest][:-1]

    shrink(3, "_")  # words down to three letters, kept apart by "_"
    separator = "_" if len(joined("_")) <= limit else ""
    shrink(1, separator)  # then run together, and shorter still
    text = joined(separator)
    if len(text) > limit:  # numbers alone overflow: drop the separators, then cut
        text = "".join(words)[:limit]
    if not (text[:1].isalpha() or text[:1] == "_"):
        text = f"f{text}"[:limit]
    return text


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
    for i, name in enumerate(legal):  # pass 2: abbreviate, then number on collision
        if out[i] is not None:
            continue
        base = name if limit is None or len(name) <= limit else _abbreviate(name, limit)
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = _with_suffix(base, n, limit)
        out[i] = candidate
        taken.add(candidate.lower())
    return [name for name in out if name is not None]
