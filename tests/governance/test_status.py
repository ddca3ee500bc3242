""" "What is missing before I can start": the applicant's checklist."""

from __future__ import annotations

from .conftest import (
    CHAIN,
    MBC_ANALYST,
    World,
    approve,
    enhanced_form,
    general_form,
    make_ready,
    person,
)


def test_a_newcomer_sees_everything_to_do(world: World) -> None:
    service = world.service
    service.add_person("root", person("c.new", "HBC", "analyst"))
    status = service.status("c.new")
    assert status.level == "none"
    assert not status.ready
    assert [i.code for i in status.missing] == [
        "no_request",
        "vetting_missing",
        "declaration_missing",
        "declaration_missing",
        "declaration_missing",
        "syops_missing",
        "training_missing",
        "training_missing",
        "senior_analyst_missing",
        "local_supervisor_missing",
        "mou_missing",
        "mou_missing",
        "coc_missing",
        "isa_missing",
        "system_owner_authorisation_missing",
        "no_network",
    ]
    assert "Hartlepool Borough Council has not registered" in status.missing[-1].message


def test_an_applicant_sees_the_step_their_request_waits_for(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    status = service.status("a.khan")
    assert [(p.request_id, p.role) for p in status.pending] == [
        (request.request_id, "line_manager")
    ]
    assert [i.code for i in status.missing] == ["request_pending"]
    assert "line manager" in status.missing[0].message
    service.endorse("m.jones", request.request_id)
    assert service.status("a.khan").pending[0].role == "superintendent"

    for actor, action in CHAIN[1:]:
        service.act(actor, request.request_id, action)
    status = service.status("a.khan")
    assert status.ready
    assert status.level == "general"
    assert status.purposes == ("SA-2026-MBRO",)


def test_an_enhanced_request_shows_the_enhanced_vetting_needed(world: World) -> None:
    service = world.service
    service.add_person("root", person("d.two", "MBC", "analyst", **MBC_ANALYST))
    make_ready(service, "d.two", vetting="NPPV2")
    service.submit("d.two", enhanced_form("d.two"))
    status = service.status("d.two")
    assert [i.code for i in status.missing] == ["request_pending", "vetting_insufficient"]
    assert "enhanced access needs NPPV3" in status.missing[1].message


def test_suspension_shows_first(world: World) -> None:
    service = world.service
    approve(service, service.submit("a.khan", general_form()).request_id)
    service.suspend("i.sec", "a.khan", "left a session unlocked")
    status = service.status("a.khan")
    assert status.level == "none"
    assert status.missing[0].code == "suspended"
    assert "left a session unlocked" in status.missing[0].message
