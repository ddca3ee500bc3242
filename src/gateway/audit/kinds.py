"""Every kind of audit record, in one enumeration.

A record's ``kind`` is ``family.verb``. The values are the strings stored (and hashed) in the
log, so they never change; a new kind is a new member here. Code names kinds only through
:class:`EventKind`; only read paths meet plain strings (records written by any version).

    query.*       one query: started (write-ahead), completed, denied
    export.*      one export: registered, approved, rejected, downloaded; retention runs: pruned
    product.*     one product: registered (with its QA sampling), QA passed or returned,
                  downloaded; retention runs: manifests disposed of
    audit.*       the log itself: an operator's acknowledgement of integrity problems; a
                  disposal of records past the retention schedule; an audit carried out
                  under the audit plan (:data:`DUTY_KINDS`)
    incident.*    the security-incident and data-loss register: reported, closed
    access.*, token.*, policy.*, user.*, grant.*
                  access management (:data:`GOVERNANCE_FAMILIES`): requests and their steps,
                  suspensions, reviews, refused sign-ins, tokens, the policy loaded, the register

Example:
    >>> EventKind.QUERY_DENIED == "query.denied", EventKind("token.issued").family
    (True, 'token')
    >>> sorted(k.value for k in QUERY_KINDS)
    ['query.completed', 'query.denied', 'query.started']
    >>> EventKind.ACCESS_DENIED in GOVERNANCE_KINDS, EventKind.EXPORT_PRUNED in GOVERNANCE_KINDS
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DUTY_KINDS",
    "EXPORT_DECISIONS",
    "EXPORT_KINDS",
    "GOVERNANCE_FAMILIES",
    "GOVERNANCE_KINDS",
    "PRODUCT_DECISIONS",
    "PRODUCT_KINDS",
    "QUERY_KINDS",
    "EventKind",
]


class EventKind(StrEnum):
    """What an audit record says happened (its value is the stored ``kind``)."""

    # --- queries ----------------------------------------------------------------------------
    QUERY_STARTED = "query.started"
    QUERY_COMPLETED = "query.completed"
    QUERY_DENIED = "query.denied"
    # --- exports ----------------------------------------------------------------------------
    EXPORT_REGISTERED = "export.registered"
    EXPORT_APPROVED = "export.approved"
    EXPORT_REJECTED = "export.rejected"
    EXPORT_DOWNLOADED = "export.downloaded"
    EXPORT_PRUNED = "export.pruned"
    # --- products (policy 198 3.2: QA by the designated senior analyst) ----------------------
    PRODUCT_REGISTERED = "product.registered"
    PRODUCT_QA_PASSED = "product.qa_passed"
    PRODUCT_QA_RETURNED = "product.qa_returned"
    PRODUCT_DOWNLOADED = "product.downloaded"
    PRODUCT_MANIFESTS_DISPOSED = "product.manifests_disposed"  # past manifest_retention_days
    # --- the log itself ---------------------------------------------------------------------
    AUDIT_ACKNOWLEDGED = "audit.acknowledged"
    AUDIT_DISPOSED = "audit.disposed"  # records past the retention schedule deleted
    # --- audit duties (policy 198): audits done under the plan, the incident register -------
    AUDIT_PERFORMED = "audit.performed"
    INCIDENT_REPORTED = "incident.reported"
    INCIDENT_CLOSED = "incident.closed"
    # --- the service, sign-in and review ----------------------------------------------------
    POLICY_LOADED = "policy.loaded"
    POLICY_PROJECTIONS_READY = "policy.projections_ready"
    POLICY_WAREHOUSE_REFRESHED = "policy.warehouse_refreshed"  # derived files rebuilt, switched
    ACCESS_AUTHENTICATION_FAILED = "access.authentication_failed"
    ACCESS_DENIED = "access.denied"
    ACCESS_AUDIT_REVIEWED = "access.audit_reviewed"
    ACCESS_REQUEST_REFUSED = "access.request_refused"  # a request refused for its input
    # --- web sign-in (policy [login]) -------------------------------------------------------
    ACCESS_SIGNED_IN = "access.signed_in"  # password right and SyOPs accepted
    ACCESS_IDENTITY_VERIFIED = "access.identity_verified"  # by the OpenID Connect provider
    ACCESS_SIGNED_OUT = "access.signed_out"  # by the person, or idle / session too old
    ACCESS_ACCOUNT_LOCKED = "access.account_locked"  # too many failed attempts
    ACCESS_ACCOUNT_UNLOCKED = "access.account_unlocked"  # by an administrator, or its interval
    ACCESS_PASSWORD_SET = "access.password_set"  # noqa: S105 (by an administrator or the demo)
    ACCESS_PASSWORD_CHANGED = "access.password_changed"  # noqa: S105 (by its owner: the alert)
    # --- tokens -----------------------------------------------------------------------------
    TOKEN_ISSUED = "token.issued"  # noqa: S105 (a kind, not a secret)
    TOKEN_ISSUE_FAILED = "token.issue_failed"  # noqa: S105
    TOKEN_REVOKED = "token.revoked"  # noqa: S105
    # --- access requests and their approval steps -------------------------------------------
    ACCESS_REQUESTED = "access.requested"
    ACCESS_ENDORSED = "access.endorsed"
    ACCESS_REVIEWED = "access.reviewed"
    ACCESS_AUTHORISED = "access.authorised"
    ACCESS_REFUSED = "access.refused"
    ACCESS_WITHDRAWN = "access.withdrawn"
    # --- oversight --------------------------------------------------------------------------
    ACCESS_SUSPENDED = "access.suspended"
    ACCESS_REINSTATED = "access.reinstated"
    ACCESS_REVOKED = "access.revoked"
    ACCESS_REVIEW_OPENED = "access.review_opened"
    ACCESS_REVIEW_CONFIRMED = "access.review_confirmed"
    ACCESS_REVIEW_REMOVED = "access.review_removed"
    ACCESS_REVIEW_CLOSED = "access.review_closed"
    ACCESS_INACTIVITY_FLAGGED = "access.inactivity_flagged"
    # --- the register: organisations, agreements, people ------------------------------------
    ACCESS_SETTINGS_CHANGED = "access.settings_changed"
    ACCESS_ORGANISATION_ADDED = "access.organisation_added"
    ACCESS_NETWORK_ADDED = "access.network_added"
    ACCESS_NETWORK_REMOVED = "access.network_removed"
    ACCESS_MEMORANDUM_RECORDED = "access.memorandum_recorded"
    ACCESS_CODE_OF_CONNECTION_DECLARED = "access.code_of_connection_declared"
    USER_BOOTSTRAP_ADMIN = "user.bootstrap_admin"
    USER_ADDED = "user.added"
    USER_UPDATED = "user.updated"
    USER_VETTING_RECORDED = "user.vetting_recorded"
    USER_DECLARATION_SIGNED = "user.declaration_signed"
    USER_TRAINING_RECORDED = "user.training_recorded"
    # --- partner organisations as a whole, and the scheduled lifecycle run ------------------
    ACCESS_SHARING_AGREEMENT_RECORDED = "access.sharing_agreement_recorded"
    ACCESS_ORGANISATION_SPONSORED = "access.organisation_sponsored"
    ACCESS_ORGANISATION_AUTHORISED = "access.organisation_authorised"
    ACCESS_ORGANISATION_SUSPENDED = "access.organisation_suspended"
    ACCESS_ORGANISATION_REINSTATED = "access.organisation_reinstated"
    ACCESS_ORGANISATION_TERMINATED = "access.organisation_terminated"
    ACCESS_CODE_OF_CONNECTION_DUE = "access.code_of_connection_due"
    ACCESS_LIFECYCLE_RUN = "access.lifecycle_run"
    ACCESS_HISTORY_DISPOSED = "access.history_disposed"  # the register's past [retention]

    @property
    def family(self) -> str:
        """The part before the dot (``query``, ``export``, ``access`` …)."""
        return self.value.split(".", 1)[0]


#: Families of access-management kinds, e.g. ``access.endorsed``, ``token.revoked``.
GOVERNANCE_FAMILIES = ("access", "token", "policy", "user", "grant")
#: The access-management kinds (what :class:`~gateway.audit.facts.AccessEvent` records).
GOVERNANCE_KINDS = frozenset(k for k in EventKind if k.family in GOVERNANCE_FAMILIES)
#: The records of one query (see :mod:`gateway.audit.views`).
QUERY_KINDS = (EventKind.QUERY_STARTED, EventKind.QUERY_COMPLETED, EventKind.QUERY_DENIED)
#: A senior analyst's decision on a held export, and the approval state it leads to.
EXPORT_DECISIONS: dict[str, str] = {
    EventKind.EXPORT_APPROVED: "approved",
    EventKind.EXPORT_REJECTED: "rejected",
}
#: The records of one export, and of retention runs.
EXPORT_KINDS = (
    EventKind.EXPORT_REGISTERED,
    EventKind.EXPORT_APPROVED,
    EventKind.EXPORT_REJECTED,
    EventKind.EXPORT_DOWNLOADED,
    EventKind.EXPORT_PRUNED,
)
#: A senior analyst's QA decision on a held product, and the QA state it leads to.
PRODUCT_DECISIONS: dict[str, str] = {
    EventKind.PRODUCT_QA_PASSED: "passed",
    EventKind.PRODUCT_QA_RETURNED: "returned",
}
#: The records of one product.
PRODUCT_KINDS = (
    EventKind.PRODUCT_REGISTERED,
    EventKind.PRODUCT_QA_PASSED,
    EventKind.PRODUCT_QA_RETURNED,
    EventKind.PRODUCT_DOWNLOADED,
)
#: The audit duties' records: audits carried out under the plan, incidents reported.
DUTY_KINDS = (EventKind.AUDIT_PERFORMED, EventKind.INCIDENT_REPORTED, EventKind.INCIDENT_CLOSED)
