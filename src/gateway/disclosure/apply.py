"""Disclosure control over an Arrow table: suppress, round and recompute, marking every change.

:func:`protect` is a pure function of a table, a :class:`~gateway.disclosure.spec.DisclosureSpec`
and :class:`~gateway.policy.disclosure.DisclosureRules`. Every protected column keeps its rows:
a suppressed value becomes NULL and its ``<column>_suppressed`` flag is true (presentations show
``*``). Derived columns are recomputed from the published (suppressed, rounded) counts wherever
those changed, and withheld where a count they need is suppressed. The schema of the output
does not depend on the data: flag columns are always added.

Example:
    >>> import pyarrow as pa
    >>> from gateway.disclosure import parse_disclosure_spec
    >>> from gateway.policy.disclosure import DisclosureRules
    >>> table = pa.table({"area": ["a", "b", "c"], "crimes": [4, 30, 51]})
    >>> spec = parse_disclosure_spec({"dimensions": ["area"], "counts": ["crimes"]})
    >>> out = protect(table, spec, DisclosureRules(min_count=10, round_to=5))
    >>> out.table.column("crimes").to_pylist(), out.table.column("crimes_suppressed").to_pylist()
    ([None, None, 50], [True, True, False])
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from gateway.disclosure.budget import Budget
from gateway.disclosure.cellkey import PerturbationTable
from gateway.disclosure.spec import Derived, DisclosureSpec
from gateway.disclosure.suppression import Cell, suppress_grid
from gateway.errors import InputError, NotProtectable
from gateway.policy.disclosure import DisclosureRules

__all__ = [
    "FLAG_SUFFIX",
    "METADATA_KEY",
    "DisclosureReport",
    "ProtectedTable",
    "protect",
    "round_count",
]

FLAG_SUFFIX = "_suppressed"
#: Cells perturbed between two looks at the budget (~1 ms of work).
_CHECK_EVERY = 128
UNLIMITED = Budget()
METADATA_KEY = b"gateway.disclosure"


def round_count(value: int, base: int) -> int:
    """``value`` rounded to the nearest multiple of ``base`` (halves up; base ≤ 1: unchanged).

    Example:
        >>> [round_count(v, 5) for v in (0, 2, 3, 12, 13, 15, 17, 18)]
        [0, 0, 5, 10, 15, 15, 15, 20]
    """
    if base <= 1:
        return value
    return base * math.floor(value / base + 0.5)


def _round(value: float, digits: int) -> float:
    """Halves away from zero, as SQL's ``round`` does (Python's ``round`` halves to even)."""
    step = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class DisclosureReport:
    """What disclosure control did to one output.

    Attributes:
        rules: the rules applied.
        cells: count cells examined.
        primary: cells below the threshold.
        secondary: further cells hidden to protect them.
        unprotected: suppressed cells that totals could still reveal (normally 0).
        withheld: derived values withheld because a count they need is suppressed.
        columns: the protected count columns.
    """

    rules: DisclosureRules
    cells: int = 0
    primary: int = 0
    secondary: int = 0
    unprotected: int = 0
    withheld: int = 0
    columns: tuple[str, ...] = ()
    perturbed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": self.rules.label,
            "method": self.rules.method,
            "max_noise": self.rules.max_noise if self.rules.perturbs else 0,
            "modulus": self.rules.modulus if self.rules.perturbs else 0,
            "perturbed": self.perturbed,
            "min_count": self.rules.min_count,
            "round_to": self.rules.round_to,
            "secondary": self.rules.secondary,
            "description": self.rules.describe(),
            "cells": self.cells,
            "primary": self.primary,
            "secondary_suppressed": self.secondary,
            "unprotected": self.unprotected,
            "withheld": self.withheld,
            "columns": list(self.columns),
        }

    def summary(self) -> str:
        """One line for a footer, e.g. ``3 of 120 cells suppressed (…)``."""
        hidden = self.primary + self.secondary
        text = f"{self.rules.describe()}: {hidden} of {self.cells} cells suppressed"
        if self.secondary:
            text += f" ({self.secondary} to protect totals)"
        if self.rules.perturbs:
            text += f"; {self.perturbed} perturbed"
        return text


@dataclass(frozen=True)
class ProtectedTable:
    """A protected table and the report of what was done."""

    table: pa.Table
    report: DisclosureReport


# --- reading the table --------------------------------------------------------------------


def _check(table: pa.Table, spec: DisclosureSpec) -> pa.Table:
    """Validate the table against the spec; whole-number decimals (SQL ``sum`` of integers)
    become 64-bit integers."""
    names = set(table.column_names)
    wanted = [*spec.keys, *spec.protected_columns, *(d.name for d in spec.derived)]
    wanted += [str(d.options["per"]) for d in spec.derived if d.kind == "rate"]
    for column in wanted:
        if column not in names:
            raise InputError(f"disclosure: column {column!r} is not in the result")
    for column in spec.protected_columns:
        kind = table.schema.field(column).type
        if pa.types.is_decimal(kind) and kind.scale == 0:
            index = table.schema.get_field_index(column)
            table = table.set_column(index, column, table.column(column).cast(pa.int64()))
        elif not (pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise InputError(f"disclosure: {column!r} holds {kind}, not whole-number counts")
        clash = column + FLAG_SUFFIX
        if clash in names:
            raise InputError(f"disclosure: the result already has a column {clash!r}")
    return table


def _grids(
    data: Mapping[str, list[Any]], spec: DisclosureSpec, n_rows: int
) -> dict[tuple[Any, ...], dict[Cell, int]]:
    """Row index of every cell, by table: ``(stratum…, part) → {cell: row}``."""
    grids: dict[tuple[Any, ...], dict[Cell, int]] = defaultdict(dict)
    dims = spec.dimensions
    for i in range(n_rows):
        stratum = tuple(_hashable(data[s][i]) for s in spec.strata)
        values = [_hashable(data[d][i]) for d in dims]
        totals = [
            spec.totals.get(d) is not None and values[k] == spec.totals[d]
            for k, d in enumerate(dims)
        ]
        cell: Cell
        part: tuple[Any, ...]
        if not dims:
            part, cell = ("row", i), (i, None)
        elif len(dims) == 1:
            part, cell = ("total",) if totals[0] else ("inner",), (values[0], None)
        elif totals[0] and totals[1]:
            part, cell = ("grand",), (None, None)
        elif totals[1]:  # the total over columns of one row: a margin along the rows
            part, cell = ("row-totals",), (values[0], None)
        elif totals[0]:
            part, cell = ("column-totals",), (values[1], None)
        else:
            part, cell = ("inner",), (values[0], values[1])
        grid = grids[(*stratum, *part)]
        if cell in grid:
            shown = ", ".join(f"{d}={data[d][i]!r}" for d in (*spec.strata, *dims))
            raise InputError(f"disclosure: two rows for the same cell ({shown})")
        grid[cell] = i
    return grids


def _hashable(value: Any) -> Hashable:
    return json.dumps(value, default=str) if isinstance(value, list | dict) else value


# --- derived columns ------------------------------------------------------------------------


def _derive(
    derived: Derived,
    original: Sequence[Any],
    counts: Mapping[str, list[int | None]],
    changed: Mapping[str, list[bool]],
    data: Mapping[str, list[Any]],
    spec: DisclosureSpec,
    rules: DisclosureRules,
    keyed: _CellKeys | None,
) -> tuple[list[Any], list[bool]]:
    """New values and withheld flags of one derived column. Under the cell key method a
    rolling total is the sum of the published counts of its window."""
    n = len(original)
    sources = derived.sources
    values: list[Any] = list(original)
    withheld = [False] * n
    if derived.kind == "rolling" and keyed is not None:
        # From the published counts, never the exact sum: a perturbed total of its own would
        # be a second draw for the same records (and windows a month apart differ by the
        # exact change); withheld where its window is not all in the table or not all shown.
        source, window = sources[0], int(derived.options["window"])
        order = str(derived.options["order"])
        by_series: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i in range(n):
            by_series[tuple(_hashable(data[c][i]) for c in spec.keys if c != order)].append(i)
        for rows in by_series.values():
            rows.sort(key=lambda i: (data[order][i] is None, data[order][i]))
            for position, i in enumerate(rows):
                span = rows[position - window + 1 : position + 1] if position + 1 >= window else []
                shown = [counts[source][j] for j in span]
                if values[i] is None:
                    continue
                if len(span) < window or any(v is None for v in shown):
                    values[i], withheld[i] = None, True
                else:
                    values[i] = sum(v for v in shown if v is not None)
        return values, withheld
    if derived.kind == "index":
        return _index(derived, counts, data, spec), [
            counts[sources[0]][i] is None for i in range(n)
        ]
    if derived.kind == "rolling":
        source = sources[0]
        window = int(derived.options["window"])
        order = str(derived.options["order"])
        series: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        others = [c for c in spec.keys if c != order]
        for i in range(n):
            series[tuple(_hashable(data[c][i]) for c in others)].append(i)
        for rows in series.values():
            rows.sort(key=lambda i: (data[order][i] is None, data[order][i]))
            for position, i in enumerate(rows):
                span = rows[max(0, position - window + 1) : position + 1]
                if any(counts[source][j] is None and data[source][j] is not None for j in span):
                    values[i], withheld[i] = None, True
                elif values[i] is not None and rules.round_to > 1:
                    values[i] = round_count(int(values[i]), rules.round_to)
        return values, withheld
    for i in range(n):
        inputs = [counts[s][i] for s in sources]
        if any(v is None and data[s][i] is not None for v, s in zip(inputs, sources, strict=True)):
            values[i], withheld[i] = None, True
            continue
        if derived.kind == "measure" or not any(changed[s][i] for s in sources):
            continue
        values[i] = _formula(derived, inputs, data, i)
    return values, withheld


def _index(
    derived: Derived,
    counts: Mapping[str, list[int | None]],
    data: Mapping[str, list[Any]],
    spec: DisclosureSpec,
) -> list[float | None]:
    """``(count / per) / (sum of count / sum of per)`` per table (stratum), from the published
    counts only (suppressed rows are left out of the mean and withheld)."""
    published = counts[str(derived.options["count"])]
    per = data[str(derived.options["per"])]
    scale = float(derived.options.get("scale", 100))
    tables: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i in range(len(published)):
        tables[tuple(_hashable(data[c][i]) for c in spec.strata)].append(i)
    out: list[float | None] = [None] * len(published)
    for rows in tables.values():
        shown = [i for i in rows if published[i] is not None and per[i]]
        total, weight = sum(published[i] or 0 for i in shown), sum(float(per[i]) for i in shown)
        if not total:
            continue
        for i in shown:
            value = float(published[i] or 0) / float(per[i]) / (total / weight) * scale
            out[i] = _round(value, derived.digits)
    return out


def _formula(
    derived: Derived, inputs: list[int | None], data: Mapping[str, list[Any]], i: int
) -> float | None:
    digits = derived.digits
    if derived.kind == "rate":
        per = data[str(derived.options["per"])][i]
        count = inputs[0]
        if count is None or not per:
            return None
        return _round(count / float(per) * float(derived.options.get("scale", 1)), digits)
    numerator, denominator = inputs
    if numerator is None or not denominator:
        return None
    if derived.kind == "ratio":
        return _round(numerator / denominator * float(derived.options.get("scale", 100)), digits)
    return _round((numerator - denominator) / denominator * 100.0, digits)  # change


# --- the entry point --------------------------------------------------------------------------


def _perturb(
    raw: Sequence[int | None],
    keys: Sequence[int | None],
    cells: _CellKeys,
    budget: Budget,
) -> tuple[list[int | None], list[bool], int, int]:
    """The cell key method on one count column: published values, suppressed flags, cells
    suppressed and cells whose published value differs from the truth."""
    values: list[int | None] = []
    hidden: list[bool] = []
    small = changed = 0
    for i, value in enumerate(raw):
        if value is None:
            values.append(None)
            hidden.append(False)
            continue
        if i % _CHECK_EVERY == 0:
            budget.check()
        out = cells.publish(value, keys[i])
        values.append(out)
        hidden.append(out is None)
        small += out is None
        changed += out is not None and out != value
    return values, hidden, small, changed


class _CellKeys:
    """The cell key method with its rules, for one output."""

    def __init__(self, rules: DisclosureRules) -> None:
        self.rules = rules
        self.table = PerturbationTable(rules.max_noise, rules.modulus)

    def publish(self, value: int, key: int | None) -> int | None:
        """The published value of a cell of true ``value`` and cell key ``key`` (None:
        suppressed); a cell of no records (key NULL) must count zero."""
        if value < 0:
            raise InputError("disclosure: counts must not be negative")
        if key is None:
            if value:
                raise NotProtectable("disclosure: a count above zero has no cell key")
            key = 0
        return self.table.publish(value, key, self.rules.min_count, self.rules.round_to)


def protect(
    table: pa.Table,
    spec: DisclosureSpec,
    rules: DisclosureRules,
    *,
    cell_keys: Mapping[str, Sequence[int | None]] | None = None,
    budget: Budget = UNLIMITED,
) -> ProtectedTable:
    """Apply disclosure control to an aggregate result.

    Args:
        table: the result (long format: key columns, counts, derived columns, labels).
        spec: which columns are which.
        rules: threshold, rounding and secondary suppression, or the cell key method.
        cell_keys: the cell key method only: each count column's cell keys, row by row — the
            sum of the record keys of the records each cell counts, as the engine computed it
            (:mod:`gateway.rewrite.cellkeys`), taken modulo the rules' ``modulus``.
        budget: the query's deadline and withdrawal, checked between cells.

    Returns:
        The protected table (counts NULL where suppressed, ``<col>_suppressed`` flags after
        each count and derived column) and a report. The report is also stored in the
        schema metadata under ``gateway.disclosure``.

    Raises:
        InputError: the spec names a column the table lacks, a count column is not whole
            numbers, or two rows describe the same cell.
        NotProtectable: the cell key method, and a count column without its cell keys.
        QueryTimeout, QueryCancelled: the budget ran out or the query was withdrawn.
    """
    table = _check(table, spec)
    data = table.to_pydict()
    n = table.num_rows
    grids = _grids(data, spec, n)
    published: dict[str, list[int | None]] = {}
    changed: dict[str, list[bool]] = {}
    flags: dict[str, list[bool]] = {}
    cells = primary = secondary = unprotected = perturbed = 0
    keyed = _CellKeys(rules) if rules.perturbs else None
    for column in spec.protected_columns:
        raw: list[int | None] = data[column]
        if keyed is not None:
            keys = (cell_keys or {}).get(column)
            if keys is None or len(keys) != n:
                raise NotProtectable(
                    f"disclosure control cannot tell which records {column!r} counts, so it "
                    "cannot give it a cell key; count the records of one table (joined to "
                    "others only by their keys) with count(*), count(DISTINCT <key column>) or "
                    "a sum of 0/1 flags"
                )
            values, hidden, small, moved = _perturb(raw, keys, keyed, budget)
            cells += sum(v is not None for v in raw)
            primary += small
            perturbed += moved
            published[column] = values
            changed[column] = [hidden[i] or values[i] != raw[i] for i in range(n)]
            flags[column] = hidden
            continue
        values = list(raw)
        hidden = [False] * n
        for rows in grids.values():
            present = {cell: i for cell, i in rows.items() if raw[i] is not None}
            counts = {cell: int(raw[i]) for cell, i in present.items()}  # type: ignore[arg-type]
            if any(v < 0 for v in counts.values()):
                raise InputError(f"disclosure: {column!r} holds negative counts")
            cells += len(counts)
            result = suppress_grid(
                counts, rules.min_count, secondary=rules.secondary, check=budget.check
            )
            primary += len(result.primary)
            secondary += len(result.secondary)
            unprotected += len(result.unprotected)
            for cell in result.suppressed:
                values[present[cell]] = None
                hidden[present[cell]] = True
        for i, value in enumerate(values):
            if value is not None:
                values[i] = round_count(value, rules.round_to)
        published[column] = values
        changed[column] = [hidden[i] or values[i] != raw[i] for i in range(n)]
        flags[column] = hidden
    withheld = 0
    derived_values: dict[str, tuple[list[Any], list[bool]]] = {}
    for derived in spec.derived:
        new, gone = _derive(
            derived, data[derived.name], published, changed, data, spec, rules, keyed
        )
        derived_values[derived.name] = (new, gone)
        withheld += sum(gone)
    report = DisclosureReport(
        rules=rules,
        cells=cells,
        primary=primary,
        secondary=secondary,
        unprotected=unprotected,
        withheld=withheld,
        columns=spec.protected_columns,
        perturbed=perturbed,
    )
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for field in table.schema:
        if field.name in published:
            arrays.append(pa.array(published[field.name], type=field.type))
            fields.append(field)
            arrays.append(pa.array(flags[field.name], type=pa.bool_()))
            fields.append(pa.field(field.name + FLAG_SUFFIX, pa.bool_(), nullable=False))
        elif field.name in derived_values:
            new, gone = derived_values[field.name]
            arrays.append(_typed(new, field.type))
            fields.append(field)
            arrays.append(pa.array(gone, type=pa.bool_()))
            fields.append(pa.field(field.name + FLAG_SUFFIX, pa.bool_(), nullable=False))
        else:
            arrays.append(table.column(field.name).combine_chunks())
            fields.append(field)
    metadata = dict(table.schema.metadata or {})
    metadata[METADATA_KEY] = json.dumps(report.to_dict()).encode()
    schema = pa.schema(fields, metadata=metadata)
    return ProtectedTable(table=pa.Table.from_arrays(arrays, schema=schema), report=report)


def _typed(values: list[Any], kind: pa.DataType) -> pa.Array:
    """Recomputed values in the column's own type (decimals and floats alike)."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(values, type=pa.float64()).cast(kind, safe=False)
