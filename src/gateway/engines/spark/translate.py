"""The generated statement (DuckDB SQL) transpiled by sqlglot to the Spark SQL that runs.

The rewrite writes DuckDB SQL; the Spark engine runs the same AST written for Spark. Beyond
sqlglot's own transpilation, a few constructs the policy's masks use are written so Spark
computes the *same values* DuckDB does, or the statement is refused
(:class:`~gateway.errors.StatementNotAllowed`) — never run with a different meaning:

- ``main.<table>`` names the lake's view of the table (``<table>``);
- ``LIMIT n`` above Spark's largest limit (2³¹-1) becomes that limit (the policy barrier);
- ``regexp_full_match(x, '^…$')`` becomes ``x RLIKE '^…$'`` (an anchored pattern only);
- ``regexp_replace(x, '^…$', '…\\1…')`` keeps its anchored pattern, with ``$1`` back-references;
- ``date_sub('year', a, b)`` (whole years, the age-band mask) becomes
  ``timestampdiff(YEAR, a, b)``;
- a record key, ``CAST('0x' || LEFT(gw_hmac_sha256(…), n) AS BIGINT)`` (DuckDB reads the hex
  text), becomes ``CAST(conv(LEFT(…), 16, 10) AS DECIMAL(20, 0))``: the same number, and its
  sums stay exact as DuckDB's HUGEINT sums do (Spark's BIGINT sums would wrap); any other
  ``'0x' ||`` text cast to a number is refused (Spark would read it as NULL);
- ``a / b`` divides as DOUBLE (``CAST(a AS DOUBLE) / b``) and ``avg(x)`` averages DOUBLE, as
  DuckDB does for every numeric type (Spark keeps DECIMAL);
- ``monthname``/``dayname`` give full names (``date_format`` with ``MMMM``/``EEEE``), as DuckDB
  does (Spark's functions abbreviate);
- ``to_months(n)`` becomes ``make_ym_interval(0, n)``;
- ``date_diff(unit, a, b)`` counts the unit's boundaries between ``a`` and ``b``, as DuckDB
  does (``timestampdiff`` of both truncated to the unit; Spark's alone counts whole units);
- ``round(x, n)`` of a DOUBLE (a division, an average, a median, a percentile, a cast to
  DOUBLE) rounds the exact binary value half away from zero, as DuckDB does (Spark rounds the
  shortest decimal text: 9.45, stored as 9.4499…, gives 9.5 on Spark and 9.4 on DuckDB): the
  product ``x·10ⁿ`` is split exactly into its double and its rounding error (Dekker's product),
  and the error decides a product that lands on a half; other types round alike on both;
- ``quantile_cont(x, p)`` and ``percentile_cont(p) WITHIN GROUP (ORDER BY x)`` become Spark's
  exact ``percentile(x, p)`` (sqlglot would write an *approximate* percentile); discrete and
  approximate quantiles and approximate distinct counts are refused (other algorithms);
- ``string_agg(DISTINCT x, sep ORDER BY x)`` becomes the sorted set of ``x`` joined by
  ``sep`` (NULL when there is none), as Spark's ``listagg(DISTINCT …) WITHIN GROUP`` fails in
  a grouped query;
- ``x LIKE p`` (and ``ILIKE``) without ``ESCAPE`` matches a backslash in ``p`` literally, as
  DuckDB does (Spark escapes with it by default): ``p``'s backslashes are doubled;
- ``list``/``array_agg`` are refused: DuckDB keeps NULL elements and gives NULL for no rows,
  Spark's ``collect_list`` drops NULLs and gives an empty array;
- days of the week are numbered as DuckDB numbers them: ``dayofweek``/``weekday``/``dow``
  0 (Sunday) to 6, ``isodow`` 1 (Monday) to 7 (Spark's ``dayofweek`` is 1 to 7 from Sunday);
- in ``ORDER BY``, a bare name inside an expression (``ORDER BY c IS NULL``) names the
  ``FROM`` column, as DuckDB binds it, not the output column of that name, as Spark would: it
  is qualified with the one source that has it (refused when that is not known);
- a named window (``WINDOW w AS (…)`` … ``OVER w``) is written out in every ``OVER`` that names
  it (the Spark check does not trust the plan's window definitions, which Spark writes as
  null);
- a struct ``IN`` (``{'k': a, 'p': b} IN (SELECT {'k': x, 'p': y} …)``, the person policy's
  link test) becomes a row ``IN``: ``(a, b) IN (SELECT x, y …)`` (Spark spreads a struct on the
  left over columns); a NULL field then matches nothing, where DuckDB may match it to a NULL
  field — a row filter that can only keep fewer rows;
- the pseudonym vault (``pseudonyms.main.<domain>``) is not published to the lake: a statement
  using it is refused (the per-row HMAC, ``gw_hmac_sha256``, is computed by Spark instead).

Example:
    >>> to_spark("SELECT count(*) FROM (SELECT b.crime_id FROM main.crime AS b "
    ...          "LIMIT 9223372036854775807) AS c WHERE c.crime_id > $n")
    SparkStatement(sql='SELECT COUNT(*) FROM (SELECT b.crime_id FROM crime AS b LIMIT 2147483647) AS c WHERE c.crime_id > :n', parameters=frozenset({'n'}))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.scope import Scope, build_scope

from gateway.errors import ParameterError, SqlParseError, StatementNotAllowed

__all__ = ["SPARK_MAX_LIMIT", "SparkStatement", "to_spark"]

#: Spark's LIMIT is a 32-bit integer.
SPARK_MAX_LIMIT = 2**31 - 1
_VAULT_CATALOG = "pseudonyms"
_BACKREF = re.compile(r"\\(\d)")


@dataclass(frozen=True)
class SparkStatement:
    """Spark SQL text, and the names of its ``:name`` parameters."""

    sql: str
    parameters: frozenset[str]


def to_spark(sql: str) -> SparkStatement:
    """Transpile one generated DuckDB statement to Spark SQL (module docstring).

    Raises:
        SqlParseError: not parseable.
        StatementNotAllowed: not one query, or a construct Spark cannot compute identically.
        ParameterError: a positional parameter (``?``).
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        raise SqlParseError("the statement could not be parsed") from exc
    if len(statements) != 1:
        raise StatementNotAllowed("exactly one statement is allowed")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise StatementNotAllowed("only SELECT statements are allowed")
    tree = _inline_windows(tree)
    tree = _order_by_sources(tree)
    tree = _bottom_up(tree)
    names: set[str] = set()
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        name = node.name if isinstance(node, exp.Placeholder) else node.this.name
        if not name or name.isdigit():
            raise ParameterError("use named parameters ($name) only, not positional ones (?)")
        names.add(name)
    return SparkStatement(tree.sql(dialect="spark"), frozenset(names))


def _bottom_up(tree: exp.Expr) -> exp.Expr:
    """:func:`_for_spark` on every node, children first, so a node rewritten into a new one
    still has its own arguments rewritten (sqlglot's ``transform`` skips a replaced node's)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = _for_spark(node)
        if new is node:
            continue
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree


def _for_spark(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Table):
        return _table(node)
    if isinstance(node, exp.Limit):
        return _limit(node)
    if isinstance(node, exp.RegexpFullMatch):
        return _function("regexp_full_match", [node.this, node.expression])
    if isinstance(node, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        return _function("regexp_replace", [node.this, node.expression, replacement])
    if isinstance(node, exp.Anonymous) and node.name.lower() in (
        "regexp_full_match",
        "regexp_replace",
        "date_sub",
    ):
        return _function(node.name.lower(), list(node.expressions))
    if isinstance(node, exp.Cast):
        return _cast(node)
    if isinstance(node, exp.Div):
        return _double_division(node)
    if isinstance(node, exp.Avg) and not isinstance(node.this, exp.Distinct):
        return exp.Avg(this=exp.cast(node.this, exp.DType.DOUBLE))
    if isinstance(node, exp.In) and isinstance(node.this, exp.Struct):
        return _row_in(node)
    if isinstance(node, (exp.Monthname, exp.Dayname)):
        pattern = "MMMM" if isinstance(node, exp.Monthname) else "EEEE"
        return exp.Anonymous(
            this="date_format", expressions=[node.this, exp.Literal.string(pattern)]
        )
    if isinstance(node, (exp.PercentileCont, exp.WithinGroup)):
        return _percentile(node)
    if isinstance(node, (exp.PercentileDisc, exp.ApproxQuantile, exp.ApproxDistinct)):
        raise StatementNotAllowed(
            f"{node.sql('duckdb').split('(')[0].lower()} is not supported on Spark "
            "(its algorithm differs): use quantile_cont or count(DISTINCT …)"
        )
    if isinstance(node, exp.Round):
        return _round(node)
    if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
        return _boundaries(node)
    if isinstance(node, exp.GroupConcat):
        return _string_agg(node)
    if isinstance(node, (exp.Like, exp.ILike)) and not isinstance(node.parent, exp.Escape):
        backslash = exp.Literal.string("\\")
        node.set(
            "expression",
            exp.Anonymous(
                this="replace",
                expressions=[node.expression, backslash, exp.Literal.string("\\\\")],
            ),
        )
        return node
    if isinstance(node, exp.ArrayAgg):
        raise StatementNotAllowed(
            "list/array_agg is not supported on Spark (it drops NULLs): use string_agg"
        )
    weekday = _weekday(node)
    if weekday is not None:
        return weekday
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_months":
        if len(node.expressions) != 1:
            raise StatementNotAllowed("to_months takes one argument")
        return exp.Anonymous(
            this="make_ym_interval", expressions=[exp.Literal.number(0), node.expressions[0]]
        )
    return node


def _cast(node: exp.Cast) -> exp.Expr:
    text = node.this
    if not (
        isinstance(text, exp.DPipe)
        and isinstance(text.this, exp.Literal)
        and text.this.is_string
        and text.this.name.lower().startswith("0x")
    ):
        return node
    digits = text.expression
    if not (
        text.this.name == "0x"
        and node.to.this in (exp.DType.BIGINT, exp.DType.UBIGINT)
        and isinstance(digits, exp.Left)
        and isinstance(digits.this, exp.Anonymous)
        and digits.this.name.lower() == "gw_hmac_sha256"
        and isinstance(digits.expression, exp.Literal)
        and digits.expression.is_int
        and 0 < int(digits.expression.name) <= 15
    ):
        raise StatementNotAllowed("on Spark, hexadecimal text cannot be cast to a number")
    converted = exp.Anonymous(
        this="conv", expressions=[digits, exp.Literal.number(16), exp.Literal.number(10)]
    )
    return exp.cast(converted, exp.DataType.build("DECIMAL(20, 0)"))


def _double_division(node: exp.Div) -> exp.Expr:
    numerator = node.this
    if isinstance(numerator, exp.Cast) and numerator.to.this == exp.DType.DOUBLE:
        return node
    node.set("this", exp.cast(numerator, exp.DType.DOUBLE))
    return node


def _row_in(node: exp.In) -> exp.Expr:
    left = node.this
    query = node.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else None
    if not (
        isinstance(left, exp.Struct)
        and isinstance(select, exp.Select)
        and len(select.expressions) == 1
        and isinstance(select.expressions[0], exp.Struct)
        and not node.expressions
    ):
        raise StatementNotAllowed("on Spark, a struct IN must compare with a subquery of structs")
    right = select.expressions[0]
    names = [_field_name(f) for f in left.expressions]
    if names != [_field_name(f) for f in right.expressions] or None in names:
        raise StatementNotAllowed("on Spark, a struct IN must compare structs of the same fields")
    select.set("expressions", [f.expression for f in right.expressions])
    return exp.In(this=exp.Tuple(expressions=[f.expression for f in left.expressions]), query=query)


def _field_name(field: exp.Expr) -> str | None:
    if isinstance(field, exp.PropertyEQ):
        return str(field.this.name).lower()
    return None


def _inline_windows(tree: exp.Expr) -> exp.Expr:
    """Write each named window out where ``OVER`` names it, and drop the ``WINDOW`` clause."""
    for select in list(tree.find_all(exp.Select)):
        definitions = select.args.get("windows") or []
        if not definitions:
            continue
        named: dict[str, exp.Window] = {}
        for definition in definitions:
            if definition.args.get("alias") is not None:
                raise StatementNotAllowed("on Spark, a named window may not name another window")
            named[definition.this.name.lower()] = definition
        for window in list(select.find_all(exp.Window)):
            if window.parent_select is not select or window in definitions:
                continue
            alias = window.args.get("alias")
            if alias is None:
                continue
            base = named.get(alias.name.lower())
            if base is None:
                continue  # a window of an inner SELECT of the same name is resolved there
            for key in ("partition_by", "order", "spec"):
                own, inherited = window.args.get(key), base.args.get(key)
                if own and inherited:
                    raise StatementNotAllowed(
                        f"on Spark, a window may not redefine the {key} of window {alias.name}"
                    )
                if inherited:
                    window.set(
                        key,
                        inherited.copy()
                        if isinstance(inherited, exp.Expr)
                        else [e.copy() for e in inherited],
                    )
            window.set("alias", None)
        select.set("windows", None)
    return tree


def _table(node: exp.Table) -> exp.Expr:
    if node.catalog.lower() == _VAULT_CATALOG:
        raise StatementNotAllowed(
            "the pseudonym vault is not available on Spark: pseudonyms are computed per row"
        )
    if node.db.lower() == "main" and not node.catalog:
        node.set("db", None)
    return node


def _limit(node: exp.Limit) -> exp.Expr:
    value = node.expression
    if isinstance(value, exp.Literal) and value.is_int and int(value.name) > SPARK_MAX_LIMIT:
        node.set("expression", exp.Literal.number(SPARK_MAX_LIMIT))
    return node


def _anchored(pattern: exp.Expr | None) -> str:
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise StatementNotAllowed("on Spark, regular expressions must be literal text")
    text = pattern.name
    if not (text.startswith("^") and text.endswith("$")):
        raise StatementNotAllowed(
            "on Spark, a regular expression must be anchored (^…$) to match as on DuckDB"
        )
    return text


def _function(name: str, args: list[exp.Expr | None]) -> exp.Expr:
    if name == "regexp_full_match" and len(args) == 2 and args[0] is not None:
        return exp.RegexpLike(this=args[0], expression=exp.Literal.string(_anchored(args[1])))
    if name == "regexp_replace" and len(args) == 3 and args[0] is not None:
        _anchored(args[1])
        replacement = args[2]
        if not (isinstance(replacement, exp.Literal) and replacement.is_string):
            raise StatementNotAllowed("on Spark, a regexp replacement must be literal text")
        if "$" in replacement.name:
            raise StatementNotAllowed("on Spark, a regexp replacement may not contain '$'")
        spark_replacement = exp.Literal.string(_BACKREF.sub(r"$\1", replacement.name))
        return exp.Anonymous(
            this="regexp_replace", expressions=[args[0], args[1], spark_replacement]
        )
    if name == "date_sub" and len(args) == 3:
        unit, start, end = args
        if (
            isinstance(unit, exp.Literal)
            and unit.name.lower() == "year"
            and start is not None
            and end is not None
        ):
            return exp.Anonymous(this="timestampdiff", expressions=[exp.var("YEAR"), start, end])
    raise StatementNotAllowed(f"{name} with these arguments is not supported on Spark")


def _weekday(node: exp.Expr) -> exp.Expr | None:
    """DuckDB's day-of-week numbers (module docstring), or None when ``node`` is none."""
    field: str | None = None
    value: exp.Expr | None = None
    if isinstance(node, exp.DayOfWeekIso):
        field, value = "isodow", node.this
    elif isinstance(node, exp.DayOfWeek):
        field, value = "dow", node.this
    elif isinstance(node, exp.Extract) and isinstance(node.this, (exp.Var, exp.Column)):
        field, value = node.this.name.lower(), node.expression
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "weekday":
        field, value = "dow", node.expressions[0] if len(node.expressions) == 1 else None
    elif (
        isinstance(node, exp.Anonymous)
        and node.name.lower() in ("date_part", "datepart")
        and len(node.expressions) == 2
        and isinstance(node.expressions[0], exp.Literal)
    ):
        field, value = node.expressions[0].name.lower(), node.expressions[1]
    if field == "dow" and value is not None:
        return exp.paren(exp.Anonymous(this="dayofweek", expressions=[value]) - 1)
    if field == "isodow" and value is not None:
        return exp.paren(exp.Anonymous(this="weekday", expressions=[value]) + 1)
    if field in ("dow", "isodow", "weekday"):
        raise StatementNotAllowed(f"{field} with these arguments is not supported on Spark")
    return None


def _order_by_sources(tree: exp.Expr) -> exp.Expr:
    """Qualify the ``ORDER BY`` names DuckDB binds to a ``FROM`` column (module docstring)."""
    root = build_scope(tree)
    if root is None:
        return tree
    for scope in root.traverse():
        select = scope.expression
        order = select.args.get("order") if isinstance(select, exp.Select) else None
        if order is None:
            continue
        aliases = {
            projection.alias.lower(): projection.this
            for projection in select.expressions
            if isinstance(projection, exp.Alias)
        }
        for key in order.expressions:
            for column in list(key.find_all(exp.Column)):
                if column is key.this or column.table:
                    continue
                name = column.name.lower()
                shown = aliases.get(name)
                if shown is None or (isinstance(shown, exp.Column) and shown.name.lower() == name):
                    continue
                column.set("table", exp.to_identifier(_source_of(scope, name)))
    return tree


def _source_of(scope: Scope, name: str) -> str:
    """The one source of ``scope`` with an output column ``name`` (module docstring)."""
    found: list[str] = []
    for alias, source in scope.selected_sources.items():
        inner = source[1]
        if not isinstance(inner, Scope) or not isinstance(inner.expression, exp.Select):
            raise StatementNotAllowed(
                f'on Spark, ORDER BY cannot tell which column "{name}" names: qualify it'
            )
        if any(isinstance(p, exp.Star) for p in inner.expression.expressions):
            raise StatementNotAllowed(
                f'on Spark, ORDER BY cannot tell which column "{name}" names: qualify it'
            )
        if name in {n.lower() for n in inner.expression.named_selects}:
            found.append(alias)
    if len(found) != 1:
        raise StatementNotAllowed(
            f'on Spark, ORDER BY cannot tell which column "{name}" names: qualify it'
        )
    return found[0]


def _percentile(node: exp.Expr) -> exp.Expr:
    """DuckDB's continuous quantile as Spark's exact ``percentile`` (module docstring)."""
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    if isinstance(node, exp.PercentileCont) and isinstance(node.parent, exp.WithinGroup):
        return node  # the WITHIN GROUP around it is rewritten next
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression
        keys = order.expressions if isinstance(order, exp.Order) else []
        if len(keys) == 1 and not keys[0].args.get("desc"):
            return exp.Anonymous(this="percentile", expressions=[keys[0].this, node.this.this])
    if isinstance(node, exp.WithinGroup) and not isinstance(node.this, exp.PercentileDisc):
        return node
    raise StatementNotAllowed("this percentile form is not supported on Spark")


def _string_agg(node: exp.GroupConcat) -> exp.Expr:
    """``string_agg(DISTINCT x, sep ORDER BY x)`` as a sorted set (module docstring)."""
    order = node.this
    if not (isinstance(order, exp.Order) and isinstance(order.this, exp.Distinct)):
        return node
    values = order.this.expressions
    keys = order.expressions
    if not (
        len(values) == 1
        and len(keys) == 1
        and not keys[0].args.get("desc")
        and keys[0].this == values[0]
        and not isinstance(node.parent, exp.Filter)
    ):
        raise StatementNotAllowed(
            "on Spark, string_agg(DISTINCT x …) may only be ordered by x itself, ascending"
        )
    separator = node.args.get("separator") or exp.Literal.string(",")
    value = values[0]
    joined = exp.Anonymous(
        this="array_join",
        expressions=[
            exp.Anonymous(
                this="array_sort",
                expressions=[exp.Anonymous(this="collect_set", expressions=[value.copy()])],
            ),
            separator,
        ],
    )
    empty = exp.EQ(this=exp.Count(this=value.copy()), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=empty, true=exp.null())], default=joined)


_BOUNDARY_UNITS = frozenset({"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"})


def _boundaries(node: exp.DateDiff) -> exp.Expr:
    """DuckDB's ``date_diff``: unit boundaries crossed (module docstring)."""
    unit = node.args.get("unit")
    name = unit.name.upper() if isinstance(unit, (exp.Var, exp.Literal)) else ""
    if name not in _BOUNDARY_UNITS:
        raise StatementNotAllowed(
            f"date_diff in {name.lower() or 'this unit'} is not supported on Spark"
        )

    def truncated(value: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="date_trunc", expressions=[exp.Literal.string(name), value])

    return exp.Anonymous(
        this="timestampdiff",
        expressions=[exp.var(name), truncated(node.expression), truncated(node.this)],
    )


_DOUBLE_RESULTS = (
    exp.Div,
    exp.Avg,
    exp.Median,
    exp.Stddev,
    exp.StddevPop,
    exp.StddevSamp,
    exp.Variance,
    exp.VariancePop,
)


def _is_double(value: exp.Expr) -> bool:
    """Whether DuckDB computes ``value`` (as translated) as a DOUBLE whatever its inputs."""
    value = value.unnest()
    if isinstance(value, exp.Cast):
        return value.to.this in (exp.DType.DOUBLE, exp.DType.FLOAT)
    if isinstance(value, exp.Anonymous):
        return value.name.lower() == "percentile"
    return isinstance(value, _DOUBLE_RESULTS)


def _round(node: exp.Round) -> exp.Expr:
    """DuckDB's rounding of a DOUBLE to ``n`` decimals (module docstring)."""
    decimals = node.args.get("decimals")
    if decimals is None or not _is_double(node.this):
        return node
    if not (isinstance(decimals, exp.Literal) and decimals.is_int and 0 <= int(decimals.name) <= 7):
        raise StatementNotAllowed("on Spark, a DOUBLE is rounded to 0 to 7 decimals only")
    if int(decimals.name) == 0:
        return node
    scale = str(10 ** int(decimals.name))
    rounded = sqlglot.parse_one(_EXACT_ROUND.replace("{s}", scale), read="spark")
    value = node.this

    def substitute(part: exp.Expr) -> exp.Expr:
        if isinstance(part, exp.Column) and part.name == "x":
            return exp.paren(value.copy())
        return part

    return rounded.transform(substitute)


#: Half away from zero on the exact value of x·s (s = 10ⁿ < 2²⁶, so s splits into itself):
#: p = fl(x·s), e = x·s − p exactly (Dekker, with Veltkamp's split of x), and a p that is a
#: half is moved toward zero when the exact product lies short of it.
_EXACT_ROUND = """(CASE
  WHEN x * {s} - FLOOR(x * {s}) = 0.5 AND x > 0
   AND ((x - (134217729.0 * x - (134217729.0 * x - x))) * {s}
        + ((134217729.0 * x - (134217729.0 * x - x)) * {s} - x * {s})) < 0
  THEN FLOOR(x * {s})
  WHEN CEIL(x * {s}) - x * {s} = 0.5 AND x < 0
   AND ((x - (134217729.0 * x - (134217729.0 * x - x))) * {s}
        + ((134217729.0 * x - (134217729.0 * x - x)) * {s} - x * {s})) > 0
  THEN CEIL(x * {s})
  ELSE ROUND(x * {s})
END) / CAST({s} AS DOUBLE)"""
