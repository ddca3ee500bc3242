"""Pass 4: resolve columns against what the principal may see, and record what is touched.

This pass works on a copy: sqlglot's qualifier renames output columns, and the query the
analyst gets back should carry the names DuckDB would give it. Enforcement never depends on
this pass — after substitution the engine can only reach policy views — but it gives precise
``column_not_found`` errors and the table/column list the audit record needs.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from gateway.catalog.sqlglot_schemas import mapping_schema
from gateway.errors import ColumnNotFound, QueryError
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.explain import did_you_mean, double_quote_hint

__all__ = ["analyse_columns", "qualified_copy"]

_POSITION = re.compile(r"Line: (\d+), Col: (\d+)")
_COLUMN = re.compile(r"Column '([^']*)' could not be resolved|Unknown column: (\S+)")


def _schema(ctx: RewriteContext) -> dict[str, dict[str, dict[str, str]]]:
    schema: dict[str, dict[str, dict[str, str]]] = {"main": ctx.view.sqlglot_schema()}
    for name in ctx.view.schemas:
        if name in ctx.extra_schemas:
            schema[name] = {t: dict(cols) for t, cols in ctx.extra_schemas[name].items()}
    return schema


def _error(
    exc: SqlglotError, tree: exp.Expr, schema: dict[str, dict[str, dict[str, str]]]
) -> QueryError | ColumnNotFound:
    text = str(exc)
    match = _POSITION.search(text)
    position = (int(match.group(1)), int(match.group(2))) if match else None
    column = _COLUMN.search(text)
    if column:
        name = column.group(1) or column.group(2)
        # Suggestions only from the columns this analyst may see in the tables they named.
        named = {str(t.name).lower() for t in tree.find_all(exp.Table)}
        visible = schema["main"]
        candidates = [c for t in named & set(visible) for c in visible[t]] or [
            c for columns in visible.values() for c in columns
        ]
        hint = double_quote_hint(tree, name) or did_you_mean(name, candidates)
        return ColumnNotFound(
            f"column {name!r} does not exist or is not visible at your access level{hint}",
            position=position,
        )
    summary = _POSITION.sub("", text).strip().rstrip(".")
    return QueryError(f"could not resolve the query's columns: {summary}", position=position)


def qualified_copy(
    tree: exp.Expr,
    ctx: RewriteContext,
    schema: dict[str, dict[str, dict[str, str]]] | None = None,
) -> exp.Expr:
    """A copy of ``tree`` with every column qualified by its source (sqlglot's qualifier),
    against ``schema`` (default: the view's visible columns and its extra schemas).

    Raises:
        ColumnNotFound, QueryError: a column that does not resolve.
    """
    schema = _schema(ctx) if schema is None else schema
    try:
        return qualify(
            tree.copy(),
            dialect="duckdb",
            schema=mapping_schema(schema),
            quote_identifiers=False,
            validate_qualify_columns=True,
        )
    except SqlglotError as exc:
        raise _error(exc, tree, schema) from exc
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise QueryError("could not analyse the query's columns; simplify the query") from exc


def analyse_columns(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Validate column references and record ``table.column`` for every one touched."""
    schema = _schema(ctx)
    qualified = qualified_copy(tree, ctx, schema)
    try:
        scopes = traverse_scope(qualified)
    except SqlglotError as exc:
        raise _error(exc, tree, schema) from exc
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise QueryError("could not analyse the query's columns; simplify the query") from exc

    # Whole-row references (`SELECT c FROM crime c` returns a struct of every column): a bare
    # column name that is a table's alias or name reads all of that table's visible columns.
    tables_by_alias = {
        str(t.alias_or_name).lower(): t for t in tree.find_all(exp.Table) if str(t.db)
    }
    for column in tree.find_all(exp.Column):
        if not column.table and str(column.name).lower() in tables_by_alias:
            _record_all(tables_by_alias[str(column.name).lower()], schema, ctx)

    # `* EXCLUDE (c)` / `* REPLACE (… AS c)` name columns the engine checks exist: keep them.
    for star in tree.find_all(exp.Star):
        for key in ("except_", "except", "replace", "rename"):
            for named in star.args.get(key) or ():
                name = str(named.alias_or_name).lower()
                for source_table in tables_by_alias.values():
                    db = str(source_table.db) or "main"
                    if name in schema.get(db, {}).get(str(source_table.name), {}):
                        ctx.columns.add(f"{_table_key(source_table)}.{name}")

    for scope in scopes:
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table):
                whole_row = scope.sources.get(column.name)
                if isinstance(whole_row, exp.Table) and not column.table:
                    _record_all(whole_row, schema, ctx)  # `SELECT c FROM crime c`
                continue
            ctx.columns.add(f"{_table_key(source)}.{column.name}")
    return tree


def _table_key(table: exp.Table) -> str:
    db = str(table.db)
    return f"{db}.{table.name}" if db and db != "main" else str(table.name)


def _record_all(
    table: exp.Table, schema: dict[str, dict[str, dict[str, str]]], ctx: RewriteContext
) -> None:
    db = str(table.db) or "main"
    for column in schema.get(db, {}).get(str(table.name), {}):
        ctx.columns.add(f"{_table_key(table)}.{column}")
