"""The access policy as data: levels, visible tables, column masks, row filters, grantables.

A :class:`Policy` is loaded from ``policy.toml`` (see :mod:`gateway.policy.load`) and never
changes while loaded; its ``version`` is the SHA-256 of the file's bytes, recorded in every
audit record. Deny beats allow: a table or column the level does not mention is not visible,
and an enhanced grant can only unmask what the level lists as ``unmaskable``.

Example:
    >>> mask = MaskSpec(kind="grid", options={"metres": 100})
    >>> mask.label
    'grid(metres=100)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.policy.audit_duties import AuditDuties
from gateway.policy.disclosure import DisclosureSettings
from gateway.policy.exports import ExportSettings
from gateway.policy.login import LoginSettings
from gateway.policy.markings import MarkingSettings
from gateway.policy.products import ProductSettings
from gateway.policy.retention import RetentionSettings
from gateway.policy.tokens import TokenSettings

__all__ = [
    "MASK_KINDS",
    "LevelLimits",
    "LevelPolicy",
    "MaskSpec",
    "Policy",
    "SchemaAccess",
    "TablePolicy",
    "UnlinkableVictims",
]

#: Mask kinds and the options each accepts (name → required?).
MASK_KINDS: Mapping[str, Mapping[str, bool]] = {
    "show": {},
    "null": {},
    "redact": {"value": False},
    "pseudonym": {"domain": True, "prefix": False},
    "truncate_date": {"unit": True},
    "age_band": {"bands": False},
    "postcode_sector": {},
    "grid": {"metres": True},
    "map_point": {"field": True},
    "last_n": {"n": True},
}


@dataclass(frozen=True)
class MaskSpec:
    """How one column is shown to a level.

    Attributes:
        kind: one of :data:`MASK_KINDS`.
        options: the kind's options (e.g. ``{"metres": 100}`` for ``grid``).
        show_when: optional trusted SQL predicate over the base row; when it is TRUE the raw
            value is shown, otherwise (FALSE or NULL) the mask applies. Deny by default.
    """

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    show_when: str | None = None

    @property
    def label(self) -> str:
        """Short description for catalogs and audit records, e.g. ``pseudonym(domain=person)``."""
        if self.kind == "show":
            return "show"
        opts = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()) if k != "bands")
        text = f"{self.kind}({opts})" if opts else self.kind
        return f"{text} unless {self.show_when}" if self.show_when else text


@dataclass(frozen=True)
class TablePolicy:
    """A table as one level sees it.

    Attributes:
        name: warehouse table name.
        columns: visible columns in warehouse order, each with its mask (``show`` = raw).
        row_filter: trusted SQL predicate over the base table (may use ``$areas``,
            ``$organisation``, ``$username`` and subqueries over other tables, which are
            themselves row-filtered as this level sees them); None = every row.
        requires_grant: only visible to principals holding a grant that names the table.
        derived_filter: predicate the policy adds to ``row_filter`` by itself (the level's
            :class:`UnlinkableVictims` rule, built from the catalog's links); None = nothing.
    """

    name: str
    columns: Mapping[str, MaskSpec]
    row_filter: str | None = None
    requires_grant: bool = False
    derived_filter: str | None = None

    @property
    def effective_filter(self) -> str | None:
        """The predicate rows must pass: ``row_filter`` AND ``derived_filter``."""
        parts = [f for f in (self.row_filter, self.derived_filter) if f]
        if len(parts) < 2:
            return parts[0] if parts else None
        return "\nAND ".join(f"({part})" for part in parts)


@dataclass(frozen=True)
class UnlinkableVictims:
    """Victims of sensitive crimes are not linkable: the rule, as the policy file states it.

    On every path the catalog declares from a person to a crime (see
    :func:`gateway.catalog.links.link_paths`), a row that ties a person to a sensitive crime is
    kept only when the person is linked in a capacity listed in ``linkable_roles`` — on the
    path itself when it has a role, and on the crime's own link table (``crime_person``) when
    the path is another one (a custody record, an incident's people). Anything unknown fails
    closed: a crime this level cannot see, or whose ``sensitive`` predicate is NULL, counts as
    sensitive.

    Attributes:
        sensitive: trusted SQL predicate over ``crime`` (subqueries allowed): TRUE or NULL for
            a sensitive crime.
        linkable_roles: roles in which a person stays linked to a sensitive crime.
    """

    sensitive: str
    linkable_roles: tuple[str, ...]


@dataclass(frozen=True)
class LevelLimits:
    """Resource limits for one level's queries."""

    max_rows: int = 1_000_000
    timeout_s: float = 60.0
    memory_limit_mb: int = 2048
    max_result_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class LevelPolicy:
    """What one access level may see.

    Attributes:
        name: ``general`` or ``enhanced`` (or another configured level).
        tables: table name → :class:`TablePolicy`.
        unmaskable: ``"table.column"`` entries (or ``"table.*"``) that an enhanced grant may unmask.
        limits: resource limits.
        unlinkable_victims: the sensitive-victim rule whose predicates are in the tables'
            ``derived_filter`` (None: no such rule at this level).
    """

    name: str
    description: str
    tables: Mapping[str, TablePolicy]
    unmaskable: frozenset[str] = frozenset()
    limits: LevelLimits = field(default_factory=LevelLimits)
    unlinkable_victims: UnlinkableVictims | None = None

    def may_unmask(self, table: str, column: str) -> bool:
        return f"{table}.{column}" in self.unmaskable or f"{table}.*" in self.unmaskable


@dataclass(frozen=True)
class SchemaAccess:
    """A non-warehouse schema (e.g. ``audit``) and the roles that may query it."""

    name: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy file.

    Attributes:
        version: SHA-256 hex of the policy file's bytes (goes into every audit record).
        levels: level name → :class:`LevelPolicy`.
        schemas: extra read-only schemas by name (``audit``) with the roles allowed.
        exports: the ``[exports]`` section (:class:`~gateway.policy.exports.ExportSettings`).
        disclosure: the ``[disclosure]`` section
            (:class:`~gateway.policy.disclosure.DisclosureSettings`).
        markings: the ``[markings]`` section: the protective marking of each data class
            (:class:`~gateway.policy.markings.MarkingSettings`).
        products: the ``[products]`` section: QA sampling and manifest retention
            (:class:`~gateway.policy.products.ProductSettings`).
        retention: the ``[retention]`` section: how long audit records are kept
            (:class:`~gateway.policy.retention.RetentionSettings`).
        audit: the ``[audit]`` section: the audit plan, local auditors, incident reporting
            (:class:`~gateway.policy.audit_duties.AuditDuties`).
        login: the ``[login]`` section: passwords, lockout, idle sign-off, SyOPs
            (:class:`~gateway.policy.login.LoginSettings`).
        title: the ``title`` shown to administrators, if any.
        source: where it was loaded from (for messages).
    """

    version: str
    levels: Mapping[str, LevelPolicy]
    schemas: Mapping[str, SchemaAccess] = field(default_factory=dict)
    exports: ExportSettings = field(default_factory=ExportSettings)
    disclosure: DisclosureSettings = field(default_factory=DisclosureSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    products: ProductSettings = field(default_factory=ProductSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    audit: AuditDuties = field(default_factory=AuditDuties)
    markings: MarkingSettings = field(default_factory=MarkingSettings)
    title: str | None = None
    source: str = "policy.toml"

    def level(self, name: str) -> LevelPolicy | None:
        return self.levels.get(name)
