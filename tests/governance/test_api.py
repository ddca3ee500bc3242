"""The governance register behind the HTTP API: tokens, origin checks, the request workflow.

A real app (``create_app``) over a data directory with a warehouse, the governance register as
its principal directory and the governed authenticator; requests from chosen client addresses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.settings import GatewaySettings
from gateway.audit import AuditLog, verify_data_dir
from gateway.auth.tokens import TokenStore
from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.governance.model import NetworkRange
from gateway.governance.preconditions import Vetting

from . import warehouse
from .conftest import (
    CHAIN,
    MBC_ANALYST,
    MBC_NETWORK,
    MBRO,
    World,
    approve,
    general_form,
    make_ready,
    person,
)

INSIDE = ("192.0.2.5", 50000)
OUTSIDE = ("198.51.100.7", 50000)


@pytest.fixture
def app_dir(world: World, data_dir: DataDir, catalog: Catalog) -> DataDir:
    """The register of ``world`` (force staff in the same partnership hub), plus a warehouse."""
    world.service.add_network("root", NetworkRange("CLE", MBC_NETWORK, "partnership hub"))
    warehouse.build(data_dir.warehouse, catalog)
    return data_dir


@pytest.fixture
def tokens(app_dir: DataDir) -> dict[str, str]:
    store = TokenStore(app_dir.governance)
    names = ["a.khan", "b.lee", "m.jones", "s.super", "a.man", "i.sec", "h.intel", "p.spoc", "root"]
    return {n: store.issue(n, issued_by="root").token for n in names}


@pytest.fixture
def app(app_dir: DataDir) -> Any:
    settings = GatewaySettings(data_dir=app_dir.root, engine_workers=1)
    return create_app(settings)


@pytest.fixture
def inside(app: Any) -> Iterator[TestClient]:
    with TestClient(app, client=INSIDE) as client:
        yield client


def auth(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_apply_approve_and_query_over_http(
    inside: TestClient, tokens: dict[str, str], app_dir: DataDir
) -> None:
    status = inside.get("/v1/access/status", headers=auth(tokens, "a.khan"))
    assert status.status_code == 200
    assert [m["code"] for m in status.json()["missing"]] == ["no_request"]

    body = {
        "level": "general",
        "purposes": [{"code": "SA-2026-MBRO", "description": "Strategic assessment"}],
        "key_duties": "CSP analyst",
        "products": ["Strategic assessment"],
        "dissemination": ["CSP board"],
    }
    created = inside.post("/v1/access/requests", json=body, headers=auth(tokens, "a.khan"))
    assert created.status_code == 201, created.text
    request_id = created.json()["request_id"]
    assert created.json()["waiting_role"] == "line_manager"

    early = inside.post(f"/v1/access/requests/{request_id}/authorise", json={},
                        headers=auth(tokens, "h.intel"))  # fmt: skip
    assert error(early) == (409, "step_out_of_order")
    own = inside.post(f"/v1/access/requests/{request_id}/endorse", json={},
                      headers=auth(tokens, "a.khan"))  # fmt: skip
    assert error(own) == (403, "self_approval")

    waiting = inside.get("/v1/access/pending", headers=auth(tokens, "m.jones"))
    assert [r["request_id"] for r in waiting.json()] == [request_id]
    for actor, action in CHAIN:
        done = inside.post(f"/v1/access/requests/{request_id}/{action}",
                           json={"comment": f"{action} ok"}, headers=auth(tokens, actor))  # fmt: skip
        assert done.status_code == 200, done.text
    assert done.json()["state"] == "authorised"

    status = inside.get("/v1/access/status", headers=auth(tokens, "a.khan")).json()
    assert status["ready"] is True
    assert status["level"] == "general"
    me = inside.get("/v1/me", headers=auth(tokens, "a.khan")).json()
    assert (me["level"], me["areas"], me["purposes"]) == ("general", [MBRO], ["SA-2026-MBRO"])

    sql = "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1"
    answer = inside.post("/v1/query", json={"sql": sql, "purpose": "SA-2026-MBRO"},
                         headers=auth(tokens, "a.khan"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [[MBRO, warehouse.MBRO_CRIMES]]
    wrong = inside.post("/v1/query", json={"sql": sql, "purpose": "JAG-1"},
                        headers=auth(tokens, "a.khan"))  # fmt: skip
    assert error(wrong) == (403, "purpose_not_approved")

    history = inside.get(f"/v1/access/requests/{request_id}", headers=auth(tokens, "a.khan"))
    assert [t["role"] for t in history.json()["history"]][-1] == "head_of_intelligence"
    assert error(
        inside.get(f"/v1/access/requests/{request_id}", headers=auth(tokens, "b.lee"))
    ) == (
        403,
        "wrong_role",
    )
    assert verify_data_dir(app_dir).ok


def test_token_from_an_unregistered_address_is_refused_and_audited(
    app: Any, tokens: dict[str, str], audit: AuditLog
) -> None:
    with TestClient(app, client=OUTSIDE) as outside:
        refused = outside.get("/v1/access/status", headers=auth(tokens, "a.khan"))
    assert error(refused) == (403, "network_not_permitted")
    [event] = list(audit.events(kinds=("access.denied",)))
    assert event.actor == "a.khan"
    assert event.details["details"] == {
        "reason": "network_not_permitted",
        "client_address": OUTSIDE[0],
    }
    with TestClient(app, client=INSIDE) as inside:
        assert inside.get("/v1/access/status", headers=auth(tokens, "a.khan")).status_code == 200


def test_lapsed_preconditions_are_refused_at_the_door_with_the_reason(
    world: World, inside: TestClient, audit: AuditLog
) -> None:
    service = world.service
    world.clock.now = datetime.now(UTC)  # the app runs on the real clock
    today = world.clock.now.date()
    service.add_person("root", person("c.new", "MBC", "analyst", **MBC_ANALYST))
    make_ready(service, "c.new")
    approve(service, service.submit("c.new", general_form("c.new")).request_id)
    token = TokenStore(service.store.path).issue("c.new", issued_by="root").token
    headers = {"Authorization": f"Bearer {token}"}
    assert inside.get("/v1/access/status", headers=headers).status_code == 200

    # The clearance is withdrawn: the vetting unit's corrected record ended yesterday.
    with service.store.writing() as tx:
        tx.conn.execute("DELETE FROM vetting WHERE username = 'c.new'")
    service.record_vetting(
        "i.sec", Vetting("c.new", "NPPV3", today - timedelta(days=700), today - timedelta(days=1))
    )
    refused = inside.get("/v1/access/status", headers=headers)
    assert error(refused) == (403, "vetting_expired")
    assert "expired on" in refused.json()["error"]["message"]
    denied = [e.details["details"]["reason"] for e in audit.events(kinds=("access.denied",))]
    assert denied == ["vetting_expired"]


def test_no_request_can_name_who_acts(inside: TestClient, tokens: dict[str, str]) -> None:
    """The actor is the token's person: a name in the body or the query changes nothing."""
    created = inside.post(
        "/v1/access/requests",
        json={"level": "general", "key_duties": "CSP analyst", "products": ["SA"],
              "dissemination": ["CSP board"],
              "purposes": [{"code": "SA-2026-MBRO", "description": "Strategic assessment"}]},
        headers=auth(tokens, "a.khan"),
    )  # fmt: skip
    request_id = created.json()["request_id"]
    path = f"/v1/access/requests/{request_id}/endorse"
    in_body = inside.post(path, json={"comment": "ok", "actor": "m.jones", "username": "m.jones"},
                          headers=auth(tokens, "a.khan"))  # fmt: skip
    assert error(in_body) == (403, "self_approval")
    in_query = inside.post(path, params={"as": "m.jones"}, json={}, headers=auth(tokens, "a.khan"))
    assert in_query.status_code == 400
    assert (
        inside.get(f"/v1/access/requests/{request_id}", headers=auth(tokens, "a.khan")).json()[
            "state"
        ]
        == "submitted"
    )


def test_register_routes_decide_by_the_callers_roles(
    inside: TestClient, tokens: dict[str, str], audit: AuditLog
) -> None:
    org = {"code": "RCBC", "name": "Redcar and Cleveland Council", "areas": ["E06000003"]}
    analyst = inside.post("/v1/access/organisations", json=org, headers=auth(tokens, "a.khan"))
    assert error(analyst) == (403, "wrong_role")
    admin = inside.post("/v1/access/organisations", json=org, headers=auth(tokens, "root"))
    assert admin.status_code == 201, admin.text
    assert error(inside.post("/v1/access/organisations", json=org,
                             headers=auth(tokens, "root"))) == (409, "conflict")  # fmt: skip
    listed = inside.get("/v1/access/organisations", headers=auth(tokens, "i.sec")).json()
    assert "RCBC" in {o["code"] for o in listed}
    assert error(inside.get("/v1/access/users", headers=auth(tokens, "a.khan"))) == (
        403,
        "wrong_role",
    )
    own = inside.post("/v1/access/users/i.sec/vetting", headers=auth(tokens, "i.sec"),
                      json={"level": "NPPV3", "granted": "2026-01-01", "expires": "2030-01-01"})  # fmt: skip
    assert error(own) == (403, "self_approval")
    loopback = inside.patch("/v1/access/settings", json={"allow_loopback": True},
                            headers=auth(tokens, "h.intel"))  # fmt: skip
    assert error(loopback) == (403, "wrong_role")
    changed = inside.patch("/v1/access/settings", json={"allow_loopback": True, "comment": "demo"},
                           headers=auth(tokens, "root"))  # fmt: skip
    assert changed.json()["allow_loopback"] is True
    [event] = list(audit.events(kinds=("access.organisation_added",)))[-1:]
    assert (event.actor, event.details["subject"]) == ("root", "RCBC")


def test_an_organisation_suspended_as_a_whole_has_every_token_refused(
    inside: TestClient, tokens: dict[str, str], world: World, audit: AuditLog
) -> None:
    world.clock.now = datetime.now(UTC)  # the app runs on the real clock
    for who in ("a.khan", "b.lee"):
        approve(world.service, world.service.submit(who, general_form(who)).request_id)
    assert inside.get("/v1/me", headers=auth(tokens, "a.khan")).status_code == 200
    refused = inside.post("/v1/access/organisations/MBC/suspend", json={"reason": "x"},
                          headers=auth(tokens, "p.spoc"))  # fmt: skip
    assert error(refused) == (403, "wrong_role")
    done = inside.post("/v1/access/organisations/MBC/suspend",
                       json={"reason": "data loss under investigation"},
                       headers=auth(tokens, "i.sec"))  # fmt: skip
    assert done.status_code == 200, done.text
    for who in ("a.khan", "b.lee", "m.jones", "p.spoc"):  # analysts, approvers, the SPOC
        assert error(inside.get("/v1/me", headers=auth(tokens, who))) == (403, "account_suspended")
    assert inside.get("/v1/me", headers=auth(tokens, "s.super")).status_code == 200  # the force
    back = inside.post("/v1/access/organisations/MBC/reinstate",
                       json={"reason": "investigation closed"},
                       headers=auth(tokens, "h.intel"))  # fmt: skip
    assert back.status_code == 200, back.text
    assert inside.get("/v1/me", headers=auth(tokens, "a.khan")).json()["level"] == "general"
    kinds = [e.kind for e in audit.events() if e.details.get("subject") == "MBC"]
    assert kinds[-2:] == ["access.organisation_suspended", "access.organisation_reinstated"]


def test_the_published_list_of_organisations_and_their_agreements(
    inside: TestClient, tokens: dict[str, str], world: World
) -> None:
    listed = inside.get("/v1/access/agreements", headers=auth(tokens, "a.khan"))
    assert listed.status_code == 200, listed.text
    by_code = {o["code"]: o for o in listed.json()}
    assert by_code["MBC"]["agreement"]["reference"] == "ISA-MBC-2026"
    assert by_code["MBC"]["agreement"]["copied_to"] == "root"
    assert by_code["MBC"]["authorised"] is True
    assert by_code["MBC"]["missing"] == []
    assert by_code["HBC"]["agreement"] is None
    assert by_code["HBC"]["missing"] == ["isa_missing", "system_owner_authorisation_missing"]
    assert by_code["CLE"]["missing"] == []
    assert inside.get("/v1/access/agreements").status_code == 401

    recorded = inside.post(
        "/v1/access/organisations/HBC/agreements",
        json={"reference": "ISA-HBC-1", "signed": "2026-01-05", "copied_to": "root"},
        headers=auth(tokens, "root"),
    )
    assert recorded.status_code == 201, recorded.text
    not_admin = inside.post(
        "/v1/access/organisations/HBC/agreements",
        json={"reference": "ISA-HBC-2", "signed": "2026-01-05", "copied_to": "i.sec"},
        headers=auth(tokens, "root"),
    )
    assert error(not_admin) == (403, "wrong_role")
    by_code = {o["code"]: o for o in inside.get("/v1/access/agreements",
                                                headers=auth(tokens, "b.lee")).json()}  # fmt: skip
    assert by_code["HBC"]["agreement"]["reference"] == "ISA-HBC-1"
