"""Every error the gateway raises on purpose, with a stable machine code and an HTTP status.

Only ``gateway.api`` turns these into HTTP responses; everything else raises them. Third-party
errors (sqlglot, DuckDB, SQLite) are mapped at the boundary where they occur with
``raise … from exc``, and a message never echoes data values from the warehouse.

    GatewayError                      500  internal_error
    ├── ConfigurationError            500  configuration_error     (bad policy/catalog/settings file)
    ├── InputError                    400  bad_request
    │   ├── SqlParseError             400  parse_error
    │   ├── StatementNotAllowed       400  statement_not_allowed
    │   ├── FunctionNotAllowed        400  function_not_allowed
    │   ├── SyntaxNotAllowed          400  syntax_not_allowed
    │   ├── ColumnNotFound            400  column_not_found
    │   ├── TableNotFound             400  table_not_found
    │   ├── ParameterError            400  invalid_parameter
    │   ├── QueryError                400  query_error            (engine refused the query)
    │   ├── NotAggregate              400  not_aggregate          (disclosure control on record-level rows)
    │   ├── NotProtectable            400  not_protectable        (a count disclosure control cannot protect)
    │   ├── PolicyCheckFailed         400  policy_check_failed    (the SQL to run broke the enforcement invariant)
    │   ├── PurposeRequired           400  purpose_required
    │   ├── CommentRequired           400  comment_required       (an authorisation or QA decision without a comment)
    │   ├── MarkingLowered            400  marking_lowered        (a protective marking lowered or removed)
    │   ├── MarkingRequired           400  marking_required       (an unmarked file the policy forbids)
    │   └── MarkingUnknown            400  marking_unknown        (a marking not on the policy's scale)
    ├── AuthenticationError           401  unauthenticated
    │   └── IdentityRejected          401  identity_rejected      (an OpenID Connect answer that proves nothing)
    ├── AccessDenied                  403  access_denied
    │   ├── TableNotPermitted         403  table_not_permitted
    │   ├── PurposeNotApproved        403  purpose_not_approved
    │   ├── AccountSuspended          403  account_suspended
    │   ├── AccessExpired             403  access_expired
    │   ├── AccountLocked             403  account_locked         (too many failed sign-ins)
    │   ├── AccountIdle               403  account_idle           (tokens of a person idle past policy)
    │   ├── NetworkNotPermitted       403  network_not_permitted
    │   ├── WrongRole                 403  wrong_role             (governance step needs another role)
    │   ├── SeparationOfDuties        403  separation_of_duties   (acting twice in one chain)
    │   │   └── SelfApproval          403  self_approval          (acting on one's own request)
    │   ├── PreconditionMissing       403  precondition_missing   (vetting, declarations, training …)
    │   │   └── VettingExpired        403  vetting_expired
    │   ├── ExportRequired            403  export_required        (a large record-level result: request an export)
    │   ├── ReleaseHeld               403  release_held           (a product awaiting or returned by QA)
    │   ├── DisclosureBudgetExhausted 403  disclosure_budget_exhausted (too many overlapping cell sets)
    │   └── BreakGlassRefused         403  break_glass_refused    (break-glass host mode may not do that)
    ├── NotFound                      404  not_found
    │   └── ExportExpired             404  export_expired         (deleted at the end of its retention)
    ├── Conflict                      409  conflict
    │   └── StepOutOfOrder            409  step_out_of_order      (request not at that step)
    ├── QueryCancelled                409  cancelled              (its client withdrew it; see below)
    ├── TooLarge                      413  too_large
    │   ├── TooManyRows               413  too_many_rows
    │   └── TooManyCells              413  too_many_cells
    ├── RateLimited                   429  rate_limited
    ├── QueryLimitExceeded            422  limit_exceeded         (the query's own limits: the request's fault)
    │   ├── QueryTimeout              422  timeout                (ran longer than its time limit)
    │   └── ResourceLimit             422  resource_limit         (needed more memory than its limit)
    ├── EngineUnavailable             503  engine_unavailable     (a worker failed or could not start)
    │   └── EngineBusy                503  busy                   (every worker taken: try again, Retry-After)
    ├── IdentityProviderUnavailable   503  identity_provider_unavailable
    └── AuditUnavailable              503  audit_unavailable      (fail closed: nothing ran)

A query stopped by its own limits answers 422: retrying it gives the same answer, so load
balancers and clients must not retry it and monitoring must not page anyone; 503s are the
service's own state (retry later).

``QueryCancelled`` ends a query whose caller withdrew it (the HTTP client disconnected). Nobody
hears that answer, so its status only shows in logs and metrics; 409 (the request's state
changed under it) keeps cancellations apart from the 400s of bad SQL there. It is not a
:class:`Conflict`: nothing that handles conflicts should catch it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AccessExpired",
    "AccountIdle",
    "AccountLocked",
    "AccountSuspended",
    "AuditUnavailable",
    "AuthenticationError",
    "BreakGlassRefused",
    "ColumnNotFound",
    "CommentRequired",
    "ConfigurationError",
    "Conflict",
    "DisclosureBudgetExhausted",
    "EngineBusy",
    "EngineUnavailable",
    "ExportExpired",
    "ExportRequired",
    "FunctionNotAllowed",
    "GatewayError",
    "IdentityProviderUnavailable",
    "IdentityRejected",
    "InputError",
    "MarkingLowered",
    "MarkingRequired",
    "MarkingUnknown",
    "NetworkNotPermitted",
    "NotAggregate",
    "NotFound",
    "NotProtectable",
    "ParameterError",
    "PolicyCheckFailed",
    "PreconditionMissing",
    "PurposeNotApproved",
    "PurposeRequired",
    "QueryCancelled",
    "QueryError",
    "QueryLimitExceeded",
    "QueryTimeout",
    "RateLimited",
    "ReleaseHeld",
    "ResourceLimit",
    "SelfApproval",
    "SeparationOfDuties",
    "SqlParseError",
    "StatementNotAllowed",
    "StepOutOfOrder",
    "SyntaxNotAllowed",
    "TableNotFound",
    "TableNotPermitted",
    "TooLarge",
    "TooManyCells",
    "TooManyRows",
    "VettingExpired",
    "WrongRole",
]


class GatewayError(Exception):
    """Root of the gateway's errors.

    Attributes:
        code: stable machine-readable code (documented in the module docstring).
        status: HTTP status the API answers with.
        message: human explanation, safe to show (never contains warehouse values).
        position: ``(line, column)`` in the submitted SQL where that applies.
    """

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, position: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.query_id: str | None = None  # set by the service once the query has an audit id

    def __str__(self) -> str:
        if self.position:
            return f"{self.message} (line {self.position[0]}, column {self.position[1]})"
        return self.message

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": str(self)}
        if self.position:
            out["line"], out["column"] = self.position
        if self.query_id:
            out["query_id"] = self.query_id
        return out


class ConfigurationError(GatewayError):
    code = "configuration_error"
    status = 500


class InputError(GatewayError):
    code = "bad_request"
    status = 400


class SqlParseError(InputError):
    code = "parse_error"


class StatementNotAllowed(InputError):
    code = "statement_not_allowed"


class FunctionNotAllowed(InputError):
    code = "function_not_allowed"


class SyntaxNotAllowed(InputError):
    code = "syntax_not_allowed"


class ColumnNotFound(InputError):
    code = "column_not_found"


class TableNotFound(InputError):
    code = "table_not_found"


class ParameterError(InputError):
    code = "invalid_parameter"


class QueryError(InputError):
    code = "query_error"


class NotAggregate(InputError):
    code = "not_aggregate"


class NotProtectable(InputError):
    """Disclosure control cannot protect a count in the result (a key or filter computed from
    counts, a window, a scaled count …) or cannot tell whether a column is one; nothing ran."""

    code = "not_protectable"


class PolicyCheckFailed(InputError):
    """The statement the engine would run does not provably read every table through its
    policy subquery (see :mod:`gateway.engines.invariant`); nothing ran."""

    code = "policy_check_failed"


class PurposeRequired(InputError):
    code = "purpose_required"


class AuthenticationError(GatewayError):
    code = "unauthenticated"
    status = 401


class IdentityRejected(AuthenticationError):
    """The OpenID Connect provider's answer did not prove who the person is (bad state, code,
    signature, issuer, audience, nonce, time or authentication level)."""

    code = "identity_rejected"


class IdentityProviderUnavailable(GatewayError):
    """The OpenID Connect provider could not be reached or gave no usable answer."""

    code = "identity_provider_unavailable"
    status = 503


class AccessDenied(GatewayError):
    code = "access_denied"
    status = 403


class TableNotPermitted(AccessDenied):
    code = "table_not_permitted"


class PurposeNotApproved(AccessDenied):
    code = "purpose_not_approved"


class AccountSuspended(AccessDenied):
    code = "account_suspended"


class AccessExpired(AccessDenied):
    code = "access_expired"


class AccountLocked(AccessDenied):
    code = "account_locked"


class AccountIdle(AccessDenied):
    """A person's tokens after the policy's idle interval (a web sign-in starts them again)."""

    code = "account_idle"


class NetworkNotPermitted(AccessDenied):
    code = "network_not_permitted"


class WrongRole(AccessDenied):
    code = "wrong_role"


class SeparationOfDuties(AccessDenied):
    code = "separation_of_duties"


class SelfApproval(SeparationOfDuties):
    code = "self_approval"


class PreconditionMissing(AccessDenied):
    code = "precondition_missing"


class VettingExpired(PreconditionMissing):
    code = "vetting_expired"


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class Conflict(GatewayError):
    code = "conflict"
    status = 409


class StepOutOfOrder(Conflict):
    code = "step_out_of_order"


class TooLarge(GatewayError):
    code = "too_large"
    status = 413


class TooManyRows(TooLarge):
    code = "too_many_rows"


class TooManyCells(TooLarge):
    code = "too_many_cells"


class RateLimited(GatewayError):
    code = "rate_limited"
    status = 429


class QueryCancelled(GatewayError):
    code = "cancelled"
    status = 409


class QueryLimitExceeded(GatewayError):
    code = "limit_exceeded"
    status = 422


class QueryTimeout(QueryLimitExceeded):
    code = "timeout"


class ResourceLimit(QueryLimitExceeded):
    code = "resource_limit"


class EngineUnavailable(GatewayError):
    code = "engine_unavailable"
    status = 503


class EngineBusy(EngineUnavailable):
    """Every engine worker is taken; ``retry_after`` seconds is a fair wait."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuditUnavailable(GatewayError):
    code = "audit_unavailable"
    status = 503


class ExportExpired(NotFound):
    """An export whose file was deleted at the end of the ``[exports]`` retention period."""

    code = "export_expired"


class ExportRequired(AccessDenied):
    """A record-level query result larger than ``[exports] query_record_max_rows`` /
    ``query_record_max_bytes``: it may leave only as an export, held for the analyst's
    designated senior analyst (policy 198 appendix 2)."""

    code = "export_required"


class ReleaseHeld(AccessDenied):
    """A product that awaits its senior analyst's quality assurance, or was returned by it."""

    code = "release_held"


class DisclosureBudgetExhausted(AccessDenied):
    """A disclosure-controlled release that would give the analyst one more set of records
    overlapping too many different sets already released to them within the policy's period
    (:mod:`gateway.disclosure.ledger`): averaging their independent noise would recover the
    counts the noise protects."""

    code = "disclosure_budget_exhausted"


class BreakGlassRefused(AccessDenied):
    """Break-glass host mode (bootstrap and recovery on the gateway's host) asked to do what
    only an authenticated person may: approve, endorse, review, authorise, publish, decide a
    release — or anything else outside bootstrap and recovery."""

    code = "break_glass_refused"


class CommentRequired(InputError):
    """An authorisation or QA decision given without the comment that records why."""

    code = "comment_required"


class MarkingLowered(InputError):
    """A protective marking below the policy's for the data, or none at all: markings may be
    raised, never lowered or removed."""

    code = "marking_lowered"


class MarkingRequired(InputError):
    """A file asked for without its protective marking inside (an unmarked CSV) where the
    policy does not allow it."""

    code = "marking_required"


class MarkingUnknown(InputError):
    """A protective marking that is not on the policy's scale."""

    code = "marking_unknown"
