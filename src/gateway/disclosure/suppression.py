"""Cell suppression for one table of counts: primary, then secondary until no cell is exposed.

The table is a grid of cells ``(row, column) → count``; a one-way table uses ``None`` as its only
column. Its totals are assumed to be public — every row and column total with at least two
cells, and the grand total — because they are easy to obtain from other outputs. Rows and
columns with a single cell have no total of their own beyond that cell; together they have one
(the grand total less the others), so they are merged into one "free" row and one "free" column.

**Primary suppression** hides counts from 1 to ``min_count - 1`` (zeros are shown).

**Exposure.** A suppressed cell is exposed when the public totals and the published cells pin
it to one value among all non-negative whole-number completions. Totals of a two-way table
form a bipartite incidence system (totally unimodular), so a completion can move along a cycle
of suppressed cells — +1 on every cell crossed from a row to a column, -1 on every cell crossed
back — and every other completion is a sum of such moves. A cell is therefore safe when some
cycle runs through it in a direction that never takes a cell below zero: in the directed graph
with an arc row→column for every suppressed cell and an arc column→row for every suppressed
cell above zero, its own arcs close a cycle through the other arcs. Zeros need no protection.

**Secondary suppression** fixes exposed cells one at a time. In a two-way table it hides the
cheapest three cells (smallest total) that close a rectangle with the exposed cell — another
row and another column — in which the counts can move without going below zero (the classic
hypercube method). Where there is no such rectangle (one-way tables, single-cell lines) it
hides the smallest count above zero that shares a row or column with the exposed cell
(preferring one whose other line already holds a suppressed cell), then a zero there, then
anything left. Adding a cell only adds arcs, so a safe cell stays safe and the loop ends. A
cell still exposed when nothing is left to hide is reported as unprotected.

Example:
    >>> cells = {("a", "x"): 3, ("a", "y"): 40, ("b", "x"): 25, ("b", "y"): 50}
    >>> result = suppress_grid(cells, min_count=10)
    >>> sorted(result.primary), sorted(result.secondary)
    ([('a', 'x')], [('a', 'y'), ('b', 'x'), ('b', 'y')])
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Cell", "Suppression", "exposed_cells", "suppress_grid"]

Cell = tuple[Hashable, Hashable]


@dataclass(frozen=True)
class Suppression:
    """The cells to withhold.

    Attributes:
        primary: counts below the threshold.
        secondary: further cells hidden so that totals cannot reveal the primary ones.
        unprotected: suppressed cells the totals still reveal (everything around them is
            already hidden or zero); normally empty.
    """

    primary: frozenset[Cell]
    secondary: frozenset[Cell]
    unprotected: frozenset[Cell] = frozenset()

    @property
    def suppressed(self) -> frozenset[Cell]:
        return self.primary | self.secondary


class _FreeLine:
    """The merged line of all single-cell rows (or columns)."""

    def __repr__(self) -> str:
        return "<free>"


_FREE_ROW = ("row", _FreeLine())
_FREE_COLUMN = ("column", _FreeLine())

Node = tuple[str, object]


class _Column:
    """One public column's cells as arrays, for the rectangle search: its rows, counts, order
    in the table, whether each row is public, and which cells are hidden."""

    def __init__(
        self,
        cells: list[Cell],
        values: Mapping[Cell, int],
        order: Mapping[Cell, int],
        public_rows: set[Hashable],
    ) -> None:
        self.cells = cells
        self.rows = [cell[0] for cell in cells]
        self.position = {row: i for i, row in enumerate(self.rows)}
        self.values = np.array([values[cell] for cell in cells], dtype=np.int64)
        self.order = np.array([order[cell] for cell in cells], dtype=np.int64)
        self.public = np.array([row in public_rows for row in self.rows], dtype=bool)
        self.hidden = np.zeros(len(cells), dtype=bool)
        self._aligned: dict[Hashable, np.ndarray] = {}

    def aligned(self, other: _Column, name: Hashable) -> np.ndarray:
        """The position in ``other`` (column ``name``) of each of this column's rows (-1:
        absent there)."""
        found = self._aligned.get(name)
        if found is None:
            found = np.array([other.position.get(row, -1) for row in self.rows], dtype=np.int64)
            self._aligned[name] = found
        return found


class _Grid:
    """The public lines of a table and the directed graph of its suppressed cells."""

    def __init__(self, values: Mapping[Cell, int]) -> None:
        self.values = values
        self.order = {cell: i for i, cell in enumerate(values)}
        rows: dict[Hashable, int] = defaultdict(int)
        columns: dict[Hashable, int] = defaultdict(int)
        for row, column in values:
            rows[row] += 1
            columns[column] += 1
        self.public_rows = {r for r, n in rows.items() if n >= 2}
        self.public_columns = {c for c, n in columns.items() if n >= 2}
        self.closed = len(values) < 2  # one cell: no total tells anything beyond the cell
        self.by_node: dict[Node, list[Cell]] = defaultdict(list)
        for cell in values:
            self.by_node[self.row_node(cell)].append(cell)
            self.by_node[self.column_node(cell)].append(cell)
        self.arcs: dict[Node, list[tuple[Node, Cell]]] = defaultdict(list)
        self.suppressed: set[Cell] = set()
        self.columns = {
            column: _Column(self.by_node[("column", column)], values, self.order, self.public_rows)
            for column in self.public_columns
        }

    def row_node(self, cell: Cell) -> Node:
        return ("row", cell[0]) if cell[0] in self.public_rows else _FREE_ROW

    def column_node(self, cell: Cell) -> Node:
        return ("column", cell[1]) if cell[1] in self.public_columns else _FREE_COLUMN

    def hide(self, cell: Cell) -> None:
        self.suppressed.add(cell)
        if cell[1] in self.public_columns:
            arrays = self.columns[cell[1]]
            arrays.hidden[arrays.position[cell[0]]] = True
        row, column = self.row_node(cell), self.column_node(cell)
        self.arcs[row].append((column, cell))  # +1 on the cell
        if self.values[cell] > 0:
            self.arcs[column].append((row, cell))  # -1 on the cell

    def _reaches(self, start: Node, goal: Node, avoid: Cell) -> bool:
        """Depth first, reading each node's arcs lazily: a safe cell's cycle is usually found
        after a few arcs, not after a whole line's (what keeps the search near-linear)."""
        seen = {start}
        stack = [iter(self.arcs[start])]
        while stack:
            for target, cell in stack[-1]:
                if cell == avoid or target in seen:
                    continue
                if target == goal:
                    return True
                seen.add(target)
                stack.append(iter(self.arcs[target]))
                break
            else:
                stack.pop()
        return False

    def exposed(self, cell: Cell) -> bool:
        """Whether the public totals pin this suppressed cell to one value."""
        if self.closed or self.values[cell] == 0:
            return False
        row, column = self.row_node(cell), self.column_node(cell)
        # decrease it (column→row), then back from row to column; or increase it, then back.
        return not (self._reaches(row, column, cell) or self._reaches(column, row, cell))

    def _score(self, cell: Cell, shared: Node) -> tuple[bool, bool, int, int]:
        other = self.column_node(cell) if shared[0] == "row" else self.row_node(cell)
        other_has = any(c in self.suppressed for c in self.by_node[other])
        return (self.values[cell] == 0, not other_has, self.values[cell], self.order[cell])

    def rectangle(self, cell: Cell) -> list[Cell]:
        """The cheapest three cells that put ``cell`` on a four-cell cycle (two public rows ×
        two public columns) that can move without going below zero; [] when there is none.

        Cheapest: the least total of the counts newly hidden, then the fewest newly hidden,
        then the earliest in the table. For each other cell of the row, every other row of
        the column is scored at once (arrays), so a long column costs one pass, not a loop.
        """
        row, column = cell
        if row not in self.public_rows or column not in self.public_columns:
            return []
        here = self.columns[column]
        rows_ok = here.public.copy()
        rows_ok[here.position[row]] = False
        row_values, row_fresh = here.values, ~here.hidden
        step = len(self.values) + 1  # an order is below it; at most 3 cells are new
        best: tuple[tuple[int, int, int], list[Cell]] | None = None
        for other_column in self.by_node[self.row_node(cell)]:
            if other_column == cell or other_column[1] not in self.public_columns:
                continue
            there = self.columns[other_column[1]]
            positions = here.aligned(there, other_column[1])
            ok = rows_ok & (positions >= 0)
            at = np.where(positions >= 0, positions, 0)
            corner_values, corner_fresh = there.values[at], ~there.hidden[at]
            column_value = self.values[other_column]
            column_fresh = other_column not in self.suppressed
            # the counts could move without going below zero
            ok &= (corner_values > 0) | ((column_value > 0) & (row_values > 0))
            if not ok.any():
                continue
            cost = column_value * column_fresh + corner_values * corner_fresh
            cost = cost + row_values * row_fresh
            new = int(column_fresh) + corner_fresh.astype(np.int64) + row_fresh
            first = np.minimum(np.minimum(there.order[at], here.order), self.order[other_column])
            key = np.where(ok, (cost * 4 + new) * step + first, np.iinfo(np.int64).max)
            i = int(np.argmin(key))
            score = (int(cost[i]), int(new[i]), int(first[i]))
            if best is None or score < best[0]:
                three = [other_column, (here.rows[i], other_column[1]), here.cells[i]]
                fresh = [column_fresh, bool(corner_fresh[i]), bool(row_fresh[i])]
                best = (score, [c for c, f in zip(three, fresh, strict=True) if f])
        return best[1] if best is not None else []

    def partner(self, cell: Cell) -> Cell | None:
        """The next cell to hide so that ``cell`` stops being exposed (None: nothing left)."""
        best: tuple[tuple[bool, bool, int, int], Cell] | None = None
        for shared in (self.row_node(cell), self.column_node(cell)):
            for candidate in self.by_node[shared]:
                if candidate in self.suppressed:
                    continue
                score = self._score(candidate, shared)
                if best is None or score < best[0]:
                    best = (score, candidate)
        if best is not None:
            return best[1]
        rest = [c for c in self.values if c not in self.suppressed]
        if not rest:
            return None
        return min(rest, key=lambda c: (self.values[c] == 0, self.values[c], self.order[c]))


def exposed_cells(values: Mapping[Cell, int], suppressed: Iterable[Cell]) -> frozenset[Cell]:
    """The suppressed cells (above zero) that the public totals reveal exactly.

    Example:
        >>> exposed_cells({("a", None): 3, ("b", None): 40}, [("a", None)])
        frozenset({('a', None)})
    """
    grid = _Grid(values)
    hidden = list(suppressed)
    for cell in hidden:
        grid.hide(cell)
    return frozenset(cell for cell in hidden if grid.exposed(cell))


def suppress_grid(
    values: Mapping[Cell, int],
    min_count: int,
    *,
    secondary: bool = True,
    check: Callable[[], None] = lambda: None,
) -> Suppression:
    """Primary and secondary suppression for one table of counts.

    Args:
        values: ``(row, column) → count`` (counts are whole numbers ≥ 0).
        min_count: counts from 1 to ``min_count - 1`` are primary-suppressed.
        secondary: also hide cells until no suppressed cell is exposed by the totals.
        check: called between steps of the search (it raises to stop it: the query's
            :class:`~gateway.disclosure.budget.Budget`).

    Raises:
        ValueError: a negative count.
    """
    if any(v < 0 for v in values.values()):
        raise ValueError("counts must not be negative")
    primary = frozenset(cell for cell, v in values.items() if 0 < v < min_count)
    if not primary or not secondary:
        return Suppression(primary=primary, secondary=frozenset())
    grid = _Grid(values)
    for cell in sorted(primary, key=grid.order.__getitem__):
        grid.hide(cell)
    unprotected: set[Cell] = set()
    # Each cell is checked when it comes up: one that is safe stays safe (hiding only adds
    # arcs), so nothing checked safe is checked again; a fixed cell is checked again at once,
    # and the cells hidden to fix it after the others.
    pending = deque(sorted(primary, key=grid.order.__getitem__))
    while pending:
        check()
        cell = pending.popleft()
        if not grid.exposed(cell):
            continue
        partners = grid.rectangle(cell)
        if not partners:
            partner = grid.partner(cell)
            if partner is None:
                unprotected.add(cell)
                continue
            partners = [partner]
        for partner in partners:
            grid.hide(partner)
        pending.appendleft(cell)
        pending.extend(partners)
    return Suppression(
        primary=primary,
        secondary=frozenset(grid.suppressed - primary),
        unprotected=frozenset(unprotected),
    )
