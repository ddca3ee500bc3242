"""The state one rewrite carries from pass to pass, and what it reports at the end."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.catalog import Catalog
from gateway.policy.view import PolicyView

if TYPE_CHECKING:
    from gateway.rewrite.substitute import PolicySql

__all__ = ["PolicyReference", "RewriteContext", "RewriteResult"]


@dataclass(frozen=True)
class PolicyReference:
    """One base-table reference of the analyst's query and the policy subquery that replaced it.

    Attributes:
        table: the warehouse table.
        columns: the visible columns the policy subquery projects.
        sql: the policy subquery's generated SQL (what the engine must find, unchanged).
        live_sql: the live policy subquery ``sql`` stands for: the same text, or, when ``sql``
            scans a masked projection (:mod:`gateway.policy.projection`), the subquery that
            projection materialises, with the same columns.
    """

    table: str
    columns: tuple[str, ...]
    sql: str
    live_sql: str


@dataclass
class RewriteContext:
    """Inputs of a rewrite plus facts the passes discover (tables, columns, parameters).

    Attributes:
        sql: the SQL as submitted.
        view: the principal's policy view.
        catalog: the warehouse catalog.
        params: named parameter values supplied with the query.
        extra_schemas: read-only non-warehouse schemas (``{"audit": {table: {column: type}}}``)
            that exist in this deployment; the view says which the principal may use.
        max_rows: the row cap applied to the result (the engine reports truncation).
        cell_keys: add a cell key beside each count (a disclosure-controlled statement:
            :mod:`gateway.rewrite.cellkeys`).
        cell_rules: cells may be defined by published attributes only (an analyst-written
            disclosure-controlled statement: :mod:`gateway.rewrite.cells`).
    """

    sql: str
    view: PolicyView
    catalog: Catalog
    params: Mapping[str, object] = field(default_factory=dict)
    extra_schemas: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    max_rows: int | None = None
    cell_keys: bool = False
    cell_rules: bool = False
    # discovered by the passes
    tables: set[str] = field(default_factory=set)
    schema_tables: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    placeholders: set[str] = field(default_factory=set)
    # policy subqueries to splice into the generated SQL (placeholder -> reference)
    policy_sql: PolicySql | None = None
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    splices: dict[str, PolicyReference] = field(default_factory=dict)
    # output column position -> the name of the result column holding its cell key
    cell_key_columns: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RewriteResult:
    """The SQL to execute and what it touched (for the audit record).

    Attributes:
        sql: the policy-enforced SQL, regenerated from the AST (no comments).
        tables: warehouse tables referenced, sorted.
        schema_tables: non-warehouse tables referenced (``audit.queries`` …), sorted.
        columns: ``table.column`` referenced (stars expanded), sorted.
        masks: ``table.column=mask`` for each referenced column that is masked.
        row_filters: ``table: predicate`` for each referenced table that is filtered.
        params: the validated parameters to bind.
        max_rows: the cap applied.
        policy_subqueries: each base-table reference and its policy subquery, in order — what
            the engine's invariant check (:mod:`gateway.engines.invariant`) must find in ``sql``.
        cell_keys: ``(position, column)`` for each output column (by position) whose cell key
            the result carries in ``column`` (after the analyst's columns; never released).
        cell_keyed: rewritten for the cell key method (``sql`` has record and cell key columns,
            all named ``__gw_…``, and no such name of the analyst's).
        submitted: the statement as the analyst wrote it (disclosure control reads the
            constants its cells are selected by: :mod:`gateway.disclosure.footprint`).
        live_sql: ``sql`` with each masked projection scan replaced by the live policy subquery
            it materialises (empty: ``sql`` scans none). The same rows by construction; what
            is analysed (:attr:`sql_for_analysis`), as a projection hides the warehouse
            columns a masked column is computed from.
    """

    sql: str
    tables: tuple[str, ...]
    schema_tables: tuple[str, ...]
    columns: tuple[str, ...]
    masks: tuple[str, ...]
    row_filters: tuple[str, ...]
    params: Mapping[str, object]
    max_rows: int | None
    policy_subqueries: tuple[PolicyReference, ...] = ()
    cell_keys: tuple[tuple[int, str], ...] = ()
    cell_keyed: bool = False
    submitted: str = ""
    live_sql: str = ""

    @property
    def sql_for_analysis(self) -> str:
        """The statement classification and disclosure control read
        (:mod:`gateway.analysis.classify`): every policy subquery live, so each column traces
        to the warehouse columns and masks it comes from, whether or not a projection ran it."""
        return self.live_sql or self.sql

    @property
    def uses_schema(self) -> str | None:
        """The extra schema this query reads (e.g. ``audit``), or None for the warehouse."""
        if not self.schema_tables:
            return None
        return self.schema_tables[0].split(".", 1)[0]
