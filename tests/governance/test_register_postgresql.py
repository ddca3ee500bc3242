"""The governance register and credentials in PostgreSQL, shared by two gateway hosts.

Two ``gateway serve`` processes with data directories of their own (as two hosts behind a load
balancer would have) share one register schema (``GATEWAY_REGISTER_STORE``) and one audit log
(``GATEWAY_AUDIT_STORE``) on a throwaway cluster: what one host records about a person — a
token, a lock, a signed-in session — holds on the other at once. The whole register suite runs
on PostgreSQL with ``GATEWAY_TEST_REGISTER=postgresql`` (see tests/conftest.py).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

from gateway.audit.location import AUDIT_STORE_VARIABLE
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError
from gateway.governance.directory import has_register
from gateway.policy.disclosure import DisclosureBudgetRules
from gateway.register_store import REGISTER_STORE_VARIABLE, register_location
from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway, free_port, start_gateway
from tests.postgres_cluster import find_binaries, shared_dsn
from tests.web.conftest import PASSWORD, WebClient, web_data_dir

pytestmark = pytest.mark.skipif(
    find_binaries() is None, reason="PostgreSQL server binaries (initdb, pg_ctl) not found"
)


@dataclass
class Hosts:
    a: LiveGateway
    b: LiveGateway
    env: dict[str, str]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    dsn = shared_dsn()
    run = uuid.uuid4().hex[:12]
    env = {
        REGISTER_STORE_VARIABLE: f"{dsn}#register_{run}",
        AUDIT_STORE_VARIABLE: f"{dsn}#audit_{run}",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        first = web_data_dir(tmp_path_factory.mktemp("host-a") / "data")
    second = tmp_path_factory.mktemp("host-b") / "data"
    shutil.copytree(first.root, second)  # the warehouse, policy and secrets every host has
    (second / "governance.sqlite").unlink(missing_ok=True)
    a = start_gateway(first.root, env=env)
    b = start_gateway(second, env=env)
    yield Hosts(a, b, env)
    a.stop()
    b.stop()


def test_neither_host_keeps_a_register_file(hosts: Hosts) -> None:
    for host in (hosts.a, hosts.b):
        assert not DataDir(host.data_dir).governance.exists()


def test_a_token_works_on_every_host(hosts: Hosts) -> None:
    for host in (hosts.a, hosts.b):
        with host.client("a.khan") as api:
            me = api.get("/v1/me")
            assert me.status_code == 200, me.text
            assert me.json()["username"] == "a.khan"


def test_a_lock_on_one_host_stops_the_person_on_the_other(
    hosts: Hosts, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = WebClient(hosts.a)
    for _ in range(3):
        locked.login("j.taylor", "not the password")
    locked.close()
    with hosts.b.client("j.taylor") as api:
        refused = api.get("/v1/me")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "account_locked"
    for name, value in hosts.env.items():
        monkeypatch.setenv(name, value)
    done = run_gateway("users", "unlock", "j.taylor", "--data-dir", str(hosts.b.data_dir))
    assert done.returncode == 0, done.stderr
    with hosts.a.client("j.taylor") as api:
        assert api.get("/v1/me").status_code == 200


def test_a_session_opened_on_one_host_is_good_on_the_other(hosts: Hosts) -> None:
    """No session affinity is needed at the load balancer."""
    person = WebClient(hosts.a).sign_in("h.lee", PASSWORD)
    elsewhere = WebClient(hosts.b)
    elsewhere.session = person.session
    page = elsewhere.get("/")
    assert page.status_code == 200
    assert "h.lee" in page.text
    person.post("/logout", {"csrf_token": person.csrf()})
    assert elsewhere.get("/").status_code == 303  # signed out everywhere
    person.close()
    elsewhere.close()


def test_both_hosts_write_one_audit_chain(hosts: Hosts, monkeypatch: pytest.MonkeyPatch) -> None:
    for host in (hosts.a, hosts.b):
        with host.client("a.khan") as api:
            body = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}
            assert api.post("/v1/query", json=body).status_code == 200
    for name, value in hosts.env.items():
        monkeypatch.setenv(name, value)
    verified = run_gateway("audit", "verify", "--data-dir", str(hosts.a.data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_unreachable_shared_register_is_an_error_not_a_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without its register a host must not fall back to ``users.toml``."""
    monkeypatch.setenv(
        REGISTER_STORE_VARIABLE, f"postgresql://nobody@127.0.0.1:{free_port()}/x#reg"
    )
    with pytest.raises(ConfigurationError, match="cannot be read"):
        has_register(DataDir(tmp_path))


def test_only_a_postgresql_string_names_a_shared_register(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite"
    assert register_location(path, {}) == str(path)
    with pytest.raises(ConfigurationError, match="postgresql://"):
        register_location(path, {REGISTER_STORE_VARIABLE: "mysql://db/x"})


def test_a_plain_http_request_to_either_host_names_no_register(hosts: Hosts) -> None:
    """The connection string (and any password in it) never reaches a client."""
    for host in (hosts.a, hosts.b):
        health = httpx.get(f"{host.url}/healthz")
        assert "postgresql://" not in health.text


def test_the_differencing_budget_is_one_per_analyst_across_hosts(hosts: Hosts) -> None:
    """Month ranges all holding July 2025, asked alternately of the two hosts: the budget
    counts them together (one ledger in the shared register), so the next different range is
    refused, whichever host is asked."""
    limit = DisclosureBudgetRules().overlapping
    statuses = []
    for back in range(1, limit + 2):  # July 2025 and the `back` months before it
        start = date(2025, 7 - back, 1)
        sql = (
            "SELECT count(*) AS n FROM crime WHERE "
            f"recorded_at >= DATE '{start}' AND recorded_at < DATE '2025-08-01'"
        )
        host = (hosts.a, hosts.b)[back % 2]
        with host.client("a.khan") as api:
            answer = api.post(
                "/v1/query", json={"sql": sql, "purpose": "SA-2026", "disclosure": "policy"}
            )
        statuses.append(
            answer.status_code if answer.status_code == 200 else answer.json()["error"]["code"]
        )
    assert statuses == [200] * limit + ["disclosure_budget_exhausted"]
