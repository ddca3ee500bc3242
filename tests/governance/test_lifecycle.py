"""Keeping access current: access reviews, code of connection, inactivity, suspension, leavers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.audit import AuditLog
from gateway.errors import (
    AccountSuspended,
    Conflict,
    NotFound,
    SelfApproval,
    StepOutOfOrder,
    WrongRole,
)

from .conftest import World, approve, general_form, person


@pytest.fixture
def granted(world: World) -> World:
    """a.khan and b.lee (MBC) both hold general access."""
    for who in ("a.khan", "b.lee"):
        approve(world.service, world.service.submit(who, general_form(who)).request_id)
    return world


def kinds(audit: AuditLog, subject: str) -> list[str]:
    return [e.kind for e in audit.events() if e.details.get("subject") == subject]


def test_review_cycle_opens_reviews_and_suspends_the_unconfirmed(
    granted: World, audit: AuditLog
) -> None:
    service, clock = granted.service, granted.clock
    result = service.review_cycle("root")
    [review_id] = [r for r in result["opened"] if r.startswith("RV-MBC-")]
    review = service.access_review(review_id)
    # every account of the organisation, not only those holding data access
    assert [e.username for e in review.entries] == ["a.khan", "b.lee", "m.jones", "p.spoc"]
    assert review.due == clock().date() + timedelta(days=28)

    service.confirm_review("p.spoc", review_id, "a.khan", keep=True, comment="still on the SA")
    with pytest.raises(Conflict):  # decided once
        service.confirm_review("p.spoc", review_id, "a.khan", keep=True)
    service.confirm_review("p.spoc", review_id, "m.jones", keep=True, comment="still manages")
    with pytest.raises(SelfApproval):  # the SPOC's own account is confirmed by someone else
        service.confirm_review("p.spoc", review_id, "p.spoc", keep=True)
    service.confirm_review("i.sec", review_id, "p.spoc", keep=True, comment="still the SPOC")
    assert service.review_cycle("root")["suspended"] == []  # not overdue yet

    clock.advance(days=29)
    result = service.scheduled_cycle()
    assert "b.lee" in result["suspended"]
    assert not {"a.khan", "m.jones", "p.spoc"} & set(result["suspended"])
    # the force's approvers and its administrator were unconfirmed too: suspended alike
    assert {"root", "h.intel", "i.sec", "s.super"} <= set(result["suspended"])
    assert review_id in result["closed"]
    assert service.standing("b.lee").principal.suspended
    assert service.standing("b.lee").suspension is not None
    assert service.standing("root").principal.suspended
    assert service.standing("a.khan").principal.level == "general"
    assert "access.review_closed" in kinds(audit, review_id)
    assert kinds(audit, "b.lee")[-1] == "access.suspended"
    with pytest.raises(StepOutOfOrder):
        service.confirm_review("p.spoc", review_id, "b.lee", keep=True)
    with pytest.raises(AccountSuspended):  # an unconfirmed administrator cannot act
        service.review_cycle("root")

    # The next review is due six months after the last one opened.
    assert service.scheduled_cycle()["opened"] == []
    clock.advance(days=31 * 5)
    assert any(r.startswith("RV-MBC-") for r in service.scheduled_cycle()["opened"])


def test_spoc_removal_revokes_at_once(granted: World) -> None:
    service = granted.service
    review = service.open_review("root", "MBC")
    service.confirm_review("p.spoc", review.review_id, "b.lee", keep=False, comment="moved post")
    standing = service.standing("b.lee")
    assert standing.principal.level == "none"
    assert standing.grants == ()
    assert service.standing("a.khan").principal.level == "general"


def test_only_the_organisations_spoc_confirms(granted: World) -> None:
    service = granted.service
    service.add_person("root", person("h.spoc", "HBC", "spoc"))
    review = service.open_review("root", "MBC")
    with pytest.raises(WrongRole):
        service.confirm_review("h.spoc", review.review_id, "a.khan", keep=True)
    with pytest.raises(WrongRole):
        service.confirm_review("m.jones", review.review_id, "a.khan", keep=True)
    with pytest.raises(Conflict):
        service.open_review("root", "MBC")  # one open review per organisation


def test_code_of_connection_is_declared_by_the_spoc_and_lapses_yearly(granted: World) -> None:
    service, clock = granted.service, granted.clock
    with pytest.raises(WrongRole):
        service.declare_code_of_connection("m.jones", "MBC")
    service.add_person("root", person("h.spoc", "HBC", "spoc"))
    with pytest.raises(WrongRole):
        service.declare_code_of_connection("h.spoc", "MBC")
    clock.advance(days=366)
    standing = service.standing("a.khan")
    assert "coc_expired" in [s.code for s in standing.shortfalls]
    assert standing.principal.level == "none"
    service.declare_code_of_connection("p.spoc", "MBC", "reviewed the annual code")
    assert "coc_expired" not in [s.code for s in service.standing("a.khan").shortfalls]


def test_inactive_users_are_flagged_once(granted: World, audit: AuditLog) -> None:
    service, clock = granted.service, granted.clock
    recent = clock() - timedelta(days=20)
    audit.store.append("query.started", "a.khan", "Middlesbrough Council",
                       {"query_id": "q1"}, time=recent)  # fmt: skip
    clock.advance(days=30)
    assert service.inactive() == []  # b.lee has held access for a month only

    clock.advance(days=6 * 31)
    inactive = service.inactive()
    assert [(u.username, u.last_activity) for u in inactive] == [
        ("b.lee", None),
        ("a.khan", recent),
    ]
    first = service.review_cycle("root")["inactive"]
    assert sorted(first) == ["a.khan", "b.lee"]
    assert service.review_cycle("root")["inactive"] == []  # flagged once, not every run
    assert kinds(audit, "a.khan").count("access.inactivity_flagged") == 1


def test_suspension_rules(granted: World) -> None:
    service = granted.service
    with pytest.raises(SelfApproval):
        service.suspend("i.sec", "i.sec", "testing")
    service.add_person("root", person("h.spoc", "HBC", "spoc"))
    with pytest.raises(WrongRole):
        service.suspend("h.spoc", "a.khan", "not my organisation")
    service.add_person("root", person("l.other", "MBC", "line_manager"))
    with pytest.raises(WrongRole):
        service.suspend("l.other", "a.khan", "a line manager who does not supervise")
    service.suspend("m.jones", "b.lee", "their local supervisor may")
    assert service.standing("b.lee").principal.suspended
    service.suspend("p.spoc", "a.khan", "left a session unlocked")
    with pytest.raises(WrongRole):
        service.reinstate("p.spoc", "a.khan", "SPOCs do not reinstate")
    assert service.reinstate("i.sec", "a.khan", "words of advice given") == 1
    with pytest.raises(NotFound):
        service.reinstate("i.sec", "a.khan", "again")


def test_a_leaver_is_revoked_and_cannot_act(granted: World, audit: AuditLog) -> None:
    service, clock = granted.service, granted.clock
    revoked = service.revoke("h.intel", "m.jones", "left the council", leaver=True)
    assert revoked == []  # held no grants, still closed
    request = service.submit("a.khan", general_form(purposes=("JAG-9",)))
    clock.advance(minutes=1)
    with pytest.raises(AccountSuspended, match="has left"):
        service.endorse("m.jones", request.request_id)
    grants = service.revoke("i.sec", "b.lee", "moved to another team")
    assert len(grants) == 1
    assert service.standing("b.lee").grants == ()
    assert kinds(audit, "b.lee")[-1] == "access.revoked"
