"""Grants drive enforcement: authorised requests → principals → policy-enforced queries.

A real warehouse (DuckDB file) behind a real :class:`QueryService`; the governance service writes
to the same audit log, and the chain is verified at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditLog, verify_data_dir
from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import GatewayError
from gateway.governance.directory import GovernanceDirectory
from gateway.governance.preconditions import Declaration, Memorandum, Training, Vetting
from gateway.principal import Principal
from gateway.service import QueryService

from . import warehouse
from .conftest import (
    CHAIN,
    MBC_ANALYST,
    MBRO,
    Clock,
    World,
    approve,
    enhanced_form,
    general_form,
    person,
)

SA = "SA-2026-MBRO"
JAG = "JAG-2026-07"


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Path:
    root = tmp_path_factory.mktemp("governed")
    warehouse.build(root / "warehouse.duckdb", catalog)
    return root


@pytest.fixture(scope="module")
def query_service(warehouse_dir: Path) -> Iterator[QueryService]:
    with Deployment.open(DataDir(warehouse_dir), workers=1) as deployment:
        yield deployment.service


@pytest.fixture
def audit(query_service: QueryService, clock: Clock) -> AuditLog:
    """Governance writes to the query service's own audit log; both read the same clock."""
    query_service.clock = clock
    return query_service.audit


@pytest.fixture
def directory(world: World, query_service: QueryService) -> GovernanceDirectory:
    return GovernanceDirectory(world.service.store, query_service.audit)


def rows(qs: QueryService, principal: Principal, sql: str, purpose: str) -> list[dict[str, Any]]:
    outcome = qs.run_query(principal, sql, purpose)
    try:
        found: list[dict[str, Any]] = outcome.result.to_table().to_pylist()
        return found
    finally:
        outcome.result.discard()


def refused(qs: QueryService, principal: Principal, sql: str, purpose: str) -> str:
    with pytest.raises(GatewayError) as exc:
        rows(qs, principal, sql, purpose)
    return str(exc.value.code)


CRIMES = "SELECT crime_id, local_authority_code, crime_ref, modus_operandi FROM crime ORDER BY 1"


def test_happy_path_request_to_enforced_general_access(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    service, clock = world.service, world.clock
    request = service.submit("a.khan", general_form(purposes=(SA,)))
    assert directory.principal("a.khan", clock()) is not None
    assert refused(query_service, directory.principal("a.khan", clock()), CRIMES, SA) == (
        "purpose_not_approved"
    )
    approve(service, request.request_id)

    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert principal.level == "general"
    found = rows(query_service, principal, CRIMES, SA)
    assert [r["local_authority_code"] for r in found] == [MBRO, MBRO]  # granted area only
    assert all(r["modus_operandi"] is None for r in found)  # general: free text hidden
    assert all(not r["crime_ref"].startswith("CR/") for r in found)  # reference masked
    assert refused(query_service, principal, CRIMES, "JAG-2026-07") == "purpose_not_approved"
    assert refused(query_service, principal, "SELECT * FROM intelligence_report", SA) in {
        "table_not_permitted",
        "table_not_found",
    }
    assert directory.data_refusal("a.khan", clock()) is None


def test_enhanced_grant_unmasks_exactly_its_columns_for_its_purposes_only(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    service, clock = world.service, world.clock
    approve(service, service.submit("a.khan", general_form(purposes=(SA,))).request_id)
    approve(service, service.submit("a.khan", enhanced_form(purpose=JAG)).request_id)
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert principal.level == "enhanced"
    assert set(principal.purposes) == {SA, JAG}

    jag = rows(query_service, principal, CRIMES, JAG)
    assert [r["modus_operandi"] for r in jag] == ["MO-MBRO-1", "MO-MBRO-2"]  # unmasked, own area
    assert all(not r["crime_ref"].startswith("CR/") for r in jag)  # not granted: still masked
    people = rows(query_service, principal, "SELECT surname FROM person", JAG)
    assert people
    assert all(p["surname"] is None for p in people)

    sa = rows(query_service, principal, CRIMES, SA)
    assert all(r["modus_operandi"] is None for r in sa)  # other purpose: masked again


def test_enhanced_table_grant_adds_the_table_for_its_purpose(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    service, clock = world.service, world.clock
    form = enhanced_form(purpose="JAG-INTEL", tables=("intelligence_report",),
                         unmask=("intelligence_report.report_text",))  # fmt: skip
    approve(service, service.submit("a.khan", general_form(purposes=(SA,))).request_id)
    approve(service, service.submit("a.khan", form).request_id)
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    sql = "SELECT report_id, report_text FROM intelligence_report"
    assert rows(query_service, principal, sql, "JAG-INTEL") == [
        {"report_id": 1, "report_text": "INTEL-1"}  # its area only
    ]
    assert refused(query_service, principal, sql, SA) in {"table_not_permitted", "table_not_found"}


def test_expired_grant_stops_at_once(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    service, clock = world.service, world.clock
    form = replace(general_form(purposes=(SA,)), ends=date(2026, 9, 30))
    approve(service, service.submit("a.khan", form).request_id)
    approve(
        service,
        service.submit("a.khan", enhanced_form(purpose=JAG, ends=date(2026, 8, 31))).request_id,
    )

    clock.now = clock.now.replace(month=8, day=31, hour=23, minute=59)
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert rows(query_service, principal, CRIMES, JAG)[0]["modus_operandi"] == "MO-MBRO-1"

    clock.now = clock.now.replace(month=9, day=1, hour=0, minute=0)  # enhanced grant ended
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert principal.level == "general"
    assert refused(query_service, principal, CRIMES, JAG) == "purpose_not_approved"

    clock.now = clock.now.replace(month=10, day=1)  # general grant ended too
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    with pytest.raises(GatewayError) as exc:
        rows(query_service, principal, CRIMES, SA)
    assert (exc.value.code, exc.value.status) == ("access_expired", 403)
    refusal = directory.data_refusal("a.khan", clock())
    assert refusal is not None
    assert refusal.code == "access_expired"


def test_suspended_user_is_refused_at_once_and_reinstated(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    service, clock = world.service, world.clock
    approve(service, service.submit("a.khan", general_form(purposes=(SA,))).request_id)
    service.suspend("i.sec", "a.khan", "shared their login with a colleague")
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert principal.suspended
    with pytest.raises(GatewayError) as exc:
        rows(query_service, principal, CRIMES, SA)
    assert (exc.value.code, exc.value.status) == ("account_suspended", 403)

    clock.advance(hours=2)
    service.reinstate("h.intel", "a.khan", "investigation closed; words of advice")
    principal = directory.principal("a.khan", clock())
    assert principal is not None
    assert not principal.suspended
    assert len(rows(query_service, principal, CRIMES, SA)) == 2


def _new_analyst(
    world: World, username: str, *, vetting_days: int, declarations: tuple[str, ...]
) -> None:
    service, day = world.service, world.clock().date()
    service.add_person("root", person(username, "MBC", "analyst", **MBC_ANALYST))
    memorandum = Memorandum("MBC", f"MOU-{username}", day, username=username)
    service.record_memorandum("root", memorandum)
    service.record_vetting("i.sec", Vetting(username, "NPPV3", day - timedelta(days=700),
                                            day + timedelta(days=vetting_days)))  # fmt: skip
    for kind in declarations:
        service.record_declaration(username, Declaration(username, kind, day))
    for training in ("gateway_training", "information_security_induction"):
        service.record_training("i.sec", Training(username, training, day))


ALL_DECLARATIONS = (
    "confidentiality",
    "data_protection",
    "official_secrets_act",
    "security_operating_procedures",
)


def test_expired_vetting_leaves_no_data_access(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    _new_analyst(world, "c.new", vetting_days=10, declarations=ALL_DECLARATIONS)
    approve(world.service, world.service.submit("c.new", general_form("c.new", (SA,))).request_id)
    principal = directory.principal("c.new", world.clock())
    assert principal is not None
    assert principal.level == "general"

    world.clock.advance(days=11)
    principal = directory.principal("c.new", world.clock())
    assert principal is not None
    assert principal.level == "none"
    assert principal.purposes == ()
    refusal = directory.data_refusal("c.new", world.clock())
    assert refusal is not None
    assert (refusal.code, refusal.status) == ("vetting_expired", 403)
    assert refused(query_service, principal, CRIMES, SA) == "purpose_not_approved"
    standing = world.service.standing("c.new")
    assert [s.code for s in standing.shortfalls] == ["vetting_expired"]


def test_missing_declaration_leaves_no_data_access(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    _new_analyst(world, "d.new", vetting_days=900, declarations=ALL_DECLARATIONS[1:])
    approve(world.service, world.service.submit("d.new", general_form("d.new", (SA,))).request_id)
    principal = directory.principal("d.new", world.clock())
    assert principal is not None
    assert principal.level == "none"
    refusal = directory.data_refusal("d.new", world.clock())
    assert refusal is not None
    assert refusal.code == "precondition_missing"
    assert "confidentiality declaration has not been signed" in str(refusal)

    world.service.record_declaration(
        "d.new", Declaration("d.new", "confidentiality", world.clock().date())
    )
    principal = directory.principal("d.new", world.clock())
    assert principal is not None
    assert principal.level == "general"
    assert len(rows(query_service, principal, CRIMES, SA)) == 2


def test_every_state_change_is_audited_and_the_chain_verifies(
    world: World, warehouse_dir: Path, query_service: QueryService
) -> None:
    service = world.service
    request = service.submit("a.khan", general_form(purposes=(SA,)))
    approve(service, request.request_id)
    service.suspend("i.sec", "a.khan", "misuse")
    service.reinstate("h.intel", "a.khan", "cleared")
    service.revoke("h.intel", "a.khan", "left the council", leaver=True)

    events = [
        e for e in query_service.audit.events() if e.details.get("subject") == request.request_id
    ]
    assert [(e.kind, e.actor) for e in events] == [
        ("access.requested", "a.khan"),
        *[(f"access.{ {'endorse': 'endorsed', 'review': 'reviewed', 'authorise': 'authorised'}[a]}", who)
          for who, a in CHAIN],
    ]  # fmt: skip
    assert events[-1].details["details"]["grant_id"].startswith("G-")
    assert events[1].details["comment"] == "endorse by m.jones"
    assert events[1].organisation == "Middlesbrough Council"
    about_user = [
        e.kind for e in query_service.audit.events() if e.details.get("subject") == "a.khan"
    ]
    assert about_user[-3:] == ["access.suspended", "access.reinstated", "access.revoked"]

    report = verify_data_dir(DataDir(warehouse_dir))
    assert report.ok, report.summary()


def test_a_leaver_is_refused(
    world: World, directory: GovernanceDirectory, query_service: QueryService
) -> None:
    approve(world.service, world.service.submit("a.khan", general_form(purposes=(SA,))).request_id)
    world.service.revoke("h.intel", "a.khan", "left the council", leaver=True)
    world.clock.advance(minutes=1)
    principal = directory.principal("a.khan", world.clock())
    assert principal is not None
    assert principal.suspended
    assert principal.level == "none"
    assert refused(query_service, principal, CRIMES, SA) == "account_suspended"
