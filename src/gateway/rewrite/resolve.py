"""Pass 3: resolve every table reference against the catalog as the principal sees it.

Names are case-folded (DuckDB matches identifiers case-insensitively, quoted or not). A
warehouse table may be spelled ``t``, ``main.t`` or ``<catalog>.main.t``; an extra schema's
table ``audit.t``. CTE names may not shadow a warehouse or schema table. Each warehouse
reference is rewritten to the canonical ``main.t`` so later passes need not guess.
"""

from __future__ import annotations

from sqlglot import exp

from gateway.errors import SyntaxNotAllowed, TableNotFound, TableNotPermitted
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.explain import did_you_mean
from gateway.rewrite.guard import position_of

__all__ = ["WAREHOUSE_CATALOGS", "resolve_tables"]

#: Catalog names under which the warehouse may be addressed (``warehouse.main.crime``).
WAREHOUSE_CATALOGS = frozenset({"", "warehouse", "memory"})


def _cte_names(tree: exp.Expr) -> set[str]:
    return {str(cte.alias_or_name).lower() for cte in tree.find_all(exp.CTE)}


def _ctes_in_scope(node: exp.Expr) -> set[str]:
    """CTE names visible where ``node`` stands (SQL scoping, not just "defined somewhere")."""
    ancestors = set()
    parent = node.parent
    while parent is not None:
        ancestors.add(id(parent))
        parent = parent.parent
    visible: set[str] = set()
    parent = node.parent
    while parent is not None:
        with_ = parent.args.get("with_") if isinstance(parent, exp.Query) else None
        if isinstance(with_, exp.With):
            recursive = bool(with_.args.get("recursive"))
            for cte in with_.expressions:
                name = str(cte.alias_or_name).lower()
                if id(cte) in ancestors:  # inside this CTE: earlier ones, itself if recursive
                    if recursive:
                        visible.add(name)
                    break
                visible.add(name)
        parent = parent.parent
    return visible


def resolve_tables(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Check and canonicalise table references; record which tables the query reads.

    Raises:
        TableNotFound: not a table of the warehouse (or of a permitted schema).
        TableNotPermitted: a real table the principal's level does not include.
        SyntaxNotAllowed: a CTE shadows a table, or warehouse and schema tables are mixed.
    """
    ctes = _cte_names(tree)
    schema_tables = {
        f"{schema}.{table}" for schema, tables in ctx.extra_schemas.items() for table in tables
    }
    for name in ctes:
        if name in ctx.catalog or any(st.endswith(f".{name}") for st in schema_tables):
            raise SyntaxNotAllowed(f"the CTE name {name!r} shadows a table; choose another name")

    for node in list(tree.find_all(exp.Table)):
        name = str(node.name).lower()
        db = str(node.db).lower()
        catalog_name = str(node.catalog).lower()
        position = position_of(node)
        if not db and not catalog_name and name in _ctes_in_scope(node):
            node.set("this", exp.to_identifier(name))
            continue
        if db in ctx.extra_schemas and not catalog_name:
            if db not in ctx.view.schemas:
                raise TableNotPermitted(
                    f"the {db} schema is not available to you", position=position
                )
            if name not in ctx.extra_schemas[db]:
                raise TableNotFound(f"no table {db}.{name}", position=position)
            node.set("this", exp.to_identifier(name))
            node.set("db", exp.to_identifier(db))
            ctx.schema_tables.add(f"{db}.{name}")
            continue
        if (
            db not in {"", "main"}
            or catalog_name not in WAREHOUSE_CATALOGS
            or (catalog_name and not db)
        ):
            shown = ".".join(p for p in (catalog_name, db, name) if p)
            raise TableNotFound(
                f"unknown table {shown!r}: name a warehouse table (optionally as main.<table>)",
                position=position,
            )
        if name not in ctx.catalog:
            # Suggestions only from the tables this analyst may see (and their CTEs).
            hint = did_you_mean(name, [*ctx.view.tables, *_ctes_in_scope(node)])
            raise TableNotFound(f"unknown table {name!r}{hint}", position=position)
        if name not in ctx.view.tables:
            raise TableNotPermitted(
                f"table {name!r} is not available at your access level ({ctx.view.level})",
                position=position,
            )
        node.set("this", exp.to_identifier(name))
        node.set("db", exp.to_identifier("main"))
        node.set("catalog", None)
        ctx.tables.add(name)

    if ctx.tables and ctx.schema_tables:
        raise SyntaxNotAllowed("audit tables cannot be combined with warehouse tables in one query")
    return tree
