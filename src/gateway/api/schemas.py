"""Request and response bodies of the HTTP API (pydantic models: validation and OpenAPI).

Example:
    >>> QueryBody.model_validate({"sql": "SELECT 1", "purpose": "SA-2026"}).format
    'json'
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gateway.auth.tokens import TokenRecord
from gateway.principal import AccessGrant, Principal

__all__ = [
    "DISCLOSURE_FIELD",
    "FORMULA_GUARD_FIELD",
    "AuditHealthOut",
    "CatalogColumn",
    "CatalogOut",
    "CatalogTable",
    "ColumnOut",
    "DisclosureBody",
    "EngineOut",
    "ErrorBody",
    "ErrorDetail",
    "EventOut",
    "EventsPage",
    "GrantOut",
    "HealthOut",
    "IssuedTokenOut",
    "MeOut",
    "QueryBody",
    "QueryJSON",
    "ReadyOut",
    "ReportOut",
    "TokenIssueBody",
    "TokenOut",
    "UserOut",
    "VerifyOut",
    "disclosure_data",
]

#: Longest SQL text accepted (the request body limit applies as well).
MAX_SQL_CHARS = 50_000

Scalar = str | int | float | bool | None
ParamValue = Scalar | list[Scalar]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. table_not_permitted.")
    message: str = Field(description="What was refused and why (never contains data values).")
    query_id: str | None = Field(None, description="Audit record id, when the query has one.")
    line: int | None = Field(None, description="Line in the submitted SQL, where it applies.")
    column: int | None = Field(None, description="Column in the submitted SQL.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class DisclosureBody(_Strict):
    """Disclosure control on an aggregate result (see :mod:`gateway.disclosure.request`)."""

    mode: Literal["policy", "publication"] = Field(
        "policy",
        description="policy: your level's rules; publication: the stricter rules for outputs "
        "to be published (threshold and rounding from the policy's [disclosure] section).",
    )
    counts: list[str] | None = Field(
        None,
        description="Aggregate columns that are counts besides the count(…) columns, which are "
        "always protected (e.g. a sum of flags).",
    )
    dimensions: list[str] | None = Field(
        None,
        max_length=2,
        description="At most two grouping columns indexing the cells (default: the last two).",
    )
    strata: list[str] | None = Field(
        None,
        description="Grouping columns splitting the result into separate tables "
        "(default: the grouping columns that are not dimensions).",
    )
    totals: dict[str, str] | None = Field(
        None, description="Dimension → the value that marks its total rows (e.g. 'all')."
    )


#: ``disclosure`` in query and export bodies: a mode name or a :class:`DisclosureBody`.
DISCLOSURE_FIELD: Any = Field(
    None,
    description="Disclosure control on an aggregate result: 'policy', 'publication' or an "
    "object. Counts under the threshold become null with a <column>_suppressed flag, with "
    "secondary suppression so totals cannot reveal them; record-level results are refused "
    "(400 not_aggregate).",
    examples=["publication", {"mode": "policy", "dimensions": ["ward_code", "month"]}],
)
#: ``formula_guard``: text cells spreadsheets would run as formulas get a leading apostrophe.
FORMULA_GUARD_FIELD: Any = Field(
    True,
    description="csv: text cells starting with = + - @ tab or carriage return get a leading "
    "apostrophe so spreadsheets never run them as formulas (false: written as they are).",
)


class QueryBody(_Strict):
    sql: str = Field(
        max_length=MAX_SQL_CHARS,
        description="One SELECT statement (named parameters written $name).",
        examples=["SELECT police_uk_category, count(*) AS n FROM crime GROUP BY 1"],
    )
    purpose: str = Field(
        max_length=200, description="One of your approved purpose codes.", examples=["SA-2026"]
    )
    params: dict[str, ParamValue] | None = Field(
        None, description="Values for $name parameters: text, numbers, true/false, null, lists."
    )
    format: Literal["json", "arrow", "csv", "parquet"] = Field(
        "json", description="json (small results), arrow (Arrow IPC stream), csv or parquet."
    )
    disclosure: Literal["policy", "publication"] | DisclosureBody | None = DISCLOSURE_FIELD
    formula_guard: StrictBool = FORMULA_GUARD_FIELD


def disclosure_data(value: str | DisclosureBody | None) -> str | dict[str, Any] | None:
    """A body's ``disclosure`` as plain data for
    :func:`gateway.disclosure.parse_disclosure_request` (unset fields left out)."""
    if isinstance(value, DisclosureBody):
        return value.model_dump(exclude_none=True)
    return value


class ColumnOut(BaseModel):
    name: str
    type: str = Field(description="Arrow type of the column, e.g. int64, timestamp[us].")


class QueryJSON(BaseModel):
    query_id: str
    marking: str = Field(
        description="The protective marking of the answer (as X-Protective-Marking and the "
        "completed audit record give it)."
    )
    columns: list[ColumnOut]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="True when rows were cut at the level's row cap.")
    disclosure: dict[str, Any] | None = Field(
        None, description="The disclosure control applied (when asked for), as audited."
    )


class CatalogColumn(BaseModel):
    name: str
    type: str = Field(description="Type as you see it (a mask may change it, e.g. to VARCHAR).")
    mask: str = Field(description="How the column is shown to you: show, null, pseudonym(…) …")
    description: str


class CatalogTable(BaseModel):
    name: str
    description: str
    row_filter: str | None = Field(
        None, description="The policy's row filter applied to your queries, if any."
    )
    columns: list[CatalogColumn]


class CatalogOut(BaseModel):
    purpose: str
    level: str
    policy_version: str
    grants: list[str] = Field(description="Enhanced grants applied for this purpose.")
    tables: list[CatalogTable]


class GrantOut(BaseModel):
    grant_id: str
    purposes: list[str]
    starts: date
    ends: date | None
    tables: list[str]
    unmask: list[str]
    areas: list[str]
    reason: str

    @classmethod
    def of(cls, grant: AccessGrant) -> GrantOut:
        return cls(
            grant_id=grant.grant_id,
            purposes=list(grant.purposes),
            starts=grant.starts,
            ends=grant.ends,
            tables=list(grant.tables),
            unmask=list(grant.unmask),
            areas=list(grant.areas),
            reason=grant.reason,
        )


class MeOut(BaseModel):
    username: str
    organisation: str
    level: str
    areas: list[str]
    purposes: list[str]
    roles: list[str]
    expires_at: datetime | None
    grants: list[GrantOut]

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        return cls(
            username=principal.username,
            organisation=principal.organisation,
            level=principal.level,
            areas=list(principal.areas),
            purposes=list(principal.purposes),
            roles=sorted(principal.roles),
            expires_at=principal.expires_at,
            grants=[GrantOut.of(g) for g in principal.grants],
        )


class UserOut(MeOut):
    suspended: bool

    @classmethod
    def of(cls, principal: Principal) -> UserOut:
        return cls(**MeOut.of(principal).model_dump(), suspended=principal.suspended)


class EventOut(BaseModel):
    seq: int
    event_id: str
    time: datetime
    kind: str
    actor: str
    organisation: str
    details: dict[str, Any]


class EventsPage(BaseModel):
    events: list[EventOut]
    next_after_seq: int | None = Field(
        None, description="Pass as after_seq to read the next page (null: no more events)."
    )


class ReportOut(BaseModel):
    report: str
    columns: list[ColumnOut]
    rows: list[list[Any]]
    row_count: int


class VerifyOut(BaseModel):
    ok: bool
    summary: str
    records: int
    head_seq: int
    last_checkpoint_seq: int | None
    checkpoints_checked: int
    broken_seq: int | None
    broken_reason: str | None
    checkpoint_problems: list[str]
    warnings: list[str]


class TokenIssueBody(_Strict):
    username: str = Field(min_length=1, max_length=200)
    label: str = Field("", max_length=200)
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Lifetime in days (default: the server's setting)."
    )


class TokenOut(BaseModel):
    token_id: str
    username: str
    label: str
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    state: Literal["active", "expired", "revoked"]

    @classmethod
    def of(cls, record: TokenRecord, now: datetime) -> TokenOut:
        return cls(
            token_id=record.token_id,
            username=record.username,
            label=record.label,
            issued_at=record.issued_at,
            issued_by=record.issued_by,
            expires_at=record.expires_at,
            revoked_at=record.revoked_at,
            revoked_by=record.revoked_by,
            state=record.state(now),
        )


class IssuedTokenOut(TokenOut):
    token: str = Field(description="The secret: shown this once, store it safely.")


HealthStatus = Literal["ok", "degraded", "failing"]


class EngineOut(BaseModel):
    status: HealthStatus = Field(
        "ok", description="failing: no worker answers; degraded: some do not, or queue full."
    )
    workers: int = Field(description="Configured worker processes.")
    workers_alive: int = Field(description="Workers alive and answering (a stopped one is not).")
    workers_stopped: int = Field(0, description="Workers alive but stopped (being replaced).")
    idle: int = Field(0, description="Workers free to take a query now.")
    restarts: int
    queue_depth: int = Field(description="Queries waiting for a worker.")
    max_queue: int = Field(0, description="Queries that may wait; more are refused (503 busy).")
    running: int
    per_user_workers: int = Field(0, description="Workers one user may hold at once.")
    reserved_workers: int = Field(0, description="Free workers kept for users running nothing.")


class AuditHealthOut(BaseModel):
    status: HealthStatus = Field(
        description="failing: records cannot be written (queries are refused); degraded: "
        "records are written but tamper evidence (checkpoints, witnesses) is behind."
    )
    reasons: list[str] = Field(default_factory=list)


class HealthOut(BaseModel):
    status: HealthStatus = Field(description="The worst of the engine's and the audit log's.")
    ready: bool = Field(False, description="Whether a query could be served now (/readyz).")
    reasons: list[str] = Field(default_factory=list, description="Why not ok, one line each.")
    engine: EngineOut
    audit: AuditHealthOut = Field(default_factory=lambda: AuditHealthOut(status="ok"))
    projections: Literal["off", "building", "ready", "failed"] = Field(
        default="off",
        description="The masked projections (GATEWAY_PROJECTIONS): building while queries run "
        "the live policy subqueries, ready once queries scan them, failed (live; see reasons).",
    )
    warehouse: Literal["current", "refreshing", "failed"] = Field(
        default="current",
        description="The warehouse version served: current, refreshing (a replaced file is "
        "being taken up; the previous version answers meanwhile) or failed (the previous "
        "version answers; see reasons).",
    )


class ReadyOut(BaseModel):
    ready: bool
    reasons: list[str] = Field(default_factory=list, description="Why not ready.")
