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

5. …and every **output column** is a grouping key or a statistic, never values of the group's
   records packed into one cell. The aggregates are read against an allow-list:

   - *counts* (``count``, ``count(DISTINCT …)``, ``count_if``, ``approx_count_distinct``,
     ``grouping``) are statistics whatever they count;
   - *moments* (``sum``, ``avg``, ``stddev``/``variance``, ``corr``, ``regr_*``, ``entropy`` …)
     are statistics unless the values they are computed from trace to an identifying column
     (``sum(crime_id)`` is record-level; a column only tested in a condition,
     ``sum(CASE WHEN person_id IS NULL THEN 1 END)``, carries no value);
   - *order statistics and pickers* (``min``/``max``, ``median``, quantiles, ``mode``,
     ``first``/``last``/``any_value``, ``arg_max``/``arg_min`` …) return one record's value, so
     they are statistics only when that value is a number, date, time or boolean (by sqlglot's
     type annotation of the executed SQL) and traces to no identifying or quasi-identifying
     column: ``min(recorded_at)`` is aggregate, ``max(crime_ref)``, ``first(crime_id)``,
     ``arg_max(person_id, recorded_at)`` are record-level;
   - everything else is record-level: ``string_agg``/``group_concat``/``list``/``array_agg``,
     ``histogram``, ``approx_top_k``, ``bit_or`` …, any unknown or anonymous aggregate, any
     function not known to be scalar, list/struct/map/JSON constructors (``{'a': x}``,
     ``struct_pack``, ``map``, ``[x]``) and list functions that keep elements (``flatten``,
     ``list_distinct``, ``unnest``, ``x[1]`` …), a window function other than a rank or an
     allowed statistic over the groups, a column that is neither grouped nor aggregated, and a
     scalar subquery that is itself record-level.

   A grouping key or aggregate argument traced into a derived table (CTE, subquery) whose
   column is computed by a packing aggregate is record-level too.

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
    >>> r = classify_sql("SELECT lsoa_code, list(crime_id) AS ids FROM main.crime GROUP BY 1", cat)
    >>> r.data_class, r.reason
    ('record', 'column 2 (ids): array_agg() packs the records of each group into one value')
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.scope import Scope, build_scope

from gateway.catalog import Catalog
from gateway.catalog.model import TableKind
from gateway.catalog.sqlglot_schemas import mapping_schema
from gateway.errors import NotProtectable, ParameterError
from gateway.lru import LruCache

__all__ = [
    "AGGREGATE_NAMES",
    "COLUMN_ROLES",
    "IDENTIFYING",
    "SCALAR_NAMES",
    "AggregateKind",
    "Classification",
    "ColumnRole",
    "DataClass",
    "OutputColumn",
    "Rewritten",
    "aggregate_kind",
    "classify_rewrite",
    "classify_sql",
    "output_roles",
    "without_cell_keys",
]

DataClass = Literal["aggregate", "record", "reference"]
#: What an output column is to disclosure control: a grouping ``key``, a ``count`` or another
#: ``aggregate`` (:func:`output_roles`).
ColumnRole = Literal["key", "count", "aggregate"]
COLUMN_ROLES: tuple[ColumnRole, ...] = ("key", "count", "aggregate")

#: Catalog sensitivity classes that make a grouping key record-level.
IDENTIFYING = frozenset({"key", "person_key", "direct_identifier", "exact_location", "free_text"})
#: ... and the classes an order statistic (``max``, ``first`` …) may not return a value of.
_NOT_PICKED = IDENTIFYING | {"quasi_identifier"}
_MAX_DEPTH = 64
#: Names the rewrite gives the columns it adds (record keys, cell keys).
_GATEWAY_PREFIX = "__gw_"

# --- the aggregate allow-list (rule 5) ----------------------------------------------------------
# An aggregate call is one of four kinds. sqlglot models most DuckDB aggregates as classes; the
# rest arrive as ``Anonymous`` calls and are matched by lower-case name. An aggregate in neither
# list is ``pack``: record-level.

AggregateKind = Literal["count", "moment", "pick", "window", "pack"]

#: Counts of rows or distinct values: statistics over any column.
_COUNTS: tuple[type[exp.Expr], ...] = (
    exp.Count,
    exp.CountIf,
    exp.ApproxDistinct,
    exp.RegrCount,
    exp.Grouping,
    exp.GroupingId,
)
#: Numbers computed from every value of the group: statistics unless the values identify.
_MOMENTS: tuple[type[exp.Expr], ...] = (
    exp.Sum,
    exp.Avg,
    exp.Stddev,
    exp.StddevPop,
    exp.StddevSamp,
    exp.Variance,
    exp.VariancePop,
    exp.Corr,
    exp.CovarPop,
    exp.CovarSamp,
    exp.RegrAvgx,
    exp.RegrAvgy,
    exp.RegrIntercept,
    exp.RegrR2,
    exp.RegrSlope,
    exp.RegrSxx,
    exp.RegrSxy,
    exp.RegrSyy,
    exp.Kurtosis,
    exp.Skewness,
    exp.LogicalAnd,
    exp.LogicalOr,
)
#: One value of the group (an order statistic or a pick): statistics only for numbers, dates,
#: times and booleans that identify nobody.
_PICKS: tuple[type[exp.Expr], ...] = (
    exp.Min,
    exp.Max,
    exp.Median,
    exp.PercentileCont,
    exp.PercentileDisc,
    exp.Quantile,
    exp.ApproxQuantile,
    exp.Mode,
    exp.First,
    exp.Last,
    exp.AnyValue,
    exp.ArgMax,
    exp.ArgMin,
)
#: Window-only functions: ranks carry no values; offsets carry the value they are given.
_RANKS: tuple[type[exp.Expr], ...] = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.PercentRank,
    exp.CumeDist,
    exp.Ntile,
)
_OFFSETS: tuple[type[exp.Expr], ...] = (
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
    exp.NthValue,
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COUNT_NAMES = _names("count_star approx_count_distinct")
_MOMENT_NAMES = _names(
    "entropy product fsum favg kahan_sum sumkahan sum_no_overflow mean decimal_average "
    "kurtosis_pop sem mad geomean geometric_mean wavg weighted_avg bool_and bool_or"
)
_PICK_NAMES = _names(
    "quantile quantile_cont quantile_disc reservoir_quantile approx_quantile arbitrary "
    "any_value arg_max_null arg_min_null arg_max_nulls_last arg_min_nulls_last max_by "
    "min_by"
)
#: DuckDB aggregates sqlglot leaves anonymous that pack records: recognised as aggregates (for
#: the "does it aggregate" test and disclosure roles), never allowed.
_PACK_NAMES = _names(
    "histogram histogram_exact bitstring_agg combine_aggr lttb variant_group_object "
    "variant_group_array json_group_array json_group_object json_group_structure list "
    "array_agg string_agg group_concat listagg approx_top_k bit_and bit_or bit_xor"
)
AGGREGATE_NAMES = _COUNT_NAMES | _MOMENT_NAMES | _PICK_NAMES | _PACK_NAMES
#: Functions sqlglot leaves anonymous that are scalar and keep no list, struct or JSON: over
#: keys and statistics they give keys and statistics. Any other anonymous call is record-level.
SCALAR_NAMES = _names(
    "date_part datepart yearweek date_sub age printf format isodow epoch_ms make_time "
    "time_bucket bit_count nfc_normalize strip_accents jaccard jaro_winkler_similarity "
    "damerau_levenshtein levenshtein ceiling to_days to_hours to_minutes to_months to_years "
    "to_weeks millisecond second era century decade isoyear epoch greatest_common_divisor "
    "gcd lcm round_even even factorial radians degrees sin cos tan atan2 cot asin acos atan "
    "cbrt isnan isinf isfinite ascii chr unicode ord instr lcase ucase mismatches hamming "
    "suffix prefix"
)
#: Constructors and list/struct/map/JSON functions that keep the values they are given: an
#: output column built with one can hold many values in one cell.
_PACKING: tuple[type[exp.Expr], ...] = (
    exp.Array,
    exp.Struct,
    exp.Map,
    exp.ToMap,
    exp.VarMap,
    exp.MapFromEntries,
    exp.JSONObject,
    exp.JSONArray,
    exp.JSONFormat,
    exp.ParseJSON,
    exp.JSONExtract,
    exp.JSONExtractScalar,
    exp.Flatten,
    exp.ArrayConcat,
    exp.ArrayDistinct,
    exp.ArraySort,
    exp.ArrayFilter,
    exp.ArraySlice,
    exp.ArrayFirst,
    exp.ArrayLast,
    exp.ArrayReverse,
    exp.ArrayToString,
    exp.Transform,
    exp.Explode,
    exp.Unnest,
    exp.Bracket,
    exp.StructExtract,
)
#: Types an order statistic may return.
_STATISTIC_TYPES = (
    exp.DataType.NUMERIC_TYPES
    | exp.DataType.TEMPORAL_TYPES
    | {exp.DataType.Type.BOOLEAN, exp.DataType.Type.INTERVAL}
)
_WRAPPERS: tuple[type[exp.Expr], ...] = (exp.Filter, exp.IgnoreNulls, exp.RespectNulls)


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


class _Packed(_Untraceable):
    """A traced column is computed, in a derived table, by an aggregate that packs records."""


class Rewritten(Protocol):
    """What classification reads of a rewrite (:class:`gateway.rewrite.RewriteResult`)."""

    @property
    def sql_for_analysis(self) -> str: ...
    @property
    def tables(self) -> tuple[str, ...]: ...
    @property
    def schema_tables(self) -> tuple[str, ...]: ...
    @property
    def cell_keyed(self) -> bool: ...


def classify_rewrite(result: Rewritten, catalog: Catalog) -> Classification:
    """Classify a rewritten query: ``reference`` when it reads only reference tables (published
    geography, offence classifications, anonymous map points), else by :func:`classify_sql`.
    """
    if (
        result.tables
        and not result.schema_tables
        and all(catalog.table(t).kind == TableKind.REFERENCE for t in result.tables)
    ):
        return Classification("reference", "reference tables only")
    return classify_sql(result.sql_for_analysis, catalog, cell_keys=result.cell_keyed)


def without_cell_keys(tree: exp.Expr) -> exp.Expr:
    """``tree`` without the columns the rewrite added for the cell key method (record keys in
    policy subqueries, cell keys beside counts: every projection named ``__gw_…``), so the
    analysis reads the analyst's query. Only for a statement rewritten with cell keys, where
    the rewrite refused any ``__gw`` name of the analyst's (:mod:`gateway.rewrite.cellkeys`).

    Example:
        >>> tree = sqlglot.parse_one("SELECT a, sum(k) AS __gw_cell_key_1 FROM t GROUP BY a")
        >>> without_cell_keys(tree).sql()
        'SELECT a FROM t GROUP BY a'
    """
    for select in list(tree.find_all(exp.Select)):
        kept = [
            p
            for p in select.expressions
            if not (isinstance(p, exp.Alias) and p.alias.lower().startswith(_GATEWAY_PREFIX))
        ]
        if len(kept) != len(select.expressions):
            select.set("expressions", kept)
    return tree


#: Classifications kept per executed SQL text (templates and dashboards repeat the same
#: statements; classifying one costs a parse and a type annotation, ~2 ms for a template).
_CLASSIFIED_MAX = 1024
_classified: LruCache[tuple[int, str, bool], tuple[Catalog, Classification]] = LruCache(
    _CLASSIFIED_MAX
)


def classify_sql(sql: str, catalog: Catalog, *, cell_keys: bool = False) -> Classification:
    """Classify the executed SQL (see the module docstring for the rule); ``cell_keys``: it
    was rewritten with cell keys (:func:`without_cell_keys`). The verdict depends only on the
    text and the catalog, so it is remembered for the last :data:`_CLASSIFIED_MAX` texts.

    Example:
        >>> from gateway.catalog import load_catalog
        >>> catalog = load_catalog()
        >>> sql = "SELECT count(*) AS n FROM crime"
        >>> classify_sql(sql, catalog) is classify_sql(sql, catalog)
        True
    """
    key = (id(catalog), sql, cell_keys)
    kept = _classified.get(key)
    if kept is not None and kept[0] is catalog:
        return kept[1]
    verdict = _classify_sql(sql, catalog, cell_keys=cell_keys)
    _classified.put(key, (catalog, verdict))
    return verdict


def _classify_sql(sql: str, catalog: Catalog, *, cell_keys: bool) -> Classification:
    classifier = _Classifier(catalog)
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        if cell_keys:
            tree = without_cell_keys(tree)
        scope = build_scope(classifier.annotate(tree))
    except SqlglotError:
        return Classification("record", "the query could not be analysed")
    if scope is None:
        return Classification("record", "the query could not be analysed")
    return classifier.scope(scope, 0)


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


def output_roles(
    sql: str, catalog: Catalog | None = None, *, cell_keys: bool = False
) -> tuple[OutputColumn, ...]:
    """The result columns of an aggregate query (executed SQL), in order, with their roles.

    Disclosure control protects every column derived from counting records or people, so a
    column's role is read from where its value comes from (:class:`_CountFlow`):

    - ``count``: ``count(…)`` (``DISTINCT``, ``FILTER``, cast or in parentheses), ``count_if``,
      a ``sum`` of an indicator (a boolean, ``CASE``/``IF`` whose values are only 0, 1 or
      NULL, a cast of one), or a ``sum`` of a count computed in a subquery or CTE;
    - ``aggregate``: any other aggregate of values that are not counts (``avg(value_gbp)``);
    - ``key``: a grouping column (``grouping()`` markers too) computed from no aggregate.

    Through a pass-through wrapper (the row cap, a projection of an aggregated subquery) the
    inner query's columns are read; a set operation's columns must have one role in every
    branch.

    Example:
        >>> [(c.name, c.role) for c in output_roles(
        ...     "SELECT ward_code, count(*) AS n, avg(value_gbp) AS mean FROM p GROUP BY 1")]
        [('ward_code', 'key'), ('n', 'count'), ('mean', 'aggregate')]

    Raises:
        NotProtectable: a count that disclosure control could not protect, or whose nature it
            cannot tell: a key or a filter computed from counts (a subquery's ``count(*)``
            surfaced as a grouping column, ``HAVING``, ``WHERE n > 3`` over a grouped
            subquery), window functions (windowed counts, running totals, ranks), scalar or
            predicate subqueries that aggregate, scaled or combined counts (``count(*) * 2``,
            ``sum(CASE … THEN 5 …)``, ``avg(flag)``, ``count(x) / count(*)``), and ``LIMIT``
            over an ordering by counts.
        ParameterError: the query cannot be analysed, a star over a grouped query, or set
            operation branches that do not match.
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        scope = build_scope(without_cell_keys(tree) if cell_keys else tree)
    except SqlglotError as exc:
        raise ParameterError("disclosure: the query could not be analysed") from exc
    if scope is None:
        raise ParameterError("disclosure: the query could not be analysed")
    return tuple(_CountFlow(catalog).roles(scope, 0))


def aggregate_kind(node: exp.Expr) -> AggregateKind | None:
    """How the aggregate allow-list reads a call, or None when it is not an aggregate.

    ``count``: a count; ``moment``: a number from all the group's values; ``pick``: one of the
    group's values (an order statistic); ``window``: a rank or offset (only valid over a
    window); ``pack``: anything else that aggregates (record-level).

    Example:
        >>> [aggregate_kind(sqlglot.parse_one(f"SELECT {f}(x)", read="duckdb").expressions[0])
        ...  for f in ("count", "avg", "max", "string_agg", "histogram", "lower")]
        ['count', 'moment', 'pick', 'pack', 'pack', None]
    """
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        if name in _COUNT_NAMES:
            return "count"
        if name in _MOMENT_NAMES:
            return "moment"
        if name in _PICK_NAMES:
            return "pick"
        return "pack" if name in _PACK_NAMES else None
    if isinstance(node, _COUNTS):
        return "count"
    if isinstance(node, _MOMENTS):
        return "moment"
    if isinstance(node, _PICKS):
        return "pick"
    if isinstance(node, _RANKS + _OFFSETS):
        return "window"
    if isinstance(node, exp.WithinGroup):
        return aggregate_kind(node.this) if node.this is not None else "pack"
    if isinstance(node, exp.AggFunc):
        return "pack"
    return None


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key


def _value_parts(node: exp.Expr) -> Iterator[exp.Expr]:
    """The parts of an aggregate's argument whose values reach its result.

    A condition only decides (``CASE WHEN person_id IS NULL …``, ``x = 5``, ``FILTER``): its
    operands carry no value. The ordering of ``first(x ORDER BY y)`` decides which value, too.
    """
    if isinstance(node, exp.Predicate | exp.Connector | exp.Not | exp.Boolean | exp.Literal):
        return
    if isinstance(node, exp.Column | exp.Query | exp.Subquery):
        yield node
    elif isinstance(node, exp.Case):
        for branch in node.args.get("ifs") or ():
            yield from _value_parts(branch.args["true"])
        if node.args.get("default") is not None:
            yield from _value_parts(node.args["default"])
    elif isinstance(node, exp.If):
        yield from _value_parts(node.args["true"])
        if node.args.get("false") is not None:
            yield from _value_parts(node.args["false"])
    elif isinstance(node, exp.Filter | exp.Order):
        if node.this is not None:
            yield from _value_parts(node.this)
    else:
        for child in node.iter_expressions():
            yield from _value_parts(child)


def _picked(call: exp.Expr, within: exp.WithinGroup | None) -> exp.Expr | None:
    """The argument whose value an order statistic returns."""
    if within is not None:
        order = within.expression
        ordered = order.expressions if isinstance(order, exp.Order) else []
        return ordered[0].this if len(ordered) == 1 else None
    value = call.expressions[0] if isinstance(call, exp.Anonymous) and call.expressions else None
    if not isinstance(call, exp.Anonymous):
        value = call.this
    while isinstance(value, exp.Order | exp.Distinct | exp.Paren):
        if isinstance(value, exp.Distinct):
            value = value.expressions[0] if len(value.expressions) == 1 else None
        else:
            value = value.this
    return value


# --- disclosure roles: where each output value comes from (output_roles) ----------------------

#: What a value is computed from, as disclosure control reads it: ``None`` (records' values),
#: ``count`` (a count, or a sum of counts) or ``derived`` (anything else computed from
#: aggregates or windows).
_Taint = Literal["count", "derived"] | None
_SUMS = _names("fsum kahan_sum sumkahan sum_no_overflow")
_INDICATOR_VALUES = frozenset({0, 1})


def _strip(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren | exp.Cast | exp.TryCast) and node.this is not None:
        node = node.this
    return node


def _refuse(label: str, why: str) -> NotProtectable:
    return NotProtectable(
        f"disclosure: {label} {why}, which disclosure control cannot protect; count per group "
        "in one SELECT (count(*), count(DISTINCT …), sum(CASE WHEN … THEN 1 ELSE 0 END)) and "
        "work anything else out from the protected result"
    )


class _CountFlow:
    """Reads the roles of an aggregate query's output columns, refusing what it cannot tell.

    With a catalog, a warehouse column of type BOOLEAN is an indicator (``sum(hate_crime)``);
    without one, every bare column summed is read as a value.
    """

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog

    def _indicator(self, node: exp.Expr, scope: Scope, depth: int = 0) -> bool:
        """An expression whose value is only 0/1/NULL or true/false: a count when summed
        (traced through derived tables and CTEs to the warehouse column's type)."""
        node = _strip(node)
        if depth > _MAX_DEPTH:
            return True
        if isinstance(node, exp.Predicate | exp.Connector | exp.Not | exp.Boolean | exp.Null):
            return True
        if isinstance(node, exp.Literal):
            return not node.is_string and _number(node) in _INDICATOR_VALUES
        if isinstance(node, exp.Case):
            branches = [b.args["true"] for b in node.args.get("ifs") or ()]
            default = node.args.get("default")
            values = [*branches, *([default] if default else [])]
            return all(self._indicator(v, scope, depth + 1) for v in values)
        if isinstance(node, exp.If):
            false = node.args.get("false")
            return self._indicator(node.args["true"], scope, depth + 1) and (
                false is None or self._indicator(false, scope, depth + 1)
            )
        if isinstance(node, exp.Column):
            return self._boolean_column(node, scope, depth)
        return False

    def _boolean_column(self, column: exp.Column, scope: Scope, depth: int) -> bool:
        source = _source_of(column, scope)
        if isinstance(source, exp.Table):
            if self.catalog is None:
                return False
            try:
                kind = self.catalog.table(source.name).column(column.name).type
            except (KeyError, LookupError, ValueError):
                return False
            return kind.upper() == "BOOLEAN"
        if isinstance(source, Scope):
            projection = _projection_named(source.expression, column.name)
            if projection is not None:
                value = projection.this if isinstance(projection, exp.Alias) else projection
                return self._indicator(value, source, depth + 1)
        return False

    # (a star in a derived table passes its sources' columns through under their own names)

    def roles(self, scope: Scope, depth: int) -> list[OutputColumn]:
        if depth > _MAX_DEPTH:
            raise ParameterError("disclosure: the query is nested too deeply to analyse")
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self._set_operation(scope, node, depth)
        if not isinstance(node, exp.Select):
            raise ParameterError("disclosure: the top level of the query is not a SELECT")
        self._clauses(node, scope, "the query")
        inner = _passthrough(node, scope)
        if inner is not None:
            return self._through(node, scope, inner, depth)
        columns = []
        for position, projection in enumerate(node.expressions, start=1):
            value = projection.this if isinstance(projection, exp.Alias) else projection
            label = projection.output_name or f"column {position}"
            if isinstance(value, exp.Star):
                raise ParameterError("disclosure: name the result's columns instead of using *")
            columns.append(
                OutputColumn(projection.output_name or None, self._role(value, scope, label))
            )
        self._nested(scope)
        return columns

    # --- the shapes around the counting SELECT ----------------------------------------------

    def _set_operation(
        self, scope: Scope, node: exp.SetOperation, depth: int
    ) -> list[OutputColumn]:
        branches = [self.roles(branch, depth + 1) for branch in scope.set_operation_scopes]
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
            if len(roles) > 1:  # a count here, a sum of values there: cannot tell
                raise _refuse(f"column {position + 1}", "is a count in one branch only")
            columns.append(OutputColumn(first.name, first.role))
        return columns

    def _through(
        self, node: exp.Select, scope: Scope, inner: Scope, depth: int
    ) -> list[OutputColumn]:
        below = self.roles(inner, depth + 1)
        named = {c.name: c for c in below if c.name}
        where = node.args.get("where")
        if where is not None:
            for column in where.find_all(exp.Column):
                source = named.get(column.name)
                if source is None or source.role != "key":
                    raise _refuse("the outer WHERE", "filters rows by their exact counts")
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

    def _clauses(self, select: exp.Select, scope: Scope, label: str) -> None:
        """HAVING, QUALIFY and a LIMIT over an ordering by aggregates pick rows by counts."""
        if select.args.get("having") is not None:
            raise _refuse(f"{label}'s HAVING", "keeps or drops groups by their exact counts")
        if select.args.get("qualify") is not None:
            raise _refuse(f"{label}'s QUALIFY", "keeps or drops rows by window values")
        order = select.args.get("order")
        if order is not None and (select.args.get("limit") or select.args.get("offset")):
            for key in order.expressions:
                if next(_aggregates(key), None) is not None or self._taint(key, scope, 0):
                    raise _refuse(f"{label}'s LIMIT", "picks groups by their exact counts")
                if isinstance(key.this, exp.Column) and not key.this.table:
                    alias = _lateral_alias_any(key.this.name, select)
                    if alias is not None and next(_aggregates(alias), None) is not None:
                        raise _refuse(f"{label}'s LIMIT", "picks groups by their exact counts")

    def _nested(self, root: Scope) -> None:
        """Inner queries may count, but only to be summed again: no windows, no HAVING, no
        aggregating subquery in a condition, no counted column in a join, filter or key."""
        for scope in root.traverse():
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            if scope is root:
                continue  # its columns are read one by one (and name the column)
            for window in select.find_all(exp.Window):
                if window.find_ancestor(exp.Select) is select:
                    raise _refuse("a window function", "can carry counts and ranks of rows")
            self._clauses(select, scope, "a subquery")
            aggregating = select.args.get("group") is not None or any(
                next(_aggregates(p), None) is not None for p in select.expressions
            )
            if aggregating and not (scope.is_derived_table or scope.is_cte):
                raise _refuse("a subquery in a condition or value", "aggregates")
            for key in ("where", "joins", "group"):
                part = select.args.get(key)
                for item in part if isinstance(part, list) else [part]:
                    if item is not None and self._taint(item, scope, 0):
                        raise _refuse("a subquery", "filters, joins or groups by counts")
        top = root.expression
        for key in ("where", "joins", "group"):
            part = top.args.get(key)
            for item in part if isinstance(part, list) else [part]:
                if item is not None and self._taint(item, root, 0):
                    raise _refuse("the query", "filters, joins or groups by counts")

    # --- one output column ------------------------------------------------------------------

    def _role(self, value: exp.Expr, scope: Scope, label: str) -> ColumnRole:
        if value.find(exp.Select) is not None:
            raise _refuse(label, "is a subquery, whose counts disclosure control cannot see")
        if value.find(exp.Window) is not None:
            raise _refuse(label, "uses a window function (windowed counts, ranks)")
        calls = list(_aggregates(value))
        bare = _strip(value)
        if not calls:
            if self._taint(value, scope, 0):
                raise _refuse(label, "is a grouping column computed from counts")
            return "key"
        if isinstance(bare, exp.Grouping | exp.GroupingId) and not self._taint(bare, scope, 0):
            return "key"  # the marker of a total row
        if isinstance(bare, exp.Filter):
            bare = _strip(bare.this)
        if len(calls) == 1 and bare is calls[0]:
            kind = self._aggregate(bare, scope)
            if kind is None:
                raise _refuse(label, "is computed from counts in a way that is not a count")
            return kind
        if any(self._aggregate(call, scope) != "aggregate" for call in calls):
            raise _refuse(label, "combines counts (scaled, added, divided)")
        return "aggregate"

    def _aggregate(self, call: exp.Expr, scope: Scope) -> ColumnRole | None:
        """``count``, ``aggregate`` (of values that are no counts), or None (computed from
        counts or indicators in another way: cannot be protected as a count)."""
        kind = aggregate_kind(call)
        if kind == "count":
            return "count"
        arguments = [a for a in call.iter_expressions() if not isinstance(a, exp.Order)]
        values = [part for a in arguments for part in _value_parts(a)]
        tainted = {self._taint(a, scope, 0) for a in arguments}
        summing = isinstance(call, exp.Sum) or _function_name(call) in _SUMS
        indicator = any(self._indicator(a, scope) for a in arguments)
        if summing and len(arguments) == 1:
            if indicator:
                return "count"
            if tainted == {"count"}:
                return "count"  # a sum of counts is a count
        if "derived" in tainted or "count" in tainted or indicator:
            return None
        if not values and arguments:  # sum(5), avg(CASE … THEN 2 …): scaled counts
            return None
        return "aggregate"

    def _taint(self, node: exp.Expr, scope: Scope, depth: int) -> _Taint:
        """Whether ``node`` reads a column a derived table or CTE computes from aggregates or
        windows (``count``: a count, ``derived``: anything else)."""
        if depth > _MAX_DEPTH:
            return "derived"
        found: _Taint = None
        columns = [node] if isinstance(node, exp.Column) else list(node.find_all(exp.Column))
        for column in columns:
            if column.find_ancestor(exp.Select) is not scope.expression:
                continue
            taint = self._column(column, scope, depth)
            if taint == "derived":
                return "derived"
            if taint == "count":
                found = "count" if columns == [node] or isinstance(node, exp.Column) else "derived"
        return found

    def _column(self, column: exp.Column, scope: Scope, depth: int) -> _Taint:
        source = _source_of(column, scope)
        if not isinstance(source, Scope):
            return None
        inner = source.expression
        if isinstance(inner, exp.SetOperation):
            taints = set()
            for branch in source.set_operation_scopes:
                projection = _projection_named(branch.expression, column.name)
                if projection is not None:
                    taints.add(self._projection(projection, branch, depth))
            return "derived" if "derived" in taints else ("count" if "count" in taints else None)
        if not isinstance(inner, exp.Select):
            return None
        projection = _projection_named(inner, column.name)
        if projection is None:
            return None
        return self._projection(projection, source, depth)

    def _projection(self, projection: exp.Expr, scope: Scope, depth: int) -> _Taint:
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if value.find(exp.Window) is not None:
            return "derived"
        calls = list(_aggregates(value))
        if not calls:
            return self._taint(value, scope, depth + 1)
        bare = _strip(value)
        if isinstance(bare, exp.Filter):
            bare = _strip(bare.this)
        if len(calls) == 1 and bare is calls[0] and self._aggregate(bare, scope) == "count":
            return "count"
        return "derived"


def _source_of(column: exp.Column, scope: Scope) -> exp.Table | Scope | None:
    """The table or derived table a column is read from (None: cannot tell)."""
    if column.table:
        source = scope.sources.get(column.table)
        return source if isinstance(source, exp.Table | Scope) else None
    owners = [
        s for s in scope.sources.values()
        if isinstance(s, Scope) and ({column.name, "*"} & _projected(s))
    ]  # fmt: skip
    if len(owners) == 1:
        return owners[0]
    tables = [s for s in scope.sources.values() if isinstance(s, exp.Table)]
    return tables[0] if len(tables) == 1 and not owners else None


def _projected(scope: Scope) -> set[str]:
    node = scope.expression
    if isinstance(node, exp.SetOperation):
        branches = scope.set_operation_scopes
        return _projected(branches[0]) if branches else set()
    if isinstance(node, exp.Select):
        return {"*" if p.is_star else p.alias_or_name for p in node.expressions}
    return set()


def _projection_named(select: exp.Expr, name: str) -> exp.Expr | None:
    """The projection of ``select`` named ``name``; through ``*``, the column itself (read
    from the SELECT's own sources)."""
    if not isinstance(select, exp.Select):
        return None
    for projection in select.expressions:
        if projection.alias_or_name == name:
            found: exp.Expr = projection
            return found
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            return _star_column(projection, name)
    return None


def _star_column(star: exp.Expr, name: str) -> exp.Expr:
    """A column ``name`` standing where ``star`` stands (same parent, so scopes resolve)."""
    column = exp.column(name, table=star.table if isinstance(star, exp.Column) else None)
    column.parent = star.parent
    column.arg_key = star.arg_key
    return column


def _lateral_alias_any(name: str, select: exp.Select) -> exp.Expr | None:
    for projection in select.expressions:
        if isinstance(projection, exp.Alias) and projection.alias == name:
            value: exp.Expr = projection.this
            return value
    return None


def _number(node: exp.Literal) -> float | None:
    try:
        return float(node.this)
    except ValueError:
        return None


def _aggregates(node: exp.Expr) -> Iterator[exp.Expr]:
    """Aggregate calls in ``node`` outside windows and subqueries (also the DuckDB aggregates
    sqlglot leaves anonymous, such as ``histogram``)."""
    if isinstance(node, exp.Window | exp.Subquery | exp.Query):
        return
    if isinstance(node, exp.AggFunc) or (
        isinstance(node, exp.Anonymous) and aggregate_kind(node) is not None
    ):
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


def _lateral_alias(column: exp.Column, scope: Scope) -> exp.Expr | None:
    """The earlier output column an unqualified name in a SELECT list refers to, if any."""
    select = scope.expression
    if column.table or not isinstance(select, exp.Select):
        return None
    for projection in select.expressions:
        if projection is column or column.find_ancestor(exp.Alias) is projection:
            return None  # only earlier columns
        if isinstance(projection, exp.Alias) and projection.alias == column.name:
            value: exp.Expr = projection.this
            return value
    return None


def _is_key_column(column: exp.Column, keys: list[exp.Expr]) -> bool:
    """``column`` is (part of) a grouping key: the same column appears in one."""
    for key in keys:
        for other in key.find_all(exp.Column):
            if other.name == column.name and (
                not column.table or not other.table or column.table == other.table
            ):
                return True
    return False


class _Classifier:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def annotate(self, tree: exp.Expr) -> exp.Expr:
        """``tree`` with sqlglot's types, so that an order statistic can be told to return a
        number or a text (warehouse tables are ``main.<table>``).

        The annotator types only qualified columns, so each unqualified column of a SELECT
        list is first given the one source that has it (where that is unambiguous; the table
        it names is the one the engine binds it to). Where annotation fails, types stay
        unknown, which makes every order statistic record-level.
        """
        root = build_scope(tree)
        if root is None:
            return tree
        for scope in root.traverse():
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            columns = [c for p in select.expressions for c in p.find_all(exp.Column)]
            for column in columns:
                if column.table or column.find_ancestor(exp.Select) is not select:
                    continue
                owners = [n for n, s in scope.sources.items() if column.name in self._outputs(s)]
                if len(owners) == 1:
                    column.set("table", exp.to_identifier(owners[0]))
        # A failure leaves types unknown: every order statistic then counts as record-level.
        with contextlib.suppress(SqlglotError, KeyError, ValueError, TypeError, AttributeError):
            schema = mapping_schema({"main": self.catalog.sqlglot_schema()})
            annotate_types(tree, schema=schema, dialect="duckdb")
        return tree

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
        keys = self._keys(node)
        for key in keys:
            reason = self._identifying(key, scope)
            if reason:
                return Classification("record", f"grouped by {reason}")
        for position, projection in enumerate(node.expressions, start=1):
            value = projection.this if isinstance(projection, exp.Alias) else projection
            reason = self._carried(value, scope, keys, depth)
            if reason:
                name = projection.output_name
                label = f"column {position}" + (f" ({name})" if name else "")
                return Classification("record", f"{label}: {reason}")
        return Classification("aggregate", "grouped by non-identifying keys")

    # --- what the output columns carry (rule 5) ----------------------------------------------

    def _carried(self, node: exp.Expr, scope: Scope, keys: list[exp.Expr], depth: int) -> str:
        """Why ``node``, in an output column of a grouping SELECT, carries record-level values
        ("" when it carries keys and statistics only)."""
        if depth > _MAX_DEPTH:
            return "nested too deeply to analyse"
        if any(node == key for key in keys) and not any(
            isinstance(n, exp.Window | exp.Query) or aggregate_kind(n) is not None
            for n in node.walk()
        ):
            return ""  # a plain grouping key: rule 4 traced it
        if isinstance(node, exp.Query | exp.Subquery):
            return self._subquery(node, scope, depth)
        if isinstance(node, exp.Window):
            return self._window(node, scope, keys, depth)
        if isinstance(node, _WRAPPERS):
            return self._carried(node.this, scope, keys, depth + 1)
        kind = aggregate_kind(node)
        if kind == "window":
            return f"{_function_name(node)}() outside a window"
        if kind is not None:
            return self._aggregate(node, scope)
        if isinstance(node, _PACKING):
            return f"{_function_name(node)}() packs values into one cell"
        if isinstance(node, exp.Anonymous) and str(node.name).lower() not in SCALAR_NAMES:
            return f"{_function_name(node)}() is not a known statistic or scalar function"
        if isinstance(node, exp.Star):
            return "a star over a grouped query"
        if isinstance(node, exp.Column):
            if _is_key_column(node, keys):
                return ""
            earlier = _lateral_alias(node, scope)
            if earlier is not None:  # DuckDB: SELECT count(*) AS n, n * 2 AS twice
                return self._carried(earlier, scope, keys, depth + 1)
            return f"column {node.sql()} is neither grouped nor aggregated"
        for child in node.iter_expressions():
            reason = self._carried(child, scope, keys, depth + 1)
            if reason:
                return reason
        return ""

    def _subquery(self, node: exp.Expr, scope: Scope, depth: int) -> str:
        select = node.this if isinstance(node, exp.Subquery) else node
        for inner in scope.subquery_scopes:
            if inner.expression is select:
                verdict = self.scope(inner, depth + 1)
                return "" if verdict.aggregate else f"a subquery: {verdict.reason}"
        return "a subquery that could not be analysed"

    def _window(self, node: exp.Window, scope: Scope, keys: list[exp.Expr], depth: int) -> str:
        """A window over the groups: ranks and offsets carry what they are given; an
        aggregate must be a statistic (and what it reads keys and statistics)."""
        call = node.this
        while isinstance(call, _WRAPPERS):
            call = call.this
        kind = aggregate_kind(call)
        if kind is None or kind == "pack":
            return f"window function {_function_name(call)}() exposes the rows' values"
        if kind != "window":
            reason = self._aggregate(call, scope)
            if reason:
                return reason
        for child in call.iter_expressions():
            reason = self._carried(child, scope, keys, depth + 1)
            if reason:
                return reason
        return ""

    def _aggregate(self, node: exp.Expr, scope: Scope) -> str:
        """Why an aggregate call is not on the allow-list with its argument ("" when it is)."""
        within = node if isinstance(node, exp.WithinGroup) else None
        call = node.this if within is not None else node
        name = _function_name(call)
        kind = aggregate_kind(call)
        if kind == "count":
            return ""
        if kind == "moment":
            if within is not None:
                return f"{name}() WITHIN GROUP is not a known statistic"
            return self._reads_identifying(name, list(_value_parts(call)), scope, IDENTIFYING)
        if kind == "pick":
            value = _picked(call, within)
            if value is None:
                return f"{name}() over an argument that could not be analysed"
            reason = self._reads_identifying(name, list(_value_parts(value)), scope, _NOT_PICKED)
            if reason:
                return reason
            if value.type is None or value.type.this not in _STATISTIC_TYPES:
                return f"{name}() returns one record's value, and not a number or a date"
            return ""
        return f"{name}() packs the records of each group into one value"

    def _reads_identifying(
        self, name: str, parts: list[exp.Expr], scope: Scope, forbidden: frozenset[str]
    ) -> str:
        try:
            sources = [s for part in parts for s in self._trace(part, scope, bare=False, depth=0)]
        except _Packed as exc:
            return f"{name}() of {exc}"
        except _Untraceable as exc:
            return f"{name}() of a value that cannot be traced ({exc})"
        for src in sources:
            sensitivity = self.catalog.table(src.table).column(src.column).sensitivity
            if sensitivity in forbidden:
                return f"{name}() of {src.table}.{src.column} ({sensitivity})"
        return ""

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
        except _Packed as exc:
            return str(exc)
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
            for node in projection.walk():
                if aggregate_kind(node) == "pack":
                    raise _Packed(
                        f"{column.name}, which {_function_name(node)}() packs from records"
                    )
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
