"""The permission point as a table: actor × action × resource → allowed, or the error raised.

Each row is one decision made today somewhere in routes, exports or governance, now made by
:mod:`gateway.auth.permissions`; the error classes carry the HTTP status the API answers with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import (
    ACCESS_APPROVER_ROLES,
    BREAK_GLASS_ACTIONS,
    RULES,
    Action,
    Actor,
    ApprovalStep,
    Permissions,
    Subject,
    allows,
    require,
)
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
from gateway.governance.workflow import STEPS
from gateway.policy.audit_duties import AuditPlanItem
from gateway.principal import Principal


def actor(username: str, organisation: str, *roles: str) -> Principal:
    return Principal(username, organisation, "general", roles=frozenset(roles))


ANALYST = actor("a.khan", "MBC", "analyst")
OTHER = actor("b.lee", "MBC", "analyst")
SENIOR = actor("s.patel", "CP", "senior_analyst")
DEPUTY = actor("m.hughes", "CP", "senior_analyst")
#: A senior analyst who is neither a.khan's designated senior analyst nor a deputy.
OTHER_SENIOR = actor("r.jones", "CP", "senior_analyst")
AUDITOR = actor("r.audit", "CP", "auditor")
ADMIN = actor("root", "CP", "admin")
ISO = actor("i.so", "CP", "information_security_officer")
HEAD = actor("h.int", "CP", "head_of_intelligence")
SPOC_MBC = actor("m.spoc", "MBC", "spoc")
SPOC_RCBC = actor("r.spoc", "RCBC", "spoc")
MANAGER = actor("l.man", "MBC", "line_manager")
SUPERINTENDENT = actor("s.int", "CP", "superintendent")
LOCAL_AUDITOR_MBC = actor("l.aud", "MBC", "local_auditor")
SENIOR_DUTY = AuditPlanItem("person-lookups", "person look-ups", 30, "senior_analyst")


@dataclass(frozen=True)
class ReportedIncident:
    incident_id: str
    reported_by: str


KHANS_INCIDENT = ReportedIncident("INC-1", "a.khan")
LOCAL_DUTY = AuditPlanItem("organisation-activity", "one organisation", 90, "local_auditor")
OWNER = actor("s.own", "CP", "system_owner")


@dataclass(frozen=True)
class Export:
    export_id: str
    owner: str
    approval: str
    decided_by: str | None = None
    authorisers: tuple[str, ...] = ("s.patel", "m.hughes")


def export(
    approval: str, owner: str = "a.khan", authorisers: tuple[str, ...] = ("s.patel", "m.hughes")
) -> Export:
    """An export of ``owner``'s, held for s.patel (designated) or m.hughes (deputy)."""
    return Export("q1", owner, approval, "s.patel" if approval == "rejected" else None, authorisers)


@dataclass(frozen=True)
class Product:
    product_id: str
    owner: str
    qa: str
    decided_by: str | None = None
    authorisers: tuple[str, ...] = ("s.patel", "m.hughes")


def product(qa: str, owner: str = "a.khan") -> Product:
    """A product of ``owner``'s, QA'd by s.patel (designated) or m.hughes (deputy)."""
    return Product("p1", owner, qa, "s.patel" if qa == "returned" else None)


KHAN = Subject("a.khan", "MBC")
KHAN_STATUS = Subject("a.khan", "MBC", related=frozenset({"l.man"}))
KHAN_REQUEST = Subject("a.khan", related=frozenset({"l.man", "s.int"}), name="AR-1")
ALLOW = None
POLICING_MBC = Principal(
    "p.sup", "CP", "general", areas=("E06000002",), roles=frozenset({"superintendent"})
)
ENDORSE_AS_MANAGER = ApprovalStep(
    "endorsement by the line manager", "line_manager", "a.khan", "l.man", "MBC", ("E06000002",)
)
ENDORSE_AS_SUPERINTENDENT = ApprovalStep(
    "endorsement by a superintendent", "superintendent", "a.khan", "l.man", "MBC", ("E06000002",)
)

#: The host operator in break-glass mode (bootstrap and recovery on the gateway's host).
HOST = HostOperator("ops", 1000, "INC-1: every administrator locked out")

TABLE: list[tuple[Actor, Action, object, type[GatewayError] | None]] = [
    # the audit trail (default roles: senior analysts and auditors) and administration
    (SENIOR, Action.REVIEW_AUDIT, None, ALLOW),
    (AUDITOR, Action.REVIEW_AUDIT, None, ALLOW),
    (ANALYST, Action.REVIEW_AUDIT, None, AccessDenied),
    (ADMIN, Action.REVIEW_AUDIT, None, AccessDenied),
    # --- organisation-scoped audit review: a local auditor sees their own organisation only
    (SENIOR, Action.REVIEW_ORGANISATION_AUDIT, Subject(organisation="MBC"), ALLOW),
    (LOCAL_AUDITOR_MBC, Action.REVIEW_ORGANISATION_AUDIT, Subject(organisation="MBC"), ALLOW),
    (
        LOCAL_AUDITOR_MBC,
        Action.REVIEW_ORGANISATION_AUDIT,
        Subject(organisation="RCBC"),
        AccessDenied,
    ),
    (LOCAL_AUDITOR_MBC, Action.REVIEW_ORGANISATION_AUDIT, Subject(), AccessDenied),
    (LOCAL_AUDITOR_MBC, Action.REVIEW_AUDIT, None, AccessDenied),
    (ANALYST, Action.REVIEW_ORGANISATION_AUDIT, Subject(organisation="MBC"), AccessDenied),
    # --- audits done are recorded by the plan duty's role; anyone reports an incident
    (SENIOR, Action.RECORD_AUDIT, SENIOR_DUTY, ALLOW),
    (LOCAL_AUDITOR_MBC, Action.RECORD_AUDIT, LOCAL_DUTY, ALLOW),
    (LOCAL_AUDITOR_MBC, Action.RECORD_AUDIT, SENIOR_DUTY, WrongRole),
    (ANALYST, Action.REPORT_INCIDENT, None, ALLOW),
    (SENIOR, Action.CLOSE_INCIDENT, KHANS_INCIDENT, ALLOW),
    (ISO, Action.CLOSE_INCIDENT, KHANS_INCIDENT, ALLOW),
    (ANALYST, Action.CLOSE_INCIDENT, KHANS_INCIDENT, WrongRole),
    (actor("a.khan", "MBC", "senior_analyst"), Action.CLOSE_INCIDENT, KHANS_INCIDENT, SelfApproval),
    (actor("", "MBC"), Action.REPORT_INCIDENT, None, AccessDenied),
    (ADMIN, Action.ADMINISTER, None, ALLOW),
    (SENIOR, Action.ADMINISTER, None, AccessDenied),
    (ADMIN, Action.PUBLISH, None, ALLOW),
    (ANALYST, Action.PUBLISH, None, WrongRole),
    # exports: see
    (ANALYST, Action.SEE_EXPORT, export("pending"), ALLOW),
    (SENIOR, Action.SEE_EXPORT, export("pending"), ALLOW),
    (OTHER, Action.SEE_EXPORT, export("not_required"), NotFound),
    # exports: download
    (ANALYST, Action.DOWNLOAD_EXPORT, export("not_required"), ALLOW),
    (ANALYST, Action.DOWNLOAD_EXPORT, export("approved"), ALLOW),
    (ANALYST, Action.DOWNLOAD_EXPORT, export("pending"), AccessDenied),
    (ANALYST, Action.DOWNLOAD_EXPORT, export("rejected"), AccessDenied),
    (OTHER, Action.DOWNLOAD_EXPORT, export("approved"), NotFound),
    (SENIOR, Action.DOWNLOAD_EXPORT, export("pending"), ALLOW),
    (DEPUTY, Action.DOWNLOAD_EXPORT, export("pending"), ALLOW),
    (OTHER_SENIOR, Action.DOWNLOAD_EXPORT, export("pending"), AccessDenied),
    (OTHER_SENIOR, Action.DOWNLOAD_EXPORT, export("rejected"), AccessDenied),
    (OTHER_SENIOR, Action.DOWNLOAD_EXPORT, export("approved"), ALLOW),
    (SENIOR, Action.DOWNLOAD_EXPORT, export("pending", owner="s.patel"), AccessDenied),
    (OTHER_SENIOR, Action.SEE_EXPORT, export("pending"), ALLOW),
    # exports: approve or reject (only the owner's designated senior analyst or a deputy)
    (SENIOR, Action.DECIDE_EXPORT, export("pending"), ALLOW),
    (DEPUTY, Action.DECIDE_EXPORT, export("pending"), ALLOW),
    (OTHER_SENIOR, Action.DECIDE_EXPORT, export("pending"), WrongRole),
    (SENIOR, Action.DECIDE_EXPORT, export("pending", authorisers=()), WrongRole),
    (
        SENIOR,
        Action.DECIDE_EXPORT,
        export("pending", owner="s.patel", authorisers=("s.patel",)),
        SelfApproval,
    ),
    (SENIOR, Action.DECIDE_EXPORT, export("not_required"), StepOutOfOrder),
    (SENIOR, Action.DECIDE_EXPORT, export("approved"), StepOutOfOrder),
    (SENIOR, Action.DECIDE_EXPORT, export("pending", owner="s.patel"), SelfApproval),
    (ANALYST, Action.DECIDE_EXPORT, export("pending", owner="b.lee"), WrongRole),
    (ADMIN, Action.DECIDE_EXPORT, export("pending"), WrongRole),
    # products: see, download (released when not sampled or passed), QA
    (ANALYST, Action.SEE_PRODUCT, product("pending"), ALLOW),
    (OTHER_SENIOR, Action.SEE_PRODUCT, product("pending"), ALLOW),
    (OTHER, Action.SEE_PRODUCT, product("passed"), NotFound),
    (ANALYST, Action.DOWNLOAD_PRODUCT, product("not_sampled"), ALLOW),
    (ANALYST, Action.DOWNLOAD_PRODUCT, product("passed"), ALLOW),
    (ANALYST, Action.DOWNLOAD_PRODUCT, product("pending"), ReleaseHeld),
    (ANALYST, Action.DOWNLOAD_PRODUCT, product("returned"), ReleaseHeld),
    (OTHER, Action.DOWNLOAD_PRODUCT, product("passed"), NotFound),
    (SENIOR, Action.DOWNLOAD_PRODUCT, product("pending"), ALLOW),
    (OTHER_SENIOR, Action.DOWNLOAD_PRODUCT, product("pending"), ReleaseHeld),
    (OTHER_SENIOR, Action.DOWNLOAD_PRODUCT, product("passed"), ALLOW),
    (SENIOR, Action.DOWNLOAD_PRODUCT, product("pending", owner="s.patel"), ReleaseHeld),
    (SENIOR, Action.QA_PRODUCT, product("pending"), ALLOW),
    (DEPUTY, Action.QA_PRODUCT, product("pending"), ALLOW),
    (OTHER_SENIOR, Action.QA_PRODUCT, product("pending"), WrongRole),
    (SENIOR, Action.QA_PRODUCT, product("passed"), StepOutOfOrder),
    (SENIOR, Action.QA_PRODUCT, product("returned"), StepOutOfOrder),
    (SENIOR, Action.QA_PRODUCT, product("pending", owner="s.patel"), SelfApproval),
    (ANALYST, Action.QA_PRODUCT, product("pending", owner="b.lee"), WrongRole),
    # access requests
    (ANALYST, Action.SUBMIT_REQUEST, Subject("a.khan"), ALLOW),
    (ADMIN, Action.SUBMIT_REQUEST, Subject("a.khan"), ALLOW),
    (OTHER, Action.SUBMIT_REQUEST, Subject("a.khan"), WrongRole),
    (ANALYST, Action.SEE_REQUEST, KHAN_REQUEST, ALLOW),
    (MANAGER, Action.SEE_REQUEST, KHAN_REQUEST, ALLOW),
    (SUPERINTENDENT, Action.SEE_REQUEST, Subject("b.lee", name="AR-2"), ALLOW),
    (OTHER, Action.SEE_REQUEST, KHAN_REQUEST, WrongRole),
    (ANALYST, Action.SEE_STATUS, KHAN_STATUS, ALLOW),
    (MANAGER, Action.SEE_STATUS, KHAN_STATUS, ALLOW),
    (SPOC_MBC, Action.SEE_STATUS, KHAN_STATUS, ALLOW),
    (HEAD, Action.SEE_STATUS, KHAN_STATUS, ALLOW),
    (SPOC_RCBC, Action.SEE_STATUS, KHAN_STATUS, WrongRole),
    (OTHER, Action.SEE_STATUS, KHAN_STATUS, WrongRole),
    (ANALYST, Action.WITHDRAW_REQUEST, Subject("a.khan", name="AR-1"), ALLOW),
    (ADMIN, Action.WITHDRAW_REQUEST, Subject("a.khan", name="AR-1"), WrongRole),
    # the approval chain: the step's role, the applicant's own line manager, a superintendent
    # policing one of the organisation's areas
    (MANAGER, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_MANAGER, ALLOW),
    (
        actor("x.man", "MBC", "line_manager"),
        Action.TAKE_APPROVAL_STEP,
        ENDORSE_AS_MANAGER,
        WrongRole,
    ),
    (SENIOR, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_MANAGER, WrongRole),
    (POLICING_MBC, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_SUPERINTENDENT, ALLOW),
    (SUPERINTENDENT, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_SUPERINTENDENT, WrongRole),
    # oversight
    (ADMIN, Action.SUSPEND, KHAN, ALLOW),
    (ISO, Action.SUSPEND, KHAN, ALLOW),
    (SPOC_MBC, Action.SUSPEND, KHAN, ALLOW),
    (SPOC_RCBC, Action.SUSPEND, KHAN, WrongRole),
    (OTHER, Action.SUSPEND, KHAN, WrongRole),
    (MANAGER, Action.SUSPEND, KHAN, WrongRole),
    (MANAGER, Action.SUSPEND, Subject("a.khan", "MBC", frozenset({"l.man"})), ALLOW),  # supervisor
    (ADMIN, Action.SUSPEND, Subject("root", "CP"), SelfApproval),
    (HEAD, Action.REINSTATE, KHAN, ALLOW),
    (SPOC_MBC, Action.REINSTATE, KHAN, WrongRole),
    (ISO, Action.REVOKE, Subject("i.so"), SelfApproval),
    (ISO, Action.REVOKE, KHAN, ALLOW),
    (SPOC_MBC, Action.REVOKE, KHAN, WrongRole),
    (ADMIN, Action.OPEN_ACCESS_REVIEW, None, ALLOW),
    (ISO, Action.OPEN_ACCESS_REVIEW, None, WrongRole),
    (ADMIN, Action.SEE_ACCESS_REVIEWS, Subject(organisation="RCBC"), ALLOW),
    (SPOC_MBC, Action.SEE_ACCESS_REVIEWS, Subject(organisation="MBC"), ALLOW),
    (SPOC_MBC, Action.SEE_ACCESS_REVIEWS, Subject(organisation="RCBC"), WrongRole),
    (ANALYST, Action.SEE_ACCESS_REVIEWS, Subject(organisation="MBC"), WrongRole),
    (SPOC_MBC, Action.DECIDE_REVIEW_ENTRY, KHAN, ALLOW),
    (SPOC_MBC, Action.DECIDE_REVIEW_ENTRY, Subject("m.spoc", "MBC"), SelfApproval),
    (SPOC_RCBC, Action.DECIDE_REVIEW_ENTRY, KHAN, WrongRole),
    (ADMIN, Action.DECIDE_REVIEW_ENTRY, KHAN, ALLOW),  # e.g. the force's own accounts
    (ADMIN, Action.DECIDE_REVIEW_ENTRY, Subject("root", "CP"), SelfApproval),
    (MANAGER, Action.DECIDE_REVIEW_ENTRY, KHAN, WrongRole),
    (ADMIN, Action.RUN_REVIEW_CYCLE, None, ALLOW),
    # the register
    (ADMIN, Action.REGISTER_USER, None, ALLOW),
    (ISO, Action.REGISTER_USER, None, WrongRole),
    (ADMIN, Action.CHANGE_USER, KHAN, ALLOW),
    (ADMIN, Action.CHANGE_USER, Subject("root"), SelfApproval),
    (ISO, Action.RECORD_VETTING, KHAN, ALLOW),
    (ISO, Action.RECORD_VETTING, Subject("i.so"), SelfApproval),
    (ANALYST, Action.RECORD_TRAINING, KHAN, WrongRole),
    (ADMIN, Action.RECORD_TRAINING, KHAN, ALLOW),
    (SENIOR, Action.RECORD_VETTING, KHAN, WrongRole),
    (ANALYST, Action.RECORD_DECLARATION, Subject("a.khan"), ALLOW),
    (ADMIN, Action.RECORD_DECLARATION, Subject("a.khan"), ALLOW),
    (OTHER, Action.RECORD_DECLARATION, Subject("a.khan"), WrongRole),
    (SPOC_MBC, Action.DECLARE_CODE_OF_CONNECTION, Subject(organisation="MBC"), ALLOW),
    (SPOC_RCBC, Action.DECLARE_CODE_OF_CONNECTION, Subject(organisation="MBC"), WrongRole),
    (ADMIN, Action.DECLARE_CODE_OF_CONNECTION, Subject(organisation="MBC"), WrongRole),
    (ADMIN, Action.CHANGE_SETTINGS, None, ALLOW),
    (ISO, Action.CHANGE_SETTINGS, None, WrongRole),
    (ADMIN, Action.REGISTER_ORGANISATION, None, ALLOW),
    (SPOC_MBC, Action.REGISTER_ORGANISATION, None, WrongRole),
    (ADMIN, Action.ADD_NETWORK, None, ALLOW),
    (SPOC_MBC, Action.ADD_NETWORK, None, WrongRole),
    (ADMIN, Action.REMOVE_NETWORK, None, ALLOW),
    (HEAD, Action.REMOVE_NETWORK, None, WrongRole),
    (ADMIN, Action.RECORD_MEMORANDUM, None, ALLOW),
    (SPOC_MBC, Action.RECORD_MEMORANDUM, None, WrongRole),
    (ANALYST, Action.RUN_REVIEW_CYCLE, None, WrongRole),
    (ADMIN, Action.SEE_REGISTER, None, ALLOW),
    (ANALYST, Action.SEE_REGISTER, None, WrongRole),
    # break-glass on the host: bootstrap and recovery, for administrator-only accounts
    (HOST, Action.HOST_BOOTSTRAP, None, ALLOW),
    (ADMIN, Action.HOST_BOOTSTRAP, None, WrongRole),
    (HOST, Action.HOST_ADD_ADMINISTRATOR, None, ALLOW),
    (ADMIN, Action.HOST_ADD_ADMINISTRATOR, None, WrongRole),
    (HOST, Action.HOST_UNLOCK, ADMIN, ALLOW),
    (HOST, Action.HOST_UNLOCK, HEAD, BreakGlassRefused),
    (ADMIN, Action.HOST_UNLOCK, ADMIN, WrongRole),
    (HOST, Action.HOST_ISSUE_TOKEN, ADMIN, ALLOW),
    (HOST, Action.HOST_ISSUE_TOKEN, SENIOR, BreakGlassRefused),
    (HOST, Action.HOST_ISSUE_TOKEN, actor("x", "CP", "admin", "spoc"), BreakGlassRefused),
    (ADMIN, Action.HOST_ISSUE_TOKEN, ADMIN, WrongRole),
    (HOST, Action.HOST_REVOKE_TOKEN, None, ALLOW),
    (ADMIN, Action.HOST_REVOKE_TOKEN, None, WrongRole),
    (HOST, Action.HOST_MAINTENANCE, None, ALLOW),
    (SENIOR, Action.HOST_MAINTENANCE, None, WrongRole),
    (HOST, Action.CHANGE_SETTINGS, None, ALLOW),
    # … and never an approval, a release decision, QA or publication in anyone's name
    (HOST, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_MANAGER, BreakGlassRefused),
    (HOST, Action.DECIDE_EXPORT, export("pending"), BreakGlassRefused),
    (HOST, Action.QA_PRODUCT, product("pending"), BreakGlassRefused),
    (HOST, Action.PUBLISH, None, BreakGlassRefused),
    (HOST, Action.REGISTER_USER, None, BreakGlassRefused),
    # partner organisations as a whole
    (ADMIN, Action.RECORD_SHARING_AGREEMENT, None, ALLOW),
    (SPOC_MBC, Action.RECORD_SHARING_AGREEMENT, None, WrongRole),
    (SPOC_MBC, Action.SPONSOR_ORGANISATION, Subject(organisation="MBC"), ALLOW),
    (SPOC_RCBC, Action.SPONSOR_ORGANISATION, Subject(organisation="MBC"), WrongRole),
    (ADMIN, Action.SPONSOR_ORGANISATION, Subject(organisation="MBC"), WrongRole),
    (OWNER, Action.AUTHORISE_ORGANISATION, None, ALLOW),
    (ADMIN, Action.AUTHORISE_ORGANISATION, None, WrongRole),
    (HEAD, Action.AUTHORISE_ORGANISATION, None, WrongRole),
    (ISO, Action.SUSPEND_ORGANISATION, None, ALLOW),
    (OWNER, Action.SUSPEND_ORGANISATION, None, ALLOW),
    (SPOC_MBC, Action.SUSPEND_ORGANISATION, None, WrongRole),
    (ADMIN, Action.REINSTATE_ORGANISATION, None, ALLOW),
    (ANALYST, Action.REINSTATE_ORGANISATION, None, WrongRole),
    (OWNER, Action.TERMINATE_ORGANISATION, None, ALLOW),
    (HEAD, Action.TERMINATE_ORGANISATION, None, ALLOW),
    (ADMIN, Action.TERMINATE_ORGANISATION, None, WrongRole),
]


def _row_id(row: tuple[Actor, Action, object, type[GatewayError] | None]) -> str:
    who, action, _, outcome = row
    return f"{who.username}-{action.value}-{outcome.__name__ if outcome else 'allow'}"


@pytest.mark.parametrize("row", TABLE, ids=[_row_id(r) for r in TABLE])
def test_the_permission_table(
    row: tuple[Actor, Action, object, type[GatewayError] | None],
) -> None:
    who, action, resource, outcome = row
    if outcome is None:
        require(who, action, resource)
        assert allows(who, action, resource)
        return
    with pytest.raises(outcome) as refused:
        require(who, action, resource)
    assert type(refused.value) is outcome  # not a broader or narrower error: same HTTP answer
    assert not allows(who, action, resource)


def test_every_action_is_decided_and_covered_by_the_table() -> None:
    decided = set(RULES) | {
        Action.REVIEW_AUDIT,
        Action.REVIEW_ORGANISATION_AUDIT,
        Action.RECORD_AUDIT,
        Action.REPORT_INCIDENT,
        Action.CLOSE_INCIDENT,
        Action.SEE_EXPORT,
        Action.DOWNLOAD_EXPORT,
        Action.DECIDE_EXPORT,
        Action.SEE_PRODUCT,
        Action.DOWNLOAD_PRODUCT,
        Action.QA_PRODUCT,
        Action.TAKE_APPROVAL_STEP,
        Action.HOST_ISSUE_TOKEN,
        Action.HOST_UNLOCK,
    }
    assert decided == set(Action)
    assert {action for _, action, _, _ in TABLE} == set(Action)
    for action in Action:  # every action both allowed and refused somewhere in the table
        outcomes = {outcome is None for _, a, _, outcome in TABLE if a == action}
        assert outcomes == {True, False}, action


def test_statuses_match_what_the_api_answered_before() -> None:
    assert (AccessDenied.status, WrongRole.status, SelfApproval.status) == (403, 403, 403)
    assert (NotFound.status, StepOutOfOrder.status) == (404, 409)


def test_policy_roles_decide_audit_review_and_export_approval() -> None:
    custom = Permissions(approver_role="analysis_manager", audit_roles=frozenset({"auditor"}))
    manager = actor("s.patel", "CP", "analysis_manager")
    assert not custom.allows(SENIOR, Action.REVIEW_AUDIT)
    assert custom.allows(AUDITOR, Action.REVIEW_AUDIT)
    assert custom.allows(manager, Action.DECIDE_EXPORT, export("pending"))
    assert custom.allows(manager, Action.SEE_EXPORT, export("pending"))
    with pytest.raises(WrongRole, match="analysis_manager"):
        custom.require(SENIOR, Action.DECIDE_EXPORT, export("pending"))


def test_refusals_say_what_was_needed() -> None:
    with pytest.raises(WrongRole, match="registering a user needs one of the roles admin"):
        require(ISO, Action.REGISTER_USER)
    with pytest.raises(WrongRole, match=re.escape("'r.spoc' is not the SPOC of MBC")):
        require(SPOC_RCBC, Action.DECLARE_CODE_OF_CONNECTION, Subject(organisation="MBC"))
    with pytest.raises(
        SelfApproval, match=re.escape("'root' cannot change the record for themselves")
    ):
        require(ADMIN, Action.CHANGE_USER, Subject("root"))
    with pytest.raises(WrongRole, match=re.escape("'b.lee' may not see request AR-1")):
        require(OTHER, Action.SEE_REQUEST, KHAN_REQUEST)


def test_an_export_action_without_an_export_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        require(SENIOR, Action.SEE_EXPORT, KHAN)
    with pytest.raises(TypeError):
        require(SENIOR, Action.QA_PRODUCT, export("pending"))


def test_a_held_release_names_who_may_authorise_it() -> None:
    with pytest.raises(WrongRole, match=re.escape("awaits 's.patel' or a deputy ('m.hughes')")):
        require(OTHER_SENIOR, Action.DECIDE_EXPORT, export("pending"))
    with pytest.raises(WrongRole, match=re.escape("none is recorded for 'a.khan'")):
        require(SENIOR, Action.DECIDE_EXPORT, export("pending", authorisers=()))
    with pytest.raises(ReleaseHeld, match=re.escape("awaits quality assurance by 's.patel'")):
        require(ANALYST, Action.DOWNLOAD_PRODUCT, product("pending"))


def test_refusals_of_an_approval_step_name_the_missing_relation() -> None:
    other_manager = actor("x.man", "MBC", "line_manager")
    with pytest.raises(WrongRole, match=re.escape("is not the line manager of 'a.khan'")):
        require(other_manager, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_MANAGER)
    with pytest.raises(WrongRole, match="does not police any area of MBC"):
        require(SUPERINTENDENT, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_SUPERINTENDENT)


def test_the_request_approver_roles_are_the_workflow_step_roles() -> None:
    assert frozenset(step.role for step in STEPS) == ACCESS_APPROVER_ROLES


def test_audit_scope_is_the_force_or_the_local_auditors_organisation() -> None:
    rules = Permissions()
    assert rules.audit_scope(SENIOR) is None
    assert rules.audit_scope(AUDITOR) is None
    assert rules.audit_scope(LOCAL_AUDITOR_MBC) == "MBC"
    with pytest.raises(AccessDenied, match="local_auditor"):
        rules.audit_scope(ANALYST)


@pytest.mark.parametrize("action", sorted(set(Action) - BREAK_GLASS_ACTIONS))
def test_break_glass_can_do_nothing_but_bootstrap_and_recovery(action: Action) -> None:
    with pytest.raises(BreakGlassRefused, match=r"break-glass host mode \(host:ops\) cannot"):
        require(HOST, action, None)


def test_no_person_can_take_a_break_glass_action() -> None:
    everyone = [ADMIN, ANALYST, SENIOR, AUDITOR, ISO, HEAD, SPOC_MBC, MANAGER, SUPERINTENDENT]
    for action in BREAK_GLASS_ACTIONS - {Action.CHANGE_SETTINGS}:
        assert not any(allows(who, action, ADMIN) for who in everyone), action


def test_an_approval_refused_to_break_glass_says_who_may_take_it() -> None:
    with pytest.raises(BreakGlassRefused) as refused:
        require(HOST, Action.TAKE_APPROVAL_STEP, ENDORSE_AS_MANAGER)
    assert "approval step" in str(refused.value)
    assert "gateway login --server URL" in str(refused.value)
