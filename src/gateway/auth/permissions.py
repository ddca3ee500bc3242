"""The one permission point: named actions and ``require(actor, action, resource)``.

Every allow/deny decision beyond querying is made here — reviewing the audit trail,
administration, seeing, downloading and deciding on exports, and each step of access
governance — and raises the error the caller has always raised (same HTTP status and code):

    Action                          who may                                        refused with
    audit.review                    the policy's ``[schemas.audit] roles`` (the    AccessDenied
                                    whole force: events, reports, verify, SQL)
    audit.review_organisation       those roles; a local auditor (``[audit]        AccessDenied
                                    local_auditor_roles``) for their own
                                    organisation only (:meth:`Permissions.
                                    audit_scope`)
    audit.record                    the plan duty's ``by`` role                    WrongRole
    audit.report_incident           anyone signed in (everyone must report)        AccessDenied
    audit.close_incident            the audit roles, the information security      WrongRole,
                                    officer; never the incident's reporter         SelfApproval
    admin.administer                ``admin``                                      AccessDenied
    admin.publish                   ``admin`` (the police.uk extract)              WrongRole
    export.see                      its owner; its authorisers; the ``[exports]    NotFound
                                    approver_role``
    export.download                 the owner once released (not pending, not      NotFound,
                                    rejected); its authorisers at any time; other  AccessDenied
                                    approvers once released
    export.decide                   an authoriser holding the approver role (the   WrongRole,
                                    owner's designated senior analyst or a         SelfApproval,
                                    deputy), never the owner, while pending        StepOutOfOrder
    product.see                     its owner; its authorisers; approvers          NotFound
    product.download                the owner once released (not sampled for QA,   NotFound,
                                    or passed); its authorisers at any time;       ReleaseHeld
                                    other approvers once released
    product.qa                      an authoriser holding the approver role,       WrongRole,
                                    never the owner, while awaiting QA             SelfApproval,
                                                                                   StepOutOfOrder
    access.take_step                the step's role; the applicant's own line      WrongRole
                                    manager; a superintendent policing one of the
                                    applicant organisation's areas
    access.* / register.*           the governance roles of :data:`RULES`          WrongRole,
                                    (some for their own organisation only,         SelfApproval
                                    never on themselves)
    host.*                          break-glass host mode only (a                  WrongRole,
                                    :class:`~gateway.auth.breakglass.HostOperator`): AccessDenied
                                    bootstrap, a first or replacement
                                    administrator, unlocking or issuing a token
                                    for an administrator-only account, revoking a
                                    token, maintenance; plus changing settings

Break-glass host mode (the ``break_glass`` role, held only by a
:class:`~gateway.auth.breakglass.HostOperator`, never by a person in the register) may take the
actions of :data:`BREAK_GLASS_ACTIONS` and nothing else: any other action — above all an
approval step, a release decision, QA or publication — is refused with
:class:`~gateway.errors.BreakGlassRefused` before any rule is read.

An actor is anyone with a ``username``, ``organisation`` and ``roles`` (a
:class:`~gateway.principal.Principal`, a governance ``Person``). Resources are an export record
(:class:`ExportResource`), a product record (:class:`ProductResource`) or the person or
organisation acted on (:class:`Subject`). A held export or product is authorised only by the
owner's designated senior analyst or a deputy (policy 198 appendix 2 and 3.2), recorded with it
as its ``authorisers``.
Deny is the default: an action with no rule is refused.

Example:
    >>> from gateway.principal import Principal
    >>> senior = Principal("s.patel", "Cleveland Police", "general",
    ...                    roles=frozenset({"senior_analyst"}))
    >>> analyst = Principal("a.khan", "MBC", "general", roles=frozenset({"analyst"}))
    >>> rules = Permissions()
    >>> rules.allows(senior, Action.REVIEW_AUDIT), rules.allows(analyst, Action.REVIEW_AUDIT)
    (True, False)
    >>> require(analyst, Action.ADMINISTER)
    Traceback (most recent call last):
    ...
    gateway.errors.AccessDenied: this needs the admin role
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from gateway.errors import (
    AccessDenied,
    BreakGlassRefused,
    GatewayError,
    NotFound,
    ReleaseHeld,
    SelfApproval,
    StepOutOfOrder,
    WrongRole,
)
from gateway.policy import Policy
from gateway.policy.audit_duties import DEFAULT_LOCAL_AUDITOR_ROLES

__all__ = [
    "ADMIN_ROLE",
    "AUDIT_REVIEW_ROLES",
    "BREAK_GLASS_ACTIONS",
    "BREAK_GLASS_ROLE",
    "DEFAULT_APPROVER_ROLE",
    "OVERSIGHT_ROLES",
    "RULES",
    "Action",
    "Actor",
    "ApprovalStep",
    "ExportResource",
    "Permissions",
    "ProductResource",
    "Rule",
    "Subject",
    "allows",
    "require",
]

ADMIN_ROLE = "admin"
#: The role of break-glass host mode (:class:`~gateway.auth.breakglass.HostOperator`); no person
#: in the register can hold it (it is not one of ``gateway.governance.model.ROLES``).
BREAK_GLASS_ROLE = "break_glass"
#: Who reviews the audit trail when the policy does not say (no ``[schemas.audit]``).
AUDIT_REVIEW_ROLES = frozenset({"senior_analyst", "auditor"})
#: Who approves held exports when ``[exports] approver_role`` does not say.
DEFAULT_APPROVER_ROLE = "senior_analyst"
#: Who oversees access (suspends, reinstates, revokes, sees everyone's status).
OVERSIGHT_ROLES = frozenset({"admin", "information_security_officer", "head_of_intelligence"})
#: The roles of the access-request approval chain (they may see the requests they act on).
ACCESS_APPROVER_ROLES = frozenset(
    {
        "line_manager",
        "superintendent",
        "analysis_manager",
        "information_security_officer",
        "head_of_intelligence",
    }
)
_PENDING, _REJECTED, _RETURNED = "pending", "rejected", "returned"


class Action(StrEnum):
    """What an actor asks to do."""

    # --- the audit trail and administration -------------------------------------------------
    REVIEW_AUDIT = "audit.review"
    REVIEW_ORGANISATION_AUDIT = "audit.review_organisation"
    RECORD_AUDIT = "audit.record"
    REPORT_INCIDENT = "audit.report_incident"
    CLOSE_INCIDENT = "audit.close_incident"
    ADMINISTER = "admin.administer"
    PUBLISH = "admin.publish"
    # --- exports ----------------------------------------------------------------------------
    SEE_EXPORT = "export.see"
    DOWNLOAD_EXPORT = "export.download"
    DECIDE_EXPORT = "export.decide"
    # --- products ---------------------------------------------------------------------------
    SEE_PRODUCT = "product.see"
    DOWNLOAD_PRODUCT = "product.download"
    QA_PRODUCT = "product.qa"
    # --- access requests --------------------------------------------------------------------
    SUBMIT_REQUEST = "access.submit"
    WITHDRAW_REQUEST = "access.withdraw"
    TAKE_APPROVAL_STEP = "access.take_step"
    SEE_REQUEST = "access.see_request"
    SEE_STATUS = "access.see_status"
    # --- oversight --------------------------------------------------------------------------
    SUSPEND = "access.suspend"
    REINSTATE = "access.reinstate"
    REVOKE = "access.revoke"
    OPEN_ACCESS_REVIEW = "access.open_review"
    SEE_ACCESS_REVIEWS = "access.see_reviews"
    DECIDE_REVIEW_ENTRY = "access.decide_review_entry"
    RUN_REVIEW_CYCLE = "access.review_cycle"
    # --- the register -----------------------------------------------------------------------
    CHANGE_SETTINGS = "register.settings"
    REGISTER_ORGANISATION = "register.organisation"
    ADD_NETWORK = "register.add_network"
    REMOVE_NETWORK = "register.remove_network"
    REGISTER_USER = "register.user"
    CHANGE_USER = "register.change_user"
    RECORD_VETTING = "register.vetting"
    RECORD_TRAINING = "register.training"
    RECORD_DECLARATION = "register.declaration"
    RECORD_MEMORANDUM = "register.memorandum"
    DECLARE_CODE_OF_CONNECTION = "register.code_of_connection"
    SEE_REGISTER = "register.see"
    # --- partner organisations: agreements, sponsorship, authorisation, stops ---------------
    RECORD_SHARING_AGREEMENT = "register.sharing_agreement"
    SPONSOR_ORGANISATION = "register.sponsor_organisation"
    AUTHORISE_ORGANISATION = "register.authorise_organisation"
    SUSPEND_ORGANISATION = "access.suspend_organisation"
    REINSTATE_ORGANISATION = "access.reinstate_organisation"
    TERMINATE_ORGANISATION = "access.terminate_organisation"
    # --- break-glass on the gateway's host (bootstrap and recovery) -------------------------
    HOST_BOOTSTRAP = "host.bootstrap"
    HOST_ADD_ADMINISTRATOR = "host.add_administrator"
    HOST_UNLOCK = "host.unlock"
    HOST_ISSUE_TOKEN = "host.issue_token"  # noqa: S105 (an action, not a secret)
    HOST_REVOKE_TOKEN = "host.revoke_token"  # noqa: S105
    HOST_MAINTENANCE = "host.maintenance"


#: Everything break-glass host mode may do: bootstrap and recovery. Nothing else — no approval,
#: endorsement, review, authorisation, publication or release decision in anyone's name.
BREAK_GLASS_ACTIONS = frozenset(
    {
        Action.HOST_BOOTSTRAP,
        Action.HOST_ADD_ADMINISTRATOR,
        Action.HOST_UNLOCK,
        Action.HOST_ISSUE_TOKEN,
        Action.HOST_REVOKE_TOKEN,
        Action.HOST_MAINTENANCE,
        Action.CHANGE_SETTINGS,
    }
)


class Actor(Protocol):
    """Who acts: a principal, or a person in the governance register."""

    @property
    def username(self) -> str: ...

    @property
    def organisation(self) -> str: ...

    @property
    def roles(self) -> frozenset[str]: ...

    @property
    def areas(self) -> tuple[str, ...]: ...


class ExportResource(Protocol):
    """A registered export as the permission point needs it (an ``ExportRecord``)."""

    @property
    def export_id(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def approval(self) -> str: ...

    @property
    def decided_by(self) -> str | None: ...

    @property
    def authorisers(self) -> tuple[str, ...]:
        """Who may authorise it while held: the owner's designated senior analyst, then
        their deputies."""
        ...


class ProductResource(Protocol):
    """A registered product as the permission point needs it (a ``ProductRecord``)."""

    @property
    def product_id(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def qa(self) -> str:
        """``not_sampled``, ``pending``, ``passed`` or ``returned``."""
        ...

    @property
    def decided_by(self) -> str | None: ...

    @property
    def authorisers(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Subject:
    """Whom or what a governance action concerns.

    Attributes:
        username: the person acted on (``""``: none, e.g. an organisation's affairs).
        organisation: their organisation, or the organisation acted on.
        related: people with a standing in the matter (the line manager; a request's
            participants) who may see it.
        name: what to call it in a refusal (a request id); the username when empty.
    """

    username: str = ""
    organisation: str = ""
    related: frozenset[str] = frozenset()
    name: str = ""


@dataclass(frozen=True)
class ApprovalStep:
    """The next step of an access request's approval chain, as the permission point needs it.

    Attributes:
        title: the step in words (``endorsement by the line manager``).
        role: the role that takes it.
        applicant: who applied.
        line_manager: the applicant's recorded line manager (None: none recorded).
        organisation: the applicant's organisation's name.
        areas: the local authority codes that organisation covers.
    """

    title: str
    role: str
    applicant: str
    line_manager: str | None
    organisation: str
    areas: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """Who may take a governance or administrative action.

    Attributes:
        what: the action in words, for refusals (``registering a user``).
        roles: any of these roles allows it.
        organisation_roles: these roles allow it for the actor's own organisation only.
        subject_may: the subject may act on themselves (declarations, their own status).
        related_may: anyone in :attr:`Subject.related` may.
        not_on_self: never on oneself (``SelfApproval: 'x' cannot VERB for themselves``).
        refusal: the message when refused (``{actor}``, ``{subject}``, ``{organisation}``);
            default ``WHAT needs one of the roles …``.
        error: the error raised when refused.
    """

    what: str
    roles: frozenset[str] = frozenset()
    organisation_roles: frozenset[str] = frozenset()
    subject_may: bool = False
    related_may: bool = False
    not_on_self: str = ""
    refusal: str = ""
    error: type[AccessDenied] = WrongRole


def _rule(what: str, *roles: str, **more: object) -> Rule:
    return Rule(what, frozenset(roles), **more)  # type: ignore[arg-type]


_ADMIN_OR_ISO = ("admin", "information_security_officer")
#: Partner organisations as a whole: their ISA (recorded by an administrator, who holds the
#: copy), a CSP's sponsorship (by that CSP's SPOC), the system owner's authorisation, and
#: suspension (reversible) or termination (final) of every account of the organisation.
_PARTNERSHIP_RULES: dict[Action, Rule] = {
    Action.RECORD_SHARING_AGREEMENT: _rule(
        "recording an information sharing agreement", ADMIN_ROLE
    ),
    Action.SPONSOR_ORGANISATION: _rule(
        "sponsoring an organisation", organisation_roles=frozenset({"spoc"})
    ),
    Action.AUTHORISE_ORGANISATION: _rule(
        "the system owner's authorisation of an organisation", "system_owner"
    ),
    Action.SUSPEND_ORGANISATION: _rule(
        "suspending an organisation", *OVERSIGHT_ROLES, "system_owner"
    ),
    Action.REINSTATE_ORGANISATION: _rule(
        "reinstating an organisation", *OVERSIGHT_ROLES, "system_owner"
    ),
    Action.TERMINATE_ORGANISATION: _rule(
        "terminating an organisation", "system_owner", "head_of_intelligence"
    ),
}
#: The rules of the governance and administrative actions (exports and audit review take
#: their roles from the policy: see :class:`Permissions`).
RULES: dict[Action, Rule] = {
    Action.ADMINISTER: _rule(
        "administration", ADMIN_ROLE, refusal="this needs the admin role", error=AccessDenied
    ),
    Action.PUBLISH: _rule(
        "publishing the police.uk extract",
        ADMIN_ROLE,
        refusal="publishing the police.uk extract needs the admin role",
    ),
    Action.SUBMIT_REQUEST: _rule(
        "submitting an access request",
        ADMIN_ROLE,
        subject_may=True,
        refusal="only the applicant (or an admin on their behalf) may submit",
    ),
    Action.WITHDRAW_REQUEST: _rule(
        "withdrawing a request",
        subject_may=True,
        refusal="only the applicant may withdraw request {subject}",
    ),
    Action.SEE_REQUEST: _rule(
        "seeing an access request",
        ADMIN_ROLE,
        *ACCESS_APPROVER_ROLES,
        subject_may=True,
        related_may=True,
        refusal="{actor!r} may not see request {subject}",
    ),
    Action.SEE_STATUS: _rule(
        "seeing an access status",
        *OVERSIGHT_ROLES,
        organisation_roles=frozenset({"spoc"}),
        subject_may=True,
        related_may=True,
        refusal="{actor!r} may not see {subject!r}'s access status",
    ),
    Action.SUSPEND: _rule(
        "suspension",
        *OVERSIGHT_ROLES,
        organisation_roles=frozenset({"spoc"}),
        related_may=True,
        not_on_self="suspend",
        refusal="suspension needs admin, information security officer, head of "
        "intelligence, the user's organisation SPOC or their local supervisor",
    ),
    Action.REINSTATE: _rule("reinstatement", *OVERSIGHT_ROLES, not_on_self="reinstate access"),
    Action.REVOKE: _rule("revocation", *OVERSIGHT_ROLES, not_on_self="revoke access"),
    Action.OPEN_ACCESS_REVIEW: _rule("opening an access review", ADMIN_ROLE),
    Action.SEE_ACCESS_REVIEWS: _rule(
        "seeing access reviews", ADMIN_ROLE, organisation_roles=frozenset({"spoc"})
    ),
    Action.DECIDE_REVIEW_ENTRY: _rule(
        "access review decisions",
        *OVERSIGHT_ROLES,
        organisation_roles=frozenset({"spoc"}),
        not_on_self="confirm access",
    ),
    Action.RUN_REVIEW_CYCLE: _rule("the review cycle", ADMIN_ROLE),
    Action.REGISTER_ORGANISATION: _rule("registering an organisation", ADMIN_ROLE),
    Action.ADD_NETWORK: _rule("registering a network range", ADMIN_ROLE),
    Action.REMOVE_NETWORK: _rule("removing a network range", ADMIN_ROLE),
    Action.REGISTER_USER: _rule("registering a user", ADMIN_ROLE),
    Action.CHANGE_USER: _rule(
        "changing a user's record", ADMIN_ROLE, not_on_self="change the record"
    ),
    Action.RECORD_VETTING: _rule("recording vetting", *_ADMIN_OR_ISO, not_on_self="record vetting"),
    Action.RECORD_TRAINING: _rule(
        "recording training", *_ADMIN_OR_ISO, not_on_self="record training"
    ),
    Action.RECORD_DECLARATION: _rule(
        "recording another user's declaration", ADMIN_ROLE, subject_may=True
    ),
    Action.RECORD_MEMORANDUM: _rule("recording a memorandum of understanding", ADMIN_ROLE),
    Action.DECLARE_CODE_OF_CONNECTION: _rule(
        "the code-of-connection declaration", organisation_roles=frozenset({"spoc"})
    ),
    Action.SEE_REGISTER: _rule("seeing the register", *OVERSIGHT_ROLES),
    Action.CHANGE_SETTINGS: _rule("changing governance settings", ADMIN_ROLE, BREAK_GLASS_ROLE),
    Action.HOST_BOOTSTRAP: _rule("bootstrapping the register", BREAK_GLASS_ROLE),
    Action.HOST_ADD_ADMINISTRATOR: _rule("adding an administrator on the host", BREAK_GLASS_ROLE),
    Action.HOST_REVOKE_TOKEN: _rule("revoking a token on the host", BREAK_GLASS_ROLE),
    Action.HOST_MAINTENANCE: _rule("maintenance on the host", BREAK_GLASS_ROLE),
    **_PARTNERSHIP_RULES,
}


def _refuse(rule: Rule, actor: Actor, subject: Subject) -> GatewayError:
    if rule.refusal:
        message = rule.refusal.format(
            actor=actor.username,
            subject=subject.name or subject.username,
            organisation=subject.organisation,
        )
    elif actor.roles & rule.organisation_roles:  # the right role, the wrong organisation
        role = sorted(actor.roles & rule.organisation_roles)[0]
        message = f"{actor.username!r} is not the {role.upper()} of {subject.organisation}"
    else:
        needed = ", ".join(sorted(rule.roles | rule.organisation_roles))
        message = f"{rule.what} needs one of the roles {needed}"
    return rule.error(message)


def _check_rule(rule: Rule, actor: Actor, subject: Subject) -> None:
    allowed = (
        bool(actor.roles & rule.roles)
        or bool(
            actor.roles & rule.organisation_roles and actor.organisation == subject.organisation
        )
        or (rule.subject_may and bool(subject.username) and actor.username == subject.username)
        or (rule.related_may and actor.username in subject.related)
    )
    if not allowed:
        raise _refuse(rule, actor, subject)
    if rule.not_on_self and subject.username == actor.username:
        raise SelfApproval(f"{actor.username!r} cannot {rule.not_on_self} for themselves")


@dataclass(frozen=True)
class Permissions:
    """The decisions, with the roles the policy names.

    Attributes:
        approver_role: who approves held exports (``[exports] approver_role``).
        audit_roles: who reviews the audit trail (``[schemas.audit] roles``).
        local_audit_roles: who reviews their own organisation's records only (``[audit]
            local_auditor_roles``).
        rules: the governance and administrative rules (:data:`RULES`).
    """

    approver_role: str = DEFAULT_APPROVER_ROLE
    audit_roles: frozenset[str] = AUDIT_REVIEW_ROLES
    local_audit_roles: frozenset[str] = DEFAULT_LOCAL_AUDITOR_ROLES
    rules: dict[Action, Rule] = field(default_factory=lambda: RULES)

    @classmethod
    def of(cls, policy: Policy) -> Permissions:
        """The permissions under ``policy``: export approvers from ``[exports]``, audit
        reviewers from ``[schemas.audit]``."""
        access = policy.schemas.get("audit")
        audit_roles = access.roles if access is not None else AUDIT_REVIEW_ROLES
        return cls(policy.exports.approver_role, audit_roles, policy.audit.local_auditor_roles)

    def audit_scope(self, actor: Actor) -> str | None:
        """Whose records ``actor`` may review: None for the whole force (the audit roles),
        else their own organisation (a local auditor).

        Raises:
            AccessDenied: neither an auditor of the force nor a local auditor.
        """
        if actor.roles & self.audit_roles:
            return None
        self.require(
            actor, Action.REVIEW_ORGANISATION_AUDIT, Subject(organisation=actor.organisation)
        )
        return actor.organisation

    def require(self, actor: Actor, action: Action, resource: object = None) -> None:
        """Refuse unless ``actor`` may take ``action`` on ``resource``.

        Raises:
            AccessDenied, WrongRole, NotFound, SelfApproval, StepOutOfOrder: refused (which,
            for each action, in the module's table).
        """
        if BREAK_GLASS_ROLE in actor.roles and action not in BREAK_GLASS_ACTIONS:
            raise _break_glass_refusal(actor, action, self.rules.get(action))
        check = _STATEFUL.get(action)
        if check is not None:
            check(self, actor, resource)
            return
        rule = self.rules.get(action)
        if rule is None:
            raise AccessDenied(f"no one may {action.value}")
        subject = resource if isinstance(resource, Subject) else Subject()
        _check_rule(rule, actor, subject)

    def _host_account(self, actor: Actor, account: object) -> None:
        """Break-glass only, and only for an administrator-only account: a token issued or an
        account unlocked on the host can never act as an approver, senior analyst or SPOC."""
        _check_rule(
            Rule("break-glass on the host", frozenset({BREAK_GLASS_ROLE})), actor, Subject()
        )
        roles = getattr(account, "roles", None)
        name = getattr(account, "username", "?")
        if not isinstance(roles, frozenset):
            raise TypeError(f"a host account action needs a person or principal, not {account!r}")
        if roles != frozenset({ADMIN_ROLE}):
            held = ", ".join(sorted(roles)) or "no roles"
            raise BreakGlassRefused(
                f"break-glass host mode acts only for administrator-only accounts; {name!r} "
                f"holds {held}: an administrator does this through the server "
                "(`gateway login --server URL`, then `gateway tokens issue` / "
                "`gateway access reinstate`)"
            )

    def allows(self, actor: Actor, action: Action, resource: object = None) -> bool:
        """Whether :meth:`require` would let ``actor`` take ``action`` on ``resource``."""
        try:
            self.require(actor, action, resource)
        except (AccessDenied, NotFound, SelfApproval, StepOutOfOrder):
            return False
        return True

    # --- decisions that read the policy or the resource's state -----------------------------

    def _review_audit(self, actor: Actor, _: object) -> None:
        if not actor.roles & self.audit_roles:
            needed = " or ".join(sorted(self.audit_roles))
            raise AccessDenied(f"reviewing the audit trail needs the {needed} role")

    def _review_organisation_audit(self, actor: Actor, subject: object) -> None:
        organisation = subject.organisation if isinstance(subject, Subject) else ""
        if actor.roles & self.audit_roles:
            return
        if not actor.roles & self.local_audit_roles:
            needed = " or ".join(sorted(self.audit_roles | self.local_audit_roles))
            raise AccessDenied(f"reviewing the audit trail needs the {needed} role")
        if not organisation or organisation != actor.organisation:
            raise AccessDenied(
                f"{actor.username!r} is a local auditor of {actor.organisation} and may not "
                f"review {organisation or 'every organisation'}'s records"
            )

    def _record_audit(self, actor: Actor, duty: object) -> None:
        role = getattr(duty, "by", None)
        if not isinstance(role, str):
            raise TypeError(f"recording an audit needs a plan duty, not {duty!r}")
        if role not in actor.roles:
            raise WrongRole(
                f"the audit duty {getattr(duty, 'name', '')!r} is carried out by the {role} "
                f"role, which {actor.username!r} does not hold"
            )

    def _close_incident(self, actor: Actor, incident: object) -> None:
        reporter = getattr(incident, "reported_by", None)
        if not isinstance(reporter, str):
            raise TypeError(f"closing an incident needs an incident, not {incident!r}")
        allowed = self.audit_roles | {"information_security_officer"}
        if not actor.roles & allowed:
            needed = ", ".join(sorted(allowed))
            raise WrongRole(f"closing an incident needs one of the roles {needed}")
        if actor.username == reporter:
            raise SelfApproval(f"{actor.username!r} cannot close an incident they reported")

    def _report_incident(self, actor: Actor, _: object) -> None:
        if not actor.username:
            raise AccessDenied("reporting an incident needs a signed-in user")

    def _see_export(self, actor: Actor, export: object) -> None:
        record = _export(export)
        if (
            record.owner != actor.username
            and actor.username not in record.authorisers
            and self.approver_role not in actor.roles
        ):
            raise NotFound(f"no export {record.export_id!r}")

    def _download_export(self, actor: Actor, export: object) -> None:
        record = _export(export)
        held = record.approval in (_PENDING, _REJECTED)
        if actor.username == record.owner:  # never their own file before it is released
            if record.approval == _PENDING:
                raise AccessDenied(
                    f"export {record.export_id} holds record-level data and is awaiting "
                    f"authorisation by {_authorisers(record)}"
                )
            if record.approval == _REJECTED:
                raise AccessDenied(f"export {record.export_id} was rejected by {record.decided_by}")
            return
        if self.approver_role not in actor.roles:
            raise NotFound(f"no export {record.export_id}")
        if held and actor.username not in record.authorisers:
            raise AccessDenied(
                f"export {record.export_id} is not released; only {_authorisers(record)} "
                "may open it"
            )

    def _take_step(self, actor: Actor, resource: object) -> None:
        if not isinstance(resource, ApprovalStep):
            raise TypeError(f"an approval step action needs an ApprovalStep, not {resource!r}")
        step, who = resource, actor.username
        if step.role not in actor.roles:
            raise WrongRole(f"{step.title} needs the {step.role} role, which {who!r} does not hold")
        if step.role == "line_manager" and step.line_manager != who:
            raise WrongRole(
                f"{who!r} is not the line manager of {step.applicant!r} "
                f"(recorded line manager: {step.line_manager or 'none'})"
            )
        if step.role == "superintendent" and not set(actor.areas) & set(step.areas):
            raise WrongRole(
                f"superintendent {who!r} does not police any area of "
                f"{step.organisation} ({', '.join(step.areas) or 'no areas'})"
            )

    def _decide_export(self, actor: Actor, export: object) -> None:
        record = _export(export)
        self._check_authoriser(
            actor,
            record.owner,
            record.authorisers,
            f"export {record.export_id}",
            "approving or rejecting an export",
        )
        if record.approval != _PENDING:
            raise StepOutOfOrder(
                f"export {record.export_id} is {record.approval.replace('_', ' ')}, not pending"
            )

    def _see_product(self, actor: Actor, product: object) -> None:
        record = _product(product)
        if (
            record.owner != actor.username
            and actor.username not in record.authorisers
            and self.approver_role not in actor.roles
        ):
            raise NotFound(f"no product {record.product_id!r}")

    def _download_product(self, actor: Actor, product: object) -> None:
        record = _product(product)
        held = record.qa in (_PENDING, _RETURNED)
        if actor.username == record.owner:  # never their own product before it is released
            if record.qa == _PENDING:
                raise ReleaseHeld(
                    f"product {record.product_id} awaits quality assurance by "
                    f"{_names(record.owner, record.authorisers)}"
                )
            if record.qa == _RETURNED:
                raise ReleaseHeld(
                    f"product {record.product_id} was returned by {record.decided_by} after "
                    "quality assurance; it is not released"
                )
            return
        if self.approver_role not in actor.roles:
            raise NotFound(f"no product {record.product_id!r}")
        if held and actor.username not in record.authorisers:
            raise ReleaseHeld(
                f"product {record.product_id} is not released; only "
                f"{_names(record.owner, record.authorisers)} may open it"
            )

    def _qa_product(self, actor: Actor, product: object) -> None:
        record = _product(product)
        self._check_authoriser(
            actor,
            record.owner,
            record.authorisers,
            f"product {record.product_id}",
            "quality assurance of a product",
        )
        if record.qa != _PENDING:
            raise StepOutOfOrder(
                f"product {record.product_id} is {record.qa.replace('_', ' ')}, not awaiting QA"
            )

    def _check_authoriser(
        self, actor: Actor, owner: str, authorisers: tuple[str, ...], what: str, doing: str
    ) -> None:
        """The rule shared by export approval and product QA: the approver role, never the
        owner, and only the owner's designated senior analyst or a deputy."""
        if self.approver_role not in actor.roles:
            raise WrongRole(f"{doing} needs the {self.approver_role} role")
        if actor.username == owner:
            raise SelfApproval(f"{what} cannot be authorised by the analyst who made it")
        if actor.username not in authorisers:
            raise WrongRole(
                f"{actor.username!r} is not the designated senior analyst (or a deputy) of "
                f"{owner!r}: {what} awaits {_names(owner, authorisers)}"
            )


#: The decisions that read the policy's roles or the resource's state.
_STATEFUL: dict[Action, Callable[[Permissions, Actor, object], None]] = {
    Action.REVIEW_AUDIT: Permissions._review_audit,
    Action.REVIEW_ORGANISATION_AUDIT: Permissions._review_organisation_audit,
    Action.RECORD_AUDIT: Permissions._record_audit,
    Action.REPORT_INCIDENT: Permissions._report_incident,
    Action.CLOSE_INCIDENT: Permissions._close_incident,
    Action.SEE_EXPORT: Permissions._see_export,
    Action.DOWNLOAD_EXPORT: Permissions._download_export,
    Action.DECIDE_EXPORT: Permissions._decide_export,
    Action.SEE_PRODUCT: Permissions._see_product,
    Action.DOWNLOAD_PRODUCT: Permissions._download_product,
    Action.QA_PRODUCT: Permissions._qa_product,
    Action.TAKE_APPROVAL_STEP: Permissions._take_step,
    Action.HOST_ISSUE_TOKEN: Permissions._host_account,
    Action.HOST_UNLOCK: Permissions._host_account,
}


#: The stateful actions in words (the others' words are their rule's ``what``).
_DOING = {
    Action.REVIEW_AUDIT: "reviewing the audit trail",
    Action.SEE_EXPORT: "seeing an export",
    Action.DOWNLOAD_EXPORT: "downloading an export",
    Action.DECIDE_EXPORT: "approving or rejecting an export",
    Action.SEE_PRODUCT: "seeing a product",
    Action.DOWNLOAD_PRODUCT: "downloading a product",
    Action.QA_PRODUCT: "quality assurance of a product",
    Action.TAKE_APPROVAL_STEP: "an approval step (endorse, review, authorise or refuse)",
}


def _break_glass_refusal(actor: Actor, action: Action, rule: Rule | None) -> BreakGlassRefused:
    what = rule.what if rule is not None else _DOING.get(action, action.value)
    return BreakGlassRefused(
        f"break-glass host mode ({actor.username}) cannot take {what!r}: it is for bootstrap and "
        "recovery only. Approvals, endorsements, reviews, authorisations, publication and "
        "release decisions are taken by the person themselves, logged in "
        "(`gateway login --server URL` with their own token)"
    )


def _authorisers(record: ExportResource) -> str:
    """Who may authorise a held file, in words."""
    return _names(record.owner, record.authorisers)


def _names(owner: str, authorisers: tuple[str, ...]) -> str:
    """The designated senior analyst and deputies, in words."""
    if not authorisers:
        return (
            f"a designated senior analyst, and none is recorded for {owner!r} (an "
            "administrator records one: users.toml senior_analyst)"
        )
    designated, *deputies = authorisers
    return f"{designated!r}" + (
        f" or a deputy ({', '.join(repr(d) for d in deputies)})" if deputies else ""
    )


def _product(resource: object) -> ProductResource:
    for name in ("product_id", "owner", "qa", "decided_by", "authorisers"):
        if not hasattr(resource, name):
            raise TypeError(f"a product action needs a product record, not {resource!r}")
    return resource  # type: ignore[return-value]


def _export(resource: object) -> ExportResource:
    for name in ("export_id", "owner", "approval", "decided_by", "authorisers"):
        if not hasattr(resource, name):
            raise TypeError(f"an export action needs an export record, not {resource!r}")
    return resource  # type: ignore[return-value]


def allows(
    actor: Actor,
    action: Action,
    resource: object = None,
    *,
    permissions: Permissions | None = None,
) -> bool:
    """:meth:`Permissions.allows` under ``permissions`` (default roles when None)."""
    return (permissions or Permissions()).allows(actor, action, resource)


def require(
    actor: Actor,
    action: Action,
    resource: object = None,
    *,
    permissions: Permissions | None = None,
) -> None:
    """:meth:`Permissions.require` under ``permissions`` (default roles when None)."""
    (permissions or Permissions()).require(actor, action, resource)
