"""The secure query rewrite: analyst SQL in, policy-enforced SQL out. Pure: no I/O.

One pass per module, run in order by :data:`RULES` (sqlglot-optimizer style)::

    parse_statement      exactly one statement, size and nesting limits      (parse.py)
    guard                statement, node and function allowlists             (guard.py)
    resolve_tables       case-fold, catalog spellings, CTE shadowing, level  (resolve.py)
    analyse_columns      visible columns only; what the query touches        (analyse.py)
    check_parameters     named parameters match plain values                 (params.py)
    check_cells          cells from published attributes (analyst's, controlled) (cells.py)
    add_cell_keys        a cell key beside each count (disclosure control)   (cellkeys.py)
    substitute_tables    base tables → policy subqueries behind a barrier    (substitute.py)
    cap_rows             result row cap                                      (cap.py)

The SQL is then regenerated from the AST (never the input string) without comments, and
refused unless it parses back into the same AST (generate.py).

Example:
    >>> from datetime import date
    >>> from gateway.catalog import load_catalog
    >>> from gateway.policy import load_default_policy
    >>> from gateway.policy.view import view_for
    >>> from gateway.principal import Principal
    >>> catalog = load_catalog()
    >>> analyst = Principal(username="a.khan", organisation="Middlesbrough Council",
    ...     level="general", areas=("E06000002",), purposes=("SA-2026",))
    >>> view = view_for(load_default_policy(catalog), catalog, analyst, "SA-2026", date(2026, 5, 1))
    >>> result = rewrite("select count(*) from CRIME", view, catalog)
    >>> "IN ('E06000002')" in result.sql, result.tables
    (True, ('crime',))
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import replace

from sqlglot import exp

from gateway.catalog import Catalog
from gateway.policy.view import PolicyView
from gateway.rewrite.analyse import analyse_columns
from gateway.rewrite.cache import RewriteCache
from gateway.rewrite.cap import cap_rows
from gateway.rewrite.cellkeys import add_cell_keys
from gateway.rewrite.cells import check_cells
from gateway.rewrite.context import PolicyReference, RewriteContext, RewriteResult
from gateway.rewrite.generate import generate
from gateway.rewrite.guard import guard
from gateway.rewrite.params import check_parameter_values, check_parameters
from gateway.rewrite.parse import parse_statement
from gateway.rewrite.resolve import resolve_tables
from gateway.rewrite.substitute import PolicySql, splice, substitute_tables

__all__ = [
    "RULES",
    "PolicyReference",
    "PolicySql",
    "RewriteCache",
    "RewriteContext",
    "RewriteResult",
    "audited_access",
    "rewrite",
]

Rule = Callable[[exp.Expr, RewriteContext], exp.Expr]

RULES: tuple[Rule, ...] = (
    guard,
    resolve_tables,
    analyse_columns,
    check_parameters,
    check_cells,
    add_cell_keys,
    substitute_tables,
    cap_rows,
)


def rewrite(
    sql: str,
    view: PolicyView,
    catalog: Catalog,
    *,
    params: Mapping[str, object] | None = None,
    extra_schemas: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    max_rows: int | None = None,
    policy_sql: PolicySql | None = None,
    cache: RewriteCache | None = None,
    cell_keys: bool = False,
    cell_rules: bool = False,
) -> RewriteResult:
    """Rewrite ``sql`` so it returns exactly what ``view`` allows.

    With ``cell_keys`` (a disclosure-controlled statement), each count the result releases gets
    a cell key column beside it (:mod:`gateway.rewrite.cellkeys`); with ``cell_rules`` (the
    analyst wrote it) its cells may be defined by published attributes only
    (:mod:`gateway.rewrite.cells`).

    With a ``cache``, a query already rewritten for the same view, schemas, cap and parameter
    shape is not rewritten again; its parameter values are still validated.

    Raises:
        gateway.errors.InputError subclasses for bad or refused SQL, AccessDenied subclasses for
        tables the level does not include.
    """
    key = None
    if cache is not None:
        key = cache.key(
            sql,
            (*view.cache_key(), tuple(sorted(extra_schemas or {})), cell_keys, cell_rules),
            max_rows,
            params or {},
        )
        hit = cache.get(key)
        if hit is not None:
            return replace(hit, params=check_parameter_values(params or {}))
    result = _rewrite(
        sql, view, catalog, params, extra_schemas, max_rows, policy_sql, cell_keys, cell_rules
    )
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


def _rewrite(
    sql: str,
    view: PolicyView,
    catalog: Catalog,
    params: Mapping[str, object] | None,
    extra_schemas: Mapping[str, Mapping[str, Mapping[str, str]]] | None,
    max_rows: int | None,
    policy_sql: PolicySql | None,
    cell_keys: bool = False,
    cell_rules: bool = False,
) -> RewriteResult:
    ctx = RewriteContext(
        sql=sql,
        view=view,
        catalog=catalog,
        params=dict(params or {}),
        extra_schemas=dict(extra_schemas or {}),
        max_rows=max_rows,
        policy_sql=policy_sql or PolicySql(),
        cell_keys=cell_keys,
        cell_rules=cell_rules,
    )
    while ctx.nonce in sql:  # the analyst's text must not contain the placeholder nonce
        ctx.nonce = secrets.token_hex(8)
    tree = parse_statement(sql)
    for rule in RULES:
        tree = rule(tree, ctx)
    references = tuple(ctx.splices.values())
    masks, row_filters = audited_access(view, references)
    generated = generate(tree)
    live = {p: replace(r, sql=r.live_sql) for p, r in ctx.splices.items() if r.sql != r.live_sql}
    return RewriteResult(
        sql=splice(generated, ctx.splices),
        live_sql=splice(generated, {**ctx.splices, **live}) if live else "",
        tables=tuple(sorted(ctx.tables)),
        schema_tables=tuple(sorted(ctx.schema_tables)),
        columns=tuple(sorted(ctx.columns)),
        masks=masks,
        row_filters=row_filters,
        params=dict(ctx.params),
        max_rows=max_rows,
        policy_subqueries=references,
        cell_keys=tuple(sorted(ctx.cell_key_columns.items())),
        cell_keyed=cell_keys,
        submitted=sql,
    )


def audited_access(
    view: PolicyView, references: tuple[PolicyReference, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The masks (``table.column=mask``) and row filters (``table: predicate``) that the given
    policy subqueries apply: what an audit record says was enforced."""
    masks = []
    for table, column in sorted({(r.table, c) for r in references for c in r.columns}):
        mask = view.tables[table].column(column).mask
        if mask.kind != "show":
            masks.append(f"{table}.{column}={mask.label}")
    row_filters = tuple(
        f"{t}: {' '.join(str(view.tables[t].row_filter).split())}"
        for t in sorted({r.table for r in references})
        if view.tables[t].row_filter
    )
    return tuple(masks), row_filters
