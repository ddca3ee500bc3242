"""A result as the pages show it: the API's JSON rows as cells, disclosure flags folded in.

Pure. The rows are exactly what the API answers (:func:`gateway.api.encode.table_rows`); a
protected count column ``crimes`` comes with its flag column ``crimes_suppressed`` (see
:mod:`gateway.disclosure.apply`). The page shows the count column only, and a suppressed cell
as ``*`` with the reason for a screen reader; the flag columns are not shown as columns.

Example:
    >>> table = result_table(["area", "crimes", "crimes_suppressed"],
    ...                      [["a", None, True], ["b", 40, False]])
    >>> table.columns
    ('area', 'crimes')
    >>> [[c.text for c in row] for row in table.rows]
    [['a', '*'], ['b', '40']]
    >>> table.suppressed
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.disclosure import FLAG_SUFFIX

__all__ = ["ResultCell", "ResultTable", "cell_text", "result_table"]

SUPPRESSED_MARK = "*"


@dataclass(frozen=True)
class ResultCell:
    """One cell: its text, and whether disclosure control suppressed it."""

    text: str
    suppressed: bool = False


@dataclass(frozen=True)
class ResultTable:
    """The shown columns (flag columns folded into the cells they flag) and the rows."""

    columns: tuple[str, ...]
    rows: tuple[tuple[ResultCell, ...], ...]
    protected: tuple[str, ...] = ()

    @property
    def suppressed(self) -> int:
        return sum(cell.suppressed for row in self.rows for cell in row)


def cell_text(value: Any) -> str:
    """A JSON value as text: empty for null, ``true``/``false``, numbers as JSON writes them.

    Example:
        >>> [cell_text(v) for v in (None, True, 3, 2.5, "x")]
        ['', 'true', '3', '2.5', 'x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def result_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> ResultTable:
    """Cells of ``rows`` (the API's JSON rows, columns ``names``), flags folded in."""
    flags = {
        name[: -len(FLAG_SUFFIX)]: i
        for i, name in enumerate(names)
        if name.endswith(FLAG_SUFFIX) and name[: -len(FLAG_SUFFIX)] in names
    }
    shown = [
        i
        for i, name in enumerate(names)
        if not (name.endswith(FLAG_SUFFIX) and i in flags.values())
    ]
    out = []
    for row in rows:
        cells = []
        for i in shown:
            flag = flags.get(names[i])
            suppressed = flag is not None and row[flag] is True
            cells.append(
                ResultCell(SUPPRESSED_MARK if suppressed else cell_text(row[i]), suppressed)
            )
        out.append(tuple(cells))
    return ResultTable(
        columns=tuple(names[i] for i in shown),
        rows=tuple(out),
        protected=tuple(n for n in names if n in flags),
    )
