"""Partner organisations as a whole: the Information Sharing Agreement (copy with the system
administrator), CSP sponsorship of a new organisation, the system owner's authorisation — each
a precondition of its people's access — and suspension or termination of every account at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.audit import AuditLog
from gateway.errors import (
    AccountSuspended,
    Conflict,
    InputError,
    NotFound,
    SelfApproval,
    StepOutOfOrder,
    WrongRole,
)
from gateway.governance.model import Organisation
from gateway.governance.partnership import SharingAgreement
from gateway.governance.preconditions import Memorandum

from .conftest import World, approve, general_form, make_ready, person


@pytest.fixture
def granted(world: World) -> World:
    """a.khan and b.lee (MBC) hold general access."""
    for who in ("a.khan", "b.lee"):
        approve(world.service, world.service.submit(who, general_form(who)).request_id)
    return world


def codes(world: World, username: str) -> list[str]:
    return [s.code for s in world.service.standing(username).shortfalls]


def isa(code: str, world: World, **changes: object) -> SharingAgreement:
    day = world.clock().date()
    base = {"reference": f"ISA-{code}", "signed": day - timedelta(days=10), "expires": None}
    base |= changes
    return SharingAgreement(code, copied_to="root", **base)  # type: ignore[arg-type]


def test_an_expired_isa_stops_the_organisations_access(granted: World) -> None:
    service, clock = granted.service, granted.clock
    assert service.standing("a.khan").principal.level == "general"
    day = clock().date()
    with service.store.writing() as tx:  # the register's ISA is replaced by one that ends
        tx.conn.execute("DELETE FROM sharing_agreement WHERE organisation = 'MBC'")
    assert "isa_missing" in codes(granted, "a.khan")
    assert service.standing("a.khan").principal.level == "none"
    service.record_sharing_agreement("root", isa("MBC", granted, expires=day + timedelta(days=5)))
    assert service.standing("a.khan").principal.level == "general"
    clock.advance(days=6)
    assert "isa_expired" in codes(granted, "a.khan")
    assert service.standing("a.khan").principal.level == "none"


def test_the_isa_copy_is_held_by_the_system_administrator(world: World) -> None:
    service = world.service
    with pytest.raises(WrongRole, match="system administrator"):
        service.record_sharing_agreement(
            "root", SharingAgreement("MBC", "ISA-2", world.clock().date(), None, "i.sec")
        )
    with pytest.raises(WrongRole):  # only an administrator records it
        service.record_sharing_agreement("i.sec", isa("MBC", world))
    with pytest.raises(InputError, match="in the future"):
        service.record_sharing_agreement(
            "root", isa("MBC", world, signed=world.clock().date() + timedelta(days=1))
        )


def test_a_new_organisation_needs_sponsorship_before_the_system_owner_authorises(
    world: World, audit: AuditLog
) -> None:
    service = world.service
    service.add_organisation("root", Organisation("HSG", "Tees Housing", "other", ("E06000002",)))
    service.add_person("root", person("h.spoc", "HBC", "spoc"))
    service.add_person("root", person("t.spoc", "HSG", "spoc"))
    service.record_sharing_agreement("root", isa("HSG", world))
    with pytest.raises(StepOutOfOrder, match="sponsorship"):
        service.authorise_organisation("o.wner", "HSG")
    with pytest.raises(WrongRole):  # the sponsor's own SPOC only
        service.sponsor_organisation("p.spoc", "HSG", "HBC")
    with pytest.raises(InputError, match="cannot sponsor itself"):
        service.sponsor_organisation("t.spoc", "HSG", "HSG")
    service.sponsor_organisation(
        "h.spoc", "HSG", "HBC", "Hartlepool CSP sponsors the housing partner"
    )
    with pytest.raises(WrongRole):
        service.authorise_organisation("h.intel", "HSG")
    service.authorise_organisation("o.wner", "HSG", "sponsored, ISA in place")
    listing = {p.organisation.code: p for p in service.partner_list()}
    assert listing["HSG"].authorised
    assert listing["HSG"].agreement is not None
    assert "sponsorship_missing" not in listing["HSG"].missing
    kinds = [e.kind for e in audit.events() if e.details.get("subject") == "HSG"]
    assert kinds[-2:] == ["access.organisation_sponsored", "access.organisation_authorised"]


def test_without_the_system_owners_authorisation_nobody_of_the_organisation_is_live(
    world: World,
) -> None:
    service = world.service
    service.add_person("root", person("h.lm", "HBC", "line_manager", "local_supervisor"))
    service.add_person(
        "root",
        person("h.lee", "HBC", "analyst", line_manager="h.lm", local_supervisor="h.lm",
               senior_analyst="s.patel"),
    )  # fmt: skip
    make_ready(service, "h.lee")
    service.record_memorandum("root", Memorandum("HBC", "MOU-HBC", world.clock().date()))
    missing = [s.code for s in service.status("h.lee").missing]
    assert "isa_missing" in missing
    assert "system_owner_authorisation_missing" in missing
    with pytest.raises(StepOutOfOrder, match="information sharing agreement"):
        service.authorise_organisation("o.wner", "HBC")
    service.record_sharing_agreement("root", isa("HBC", world))
    service.authorise_organisation("o.wner", "HBC")
    missing = [s.code for s in service.status("h.lee").missing]
    assert "isa_missing" not in missing
    assert "system_owner_authorisation_missing" not in missing


def test_suspending_an_organisation_stops_all_its_people_and_is_reversible(
    granted: World, audit: AuditLog
) -> None:
    service = granted.service
    with pytest.raises(WrongRole):
        service.suspend_organisation("p.spoc", "MBC", "not theirs to do")
    with pytest.raises(InputError, match="force itself"):
        service.suspend_organisation("i.sec", "CLE", "never the force")
    waiting = service.submit("b.lee", general_form("b.lee", ("JAG-1",)))
    stop_id = service.suspend_organisation("i.sec", "MBC", "data loss under investigation")
    for username in ("a.khan", "b.lee", "m.jones", "p.spoc"):
        standing = service.standing(username)
        assert standing.principal.suspended
        refusal = standing.refusal(granted.clock())
        assert refusal is not None
        assert refusal.code == "account_suspended"
        assert "organisation was suspended" in str(refusal)
    assert service.status("a.khan").missing[0].code == "organisation_stopped"
    with pytest.raises(AccountSuspended, match="MBC was suspended"):  # nor its approvers act
        service.endorse("m.jones", waiting.request_id)
    with pytest.raises(Conflict):
        service.suspend_organisation("h.intel", "MBC", "twice")

    with pytest.raises(InputError):
        service.reinstate_organisation("h.intel", "MBC", " ")
    assert service.reinstate_organisation("h.intel", "MBC", "investigation closed") == 1
    assert service.standing("a.khan").principal.level == "general"
    with pytest.raises(NotFound):
        service.reinstate_organisation("h.intel", "MBC", "again")
    events = {e.kind: e for e in audit.events() if e.details.get("subject") == "MBC"}
    suspended = events["access.organisation_suspended"].details["details"]
    assert suspended["stop_id"] == stop_id
    assert suspended["people"] == ["a.khan", "b.lee", "m.jones", "p.spoc"]
    assert "access.organisation_reinstated" in events


def test_termination_is_final_and_revokes_every_grant(granted: World) -> None:
    service = granted.service
    with pytest.raises(WrongRole):
        service.terminate_organisation("i.sec", "MBC", "ISO may suspend, not terminate")
    service.add_person("root", person("o.mbc", "MBC", "system_owner"))
    with pytest.raises(SelfApproval):
        service.terminate_organisation("o.mbc", "MBC", "their own organisation")
    service.terminate_organisation("o.wner", "MBC", "the council withdrew from the partnership")
    assert service.standing("a.khan").grants == ()
    assert service.standing("b.lee").principal.suspended
    with pytest.raises(StepOutOfOrder, match="final"):
        service.reinstate_organisation("o.wner", "MBC", "changed their mind")
    with pytest.raises(Conflict):
        service.suspend_organisation("i.sec", "MBC", "already terminated")
    assert [p.stopped for p in service.partner_list() if p.organisation.code == "MBC"] == [
        "terminated"
    ]
