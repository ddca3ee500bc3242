"""The request workflow through the service: states, roles, separation of duties, refusals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.errors import (
    AccountSuspended,
    GatewayError,
    InputError,
    SelfApproval,
    SeparationOfDuties,
    StepOutOfOrder,
    WrongRole,
)
from gateway.governance.service import GovernanceService
from gateway.governance.workflow import STEPS

from .conftest import (
    CHAIN,
    MBRO,
    World,
    approve,
    enhanced_form,
    general_form,
    make_ready,
    person,
)


def codes(exc: pytest.ExceptionInfo[GatewayError]) -> tuple[str, int]:
    return exc.value.code, exc.value.status


def test_full_chain_reaches_authorised_and_issues_the_grant(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    assert request.state == "submitted"
    assert request.applicant.organisation_name == "Middlesbrough Council"
    assert request.applicant.role_title == "Community Safety Analyst"
    assert request.form.areas == (MBRO,)  # defaulted from the organisation

    states = []
    for actor, action in CHAIN:
        states.append(service.act(actor, request.request_id, action, f"ok from {actor}").state)
    assert states == [s.becomes for s in STEPS]

    stored = service.request(request.request_id)
    assert [(t.actor, t.role) for t in stored.history] == [
        ("a.khan", "applicant"),
        ("m.jones", "line_manager"),
        ("s.super", "superintendent"),
        ("a.man", "analysis_manager"),
        ("i.sec", "information_security_officer"),
        ("h.intel", "head_of_intelligence"),
    ]
    assert stored.history[2].comment == "ok from s.super"
    standing = service.standing("a.khan")
    [grant] = standing.grants
    assert (grant.level, grant.purposes, grant.areas) == ("general", ("SA-2026-MBRO",), (MBRO,))
    assert grant.request_id == request.request_id
    assert grant.authorised_by == "h.intel"
    assert standing.principal.level == "general"
    assert standing.principal.purposes == ("SA-2026-MBRO",)


def test_no_grant_before_authorisation(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    for actor, action in CHAIN[:-1]:
        service.act(actor, request.request_id, action)
    standing = service.standing("a.khan")
    assert standing.grants == ()
    assert standing.principal.level == "none"
    assert standing.principal.purposes == ()


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("h.intel", "authorise"),  # authorisation before any endorsement
        ("a.man", "review"),  # review before the endorsements
    ],
)
def test_missing_endorsement_is_step_out_of_order(world: World, actor: str, action: str) -> None:
    request = world.service.submit("a.khan", general_form())
    with pytest.raises(StepOutOfOrder) as exc:
        world.service.act(actor, request.request_id, action)
    assert codes(exc) == ("step_out_of_order", 409)
    assert "line manager" in str(exc.value)
    assert world.service.request(request.request_id).state == "submitted"


def test_superintendent_endorsement_missing_blocks_review(world: World) -> None:
    request = world.service.submit("a.khan", general_form())
    world.service.endorse("m.jones", request.request_id)
    with pytest.raises(StepOutOfOrder, match="superintendent"):
        world.service.review("a.man", request.request_id)


def test_wrong_role_for_the_step(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    with pytest.raises(WrongRole) as exc:
        service.endorse("a.man", request.request_id)  # analysis manager is not a line manager
    assert codes(exc) == ("wrong_role", 403)


def test_line_manager_must_be_the_applicants_own(world: World) -> None:
    service = world.service
    service.add_person("root", person("x.mgr", "MBC", "line_manager"))
    request = service.submit("a.khan", general_form())
    with pytest.raises(WrongRole, match="not the line manager"):
        service.endorse("x.mgr", request.request_id)


def test_superintendent_must_police_the_applicants_area(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    service.endorse("m.jones", request.request_id)
    with pytest.raises(WrongRole, match="does not police"):
        service.endorse("s.hpool", request.request_id)
    service.endorse("s.super", request.request_id)


def test_self_approval_is_refused(world: World) -> None:
    service = world.service
    # The applicant is themselves a line manager (and their own manager cannot be them).
    service.update_person("root", "m.jones", roles=frozenset({"line_manager", "analyst"}))
    service.add_person("root", person("t.boss", "MBC", "line_manager"))
    service.update_person("root", "m.jones", line_manager="t.boss")
    make_ready(service, "m.jones")
    request = service.submit("m.jones", general_form("m.jones"))
    with pytest.raises(SelfApproval) as exc:
        service.endorse("m.jones", request.request_id)
    assert codes(exc) == ("self_approval", 403)


def test_nobody_acts_twice_in_one_chain(world: World) -> None:
    service = world.service
    service.add_person("root", person("d.both", "CLE", "superintendent", "analysis_manager",
                                      areas=(MBRO,)))  # fmt: skip
    request = service.submit("a.khan", general_form())
    service.endorse("m.jones", request.request_id)
    service.endorse("d.both", request.request_id)
    with pytest.raises(SeparationOfDuties) as exc:
        service.review("d.both", request.request_id)
    assert codes(exc) == ("separation_of_duties", 403)
    service.review("a.man", request.request_id)


def test_refusal_at_a_step_ends_the_request(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    service.endorse("m.jones", request.request_id)
    service.endorse("s.super", request.request_id)
    with pytest.raises(InputError, match="reason"):
        service.refuse("a.man", request.request_id, "  ")
    with pytest.raises(WrongRole):
        service.refuse("i.sec", request.request_id, "not my step")
    refused = service.refuse("a.man", request.request_id, "business case does not need it")
    assert refused.state == "refused"
    assert refused.history[-1].comment == "business case does not need it"
    with pytest.raises(StepOutOfOrder, match="already refused"):
        service.review("i.sec", request.request_id)
    assert service.standing("a.khan").grants == ()


def test_withdrawal_by_the_applicant_only(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    with pytest.raises(WrongRole, match="only the applicant"):
        service.withdraw("m.jones", request.request_id)
    assert service.withdraw("a.khan", request.request_id, "no longer needed").state == "withdrawn"
    with pytest.raises(StepOutOfOrder):
        service.endorse("m.jones", request.request_id)


def test_suspended_approver_cannot_act(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    service.suspend("i.sec", "m.jones", "under investigation")
    with pytest.raises(AccountSuspended) as exc:
        service.endorse("m.jones", request.request_id)
    assert codes(exc) == ("account_suspended", 403)


def test_pending_lists_per_role_and_per_approver(world: World) -> None:
    service = world.service
    first = service.submit("a.khan", general_form())
    second = service.submit("b.lee", general_form("b.lee"))
    assert [r.request_id for r in service.pending("line_manager")] == [
        first.request_id,
        second.request_id,
    ]
    service.endorse("m.jones", first.request_id)
    assert [r.request_id for r in service.pending("superintendent")] == [first.request_id]
    assert [r.request_id for r in service.pending("superintendent", actor="s.super")] == [
        first.request_id
    ]
    assert service.pending("superintendent", actor="s.hpool") == []  # not their area
    assert service.pending("line_manager", actor="a.man") == []  # not their role


def test_deputy_goes_through_the_same_procedure(world: World) -> None:
    service = world.service
    approve(service, service.submit("a.khan", general_form()).request_id)
    deputy_form = general_form("b.lee")
    request = service.submit("b.lee", replace(deputy_form, deputy_for="a.khan"))
    assert request.form.deputy_for == "a.khan"
    assert service.standing("b.lee").principal.level == "none"  # no shortcut via a.khan's grant
    with pytest.raises(StepOutOfOrder):
        service.authorise("h.intel", request.request_id)
    approve(service, request.request_id)
    assert service.standing("b.lee").principal.level == "general"


def test_enhanced_request_grant_carries_exactly_its_scope(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", enhanced_form(unmask=("crime.modus_operandi",)))
    approve(service, request.request_id)
    [grant] = service.standing("a.khan").grants
    assert grant.level == "enhanced"
    assert grant.unmask == ("crime.modus_operandi",)
    assert grant.tables == ()
    assert grant.purposes == ("JAG-2026-07",)
    assert grant.ends is not None
    assert grant.ends.isoformat() == "2026-12-31"


def test_only_the_applicant_or_an_admin_submits(world: World) -> None:
    service: GovernanceService = world.service
    with pytest.raises(WrongRole):
        service.submit("m.jones", general_form("a.khan"))
    on_behalf = service.submit("root", general_form("a.khan"))
    assert on_behalf.history[0].role == "admin"
    with pytest.raises(SeparationOfDuties):  # the submitter is part of the chain
        service.endorse("root", on_behalf.request_id)
