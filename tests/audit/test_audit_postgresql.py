"""The PostgreSQL audit store beyond the shared contract (``contract.py`` runs that on it too):
its append-only guard, failing closed while the server is down and recovering after, and two
gateway processes on different ports sharing one hash chain under load, one killed mid-burst.

Each test starts what it needs: a throwaway cluster (``tests/postgres_cluster.py``) and real
``gateway serve`` processes on loopback.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway, prepare_data_dir, start_gateway
from tests.postgres_cluster import PostgresCluster, find_binaries, shared_dsn

from gateway.audit import verify_store
from gateway.audit.location import AUDIT_STORE_VARIABLE, open_audit_store
from gateway.audit.postgresql import PostgresAuditStore
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable

pytestmark = pytest.mark.skipif(
    find_binaries() is None, reason="PostgreSQL server binaries (initdb, pg_ctl) not installed"
)

USERS = ("s.patel", "a.khan")


@pytest.fixture
def dsn(request: pytest.FixtureRequest) -> str:
    """A fresh database of its own in the session's cluster."""
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    with psycopg.connect(shared_dsn(), autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        con.execute(f'CREATE DATABASE "{name}"')
    base = shared_dsn().rsplit("/", 1)[0]
    return f"{base}/{name}"


def test_the_tables_refuse_update_delete_and_truncate(dsn: str) -> None:
    store = PostgresAuditStore(dsn)
    store.append("policy.loaded", "system", "", {"policy_hash": "ab"})
    for statement in (
        "UPDATE gateway_audit.audit_event SET actor = 'someone else'",
        "DELETE FROM gateway_audit.audit_event",
        "TRUNCATE gateway_audit.audit_event",
        "DELETE FROM gateway_audit.audit_meta",
    ):
        with psycopg.connect(dsn) as con, pytest.raises(psycopg.Error, match="append-only"):
            con.execute(statement)
    assert [e.actor for e in store.events()] == ["system"]
    store.close()


def test_a_read_only_store_on_an_empty_database_is_refused(dsn: str) -> None:
    with pytest.raises(AuditUnavailable, match="not an audit database"):
        PostgresAuditStore(dsn, read_only=True)


def test_the_store_fails_closed_while_the_server_is_down_and_recovers_after() -> None:
    with PostgresCluster.start() as cluster:
        store = PostgresAuditStore(cluster.create_database("audit"))
        first = store.append("policy.loaded", "system", "", {})
        cluster.pause()
        with pytest.raises(AuditUnavailable) as refused:
            store.append("query.started", "s.patel", "Org", {"sql": "SELECT 1"})
        message = str(refused.value)
        assert "cannot be reached" in message or "connection was lost" in message
        assert "password" not in message
        with pytest.raises(AuditUnavailable):
            store.head()
        cluster.resume()
        second = store.append("query.started", "s.patel", "Org", {"sql": "SELECT 1"})
        assert (second.seq, second.prev_hash) == (2, first.hash)  # nothing half-written
        assert verify_store(store).ok
        store.close()


def test_the_location_setting_chooses_the_store(tmp_path: Path, dsn: str) -> None:
    data_dir = DataDir(tmp_path)
    embedded = open_audit_store(data_dir, environ={})
    assert data_dir.audit.is_file()
    embedded.close()
    shared = open_audit_store(data_dir, environ={AUDIT_STORE_VARIABLE: f"{dsn}#audit_2026"})
    assert isinstance(shared, PostgresAuditStore)
    assert shared.schema == "audit_2026"
    shared.close()


# --- two gateway processes, one chain --------------------------------------------------------


@pytest.fixture
def shared_gateways(
    tmp_path: Path, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[list[LiveGateway], str]]:
    """Two ``gateway serve`` processes on different ports, one data directory, one
    PostgreSQL audit log (the set-up's own records go there too)."""
    monkeypatch.setenv(AUDIT_STORE_VARIABLE, dsn)
    data_dir = prepare_data_dir(None, tmp_path / "data")
    gateways = [start_gateway(data_dir.root) for _ in range(2)]
    yield gateways, dsn
    for gateway in gateways:
        gateway.stop()


def _burst(
    gateway: LiveGateway, user: str, stop: threading.Event, ids: list[str], errors: list[str]
) -> None:
    purpose = gateway.tokens[user]["purposes"][0]
    with gateway.client(user, timeout=30) as client:
        while not stop.is_set():
            try:
                reply = client.post(
                    "/v1/query",
                    json={"sql": "SELECT count(*) AS n FROM crime", "purpose": purpose},
                )
            except httpx.TransportError:
                return  # this server was killed
            if reply.status_code == 200:
                ids.append(reply.headers["X-Query-Id"])
            elif reply.status_code != 503:  # 503 busy: fair scheduling, refused and audited
                errors.append(f"{reply.status_code} {reply.text[:200]}")


def test_two_gateways_share_one_unbroken_chain_and_one_is_killed_mid_burst(
    shared_gateways: tuple[list[LiveGateway], str],
) -> None:
    gateways, dsn = shared_gateways
    stop = threading.Event()
    answered: list[list[str]] = [[] for _ in range(8)]
    errors: list[str] = []
    threads = [
        threading.Thread(
            target=_burst, args=(gateways[i % 2], USERS[i % 2], stop, answered[i], errors)
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(3)
    os.kill(gateways[1].process.pid, signal.SIGKILL)  # in the middle of the burst
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    ids = [query_id for group in answered for query_id in group]
    assert len(ids) > 20, "the burst ran"

    store = PostgresAuditStore(dsn, read_only=True)
    try:
        report = verify_store(store)
        assert report.ok, report.summary()
        completed: dict[str, int] = {}
        for event in store.events(kinds=("query.completed",)):
            query_id = str(event.details.get("query_id"))
            completed[query_id] = completed.get(query_id, 0) + 1
        # Every answered query is audited as completed, exactly once, on the one chain.
        assert all(completed.get(query_id) == 1 for query_id in ids)
        seqs = [e.seq for e in store.events()]
        assert seqs == list(range(1, len(seqs) + 1))  # one chain, no gap, no fork
    finally:
        store.close()

    # The survivor goes on appending to the same chain; `gateway audit verify` agrees.
    purpose = gateways[0].tokens[USERS[0]]["purposes"][0]
    with gateways[0].client(USERS[0]) as client:
        reply = client.post("/v1/query", json={"sql": "SELECT 1 AS one", "purpose": purpose})
        assert reply.status_code == 200, reply.text
    verified = run_gateway(
        "audit", "verify", "--data-dir", str(gateways[0].data_dir), "--audit-store", dsn
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "valid" in verified.stdout.lower()
