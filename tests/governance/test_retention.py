"""The register's history past ``[retention] governance_days`` is disposed of, recorded in the
same transaction; what is still in force, and anything newer, stays (issue 15, finding 9)."""

from __future__ import annotations

import pytest

from gateway.audit import AuditLog
from gateway.errors import NotFound
from gateway.governance.retention import dispose_history
from gateway.policy.retention import RetentionSettings

from .conftest import World, approve, general_form


def test_history_past_the_schedule_goes_with_its_record_and_the_rest_stays(
    world: World, audit: AuditLog
) -> None:
    service, clock = world.service, world.clock
    refused = service.submit("a.khan", general_form())
    service.act("m.jones", refused.request_id, "refuse", "no business case yet")
    granted = service.submit("b.lee", general_form("b.lee"))
    approve(service, granted.request_id)
    service.revoke("root", "b.lee", "moved to another team")
    clock.advance(days=RetentionSettings().governance_days + 10)
    recent = service.submit("a.khan", general_form())  # inside the schedule: kept

    disposed = dispose_history(
        service, RetentionSettings(), actor="system", reason="the retention schedule"
    )

    assert disposed["requests"] == 2
    assert disposed["grants"] == 1
    assert disposed["request_steps"] >= 7  # the refused one's and the authorised one's steps
    for gone in (refused.request_id, granted.request_id):
        with pytest.raises(NotFound):
            service.request(gone)
    assert service.request(recent.request_id).state == recent.state
    [record] = list(audit.events(kinds=["access.history_disposed"]))
    assert record.actor == "system"
    assert record.details["details"]["disposed"] == disposed
    assert record.details["details"]["retention_days"] == RetentionSettings().governance_days
    assert dispose_history(service, RetentionSettings(), actor="system", reason="again") == {
        kind: 0 for kind in disposed
    }
    assert len(list(audit.events(kinds=["access.history_disposed"]))) == 1  # nothing, no record


def test_nothing_inside_the_schedule_is_disposed_of(world: World, audit: AuditLog) -> None:
    service = world.service
    refused = service.submit("a.khan", general_form())
    service.act("m.jones", refused.request_id, "refuse", "no business case yet")
    world.clock.advance(days=RetentionSettings().governance_days - 1)
    disposed = dispose_history(service, RetentionSettings(), actor="system", reason="schedule")
    assert not any(disposed.values())
    assert service.request(refused.request_id).state == "refused"
