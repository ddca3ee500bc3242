"""Products as data: sections built from audited template runs, and how each is presented.

A :class:`Product` is what the HTML report and the workbook are rendered from. Its sections
keep the :class:`~gateway.templates.TemplateRun` they came from, so every number shown can be
traced to a query id — and tests can check the rendering against the template's own output.

Presentation is declarative: a :class:`TableSpec` picks and labels columns, or a
:class:`PivotSpec` spreads one value column over two key columns; a :class:`ChartPlan` names
the chart. :func:`table_view` turns a run into display cells (``*`` for suppressed values).

Example:
    >>> Column("crimes", "Crimes").render(1150)
    '1,150'
    >>> Column("rate", "Rate", "decimal2").render(None, suppressed=True)
    '*'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from gateway.catalog.police_uk import CATEGORY_LABELS
from gateway.disclosure import FLAG_SUFFIX
from gateway.policy.disclosure import DisclosureRules
from gateway.templates import TemplateRun

__all__ = [
    "Cell",
    "ChartPlan",
    "Column",
    "PivotSpec",
    "Product",
    "Section",
    "TableSpec",
    "TableView",
    "category_label",
    "table_view",
]

Format = Literal["count", "decimal1", "decimal2", "text", "category"]


def category_label(value: Any) -> str:
    """A police.uk category slug as police.uk labels it (``all``: every category).

    Example:
        >>> category_label("criminal-damage-arson"), category_label("all")
        ('Criminal damage and arson', 'All crime')
    """
    text = str(value)
    return "All crime" if text == "all" else CATEGORY_LABELS.get(text, text)


@dataclass(frozen=True)
class Column:
    """A result column as shown: its label and number format."""

    name: str
    label: str
    format: Format = "count"

    def render(self, value: Any, *, suppressed: bool = False) -> str:
        if suppressed:
            return "*"
        if value is None:
            return ""
        if self.format == "category":
            return category_label(value)
        if self.format == "text" or isinstance(value, str):
            return str(value)
        if self.format == "count":
            return f"{int(value):,}"
        digits = 1 if self.format == "decimal1" else 2
        return f"{float(value):,.{digits}f}"


@dataclass(frozen=True)
class Cell:
    """One displayed value: the raw value, its text, whether it was suppressed, the result
    column it comes from and (in a pivot) the key of its column."""

    value: Any
    text: str
    suppressed: bool = False
    column: str = ""
    key: Any = None


@dataclass(frozen=True)
class TableView:
    """A table ready to draw: a caption, column labels and rows of cells."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kind: Literal["table", "pivot"] = "table"


@dataclass(frozen=True)
class TableSpec:
    """Show these columns of the result, in order (rows in result order)."""

    columns: tuple[Column, ...]
    caption: str = ""


@dataclass(frozen=True)
class PivotSpec:
    """Spread ``value`` over ``rows`` × ``columns`` (one cell per pair; blank where absent).

    Attributes:
        rows, columns: key columns of the result.
        value: the column shown in the cells.
        row_label: header of the first column.
        column_order: column keys in display order (default: first appearance).
        column_labels: display label per column key.
        blank_is_zero: absent pairs are zero (shown as ``0``), not unknown.
    """

    rows: str
    columns: str
    value: Column
    row_label: str
    caption: str = ""
    column_order: tuple[Any, ...] = ()
    column_labels: tuple[tuple[Any, str], ...] = ()
    blank_is_zero: bool = False


@dataclass(frozen=True)
class ChartPlan:
    """Which chart to draw from a result.

    Attributes:
        kind: ``bar`` (label → value), ``line`` (x → value per series) or ``heatmap``.
        x: the label (bar), x-axis (line) or column (heatmap) key.
        y: the value column.
        series: the series (line) or row (heatmap) key; None: a single series.
        label: a column holding display labels for ``x`` (bar), if not ``x`` itself.
        exclude: ``(column, value)`` rows left out (e.g. a total row).
        extra: further value columns drawn as their own line series (line charts).
        title, value_label: texts.
        series_labels: display names of series keys.
        x_values: the x keys in order (default: first appearance).
        blank_is_zero: an absent (series, x) pair is zero rather than a gap.
    """

    kind: Literal["bar", "line", "heatmap"]
    x: str
    y: str
    title: str
    series: str | None = None
    label: str | None = None
    exclude: tuple[tuple[str, Any], ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    value_label: str = ""
    series_labels: tuple[tuple[Any, str], ...] = ()
    x_values: tuple[Any, ...] = ()
    blank_is_zero: bool = False


@dataclass(frozen=True)
class Section:
    """One part of a product: a template run, its presentation and its rendering.

    Attributes:
        key: short id (``crime-by-category``), also the workbook sheet's base name.
        title: heading.
        run: the audited template run behind it.
        tables: display tables.
        chart_svg: the chart ('' when none).
        finding: one sentence of key figures (may be '').
        chart_marks: data marks the chart draws (bars, points or cells), for checks.
        intro: a note shown under the heading.
    """

    key: str
    title: str
    run: TemplateRun
    tables: tuple[TableView, ...]
    chart_svg: str = ""
    finding: str = ""
    chart_marks: int = 0
    intro: str = ""


@dataclass(frozen=True)
class Product:
    """An assembled product.

    Attributes:
        product_id: its id (registered with each file it is written to).
        kind: ``strategic-assessment``.
        title: the document title.
        area_code, area_name, year: what it covers.
        marking: protective marking printed on every page and sheet.
        created_at: when it was assembled (UTC).
        user, organisation, level, purpose: who made it, at which level, for what.
        policy_version: hash of the policy in force.
        rules: disclosure rules applied to every section.
        publication: prepared for publication (publication rules).
        sections: the content.
    """

    product_id: str
    kind: str
    title: str
    area_code: str
    area_name: str
    year: int
    marking: str
    created_at: datetime
    user: str
    organisation: str
    level: str
    purpose: str
    policy_version: str
    rules: DisclosureRules
    publication: bool
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def query_ids(self) -> tuple[str, ...]:
        return tuple(s.run.query_id for s in self.sections)

    def provenance(self) -> dict[str, Any]:
        """Plain data: who, when, under which policy, from which queries."""
        return {
            "product_id": self.product_id,
            "kind": self.kind,
            "title": self.title,
            "area": self.area_code,
            "area_name": self.area_name,
            "year": self.year,
            "marking": self.marking,
            "created_at": self.created_at.isoformat(),
            "user": self.user,
            "organisation": self.organisation,
            "level": self.level,
            "purpose": self.purpose,
            "policy_version": self.policy_version,
            "disclosure": self.rules.describe(),
            "publication": self.publication,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "template": s.run.template.name,
                    "query_id": s.run.query_id,
                    "params": s.run.provenance()["params"],
                    "rows": s.run.table.num_rows,
                    "disclosure": s.run.disclosure.summary() if s.run.disclosure else None,
                }
                for s in self.sections
            ],
        }


# --- from a run to display cells ----------------------------------------------------------


def _suppressed(table: pa.Table, column: str) -> list[bool]:
    flag = column + FLAG_SUFFIX
    if flag in table.column_names:
        return [bool(v) for v in table.column(flag).to_pylist()]
    return [False] * table.num_rows


def _kept(table: pa.Table, exclude: Sequence[tuple[str, Any]]) -> list[int]:
    data = {c: table.column(c).to_pylist() for c, _ in exclude}
    return [i for i in range(table.num_rows) if not any(data[c][i] == v for c, v in exclude)]


def table_view(table: pa.Table, spec: TableSpec | PivotSpec) -> TableView:
    """Display cells for a result (suppressed values as ``*``).

    Raises:
        KeyError: the spec names a column the result lacks.
    """
    if isinstance(spec, TableSpec):
        columns = [
            (c, table.column(c.name).to_pylist(), _suppressed(table, c.name)) for c in spec.columns
        ]
        rows = tuple(
            tuple(
                Cell(values[i], c.render(values[i], suppressed=flags[i]), flags[i], c.name)
                for c, values, flags in columns
            )
            for i in range(table.num_rows)
        )
        return TableView(spec.caption, tuple(c.label for c in spec.columns), rows)
    keys_r = table.column(spec.rows).to_pylist()
    keys_c = table.column(spec.columns).to_pylist()
    values = table.column(spec.value.name).to_pylist()
    flags = _suppressed(table, spec.value.name)
    row_order = list(dict.fromkeys(keys_r))
    column_order = list(spec.column_order) or list(dict.fromkeys(keys_c))
    labels = dict(spec.column_labels)
    grid = {(r, c): (v, f) for r, c, v, f in zip(keys_r, keys_c, values, flags, strict=True)}
    text = Column(spec.rows, spec.row_label, "text")
    out = []
    for r in row_order:
        cells = [Cell(r, text.render(r), False, spec.rows)]
        for c in column_order:
            if (r, c) in grid:
                v, f = grid[(r, c)]
                cells.append(Cell(v, spec.value.render(v, suppressed=f), f, spec.value.name, c))
            elif spec.blank_is_zero:
                cells.append(Cell(0, spec.value.render(0), False, spec.value.name, c))
            else:
                cells.append(Cell(None, "", False, spec.value.name, c))
        out.append(tuple(cells))
    header = (spec.row_label, *(labels.get(c, str(c)) for c in column_order))
    return TableView(spec.caption, header, tuple(out), kind="pivot")


def chart_data(table: pa.Table, plan: ChartPlan) -> tuple[list[str], dict[str, list[float | None]]]:
    """Labels and series values for a chart (suppressed values as None, excluded rows out)."""
    keep = _kept(table, plan.exclude)
    x = table.column(plan.x).to_pylist()
    if plan.label:
        labels_col = table.column(plan.label).to_pylist()
    elif plan.x == "police_uk_category":  # labels, never slugs, whatever the template returns
        labels_col = [category_label(v) for v in x]
    else:
        labels_col = x
    y = table.column(plan.y).to_pylist()
    if plan.series is None:
        labels = [str(labels_col[i]) for i in keep]
        series = {plan.y: [_num(y[i]) for i in keep]}
        for column, name in plan.extra:
            values = table.column(column).to_pylist()
            series[name] = [_num(values[i]) for i in keep]
        return labels, series
    s = table.column(plan.series).to_pylist()
    names = dict(plan.series_labels)
    x_order = [str(v) for v in plan.x_values] or list(dict.fromkeys(str(x[i]) for i in keep))
    grid: dict[str, dict[str, float | None]] = {}
    for i in keep:
        grid.setdefault(names.get(s[i], str(s[i])), {})[str(x[i])] = _num(y[i])
    blank = 0.0 if plan.blank_is_zero else None
    return x_order, {name: [cells.get(k, blank) for k in x_order] for name, cells in grid.items()}


def _num(value: Any) -> float | None:
    return None if value is None else float(value)
