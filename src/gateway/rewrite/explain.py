"""Errors explained in the analyst's own terms, and never beyond what they may see.

The engine reports on the SQL the gateway ran (the analyst's query with policy subqueries in
it), so its error names things and places in *that* text. :func:`explain_engine_error` turns it
back towards the SQL the analyst wrote: every double-quoted name in the message that is neither
visible to them (their policy view's tables and columns) nor written in their own SQL becomes
``"…"``; the position is that of the first name the message mentions in their SQL; a value
written in double quotes (an identifier to SQL) gets a hint. :func:`did_you_mean` suggests
names for unknown tables and columns from the same visible set only, so a hidden table or
column is never suggested.

Example:
    >>> did_you_mean("recorded", ["recorded_at", "outcome_at", "ward_code"])
    ' (did you mean "recorded_at"?)'
    >>> did_you_mean("zzz", ["recorded_at"])
    ''
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable

from sqlglot import exp
from sqlglot.errors import SqlglotError

from gateway.errors import GatewayError, InputError
from gateway.policy.view import PolicyView
from gateway.rewrite.guard import position_of
from gateway.rewrite.parse import parse_statement

__all__ = ["did_you_mean", "double_quote_hint", "explain_engine_error", "visible_names"]

_QUOTED = re.compile(r'"([^"]*)"')


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``' (did you mean "x"?)'`` for the closest candidate, or ``''`` when none is close."""
    close = difflib.get_close_matches(name.lower(), sorted(set(candidates)), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def double_quote_hint(tree: exp.Expr | None, name: str) -> str:
    """A hint when ``name`` is written in double quotes in the analyst's SQL: in SQL that is a
    column name, and a text value goes in single quotes."""
    if tree is None:
        return ""
    for identifier in tree.find_all(exp.Identifier):
        if identifier.quoted and identifier.this.lower() == name.lower():
            return (
                f'; "{identifier.this}" in double quotes is a column name — write a text value '
                f"in single quotes: '{identifier.this}'"
            )
    return ""


def visible_names(view: PolicyView) -> set[str]:
    """Every table and column name the view shows (lower case)."""
    names: set[str] = set()
    for table, columns in view.sqlglot_schema().items():
        names.add(table.lower())
        names.update(column.lower() for column in columns)
    return names


def _written_names(tree: exp.Expr | None) -> dict[str, exp.Expr]:
    """Names in the analyst's SQL (identifiers, functions) → the first node naming them."""
    found: dict[str, exp.Expr] = {}
    if tree is None:
        return found
    for node in tree.walk():
        if isinstance(node, exp.Identifier):
            found.setdefault(str(node.this).lower(), node)
        elif isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            found.setdefault(str(name).lower(), node)
    return found


def explain_engine_error(error: GatewayError, sql: str, view: PolicyView) -> GatewayError:
    """``error`` (from the engine) with only visible or self-written names, a position in the
    analyst's SQL and hints; a copy, the original is left as it was. Errors that name
    nothing (time, memory, engine state) come back unchanged."""
    if not isinstance(error, InputError) or '"' not in error.message:
        return error
    try:
        tree: exp.Expr | None = parse_statement(sql)
    except (GatewayError, SqlglotError):
        tree = None
    written = _written_names(tree)
    allowed = visible_names(view) | set(written)
    named: list[str] = []

    def keep(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.lower() in allowed:
            named.append(name)
            return match.group(0)
        return '"…"' if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else match.group(0)

    message = _QUOTED.sub(keep, error.message)
    position = error.position
    for name in named:
        node = written.get(name.lower())
        if node is not None:
            position = position or position_of(node)
            if name.lower() not in visible_names(view) and "not found" in message:
                message += double_quote_hint(tree, name) or did_you_mean(name, visible_names(view))
            break
    explained = copy.copy(error)
    explained.message = message
    explained.position = position
    return explained
