"""What is missing before access goes live, and the principal it leaves (pure functions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from gateway.governance.model import Grant, GrantLevel, Organisation, Person, Suspension
from gateway.governance.partnership import (
    OwnerAuthorisation,
    PartnershipRecords,
    SharingAgreement,
)
from gateway.governance.preconditions import (
    CodeOfConnection,
    Declaration,
    Memorandum,
    PreconditionRecords,
    Training,
    Vetting,
    refusal,
    shortfalls,
)
from gateway.governance.standing import standing

DAY = date(2026, 6, 1)
AT = datetime(2026, 6, 1, 12, tzinfo=UTC)
MBC = Organisation("MBC", "Middlesbrough Council", "local_authority", ("E06000002",))
KHAN = Person("a.khan", "Aisha Khan", "MBC", "Analyst", "a@example.org", frozenset({"analyst"}))


def complete(**changes: Any) -> PreconditionRecords:
    records = PreconditionRecords(
        organisation_kind="local_authority",
        vetting=(Vetting("a.khan", "NPPV3", date(2025, 1, 1), date(2030, 1, 1)),),
        declarations=(
            Declaration("a.khan", "confidentiality", date(2026, 1, 1)),
            Declaration("a.khan", "data_protection", date(2026, 1, 1)),
            Declaration("a.khan", "official_secrets_act", date(2026, 1, 1)),
            Declaration("a.khan", "security_operating_procedures", date(2026, 1, 1)),
        ),
        training=(
            Training("a.khan", "gateway_training", date(2026, 1, 2)),
            Training("a.khan", "information_security_induction", date(2026, 1, 2)),
        ),
        memoranda=(
            Memorandum("MBC", "MOU-1", date(2025, 4, 1)),
            Memorandum("MBC", "MOU-a.khan", date(2025, 4, 2), username="a.khan"),
        ),
        codes_of_connection=(
            CodeOfConnection("MBC", "p.spoc", date(2026, 3, 1), date(2027, 3, 1)),
        ),
        senior_analysts=("s.patel",),
        local_supervisor="m.jones",
        partnership=PartnershipRecords(
            "local_authority",
            agreements=(SharingAgreement("MBC", "ISA-1", date(2025, 3, 1), None, "root"),),
            authorisations=(OwnerAuthorisation("MBC", "o.wner", AT - timedelta(days=90)),),
        ),
    )
    return replace(records, **changes)


def codes_of(records: PreconditionRecords, level: str = "general", day: date = DAY) -> list[str]:
    return [s.code for s in shortfalls(records, level, day)]


def test_complete_records_leave_nothing_missing() -> None:
    assert codes_of(complete()) == []
    assert codes_of(complete(), "enhanced") == []


def test_nothing_on_file_lists_everything() -> None:
    assert codes_of(PreconditionRecords("local_authority")) == [
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
    ]
    assert codes_of(PreconditionRecords("other"))[-2:] == [
        "sponsorship_missing",
        "system_owner_authorisation_missing",
    ]


def test_the_force_needs_no_memorandum_or_code_of_connection() -> None:
    force = complete(
        organisation_kind="force",
        memoranda=(),
        codes_of_connection=(),
        local_supervisor=None,
        partnership=None,
    )
    assert codes_of(force) == []


def test_vetting_expired_and_its_error_code() -> None:
    records = complete(vetting=(Vetting("a.khan", "NPPV3", date(2021, 1, 1), date(2026, 5, 31)),))
    found = shortfalls(records, "general", DAY)
    assert [(s.code, s.expired_on) for s in found] == [("vetting_expired", date(2026, 5, 31))]
    error = refusal(found, "a.khan")
    assert error is not None
    assert (error.code, error.status) == ("vetting_expired", 403)
    assert "expired on 2026-05-31" in str(error)


def test_vetting_level_must_match_the_access_level() -> None:
    records = complete(vetting=(Vetting("a.khan", "NPPV2", date(2025, 1, 1), date(2030, 1, 1)),))
    assert codes_of(records, "general") == []
    assert codes_of(records, "enhanced") == ["vetting_insufficient"]


def test_missing_declaration_names_it() -> None:
    records = complete(declarations=complete().declarations[1:])
    found = shortfalls(records, "general", DAY)
    assert [(s.code, s.item) for s in found] == [("declaration_missing", "confidentiality")]
    error = refusal(found, "a.khan")
    assert error is not None
    assert error.code == "precondition_missing"


def test_syops_must_be_re_accepted_every_year() -> None:
    records = complete()
    assert codes_of(records, day=date(2027, 1, 1)) == []
    lapsed = shortfalls(records, "general", date(2027, 1, 2))
    assert [(s.code, s.expired_on) for s in lapsed] == [("syops_expired", date(2027, 1, 1))]


def test_memorandum_and_code_of_connection_lapse() -> None:
    lapsed = Memorandum("MBC", "MOU-1", date(2024, 1, 1), date(2026, 5, 1))
    records = complete(memoranda=(lapsed, complete().memoranda[1]))
    assert codes_of(records) == ["mou_expired"]
    own_lapsed = replace(complete().memoranda[1], expires=date(2026, 5, 2))
    found = shortfalls(complete(memoranda=(complete().memoranda[0], own_lapsed)), "general", DAY)
    assert [(s.code, s.item) for s in found] == [("mou_expired", "applicant_memorandum")]
    assert codes_of(complete(), day=date(2027, 3, 2)) == ["syops_expired", "coc_expired"]


def grant(level: GrantLevel = "general", **changes: Any) -> Grant:
    base = Grant(
        grant_id="G-1",
        request_id="AR-1",
        username="a.khan",
        level=level,
        purposes=("SA",),
        areas=("E06000002",),
        starts=date(2026, 1, 1),
        ends=None,
        authorised_by="h.intel",
        authorised_at=AT - timedelta(days=200),
    )
    return replace(base, **changes)


def test_standing_builds_the_principal_from_active_grants() -> None:
    general = grant()
    enhanced = grant("enhanced", grant_id="G-2", request_id="AR-2", purposes=("JAG",),
                     ends=date(2026, 12, 31), unmask=("crime.modus_operandi",),
                     extra_areas=("E06000001",))  # fmt: skip
    s = standing(KHAN, MBC, (general, enhanced), (), complete(), AT)
    p = s.principal
    assert (p.level, p.areas, p.purposes) == ("enhanced", ("E06000002",), ("SA", "JAG"))
    assert [g.grant_id for g in p.grants] == ["G-2"]
    assert p.grants[0].areas == ("E06000001",)
    assert p.grants[0].unmask == ("crime.modus_operandi",)
    assert p.expires_at is None
    assert p.organisation == "Middlesbrough Council"
    assert s.refusal(AT) is None
    assert s.live


def test_ended_grant_stops_at_once_and_reads_as_expired() -> None:
    ended = grant(ends=date(2026, 5, 31))
    s = standing(KHAN, MBC, (ended,), (), complete(), AT)
    assert s.principal.level == "none"
    assert s.principal.purposes == ()
    assert s.principal.expires_at is not None
    assert s.principal.expires_at < AT
    error = s.refusal(AT)
    assert error is not None
    assert error.code == "access_expired"
    on_last_day = standing(
        KHAN, MBC, (ended,), (), complete(), datetime(2026, 5, 31, 23, tzinfo=UTC)
    )
    assert on_last_day.principal.level == "general"


def test_enhanced_without_enhanced_vetting_keeps_general_access() -> None:
    records = complete(vetting=(Vetting("a.khan", "NPPV2", date(2025, 1, 1), date(2030, 1, 1)),))
    enhanced = grant("enhanced", grant_id="G-2", request_id="AR-2", purposes=("JAG",),
                     ends=date(2026, 12, 31), unmask=("crime.modus_operandi",))  # fmt: skip
    s = standing(KHAN, MBC, (grant(), enhanced), (), records, AT)
    assert s.principal.level == "general"
    assert s.principal.purposes == ("SA",)
    assert s.principal.grants == ()
    assert [x.code for x in s.shortfalls] == ["vetting_insufficient"]


@pytest.mark.parametrize("missing", ["vetting", "declarations", "training"])
def test_missing_preconditions_leave_no_data_level(missing: str) -> None:
    s = standing(KHAN, MBC, (grant(),), (), complete(**{missing: ()}), AT)
    assert s.principal.level == "none"
    assert s.principal.purposes == ()
    error = s.refusal(AT)
    assert error is not None
    assert error.code in {"precondition_missing", "vetting_expired"}


def test_suspension_and_leaving() -> None:
    suspension = Suspension(1, "a.khan", "misuse", "shared login", "i.sec", AT - timedelta(hours=1))
    s = standing(KHAN, MBC, (grant(),), (suspension,), complete(), AT)
    assert s.principal.suspended
    assert (error := s.refusal(AT)) is not None
    assert error.code == "account_suspended"
    lifted = Suspension(1, "a.khan", "misuse", "x", "i.sec", AT - timedelta(days=2), "h.intel",
                        AT - timedelta(days=1))  # fmt: skip
    assert not standing(KHAN, MBC, (grant(),), (lifted,), complete(), AT).principal.suspended
    leaver = standing(
        replace(KHAN, left_on=AT - timedelta(days=1)),
        MBC, (grant(),), (), complete(), AT,
    )  # fmt: skip
    assert leaver.principal.suspended
    assert leaver.principal.roles == frozenset()
