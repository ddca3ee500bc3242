"""The policy view: what one principal, for one purpose, on one day, may see.

:func:`view_for` combines the policy's level with the principal's attributes and the enhanced
grants that cover the purpose. The result is plain data the rewriter turns into SQL. Pure: no
I/O, deterministic for the same inputs.

Example:
    >>> from datetime import date
    >>> from gateway.catalog import load_catalog
    >>> from gateway.policy import load_default_policy
    >>> from gateway.principal import Principal
    >>> catalog = load_catalog()
    >>> analyst = Principal(username="a.khan", organisation="Middlesbrough Council",
    ...     level="general", areas=("E06000002",), purposes=("SA-2026",))
    >>> view = view_for(load_default_policy(catalog), catalog, analyst, "SA-2026", date(2026, 5, 1))
    >>> "intelligence_report" in view.tables, view.tables["person"].column("surname").mask.kind
    (False, 'null')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from gateway.catalog import Catalog
from gateway.clock import utc_now
from gateway.errors import (
    AccessDenied,
    AccessExpired,
    AccountSuspended,
    PurposeNotApproved,
    PurposeRequired,
)
from gateway.policy.model import LevelLimits, MaskSpec, Policy
from gateway.principal import Principal

__all__ = ["ColumnView", "PolicyView", "TableView", "view_for"]

_SHOW = MaskSpec(kind="show")


@dataclass(frozen=True)
class ColumnView:
    name: str
    type: str
    mask: MaskSpec

    @property
    def masked(self) -> bool:
        return self.mask.kind != "show"


@dataclass(frozen=True)
class TableView:
    name: str
    columns: tuple[ColumnView, ...]
    row_filter: str | None

    def column(self, name: str) -> ColumnView:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class PolicyView:
    """Everything the rewriter needs to enforce the policy for one query.

    Attributes:
        username, organisation, areas: principal attributes bound into row filters.
        level: the data level applied.
        purpose: the approved purpose the query is made for.
        tables: visible warehouse tables (name → view).
        schemas: extra read-only schemas the principal may query (e.g. ``audit``).
        grants: ids of the enhanced grants applied.
        limits: resource limits for the level.
        policy_version: hash of the policy file.
    """

    username: str
    organisation: str
    level: str
    purpose: str
    areas: tuple[str, ...]
    tables: Mapping[str, TableView]
    schemas: frozenset[str]
    grants: tuple[str, ...]
    limits: LevelLimits
    policy_version: str

    def cache_key(self) -> tuple[object, ...]:
        """Everything that makes two views differ (for caches of SQL built from a view)."""
        return (
            self.policy_version,
            self.level,
            self.areas,
            self.organisation,
            self.username,
            self.grants,
            tuple(sorted(self.schemas)),
        )

    def sqlglot_schema(self) -> dict[str, dict[str, str]]:
        """The visible columns with their output types (masks may change a column's type)."""
        return {t.name: {c.name: _output_type(c) for c in t.columns} for t in self.tables.values()}


def _output_type(column: ColumnView) -> str:
    kind = column.mask.kind
    if kind in {"pseudonym", "age_band", "postcode_sector", "last_n"} or (
        kind == "redact" and "value" in column.mask.options
    ):
        return "VARCHAR"
    if kind == "grid":
        return "DOUBLE"
    return column.type


def check_principal(principal: Principal, purpose: str | None, now: datetime) -> None:
    """Refuse suspended or expired principals and unapproved purposes (raises)."""
    if principal.suspended:
        raise AccountSuspended(f"the account {principal.username!r} is suspended")
    if principal.expires_at is not None and principal.expires_at <= now:
        raise AccessExpired(
            f"access for {principal.username!r} expired on {principal.expires_at:%Y-%m-%d}"
        )
    if not purpose or not purpose.strip():
        raise PurposeRequired(
            "every query must name the purpose it is made for (an approved purpose code)"
        )
    if not principal.may_use_purpose(purpose):
        approved = ", ".join(principal.purposes) or "none"
        raise PurposeNotApproved(
            f"purpose {purpose!r} is not one of your approved purposes ({approved})"
        )


def view_for(
    policy: Policy,
    catalog: Catalog,
    principal: Principal,
    purpose: str,
    today: date,
    *,
    now: datetime | None = None,
) -> PolicyView:
    """The policy view for ``principal`` querying for ``purpose`` on ``today``.

    Raises:
        AccountSuspended, AccessExpired, PurposeRequired, PurposeNotApproved, AccessDenied.
    """
    check_principal(principal, purpose, now or utc_now())
    schemas = frozenset(
        name for name, access in policy.schemas.items() if access.roles & principal.roles
    )
    level = policy.level(principal.level) if principal.level != "none" else None
    if level is None:
        if principal.level != "none":
            raise AccessDenied(f"level {principal.level!r} is not defined in the policy")
        return PolicyView(
            username=principal.username,
            organisation=principal.organisation,
            level="none",
            purpose=purpose,
            areas=(),
            tables={},
            schemas=schemas,
            grants=(),
            limits=LevelLimits(),
            policy_version=policy.version,
        )

    grants = principal.grants_for(purpose, today) if principal.level == "enhanced" else ()
    extra_tables = {t for g in grants for t in g.tables}
    unmask = {u for g in grants for u in g.unmask}
    areas = tuple(dict.fromkeys([*principal.areas, *(a for g in grants for a in g.areas)]))

    tables: dict[str, TableView] = {}
    for name, table_policy in level.tables.items():
        if table_policy.requires_grant and name not in extra_tables:
            continue
        declared = catalog.table(name)
        columns = []
        for column_name, mask in table_policy.columns.items():
            if f"{name}.{column_name}" in unmask and level.may_unmask(name, column_name):
                mask = _SHOW
            columns.append(ColumnView(column_name, declared.column(column_name).type, mask))
        tables[name] = TableView(name, tuple(columns), table_policy.effective_filter)

    return PolicyView(
        username=principal.username,
        organisation=principal.organisation,
        level=level.name,
        purpose=purpose,
        areas=areas,
        tables=tables,
        schemas=schemas,
        grants=tuple(g.grant_id for g in grants),
        limits=level.limits,
        policy_version=policy.version,
    )
