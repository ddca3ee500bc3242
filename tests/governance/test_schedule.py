"""The lifecycle as a built-in schedule the server runs (no cron): access reviews of every
account, code-of-connection reminders once per state, and the run itself in the audit log."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.lifecycle import run_lifecycle_once
from gateway.api.settings import GatewaySettings
from gateway.audit import AuditLog
from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.governance.oversight import SCHEDULER

from . import warehouse
from .conftest import World


def test_code_of_connection_reminders_follow_its_state_once_each(
    world: World, audit: AuditLog
) -> None:
    service, clock = world.service, world.clock
    # reviews stay open throughout (this test is about the code of connection alone)
    service.set_settings("root", replace(service.settings(), review_days=1000))
    first = service.scheduled_cycle()
    assert first["coc_reminders"] == ["HBC"]  # never declared; MBC's is current
    assert service.scheduled_cycle()["coc_reminders"] == []  # reminded once, not every run

    clock.advance(days=365 - 20)  # MBC's declaration lapses within the warning period
    assert service.scheduled_cycle()["coc_reminders"] == ["MBC"]
    assert service.scheduled_cycle()["coc_reminders"] == []
    clock.advance(days=21)  # and then lapses
    assert service.scheduled_cycle()["coc_reminders"] == ["MBC"]
    service.declare_code_of_connection("p.spoc", "MBC", "renewed")
    assert service.scheduled_cycle()["coc_reminders"] == []

    reminders = [
        e for e in audit.events(kinds=("access.code_of_connection_due",))
        if e.details["subject"] == "MBC"
    ]  # fmt: skip
    assert [e.details["details"]["status"] for e in reminders] == ["due", "lapsed"]
    assert reminders[0].details["details"]["spocs"] == ["p.spoc"]
    assert {e.actor for e in reminders} == {SCHEDULER}


def test_the_scheduled_run_reviews_every_account_and_is_audited(
    world: World, audit: AuditLog
) -> None:
    result = world.service.scheduled_cycle()
    assert sorted(r.split("-")[1] for r in result["opened"]) == ["CLE", "HBC", "MBC"]
    reviews = {r.organisation: r for r in world.service.access_reviews()}
    cle = {e.username for e in reviews["CLE"].entries}
    assert {"root", "h.intel", "i.sec", "a.man", "s.super", "o.wner"} <= cle  # no data access
    [run] = list(audit.events(kinds=("access.lifecycle_run",)))
    assert run.actor == SCHEDULER
    assert run.details["details"]["result"]["opened"] == result["opened"]
    assert world.service.scheduled_cycle()["opened"] == []  # not due again for six months
    assert len(list(audit.events(kinds=("access.lifecycle_run",)))) == 1  # quiet runs: no record


def test_a_failed_run_is_logged_and_left_for_the_next(world: World, audit: AuditLog) -> None:
    audit.close()  # the audit log is unavailable: nothing may change without its record
    assert run_lifecycle_once(world.service) is None
    assert world.service.access_reviews() == []


def test_the_server_runs_the_schedule_itself(
    world: World, data_dir: DataDir, catalog: Catalog, audit: AuditLog
) -> None:
    world.clock.now = datetime.now(UTC)  # the server runs on the real clock
    warehouse.build(data_dir.warehouse, catalog)
    app = create_app(GatewaySettings(data_dir=data_dir.root, engine_workers=1))
    with TestClient(app):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            opened = list(audit.events(kinds=("access.review_opened",)))
            if len(opened) == 3:
                break
            time.sleep(0.1)
    assert {e.actor for e in opened} == {SCHEDULER}
    assert sorted(e.details["details"]["organisation_code"] for e in opened) == [
        "CLE",
        "HBC",
        "MBC",
    ]
    due = {e.details["details"]["due"] for e in opened}
    assert due == {(datetime.now(UTC) + timedelta(days=28)).date().isoformat()}
