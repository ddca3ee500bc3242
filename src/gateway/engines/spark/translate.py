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
    tree = tree.transform(_for_spark)
    names: set[str] = set()
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        name = node.name if isinstance(node, exp.Placeholder) else node.this.name
        if not name or name.isdigit():
            raise ParameterError("use named parameters ($name) only, not positional ones (?)")
        names.add(name)
    return SparkStatement(tree.sql(dialect="spark"), frozenset(names))


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
    return node


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
