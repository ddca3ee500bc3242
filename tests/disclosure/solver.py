"""An independent attacker: what can the public totals and published cells tell about a cell?

It knows every published cell and the total of every row and column with at least two cells,
plus the grand total (the model documented in gateway.disclosure.suppression). It solves for
each suppressed cell two ways, without using the code under test:

- ``lp_range``: smallest and largest value the cell can take (linear programming, scipy/HiGHS;
  the constraint matrix is an incidence matrix, so the extremes are whole numbers);
- ``brute_force_values``: every non-negative whole-number completion, enumerated (tiny tables).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np
from scipy.optimize import linprog

Cell = tuple[Hashable, Hashable]


def public_lines(values: Mapping[Cell, int]) -> list[list[Cell]]:
    """The cell sets whose totals the attacker knows."""
    lines: list[list[Cell]] = []
    if len(values) >= 2:
        lines.append(list(values))
    for axis in (0, 1):
        groups: dict[Hashable, list[Cell]] = {}
        for cell in values:
            groups.setdefault(cell[axis], []).append(cell)
        lines.extend(cells for cells in groups.values() if len(cells) >= 2)
    return lines


def lp_range(
    values: Mapping[Cell, int], suppressed: Iterable[Cell]
) -> dict[Cell, tuple[float, float]]:
    hidden = sorted(set(suppressed), key=list(values).index)
    index = {cell: k for k, cell in enumerate(hidden)}
    rows, rhs = [], []
    for line in public_lines(values):
        coefficients = np.zeros(len(hidden))
        known = 0
        for cell in line:
            if cell in index:
                coefficients[index[cell]] = 1
            else:
                known += values[cell]
        if coefficients.any():
            rows.append(coefficients)
            rhs.append(sum(values[c] for c in line) - known)
    out = {}
    for cell in hidden:
        objective = np.zeros(len(hidden))
        objective[index[cell]] = 1
        ends = []
        for sign in (1, -1):
            result = linprog(
                sign * objective,
                A_eq=np.array(rows) if rows else None,
                b_eq=np.array(rhs) if rows else None,
                bounds=[(0, None)] * len(hidden),
                method="highs",
            )
            ends.append(sign * result.fun if result.status == 0 else float("inf"))
        out[cell] = (ends[0], ends[1])
    return out


def brute_force_values(
    values: Mapping[Cell, int], suppressed: Iterable[Cell]
) -> dict[Cell, set[int]]:
    """Every value each suppressed cell takes over all non-negative whole-number completions
    (depth-first, pruned by what is left of each line's total)."""
    hidden = sorted(set(suppressed), key=list(values).index)
    lines = public_lines(values)
    left = []  # per line: the total the hidden cells must make up
    for line in lines:
        left.append(sum(values[c] for c in line if c in hidden))
    member = {cell: [k for k, line in enumerate(lines) if cell in line] for cell in hidden}
    last = {}  # line → the last hidden cell of it in enumeration order
    for cell in hidden:
        for k in member[cell]:
            last[k] = cell
    seen: dict[Cell, set[int]] = {cell: set() for cell in hidden}
    chosen: list[int] = []

    def walk(position: int) -> None:
        if position == len(hidden):
            for cell, value in zip(hidden, chosen, strict=True):
                seen[cell].add(value)
            return
        cell = hidden[position]
        if not member[cell]:
            chosen.append(0)
            walk(position + 1)
            chosen.pop()
            seen[cell].update({values[cell], values[cell] + 1})  # anything goes
            return
        top = min(left[k] for k in member[cell])
        for value in range(top + 1):
            if any(last[k] == cell and left[k] != value for k in member[cell]):
                continue
            for k in member[cell]:
                left[k] -= value
            chosen.append(value)
            walk(position + 1)
            chosen.pop()
            for k in member[cell]:
                left[k] += value

    walk(0)
    return seen
