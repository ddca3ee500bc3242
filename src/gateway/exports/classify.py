"""Record-level or aggregate? Decided from the rewritten (policy-enforced) query's AST.

Exports of record-level data by general-level users may need a senior analyst's approval;
aggregate exports pass straight through. The rule, applied to the SQL the engine executed:

1. Look at the **top-level query**, skipping the gateway's own row-cap wrapper
   (``SELECT * FROM (…) AS __gw_capped``) and any other bare ``SELECT * FROM (subquery)``.
2. A set operation (``UNION``/``INTERSECT``/``EXCEPT``) is aggregate only if every branch is.
3. A ``SELECT`` is aggregate only if it **groups**: it has ``GROUP BY`` (including ``ALL``,
   ``ROLLUP``, ``CUBE``, ``GROUPING SETS``) or an aggregate function outside any window
   (``count(*)``, ``sum(x)`` …). ``DISTINCT``, window functions and selecting from an
   aggregated subquery without grouping again are record-level.
4. …and none of its **grouping keys identifies a record**: each key (``GROUP BY`` items, or
   the non-aggregate output columns for ``GROUP BY ALL``) is traced through aliases, derived
   tables, CTEs and the policy's subqueries to the warehouse columns it is computed from. A key
   computed from a column classed ``key``, ``person_key``, ``direct_identifier``,
   ``exact_location`` or ``free_text`` in the catalog (``crime_id``, a pseudonymised
   ``person_id``, a grid-rounded exact ``easting`` …), or that *is* a ``datetime`` column as it
   stands (``GROUP BY recorded_at``, but not ``date_trunc('month', recorded_at)``), makes the
   export record-level. A key that cannot be traced counts as identifying.

Coordinates snapped to anonymous map points by the policy trace to ``map_point`` columns
(attributes), so counts per map point are aggregate. The rule errs towards "record": a
mis-classified aggregate only costs an approval. A query that reads only reference tables
(areas, offence types, map points) is ``reference`` data and never held. A hotspot-grid export
is ``aggregate`` whatever its query: the file holds counts per cell (of at least 100 m), not
rows (:func:`gateway.exports.export.export_result`).

Example:
    >>> from gateway.catalog import load_catalog
    >>> cat = load_catalog()
    >>> classify_sql("SELECT lsoa_code, count(*) AS n FROM main.crime AS c GROUP BY ALL", cat).data_class
    'aggregate'
    >>> r = classify_sql("SELECT crime_id, count(*) AS n FROM main.crime AS c GROUP BY 1", cat)
    >>> r.data_class, r.reason
    ('record', 'grouped by crime.crime_id (key)')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, build_scope

from gateway.catalog import Catalog
from gateway.catalog.model import TableKind
from gateway.disclosure.request import ColumnRole
from gateway.errors import ParameterError
from gateway.rewrite.context import RewriteResult

__all__ = [
    "IDENTIFYING",
    "Classification",
    "DataClass",
    "OutputColumn",
    "classify_rewrite",
    "classify_sql",
    "output_roles",
]

DataClass = Literal["aggregate", "record", "reference"]

#: Catalog sensitivity classes that make a grouping key record-level.
IDENTIFYING = frozenset({"key", "person_key", "direct_identifier", "exact_location", "free_text"})
_MAX_DEPTH = 64


@dataclass(frozen=True)
class Classification:
    """The verdict and why (the reason names columns, never values)."""

    data_class: DataClass
    reason: str

    @property
    def aggregate(self) -> bool:
        """Not record-level: aggregate, or reference data only."""
        return self.data_class != "record"


@dataclass(frozen=True)
class _Source:
    table: str  # warehouse table, or "" when untraceable
    column: str
    bare: bool  # the key is this column as it stands (no function applied)


class _Untraceable(Exception):
    pass


def classify_rewrite(result: RewriteResult, catalog: Catalog) -> Classification:
    """Classify a rewritten query: ``reference`` when it reads only reference tables (published
    geography, offence classifications, anonymous map points), else by :func:`classify_sql`.
    """
    if (
        result.tables
        and not result.schema_tables
        and all(catalog.table(t).kind == TableKind.REFERENCE for t in result.tables)
    ):
        return Classification("reference", "reference tables only")
    return classify_sql(result.sql, catalog)


def classify_sql(sql: str, catalog: Catalog) -> Classification:
    """Classify the executed SQL (see the module docstring for the rule)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        scope = build_scope(tree)
    except SqlglotError:
        return Classification("record", "the query could not be analysed")
    if scope is None:
        return Classification("record", "the query could not be analysed")
    return _Classifier(catalog).scope(scope, 0)


@dataclass(frozen=True)
class OutputColumn:
    """One column of a query's result as disclosure control reads it.

    Attributes:
        name: the name the SQL gives it (alias or column), or None when the engine names it.
        role: ``key`` (grouping column), ``count`` (``count(…)``) or ``aggregate`` (any other
            aggregate).
    """

    name: str | None
    role: ColumnRole


def output_roles(sql: str) -> tuple[OutputColumn, ...]:
    """The result columns of an aggregate query (executed SQL), in order, with their roles.

    A column is a ``count`` when it is ``count(…)`` (also filtered, cast or in parentheses),
    another ``aggregate`` when it holds any other aggregate call, else a grouping ``key``.
    Through a pass-through wrapper (the row cap, a filter on an aggregated subquery) the inner
    query's columns are read; a set operation's columns must have one role in every branch.

    Example:
        >>> [(c.name, c.role) for c in output_roles(
        ...     "SELECT ward_code, count(*) AS n, avg(value_gbp) AS mean FROM p GROUP BY 1")]
        [('ward_code', 'key'), ('n', 'count'), ('mean', 'aggregate')]

    Raises:
        ParameterError: a column whose role cannot be told safely — a window function (it can
            carry another row's count), a subquery, or a star over a grouped query.
    """
    try:
        scope = build_scope(sqlglot.parse_one(sql, read="duckdb"))
    except SqlglotError as exc:
        raise ParameterError("disclosure: the query could not be analysed") from exc
    if scope is None:
        raise ParameterError("disclosure: the query could not be analysed")
    return tuple(_roles(scope, 0))


def _is_count(node: exp.Expr) -> bool:
    while isinstance(node, exp.Paren | exp.Cast | exp.Filter):
        node = node.this
    return isinstance(node, exp.Count | exp.CountIf)


def _roles(scope: Scope, depth: int) -> list[OutputColumn]:
    if depth > _MAX_DEPTH:
        raise ParameterError("disclosure: the query is nested too deeply to analyse")
    node = scope.expression
    if isinstance(node, exp.SetOperation):
        branches = [_roles(branch, depth + 1) for branch in scope.set_operation_scopes]
        if not branches or len({len(b) for b in branches}) != 1:
            raise ParameterError("disclosure: the branches of the set operation do not match")
        columns = []
        for position, first in enumerate(branches[0]):
            roles = {branch[position].role for branch in branches}
            if len(roles) > 1 and "key" in roles:
                raise ParameterError(
                    f"disclosure: column {position + 1} is a grouping column in one branch of "
                    f"{node.key.upper()} and an aggregate in another"
                )
            # a count in every branch stays a count; count here, sum there: an aggregate
            columns.append(OutputColumn(first.name, first.role if len(roles) == 1 else "aggregate"))
        return columns
    if not isinstance(node, exp.Select):
        raise ParameterError("disclosure: the top level of the query is not a SELECT")
    inner = _passthrough(node, scope)
    if inner is not None:
        below = _roles(inner, depth + 1)
        named = {c.name: c for c in below if c.name}
        out: list[OutputColumn] = []
        for projection in node.expressions:
            if isinstance(projection, exp.Star):
                out.extend(below)
                continue
            column = projection.this if isinstance(projection, exp.Alias) else projection
            source = named.get(column.name)
            if source is None:
                raise ParameterError(f"disclosure: column {column.name!r} could not be traced")
            out.append(OutputColumn(projection.alias_or_name, source.role))
        return out
    columns = []
    for position, projection in enumerate(node.expressions, start=1):
        value = projection.this if isinstance(projection, exp.Alias) else projection
        label = projection.output_name or f"column {position}"
        if value.find(exp.Window) is not None:
            raise ParameterError(
                f"disclosure: {label} uses a window function, which can carry other rows' "
                "counts past disclosure control; compute it from the protected result instead"
            )
        if value.find(exp.Select) is not None:
            raise ParameterError(
                f"disclosure: {label} is a subquery, whose counts disclosure control cannot see"
            )
        if isinstance(value, exp.Star):
            raise ParameterError("disclosure: name the result's columns instead of using *")
        kind: ColumnRole = "key"
        if next(_aggregates(value), None) is not None:
            kind = "count" if _is_count(value) else "aggregate"
        columns.append(OutputColumn(projection.output_name or None, kind))
    return columns


def _aggregates(node: exp.Expr) -> Iterator[exp.AggFunc]:
    """Aggregate calls in ``node`` outside windows and subqueries."""
    if isinstance(node, exp.Window | exp.Subquery | exp.Query):
        return
    if isinstance(node, exp.AggFunc):
        yield node
        return
    for child in node.iter_expressions():
        yield from _aggregates(child)


def _passthrough(select: exp.Select, scope: Scope) -> Scope | None:
    """The single subquery that a plain projection or filter over it passes through.

    ``SELECT * FROM (…) AS __gw_capped`` (the row cap), ``SELECT a, n FROM (…) WHERE n >= 10``
    (suppressing small counts): no joins, grouping or windows; output columns only name the
    subquery's columns. Such a query returns some of the subquery's rows unchanged.
    """
    if (
        select.args.get("joins")
        or select.args.get("group")
        or select.args.get("having")
        or select.args.get("distinct")
        or select.args.get("qualify")
        or len(scope.sources) != 1
    ):
        return None
    for projection in select.expressions:
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if not isinstance(inner, exp.Star | exp.Column):
            return None
    (source,) = scope.sources.values()
    return source if isinstance(source, Scope) else None


def _value_columns(
    node: exp.Expr, select: exp.Select | None
) -> Iterator[tuple[exp.Column, exp.Select | None]]:
    """Columns a value is computed from, with the scalar subquery each sits in (if any).

    Inside a scalar subquery only its output expression counts: its WHERE is the lookup
    condition (``map_point_id = …``), not part of the value.
    """
    if isinstance(node, exp.Column):
        yield node, select
        return
    if isinstance(node, exp.Select):
        for projection in node.expressions:
            yield from _value_columns(projection, node)
        return
    for child in node.iter_expressions():
        yield from _value_columns(child, select)


class _Classifier:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # --- the top level -------------------------------------------------------------------

    def scope(self, scope: Scope, depth: int) -> Classification:
        if depth > _MAX_DEPTH:
            return Classification("record", "the query is nested too deeply to analyse")
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            branches = list(scope.set_operation_scopes)
            if not branches:
                return Classification("record", "a set operation that could not be analysed")
            for branch in branches:
                verdict = self.scope(branch, depth + 1)
                if not verdict.aggregate:
                    return Classification(
                        "record", f"a branch of {node.key.upper()}: {verdict.reason}"
                    )
            return Classification("aggregate", "every branch groups")
        if not isinstance(node, exp.Select):
            return Classification("record", "the top level is not a SELECT")
        inner = _passthrough(node, scope)
        if inner is not None:
            return self.scope(inner, depth + 1)
        if node.args.get("distinct"):
            return Classification("record", "DISTINCT at the top level is not an aggregate")
        group = node.args.get("group")
        has_aggregate = any(next(_aggregates(p), None) is not None for p in node.expressions)
        if group is None and not has_aggregate:
            return Classification("record", "the top-level SELECT does not group or aggregate")
        for key in self._keys(node):
            reason = self._identifying(key, scope)
            if reason:
                return Classification("record", f"grouped by {reason}")
        return Classification("aggregate", "grouped by non-identifying keys")

    def _keys(self, select: exp.Select) -> list[exp.Expr]:
        projections = select.expressions
        group = select.args.get("group")
        if group is None or group.args.get("all"):
            return [
                p.this if isinstance(p, exp.Alias) else p
                for p in projections
                if next(_aggregates(p), None) is None
            ]
        keys: list[exp.Expr] = []
        for item in group.expressions:
            if isinstance(item, exp.Rollup | exp.Cube | exp.GroupingSets):
                keys.extend(item.expressions)
            else:
                keys.append(item)
        aliases = {p.alias: p.this for p in projections if isinstance(p, exp.Alias)}
        resolved: list[exp.Expr] = []
        for key in keys:
            if isinstance(key, exp.Tuple):
                resolved.extend(key.expressions)
            elif isinstance(key, exp.Literal) and key.is_int:
                position = int(key.this) - 1
                if 0 <= position < len(projections):
                    p = projections[position]
                    resolved.append(p.this if isinstance(p, exp.Alias) else p)
                else:
                    resolved.append(key)
            elif isinstance(key, exp.Column) and not key.table and key.name in aliases:
                resolved.append(aliases[key.name])
            else:
                resolved.append(key)
        return resolved

    # --- tracing keys to warehouse columns -------------------------------------------------

    def _identifying(self, key: exp.Expr, scope: Scope) -> str | None:
        """A description of the identifying column behind ``key``, or None."""
        try:
            sources = list(self._trace(key, scope, bare=True, depth=0))
        except _Untraceable as exc:
            return f"a key that cannot be traced ({exc})"
        for src in sources:
            column = self.catalog.table(src.table).column(src.column)
            if column.sensitivity in IDENTIFYING:
                return f"{src.table}.{src.column} ({column.sensitivity})"
            if src.bare and column.sensitivity == "datetime":
                return f"{src.table}.{src.column} (datetime)"
        return None

    def _trace(self, expr: exp.Expr, scope: Scope, *, bare: bool, depth: int) -> Iterator[_Source]:
        if depth > _MAX_DEPTH:
            raise _Untraceable("nested too deeply")
        if isinstance(expr, exp.Paren):
            yield from self._trace(expr.this, scope, bare=bare, depth=depth + 1)
        elif isinstance(expr, exp.Column):
            yield from self._column(expr, scope, bare=bare, depth=depth)
        elif isinstance(expr, exp.Star):
            raise _Untraceable("a star")
        else:
            for column, inner in _value_columns(expr, None):
                if inner is None:
                    yield from self._column(column, scope, bare=False, depth=depth + 1)
                else:
                    yield from self._nested_column(column, inner, scope, depth)

    def _nested_column(
        self, column: exp.Column, select: exp.Select, outer: Scope, depth: int
    ) -> Iterator[_Source]:
        """A column a scalar subquery of a key returns (e.g. the map-point lookup of a mask)."""
        for table in select.find_all(exp.Table):
            if (
                table.find_ancestor(exp.Select) is select
                and column.table in (table.alias_or_name, "")
                and table.name in self.catalog
                and column.name in self.catalog.table(table.name).column_names
            ):
                yield _Source(table.name, column.name, False)
                return
        yield from self._column(column, outer, bare=False, depth=depth + 1)  # correlated

    def _column(
        self, column: exp.Column, scope: Scope, *, bare: bool, depth: int
    ) -> Iterator[_Source]:
        candidates: list[tuple[str, Scope | exp.Table]] = []
        if column.table:
            source = scope.sources.get(column.table)
            if source is None:
                raise _Untraceable(f"unknown source {column.table}")
            candidates.append((column.table, source))
        else:
            for name, source in scope.sources.items():
                if column.name in self._outputs(source):
                    candidates.append((name, source))
            if not candidates:
                raise _Untraceable(f"column {column.name}")
        for _, source in candidates:
            if isinstance(source, exp.Table):
                if (
                    source.name not in self.catalog
                    or column.name not in self.catalog.table(source.name).column_names
                ):
                    raise _Untraceable(f"column {column.name}")
                yield _Source(source.name, column.name, bare)
                continue
            projection = self._projection(source, column.name)
            if projection is None:
                raise _Untraceable(f"column {column.name}")
            inner_bare = bare and isinstance(projection, exp.Column)
            yield from self._trace(projection, source, bare=inner_bare, depth=depth + 1)

    def _outputs(self, source: Scope | exp.Table) -> set[str]:
        if isinstance(source, exp.Table):
            if source.name in self.catalog:
                return set(self.catalog.table(source.name).column_names)
            return set()
        node = source.expression
        if isinstance(node, exp.Select):
            names = set(node.named_selects)
            if any(isinstance(p, exp.Star) for p in node.expressions):
                for inner in source.sources.values():
                    names |= self._outputs(inner)
            return names
        return set()

    def _projection(self, source: Scope, name: str) -> exp.Expr | None:
        node = source.expression
        if not isinstance(node, exp.Select):
            return None
        for p in node.expressions:
            if isinstance(p, exp.Alias) and p.alias == name:
                value: exp.Expr = p.this
                return value
            if isinstance(p, exp.Column) and p.name == name:
                return p
        if any(isinstance(p, exp.Star) for p in node.expressions):
            return exp.column(name)
        return None
