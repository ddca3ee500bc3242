"""Pass 6: replace every warehouse table reference with its policy subquery.

A policy subquery is::

    (SELECT <mask(col)> AS col, …
     FROM main.<table> AS __gw_<table>
     WHERE <row filter, principal attributes bound, other tables filtered in turn>
     LIMIT 9223372036854775807) AS <the query's alias>

so every user expression — in WHERE, JOIN, GROUP BY, ORDER BY, windows, whole-row references —
only ever sees masked values of rows the filter kept.

Why the ``LIMIT``: DuckDB's optimiser pushes filters down through projections and joins, so a
user predicate such as ``CAST(x AS INT) = 1`` could otherwise be evaluated *beside* the row
filter on rows the filter removes (an error oracle: the query fails only if a hidden row holds
a non-number). No engine may push a filter below a LIMIT — that would change which rows the
LIMIT keeps — so the limit is an optimisation barrier that holds by the semantics of SQL, not
by the current optimiser's habits. Only trusted policy expressions (masks and filters) run
below it. tests/rewrite/test_barrier.py proves it with error and value oracles.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping

from sqlglot import exp

from gateway.catalog import Table
from gateway.errors import ConfigurationError, PolicyCheckFailed
from gateway.lru import LruCache
from gateway.policy.load import parse_predicate
from gateway.policy.masks import MaskContext, mask_expression
from gateway.policy.projection import ProjectionIndex
from gateway.policy.record_keys import RECORD_KEY, key_column, key_entity, record_key
from gateway.policy.view import ColumnView, PolicyView, TableView
from gateway.rewrite.context import PolicyReference, RewriteContext

__all__ = [
    "BARRIER_LIMIT",
    "KEYS_META",
    "PolicySql",
    "policy_subquery",
    "projection_subquery",
    "splice",
    "substitute_tables",
]

BARRIER_LIMIT = 9223372036854775807
#: A table reference's ``meta`` entry naming the record keys its policy subquery must add
#: (set by :mod:`gateway.rewrite.cellkeys`).
KEYS_META = "gw_record_keys"


@functools.lru_cache(maxsize=512)
def _parsed(sql: str) -> exp.Expr:
    return parse_predicate(sql)


def _predicate(sql: str) -> exp.Expr:
    return _parsed(sql).copy()


class _Aliases:
    """Fresh aliases for the tables inside one policy subquery."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, table: str) -> str:
        return f"__gw_{table}_{next(self._counter)}"


def _bind_principal(tree: exp.Expr, view: PolicyView) -> exp.Expr:
    for node in list(tree.find_all(exp.Placeholder)):
        name = str(node.name)
        if name == "areas":
            parent = node.parent
            assert isinstance(parent, exp.In)
            others = [e for e in parent.expressions if e is not node]
            areas = [exp.Literal.string(a) for a in view.areas]
            if not areas and not others:
                parent.replace(exp.false())
            else:
                parent.set("expressions", [*others, *areas])
        elif name == "organisation":
            node.replace(exp.Literal.string(view.organisation))
        elif name == "username":
            node.replace(exp.Literal.string(view.username))
        else:  # validated at policy load; refuse rather than guess
            raise ConfigurationError(f"row filter uses unknown principal attribute ${name}")
    return tree


def _qualify_outer_columns(tree: exp.Expr, alias: str) -> exp.Expr:
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.find_ancestor(exp.Query) is None:
            column.set("table", exp.to_identifier(alias))
    return tree


def _filtered_rows(
    table: str, view: PolicyView, aliases: _Aliases, trail: tuple[str, ...]
) -> exp.Expr:
    """``main.<table>`` restricted to the rows its own filter keeps (raw values: trusted use)."""
    base = exp.Table(this=exp.to_identifier(table), db=exp.to_identifier("main"))
    table_view = view.tables.get(table)
    if table_view is None:
        raise ConfigurationError(f"a row filter refers to {table!r}, which this view cannot see")
    if not table_view.row_filter:
        return base
    if table in trail:
        raise ConfigurationError(
            f"row filters refer to each other in a cycle: {' -> '.join(trail)}"
        )
    alias = aliases.next(table)
    base.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    condition = _row_filter(table_view, alias, view, aliases, (*trail, table))
    return exp.Subquery(this=exp.select("*").from_(base).where(condition))


def _row_filter(
    table_view: TableView, alias: str, view: PolicyView, aliases: _Aliases, trail: tuple[str, ...]
) -> exp.Expr:
    assert table_view.row_filter is not None
    tree = _bind_principal(_predicate(table_view.row_filter), view)
    tree = _qualify_outer_columns(tree, alias)
    for node in list(tree.find_all(exp.Table)):
        name = str(node.name).lower()
        replacement = _filtered_rows(name, view, aliases, trail)
        replacement.set("alias", exp.TableAlias(this=exp.to_identifier(node.alias_or_name)))
        node.replace(replacement)
    return tree


def _masked(column: ColumnView, base_alias: str, ctx: MaskContext) -> exp.Expr:
    raw = exp.column(column.name, table=base_alias)
    show_when = None
    if column.mask.show_when:
        show_when = _qualify_outer_columns(_predicate(column.mask.show_when), base_alias)
    return mask_expression(raw, column.type, column.mask, ctx, show_when)


def _record_keys(
    table_view: TableView, table: Table, keys: frozenset[str], base_alias: str, ctx: MaskContext
) -> list[exp.Expr]:
    """The record-key columns asked for (:mod:`gateway.policy.record_keys`): the row's own
    key (``RECORD_KEY``) and, for a column, the key of the record it names — NULL where the
    analyst sees NULL, so a distinct count of the column and the keys count the same records."""
    out: list[exp.Expr] = []
    if RECORD_KEY in keys:
        raw = [exp.column(c, table=base_alias) for c in table.primary_key]
        out.append(exp.alias_(record_key(table.name, raw), RECORD_KEY))
    for name in sorted(keys - {RECORD_KEY}):
        entity = key_entity(table, name)
        if entity is None:
            raise ConfigurationError(f"{table.name}.{name} names no record: it has no key")
        key = record_key(entity, [exp.column(name, table=base_alias)])
        shown = _masked(table_view.column(name), base_alias, ctx)
        value = exp.Case(
            ifs=[exp.If(this=exp.Is(this=shown, expression=exp.Null()), true=exp.Null())],
            default=key,
        )
        out.append(exp.alias_(value, key_column(name)))
    return out


def policy_subquery(
    table_view: TableView,
    view: PolicyView,
    vault: Mapping[str, str] | None = None,
    columns: frozenset[str] | None = None,
    keys: frozenset[str] = frozenset(),
    table: Table | None = None,
) -> exp.Select:
    """The SELECT that is the principal's view of one table (see module docstring).

    ``vault`` names the pseudonym domains that may be looked up in the pseudonym vault
    instead of being computed per row (``{domain: value type}``). ``columns`` restricts the
    projection to the visible columns the query reads (None: all of them); a query that reads
    none (``count(*)``) gets the first one, so the SELECT stays valid. ``keys`` adds record-key
    columns (a disclosure-controlled statement's, from :mod:`gateway.rewrite.cellkeys`) of the
    catalog ``table``.
    """
    aliases = _Aliases()
    base_alias = f"__gw_{table_view.name}"
    ctx = MaskContext(base_alias, vault=vault)
    projections = []
    chosen = [c for c in table_view.columns if columns is None or c.name in columns]
    for column in chosen or list(table_view.columns[:1]):
        projections.append(exp.alias_(_masked(column, base_alias, ctx), column.name))
    if keys:
        if table is None:
            raise ConfigurationError("record keys need the table's catalog entry")
        projections += _record_keys(table_view, table, keys, base_alias, ctx)
    select = exp.select(*projections).from_(
        exp.Table(
            this=exp.to_identifier(table_view.name),
            db=exp.to_identifier("main"),
            alias=exp.TableAlias(this=exp.to_identifier(base_alias)),
        )
    )
    if table_view.row_filter:
        select = select.where(
            _row_filter(table_view, base_alias, view, aliases, (table_view.name,))
        )
    return select.limit(BARRIER_LIMIT)


def projection_subquery(
    table_view: TableView, table: str, catalog: str, columns: frozenset[str] | None = None
) -> exp.Select:
    """The policy subquery as a scan of its materialisation (:mod:`gateway.policy.projection`):
    the same columns as :func:`policy_subquery` projects for ``columns``, read from the
    projection table ``catalog.main.table``, behind the same barrier ``LIMIT``.

    Example:
        >>> from gateway.policy.view import ColumnView, TableView
        >>> from gateway.policy.model import MaskSpec
        >>> tv = TableView("crime", (ColumnView("crime_id", "BIGINT", MaskSpec("show")),), None)
        >>> projection_subquery(tv, "p_ab", "projections").sql("duckdb")
        'SELECT __gw_crime.crime_id AS crime_id FROM projections.main.p_ab AS __gw_crime LIMIT 9223372036854775807'
    """
    base_alias = f"__gw_{table_view.name}"
    chosen = [c for c in table_view.columns if columns is None or c.name in columns]
    projections = [
        exp.alias_(exp.column(column.name, table=base_alias), column.name)
        for column in chosen or list(table_view.columns[:1])
    ]
    source = exp.Table(
        this=exp.to_identifier(table),
        db=exp.to_identifier("main"),
        catalog=exp.to_identifier(catalog),
        alias=exp.TableAlias(this=exp.to_identifier(base_alias)),
    )
    return exp.select(*projections).from_(source).limit(BARRIER_LIMIT)


class PolicySql:
    """The generated SQL of policy subqueries, cached per principal view and table.

    Building a policy subquery means parsing trusted predicates, building mask expressions
    and generating SQL: a few milliseconds for tables with linked-record filters. The result
    depends only on the policy version, the view's level, areas, organisation, username and
    grants, and the table — so it is cached under exactly that key (bounded, thread-safe).

    With ``projections`` (an index of materialised policy subqueries), a subquery whose full
    text (every visible column, no record keys) is materialised becomes a scan of that
    table (:func:`projection_subquery`); any other runs live. The index is matched on the
    exact text, so a projection of another policy, area set or grant is never used.
    """

    def __init__(
        self,
        max_entries: int = 2048,
        vault: Mapping[str, str] | None = None,
        projections: ProjectionIndex | None = None,
    ) -> None:
        self.vault = dict(vault or {})
        self.projections = projections
        self._cache: LruCache[tuple[object, ...], str] = LruCache(max_entries)

    def sql(
        self,
        table_view: TableView,
        view: PolicyView,
        columns: frozenset[str] | None = None,
        keys: frozenset[str] = frozenset(),
        table: Table | None = None,
    ) -> str:
        """The policy subquery to run for ``table_view`` in ``view`` (only ``columns``, plus
        record ``keys``): a scan of its masked projection when one materialises it exactly,
        else :meth:`live_sql`."""
        return self._cached(
            (columns, keys, *_view_key(table_view, view)),
            lambda: (
                self._projected(table_view, view, columns, keys)
                or self.live_sql(table_view, view, columns, keys, table)
            ),
        )

    def live_sql(
        self,
        table_view: TableView,
        view: PolicyView,
        columns: frozenset[str] | None = None,
        keys: frozenset[str] = frozenset(),
        table: Table | None = None,
    ) -> str:
        """The live policy subquery: masks and row filter computed from the warehouse (cached
        like :meth:`sql`)."""
        return self._cached(
            ("live", columns, keys, *_view_key(table_view, view)),
            lambda: policy_subquery(table_view, view, self.vault, columns, keys, table).sql(
                dialect="duckdb", comments=False
            ),
        )

    def _cached(self, key: tuple[object, ...], make: Callable[[], str]) -> str:
        text = self._cache.get(key)
        if text is None:
            text = make()
            self._cache.put(key, text)
        return text

    def _projected(
        self,
        table_view: TableView,
        view: PolicyView,
        columns: frozenset[str] | None,
        keys: frozenset[str],
    ) -> str | None:
        """The projection scan standing for this subquery, or None (no exact match: live)."""
        if self.projections is None or keys:
            return None
        name = self.projections.lookup(self.full_sql(table_view, view))
        if name is None:
            return None
        return projection_subquery(table_view, name, self.projections.catalog, columns).sql(
            dialect="duckdb", comments=False
        )

    def full_sql(self, table_view: TableView, view: PolicyView) -> str:
        """The live policy subquery with every visible column and no record keys — the text a
        projection materialises (cached like :meth:`sql`)."""
        return self.live_sql(table_view, view)


def _view_key(table_view: TableView, view: PolicyView) -> tuple[object, ...]:
    return (
        view.policy_version,
        view.level,
        view.areas,
        view.organisation,
        view.username,
        view.grants,
        table_view.name,
    )


def substitute_tables(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Replace each ``main.<table>`` reference in the user's query with its policy subquery.

    Each reference becomes a placeholder table name carrying a per-rewrite random nonce (so no
    identifier in the analyst's SQL can collide with it) and a fixed-width index (so no
    placeholder is a prefix of another); after the query is generated, each placeholder is
    replaced by its policy subquery's generated SQL (see :func:`splice`). The engine then
    checks, on its own parse, that the result holds the enforcement invariant.

    Each policy subquery projects only the visible columns the query reads (from
    :func:`~gateway.rewrite.analyse.analyse_columns`, which expands stars and whole-row
    references), so masks of unread columns — a pseudonym lookup is a join — cost nothing.
    A USING join matches the named columns, so each table also keeps every USING name it has;
    a NATURAL join matches all shared names, so with one anywhere every column is kept. If the
    analysis ever missed a column, the engine would refuse the query (column not found): the
    pruning can fail closed, never open.
    """
    joins = list(tree.find_all(exp.Join))
    prune = not any(str(j.args.get("method") or "").upper() == "NATURAL" for j in joins)
    using = frozenset(str(name.name).lower() for j in joins for name in (j.args.get("using") or ()))
    for index, node in enumerate(list(tree.find_all(exp.Table))):
        if str(node.db) != "main":
            continue  # CTE references and permitted schema tables
        table_view = ctx.view.tables[str(node.name)]
        alias = node.alias or str(node.name)
        placeholder = f"__gw_policy_{ctx.nonce}_{index:06d}"
        compiler = ctx.policy_sql or PolicySql()
        read = (
            frozenset(
                c.split(".", 1)[1] for c in ctx.columns if c.split(".", 1)[0] == table_view.name
            )
            | using
            if prune
            else None
        )
        projected = tuple(c.name for c in table_view.columns if read is None or c.name in read) or (
            table_view.columns[0].name,
        )
        keys = frozenset(node.meta.get(KEYS_META, ()))
        table = ctx.catalog.table(table_view.name) if keys else None
        ctx.splices[placeholder] = PolicyReference(
            table_view.name,
            projected,
            compiler.sql(table_view, ctx.view, read, keys, table),
            compiler.live_sql(table_view, ctx.view, read, keys, table),
        )
        node.replace(
            exp.Table(
                this=exp.to_identifier(placeholder),
                alias=exp.TableAlias(this=exp.to_identifier(alias)),
            )
        )
    return tree


def splice(sql: str, splices: Mapping[str, PolicyReference]) -> str:
    """Put each policy subquery's SQL where its placeholder stands (exactly once each).

    Raises:
        gateway.errors.PolicyCheckFailed: a placeholder is missing or repeated (the generated
            SQL is not the tree the passes built).
    """
    for placeholder, reference in splices.items():
        if sql.count(placeholder) != 1:
            raise PolicyCheckFailed("a policy subquery's place was lost or repeated")
        sql = sql.replace(placeholder, f"({reference.sql})")
    return sql
