"""The last step: SQL text from the rewritten AST, refused unless it reads back as that AST.

sqlglot's generator writes some AST text back as it is (a quoted user type name, a ``Var``),
so an analyst's string could come out as live SQL. The guard refuses the node kinds known to
do that; this step catches the class: the generated text is parsed again and must give the
same tree, or the query is refused. (The engine's invariant check is the wall behind this
one: :mod:`gateway.engines.invariant`.)

Example:
    >>> import sqlglot
    >>> generate(sqlglot.parse_one("select A from t where x = 'it''s'", dialect="duckdb"))
    "SELECT A FROM t WHERE x = 'it''s'"
"""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from gateway.errors import PolicyCheckFailed
from gateway.rewrite.guard import ALLOWED_VARS

__all__ = ["generate", "same_tree"]


def _is_date_part(text: object) -> bool:
    return isinstance(text, str) and text.upper() in ALLOWED_VARS


def _absent(value: object) -> bool:
    return value is None or value is False or (isinstance(value, list) and not value)


def generate(tree: exp.Expr) -> str:
    """DuckDB SQL for ``tree``, checked to parse back into an equal tree.

    Raises:
        gateway.errors.PolicyCheckFailed: the text does not read back as ``tree``.
    """
    text = tree.sql(dialect="duckdb", comments=False)
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        again = sqlglot.parse(text, read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    except (ParseError, TokenError, RecursionError):
        again = []
    finally:
        logger.setLevel(previous)
    if len(again) != 1 or again[0] is None or not same_tree(again[0], tree):
        raise PolicyCheckFailed(
            "the query could not be written back exactly as it was parsed (a construct the "
            "SQL generator does not reproduce faithfully); rephrase it"
        )
    return text


def same_tree(a: exp.Expr, b: exp.Expr) -> bool:
    """Whether two ASTs are the same query: same node types and arguments everywhere.

    Whether an identifier was quoted is not compared: the generator quotes names that are
    keywords (``AS "struct"``), and DuckDB resolves quoted and unquoted names alike; nor the
    case of a function name sqlglot does not model (it writes ``to_months`` as ``TO_MONTHS``);
    nor the spelling of a date-part keyword the guard allows (``DOW`` is written
    ``DAYOFWEEK``): such a ``Var`` can only be one of those words.

    Example:
        >>> one = sqlglot.parse_one("SELECT 1 AS struct_", dialect="duckdb")
        >>> same_tree(one, sqlglot.parse_one('SELECT 1 AS "struct_"', dialect="duckdb"))
        True
        >>> same_tree(one, sqlglot.parse_one("SELECT 2 AS struct_", dialect="duckdb"))
        False
    """
    stack: list[tuple[object, object]] = [(a, b)]
    while stack:
        left, right = stack.pop()
        if isinstance(left, exp.Var) and isinstance(right, exp.Var):
            both_date_parts = _is_date_part(left.this) and _is_date_part(right.this)
            if not both_date_parts and left.this != right.this:
                return False
            continue  # two date-part words: sqlglot spells some its own way (DOW → DAYOFWEEK)
        if isinstance(left, exp.Expr):
            if type(left) is not type(right):
                return False
            assert isinstance(right, exp.Expr)
            for key in left.args.keys() | right.args.keys():
                if key == "quoted" and isinstance(left, exp.Identifier):
                    continue
                x, y = left.args.get(key), right.args.get(key)
                if key == "this" and isinstance(left, exp.Anonymous):
                    x, y = str(x).lower(), str(y).lower()  # function names ignore case
                if _absent(x) and _absent(y):
                    continue
                stack.append((x, y))
        elif isinstance(left, list):
            if not isinstance(right, list) or len(left) != len(right):
                return False
            stack.extend(zip(left, right, strict=True))
        elif left != right or type(left) is not type(right):
            return False
    return True
