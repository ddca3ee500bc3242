"""Pass 1: parse exactly one statement, with limits on size and nesting."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from gateway.errors import SqlParseError, StatementNotAllowed

__all__ = ["MAX_DEPTH", "MAX_SQL_CHARS", "parse_statement"]

MAX_SQL_CHARS = 100_000
MAX_DEPTH = 120


def _depth(tree: exp.Expr) -> int:
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def parse_statement(sql: str) -> exp.Expr:
    """Parse ``sql`` (DuckDB dialect) into one statement's AST.

    Raises:
        SqlParseError: empty, too long, too deeply nested, or not valid SQL (with position).
        StatementNotAllowed: more than one statement.

    Example:
        >>> parse_statement("SELECT 1 AS one").sql()
        'SELECT 1 AS one'
    """
    if not isinstance(sql, str) or not sql.strip():
        raise SqlParseError("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlParseError(f"the query is longer than {MAX_SQL_CHARS:,} characters")
    if "\x00" in sql:
        raise SqlParseError("the query contains a NUL character")
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)  # sqlglot warns when it falls back to a Command
    try:
        statements = sqlglot.parse(sql, read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line"), first.get("col")
        description = str(first.get("description") or "invalid SQL").split(". Line")[0]
        position = (int(line), int(col)) if line and col else None
        raise SqlParseError(f"could not parse the query: {description}", position=position) from exc
    except TokenError as exc:
        raise SqlParseError(
            "could not parse the query: invalid token (unterminated string or quote?)"
        ) from exc
    except RecursionError as exc:
        raise SqlParseError("the query is nested too deeply") from exc
    finally:
        logger.setLevel(previous)
    found = [s for s in statements if s is not None]
    if not found:
        raise SqlParseError("the query is empty")
    if len(found) > 1:
        raise StatementNotAllowed(
            f"exactly one statement is allowed; found {len(found)} (remove the ';' separated extras)"
        )
    tree = found[0]
    if _depth(tree) > MAX_DEPTH:
        raise SqlParseError("the query is nested too deeply")
    return tree
