"""The audit duties' pure rules: the 24-hour incident rule and when a plan duty is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.audit.chain import GENESIS_HASH, seal
from gateway.audit.duties import AuditPerformed, duty_status, new_audit
from gateway.audit.incidents import close_incident, incident_register, new_incident
from gateway.errors import ConfigurationError, InputError, StepOutOfOrder
from gateway.policy.audit_duties import AuditPlanItem, parse_audit_duties

FOUND = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MONTHLY = AuditPlanItem("person-lookups", "person look-ups", 30, "senior_analyst")
LOCAL = AuditPlanItem("organisation-activity", "one organisation", 90, "local_auditor")


def _incident(hours_later: float, kind: str = "security", lost: str | None = None):  # type: ignore[no-untyped-def]
    return new_incident(
        "INC-1",
        kind,
        FOUND,
        FOUND + timedelta(hours=hours_later),
        summary="tailgating at the custody suite",
        lost=lost,
        actor="a.khan",
        organisation="MBC",
        report_hours=24,
    )


@pytest.mark.parametrize(
    ("hours", "late"), [(0.5, False), (23.9, False), (24, False), (24.02, True), (300, True)]
)
def test_an_incident_is_late_only_after_the_rules_hours(hours: float, late: bool) -> None:
    incident = _incident(hours)
    assert incident.late is late
    assert incident.details()["late"] is late


def test_the_rule_is_the_policys() -> None:
    found = new_incident(
        "INC-2",
        "security",
        FOUND,
        FOUND + timedelta(hours=5),
        summary="s",
        lost=None,
        actor="a",
        organisation="o",
        report_hours=4,
    )
    assert found.late
    assert found.details()["report_hours"] == 4


def test_a_data_loss_records_what_was_lost_and_only_a_data_loss_does() -> None:
    assert _incident(1, "data_loss", "40 crime records").details()["lost"] == "40 crime records"
    with pytest.raises(InputError, match="what was lost"):
        _incident(1, "data_loss", "  ")
    with pytest.raises(InputError, match="only a data_loss"):
        _incident(1, "security", "something")


def test_bad_reports_are_refused() -> None:
    with pytest.raises(InputError, match="discovered after it is reported"):
        _incident(-1)
    with pytest.raises(InputError, match="one of security, data_loss"):
        _incident(1, "rumour")
    with pytest.raises(InputError, match="time zone"):
        new_incident(
            "I",
            "security",
            datetime(2026, 3, 1),
            FOUND,
            summary="s",
            lost=None,
            actor="a",
            organisation="o",
            report_hours=24,
        )


def test_the_register_reads_the_records_back() -> None:
    fact = _incident(30, "data_loss", "a laptop")
    event = seal(
        1, "E1", fact.reported_at, fact.kind.value, "a.khan", "MBC", fact.details(), GENESIS_HASH
    )
    other = seal(2, "E2", FOUND, "token.issued", "x", "", {}, event.hash)
    (entry,) = incident_register([event, other])
    assert (entry.incident_id, entry.late, entry.hours_to_report, entry.lost) == (
        "INC-1",
        True,
        30.0,
        "a laptop",
    )
    assert entry.reported_by == "a.khan"
    assert entry.organisation == "MBC"


def _done(item: AuditPlanItem, when: datetime, scope: str = "", seq: int = 1):  # type: ignore[no-untyped-def]
    fact = AuditPerformed("AUD-1", item.name, "none", None, None, scope, "s.patel", "CP")
    return seal(
        seq, f"E{seq}", when, fact.kind.value, "s.patel", "CP", fact.details(), GENESIS_HASH
    )


def test_a_duty_is_due_its_period_after_it_was_last_done() -> None:
    now = datetime(2026, 4, 30, tzinfo=UTC)
    (never,) = duty_status((MONTHLY,), [], now)
    assert never.overdue
    assert never.last_done is None
    assert never.due == now
    (recent,) = duty_status((MONTHLY,), [_done(MONTHLY, now - timedelta(days=10))], now)
    assert not recent.overdue
    assert recent.due == now + timedelta(days=20)
    (stale,) = duty_status((MONTHLY,), [_done(MONTHLY, now - timedelta(days=31))], now)
    assert stale.overdue
    assert stale.audits == 1


def test_a_local_auditors_view_counts_their_organisations_audits_only() -> None:
    now = datetime(2026, 4, 30, tzinfo=UTC)
    other = _done(LOCAL, now - timedelta(days=1), scope="RCBC")
    (ours,) = duty_status((LOCAL,), [other], now, scope="MBC")
    assert ours.overdue
    assert ours.audits == 0
    (everyone,) = duty_status((LOCAL,), [other], now)
    assert not everyone.overdue


def test_an_audit_record_is_checked() -> None:
    today = date(2026, 4, 30)
    ok = new_audit(
        "A",
        MONTHLY,
        findings=" all fine ",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
        scope="",
        actor="s",
        organisation="CP",
        today=today,
    )
    assert ok.details()["findings"] == "all fine"
    with pytest.raises(InputError, match="findings"):
        new_audit(
            "A",
            MONTHLY,
            findings=" ",
            period_start=None,
            period_end=None,
            scope="",
            actor="s",
            organisation="CP",
            today=today,
        )
    with pytest.raises(InputError, match="ends before it starts"):
        new_audit(
            "A",
            MONTHLY,
            findings="x",
            period_start=date(2026, 3, 2),
            period_end=date(2026, 3, 1),
            scope="",
            actor="s",
            organisation="CP",
            today=today,
        )
    with pytest.raises(InputError, match="future"):
        new_audit(
            "A",
            MONTHLY,
            findings="x",
            period_start=None,
            period_end=date(2026, 5, 1),
            scope="",
            actor="s",
            organisation="CP",
            today=today,
        )


def test_the_plan_is_validated_at_load() -> None:
    with pytest.raises(ConfigurationError, match="each duty needs its own name"):
        parse_audit_duties(
            {
                "plan": [
                    {"name": "a", "sample": "s", "every_days": 1, "by": "auditor"},
                    {"name": "a", "sample": "s", "every_days": 2, "by": "auditor"},
                ]
            }
        )
    with pytest.raises(ConfigurationError, match=r"audit.plan\[0\].by"):
        parse_audit_duties({"plan": [{"name": "a", "sample": "s", "every_days": 1, "by": ""}]})
    with pytest.raises(ConfigurationError, match="unknown key"):
        parse_audit_duties({"schedule": []})
    with pytest.raises(ConfigurationError, match="incident_report_hours"):
        parse_audit_duties({"incident_report_hours": 0})


def test_a_closure_is_folded_into_the_register_once() -> None:
    fact = _incident(2)
    reported = seal(
        1, "E1", fact.reported_at, fact.kind.value, "a.khan", "MBC", fact.details(), GENESIS_HASH
    )
    (open_incident,) = incident_register([reported])
    assert open_incident.closed_by is None
    closure = close_incident(
        open_incident, actions="user retrained", actor="s.patel", organisation="CP"
    )
    closed = seal(
        2, "E2", FOUND, closure.kind.value, "s.patel", "CP", closure.details(), reported.hash
    )
    (entry,) = incident_register([reported, closed])
    assert (entry.closed_by, entry.actions) == ("s.patel", "user retrained")
    with pytest.raises(StepOutOfOrder):
        close_incident(entry, actions="again", actor="m.hughes", organisation="CP")
    with pytest.raises(InputError, match="actions taken"):
        close_incident(open_incident, actions=" ", actor="s.patel", organisation="CP")


def test_a_discovery_date_from_another_decade_is_refused_and_old_records_still_read() -> None:
    with pytest.raises(InputError, match="ten years ago"):
        new_incident(
            "I",
            "security",
            datetime(147, 9, 27, tzinfo=UTC),
            FOUND,
            summary="s",
            lost=None,
            actor="a",
            organisation="o",
            report_hours=24,
        )
    # a record written before that check, its year without leading zeros, still reads
    details = {**_incident(1).details(), "discovered_at": "147-09-27T14:19:02.000000Z"}
    event = seal(1, "E1", FOUND, "incident.reported", "a.khan", "MBC", details, GENESIS_HASH)
    (entry,) = incident_register([event])
    assert entry.discovered_at == datetime(147, 9, 27, 14, 19, 2, tzinfo=UTC)
