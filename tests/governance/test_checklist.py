"""The request checklist: each precondition with what is recorded and what is missing; every
shortfall lands on some item (none is dropped)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gateway.errors import WrongRole
from gateway.governance.checklist import checklist
from gateway.governance.partnership import OwnerAuthorisation, PartnershipRecords, SharingAgreement
from gateway.governance.preconditions import (
    CodeOfConnection,
    Declaration,
    Memorandum,
    PreconditionRecords,
    Training,
    Vetting,
    shortfalls,
)
from tests.governance.conftest import World, general_form

DAY = date(2026, 5, 1)


def _ready_partner() -> PreconditionRecords:
    return PreconditionRecords(
        organisation_kind="local_authority",
        vetting=(Vetting("a", "NPPV2", date(2025, 1, 1), date(2030, 1, 1)),),
        declarations=tuple(
            Declaration("a", k, date(2026, 4, 1))  # type: ignore[arg-type]
            for k in (
                "confidentiality",
                "data_protection",
                "official_secrets_act",
                "security_operating_procedures",
            )
        ),
        training=(
            Training("a", "gateway_training", date(2026, 4, 2)),
            Training("a", "information_security_induction", date(2026, 4, 3)),
        ),
        memoranda=(
            Memorandum("MBC", "MOU-MBC", date(2026, 1, 1)),
            Memorandum("MBC", "MOU-a", date(2026, 4, 1), username="a"),
        ),
        codes_of_connection=(
            CodeOfConnection("MBC", "spoc.mbc", date(2026, 1, 1), date(2027, 1, 1)),
        ),
        senior_analysts=("s.patel", "m.hughes"),
        local_supervisor="lm.mbc",
        partnership=PartnershipRecords(
            "local_authority",
            agreements=(SharingAgreement("MBC", "ISA-1", date(2026, 1, 1), None, "gw.admin"),),
            authorisations=(OwnerAuthorisation("MBC", "so.cle", datetime(2026, 1, 2, tzinfo=UTC)),),
        ),
    )


def test_a_ready_partner_analyst_has_every_item_recorded_and_nothing_missing() -> None:
    items = checklist(_ready_partner(), "general", DAY)
    assert all(i.ok and i.recorded for i in items), [i for i in items if not i.ok or not i.recorded]
    by_item = {i.item: i.recorded for i in items}
    assert by_item["Vetting"] == "NPPV2 from 2025-01-01 until 2030-01-01"
    assert by_item["Designated senior analyst"] == "s.patel (deputies: m.hughes)"
    assert by_item["Local supervisor"] == "lm.mbc"
    assert by_item["Information sharing agreement"] == "ISA-1 signed 2026-01-01 (copy: gw.admin)"
    assert by_item["Applicant's memorandum of understanding"] == "MOU-a signed 2026-04-01"
    assert by_item["System owner's authorisation"] == "by so.cle on 2026-01-02"


def test_enhanced_access_shows_the_vetting_held_and_what_it_lacks() -> None:
    items = checklist(_ready_partner(), "enhanced", DAY)
    vetting = items[0]
    assert vetting.recorded.startswith("NPPV2")
    assert vetting.missing == "enhanced access needs NPPV3 vetting; held: NPPV2"
    assert [i.item for i in items if not i.ok] == ["Vetting"]


def test_nothing_on_record_lists_every_shortfall_on_an_item() -> None:
    records = PreconditionRecords(organisation_kind="other")
    items = checklist(records, "general", DAY)
    expected = {s.message for s in shortfalls(records, "general", DAY)}
    shown = {part for i in items if i.missing for part in i.missing.split("; ")}
    assert shown == expected
    assert not any(i.recorded for i in items)
    assert "Sponsorship by a community safety partnership" in {i.item for i in items}


def test_the_force_needs_no_partner_items() -> None:
    items = checklist(PreconditionRecords(organisation_kind="force"), "general", DAY)
    names = {i.item for i in items}
    assert "Local supervisor" not in names
    assert "Information sharing agreement" not in names
    assert {"Vetting", "Designated senior analyst", "Gateway training"} <= names


# --- who sees a request's checklist (GovernanceService.checklist_as) ------------------------


def test_the_checklist_is_for_those_deciding_the_request(world: World) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    rid = request.request_id
    items = service.checklist_as("m.jones", rid)  # their line manager, whose step it is
    assert [i.item for i in items][:2] == ["Vetting", "Confidentiality declaration"]
    assert all(i.ok for i in items)
    assert service.checklist_as("a.khan", rid) == items  # the applicant
    assert service.checklist_as("root", rid) == items  # oversight
    # the superintendent for Hartlepool may see the request, not the applicant's records
    assert service.request_as("s.hpool", rid).request_id == rid
    with pytest.raises(WrongRole):
        service.checklist_as("s.hpool", rid)
    with pytest.raises(WrongRole):
        service.checklist_as("b.lee", rid)  # another analyst may not even see the request
    service.act("m.jones", rid, "endorse", "supports it")
    assert service.checklist_as("s.super", rid) == items  # now their step
    service.act("s.super", rid, "endorse", "supports it")
    assert service.checklist_as("s.super", rid) == items  # a participant keeps seeing it
    with pytest.raises(WrongRole):
        service.checklist_as("s.super2", rid)  # a superintendent with no part in it
