"""Pass 2: allowlists. The statement must be a query, and every node and function in it must be
one analysts need. Anything not listed is refused — there is no denylist to get around.

Refused up front: every non-SELECT statement (PRAGMA, SET, COPY, ATTACH, PIVOT statements …),
``SELECT … INTO``, table functions (``read_csv``, ``range``, ``duckdb_settings()`` …), nested
SQL (``query()``), settings and variables (``current_setting``, ``getvariable``), ``error()``,
positional columns (``#1``), ``COLUMNS(…)``, table samples, column-renaming table aliases.
"""

from __future__ import annotations

import re

from sqlglot import exp

from gateway.errors import FunctionNotAllowed, StatementNotAllowed, SyntaxNotAllowed
from gateway.rewrite.context import RewriteContext

__all__ = [
    "ALLOWED_ANONYMOUS_FUNCTIONS",
    "ALLOWED_FUNCTIONS",
    "ALLOWED_NODES",
    "ALLOWED_TYPES",
    "ALLOWED_VARS",
    "guard",
    "position_of",
]

_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)

#: Structural nodes allowed anywhere in a query.
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        # query structure
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Qualify,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Fetch,
        exp.With,
        exp.CTE,
        exp.TableAlias,
        exp.Alias,
        exp.Lateral,
        exp.Values,
        exp.Distinct,
        exp.Cube,
        exp.Rollup,
        exp.GroupingSets,
        # names and values
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Table,
        exp.Literal,
        exp.Boolean,
        exp.Null,
        exp.Placeholder,
        exp.Paren,
        exp.Tuple,
        exp.DataType,
        exp.DataTypeParam,
        exp.Var,
        exp.Interval,
        exp.Dot,
        exp.Bracket,
        exp.Slice,
        exp.PropertyEQ,
        exp.Kwarg,
        exp.Lambda,
        exp.Comprehension,
        # operators
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.Mod,
        exp.Neg,
        exp.DPipe,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.SimilarTo,
        exp.Escape,
        exp.Not,
        exp.And,
        exp.Or,
        exp.Any,
        exp.All,
        # windows and aggregates' modifiers
        exp.Window,
        exp.WindowSpec,
        exp.Filter,
        exp.WithinGroup,
        exp.RespectNulls,
        exp.IgnoreNulls,
        exp.HavingMax,
    }
)

_DT = exp.DataType.Type

#: Type names a CAST may use: built-in types only, never free text (a quoted type name that
#: sqlglot cannot map is kept as USERDEFINED text and written back unquoted).
ALLOWED_TYPES: frozenset[object] = frozenset(
    {
        _DT.BOOLEAN,
        _DT.TINYINT,
        _DT.SMALLINT,
        _DT.INT,
        _DT.BIGINT,
        _DT.INT128,
        _DT.UTINYINT,
        _DT.USMALLINT,
        _DT.UINT,
        _DT.UBIGINT,
        _DT.FLOAT,
        _DT.DOUBLE,
        _DT.DECIMAL,
        _DT.VARCHAR,
        _DT.CHAR,
        _DT.TEXT,
        _DT.DATE,
        _DT.TIME,
        _DT.TIMETZ,
        _DT.TIMESTAMP,
        _DT.TIMESTAMPTZ,
        _DT.TIMESTAMPNTZ,
        _DT.TIMESTAMP_S,
        _DT.TIMESTAMP_MS,
        _DT.TIMESTAMP_NS,
        _DT.DATETIME,
        _DT.INTERVAL,
        _DT.UUID,
        _DT.UINT128,
        _DT.BIT,
        _DT.VARBINARY,
        _DT.BLOB,
        _DT.JSON,
        _DT.ARRAY,
        _DT.LIST,
        _DT.STRUCT,
        _DT.MAP,
    }
)

#: Words sqlglot keeps as ``Var`` text that analysts' queries need: date-part units
#: (``EXTRACT(YEAR FROM …)``, ``INTERVAL 3 DAY``, ``date_trunc(month, …)``) and ``ALL``.
ALLOWED_VARS = frozenset(
    {
        f"{unit}{plural}"
        for unit in (
            "YEAR",
            "QUARTER",
            "MONTH",
            "WEEK",
            "DAY",
            "HOUR",
            "MINUTE",
            "SECOND",
            "MILLISECOND",
            "MICROSECOND",
            "DECADE",
        )
        for plural in ("", "S")
    }
    | {
        "CENTURY",
        "CENTURIES",
        "MILLENNIUM",
        "MILLENNIA",
        "DOW",
        "ISODOW",
        "DOY",
        "DAYOFWEEK",
        "DAYOFYEAR",
        "WEEKDAY",
        "WEEKOFYEAR",
        "ISOYEAR",
        "YEARWEEK",
        "EPOCH",
        "ERA",
        "JULIAN",
        "ALL",
    }
)
_WORD = re.compile(r"^[A-Za-z_]{1,20}$")

#: Functions (sqlglot classes) allowed: aggregates, windows and scalar functions analysts use.
ALLOWED_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        # aggregates
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Median,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Mode,
        exp.Stddev,
        exp.StddevSamp,
        exp.StddevPop,
        exp.Variance,
        exp.VariancePop,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.RegrSlope,
        exp.First,
        exp.Last,
        exp.AnyValue,
        exp.ArgMax,
        exp.ArgMin,
        exp.GroupConcat,
        exp.ArrayAgg,
        exp.LogicalAnd,
        exp.LogicalOr,
        exp.ApproxDistinct,
        exp.Kurtosis,
        exp.Skewness,
        exp.Grouping,
        exp.CountIf,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.PercentRank,
        exp.CumeDist,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        # conditionals and casts
        exp.Case,
        exp.If,
        exp.Coalesce,
        exp.Nullif,
        exp.Cast,
        exp.TryCast,
        exp.Exists,
        # maths
        exp.Abs,
        exp.Ceil,
        exp.Floor,
        exp.Round,
        exp.Sqrt,
        exp.Pow,
        exp.Exp,
        exp.Ln,
        exp.Log,
        exp.Sign,
        exp.Greatest,
        exp.Least,
        exp.Trunc,
        exp.Rand,
        exp.Pi,
        # text
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Trim,
        exp.Substring,
        exp.Left,
        exp.Right,
        exp.Concat,
        exp.ConcatWs,
        exp.Replace,
        exp.SplitPart,
        exp.StartsWith,
        exp.EndsWith,
        exp.Contains,
        exp.StrPosition,
        exp.Pad,
        exp.Reverse,
        exp.Repeat,
        exp.RegexpLike,
        exp.RegexpReplace,
        exp.RegexpExtract,
        exp.RegexpFullMatch,
        exp.Initcap,
        exp.Split,
        exp.MD5,
        exp.Levenshtein,
        exp.SHA2,
        # dates and times
        exp.TimestampTrunc,
        exp.DateTrunc,
        exp.Extract,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.Hour,
        exp.Minute,
        exp.DayOfWeek,
        exp.DayOfWeekIso,
        exp.DayOfYear,
        exp.Week,
        exp.WeekOfYear,
        exp.Quarter,
        exp.Dayname,
        exp.Monthname,
        exp.TimeToStr,
        exp.StrToTime,
        exp.StrToDate,
        exp.DateDiff,
        exp.DateAdd,
        exp.DateSub,
        exp.TimeToUnix,
        exp.DateFromParts,
        exp.TimestampFromParts,
        exp.CurrentDate,
        exp.CurrentTimestamp,
        exp.UnixToTime,
        exp.LastDay,
        exp.DateBin,
        exp.TsOrDsToDate,
        exp.Date,
        # lists and structs over visible values
        exp.Array,
        exp.ArrayContains,
        exp.ArraySize,
        exp.ArraySort,
        exp.Explode,
        exp.Transform,
        exp.ArrayFilter,
        exp.ArrayDistinct,
        exp.Struct,
        exp.StructExtract,
    }
)

#: DuckDB functions sqlglot does not model, by lower-case name.
ALLOWED_ANONYMOUS_FUNCTIONS = frozenset(
    {
        "histogram",
        "entropy",
        "product",
        "date_part",
        "datepart",
        "yearweek",
        "date_sub",
        "age",
        "printf",
        "list_reduce",
        "isodow",
        "hash",
        "regexp_split_to_array",
        "list_slice",
        "list_sum",
        "list_avg",
        "list_min",
        "list_max",
        "list_count",
        "list_has_any",
        "list_has_all",
        "bool_and",
        "bool_or",
        "epoch_ms",
        "make_time",
        "time_bucket",
        "quantile",
        "fsum",
        "favg",
        "bit_count",
        "nfc_normalize",
        "strip_accents",
        "levenshtein",
        "jaccard",
        "jaro_winkler_similarity",
        "damerau_levenshtein",
        "list_position",
        "array_position",
        "string_agg",
        "ceiling",
        "to_days",
        "to_hours",
        "to_minutes",
        "to_months",
        "to_years",
        "to_weeks",
        "millisecond",
        "second",
        "era",
        "century",
        "decade",
        "isoyear",
        "epoch",
        "greatest_common_divisor",
        "gcd",
        "lcm",
        "round_even",
        "even",
        "factorial",
        "radians",
        "degrees",
        "sin",
        "cos",
        "tan",
        "atan2",
        "cot",
        "asin",
        "acos",
        "atan",
        "cbrt",
        "isnan",
        "isinf",
        "isfinite",
        "ascii",
        "chr",
        "unicode",
        "ord",
        "instr",
        "lcase",
        "ucase",
        "mismatches",
        "hamming",
        "suffix",
        "prefix",
        "array_to_string",
        "list_aggr",
        "list_concat",
        "array_concat",
        "list_extract",
        "array_extract",
        "list_element",
        "flatten",
        "list_zip",
        "struct_insert",
    }
)


def position_of(node: exp.Expr) -> tuple[int, int] | None:
    """``(line, column)`` of a node in the submitted SQL, where sqlglot recorded it."""
    for candidate in node.walk():
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta and "col" in meta:
            return int(meta["line"]), int(meta["col"])
    return None


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def guard(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Refuse anything that is not a plain analytical query.

    Raises:
        StatementNotAllowed, FunctionNotAllowed, SyntaxNotAllowed.
    """
    if not isinstance(tree, _QUERY_ROOTS):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        raise StatementNotAllowed(f"only SELECT queries are allowed; this is a {kind} statement")
    for node in tree.walk():
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise StatementNotAllowed("SELECT … INTO is not allowed: queries cannot create tables")
        if isinstance(node, exp.Table):
            _check_table_reference(node)
        if isinstance(node, exp.DataType) and node.this not in ALLOWED_TYPES:
            raise SyntaxNotAllowed(
                "only built-in types may be used in a cast (e.g. INTEGER, VARCHAR, DATE, "
                "TIMESTAMP, DECIMAL(p, s))",
                position=position_of(node),
            )
        if isinstance(node, exp.Var) and not _allowed_word(node.this):
            raise SyntaxNotAllowed(
                "a keyword here must be a date part such as YEAR, MONTH or DAY",
                position=position_of(node),
            )
        if type(node) in ALLOWED_NODES:
            continue
        if isinstance(node, exp.Func):
            if isinstance(node, exp.Anonymous):
                allowed = str(node.name).lower() in ALLOWED_ANONYMOUS_FUNCTIONS
            else:
                allowed = type(node) in ALLOWED_FUNCTIONS
            if not allowed:
                raise FunctionNotAllowed(
                    f"function {_function_name(node)}() is not allowed",
                    position=position_of(node),
                )
            continue
        raise SyntaxNotAllowed(_describe(node), position=position_of(node))
    return tree


def _allowed_word(text: object) -> bool:
    return isinstance(text, str) and bool(_WORD.match(text)) and text.upper() in ALLOWED_VARS


def _check_table_reference(node: exp.Table) -> None:
    if isinstance(node.this, exp.Func):
        raise FunctionNotAllowed(
            f"table function {_function_name(node.this)}() is not allowed; name a warehouse table",
            position=position_of(node),
        )
    if not isinstance(node.this, exp.Identifier):
        raise SyntaxNotAllowed(
            "table functions are not allowed in FROM; name a warehouse table",
            position=position_of(node),
        )
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        raise SyntaxNotAllowed(
            "renaming a table's columns in its alias is not allowed; alias columns in SELECT",
            position=position_of(node),
        )
    for arg in ("sample", "pivots", "joins", "laterals", "version", "when", "changes"):
        if node.args.get(arg):
            raise SyntaxNotAllowed(
                f"table {arg} clauses are not allowed", position=position_of(node)
            )


_DESCRIPTIONS = {
    exp.PositionalColumn: "positional column references (#n) are not allowed; name the column",
    exp.Columns: "COLUMNS(...) expressions are not allowed; name the columns",
    exp.TableSample: "table samples are not allowed",
    exp.Into: "SELECT … INTO is not allowed",
    exp.Pivot: "PIVOT/UNPIVOT is not allowed; use GROUP BY with FILTER clauses",
    exp.Unnest: "table functions are not allowed in FROM (including unnest); use unnest() in SELECT",
}


def _describe(node: exp.Expr) -> str:
    for cls, text in _DESCRIPTIONS.items():
        if isinstance(node, cls):
            return text
    return f"{node.key.replace('_', ' ')} syntax is not allowed here"
