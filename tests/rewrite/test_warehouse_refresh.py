"""A refreshed warehouse taken up while the gateway serves (gateway.warehouse_refresh): the
same answers as a restart on the new file, with and without masked projections; the previous
version answers until the switch and after a failed refresh; the switch is audited first."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from gateway.audit.kinds import EventKind
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.engines.hardening import file_identity
from gateway.policy.projection import PROJECTION_CATALOG
from gateway.service import QueryService
from gateway.warehouse_refresh import WarehouseRefresh
from tests.gateway_server import generated_source, prepare_data_dir, start_gateway
from tests.rewrite import crafted
from tests.rewrite.conftest import ANALYST
from tests.rewrite.test_projections import USERS

QUERIES = (
    "SELECT count(*) AS n FROM custody",
    "SELECT police_uk_category, count(*) AS n FROM crime GROUP BY ALL",
    "SELECT * FROM crime_person",
    "SELECT * FROM person",
)


@pytest.fixture
def root(crafted_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "dir"
    root.mkdir()
    for name in ("warehouse.duckdb", "policy.toml"):
        shutil.copy2(crafted_dir / name, root / name)
    (root / "users.toml").write_text(USERS, "utf-8")
    return root


def _answers(service: QueryService) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for sql in QUERIES:
        outcome = service.run_query(ANALYST, sql, "SA")
        try:
            rows = outcome.result.to_table().to_pylist()
        finally:
            outcome.result.discard()
        out[sql] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out


def _texts(service: QueryService) -> list[str]:
    texts = []
    for sql in QUERIES:
        outcome = service.run_query(ANALYST, sql, "SA")
        outcome.result.discard()
        texts.append(outcome.rewrite.sql)
    return texts


def refreshed_copy(warehouse: Path) -> None:
    """Replace ``warehouse`` as a load job does: a changed copy written beside it, renamed
    over it. The copy has fewer custody records, recategorised crimes and a new person linked
    to a visible crime (a new identifier: its pseudonym must come from the rebuilt vault)."""
    fresh = warehouse.with_name("incoming.duckdb")
    shutil.copy2(warehouse, fresh)
    with duckdb.connect(str(fresh)) as con:
        con.execute("DELETE FROM custody WHERE custody_id % 3 = 0")
        con.execute("UPDATE crime SET police_uk_category = 'drugs' WHERE crime_id % 4 = 0")
        con.execute(
            "INSERT INTO person SELECT * REPLACE (person_id + 1000000 AS person_id) "
            "FROM person ORDER BY person_id LIMIT 1"
        )
        con.execute(
            "INSERT INTO crime_person SELECT * REPLACE ("
            "  (SELECT max(person_id) FROM person) AS person_id, 'victim' AS role) "
            f"FROM crime_person WHERE crime_id IN (SELECT crime_id FROM crime "
            f"  WHERE local_authority_code = '{crafted.VISIBLE}') ORDER BY crime_id LIMIT 1"
        )
    os.replace(fresh, warehouse)


def _refresh(deployment: Deployment) -> WarehouseRefresh:
    refresh = deployment.warehouse_refresh
    assert refresh is not None
    return refresh


@pytest.mark.parametrize("projections", [False, True], ids=["live", "projections"])
def test_a_refreshed_warehouse_answers_as_a_restart_would(
    root: Path, tmp_path: Path, projections: bool
) -> None:
    with Deployment.open(DataDir(root), workers=2, projections=projections) as deployment:
        service, refresh = deployment.service, _refresh(deployment)
        before, texts = _answers(service), _texts(service)
        pids = set(service.engine.worker_pids())  # type: ignore[attr-defined]
        assert not refresh.check()  # nothing new
        refreshed_copy(root / "warehouse.duckdb")
        assert not refresh.check()  # seen once: it may still be being written
        assert _answers(service) == before  # the workers have the previous version open
        assert refresh.check()  # stood still: taken up
        assert (refresh.state, refresh.refreshes) == ("current", 1)
        after = _answers(service)
        assert after != before
        assert not pids & set(service.engine.worker_pids())  # type: ignore[attr-defined]
        # The same statements: a projection is named after its policy subquery, not the version.
        assert _texts(service) == texts
        assert any(f"{PROJECTION_CATALOG}.main.p_" in text for text in texts) == projections
        records = list(deployment.audit.events(kinds={EventKind.POLICY_WAREHOUSE_REFRESHED}))
        assert len(records) == 1
        details = records[0].details["details"]
        assert details["version"]["inode"] == file_identity(root / "warehouse.duckdb")[1]
        assert details["previous"]["inode"] != details["version"]["inode"]
        assert (details["projections"] is not None) == projections
    restarted_dir = tmp_path / "restarted"
    shutil.copytree(root, restarted_dir, ignore=shutil.ignore_patterns("tmp", "audit*", "proj*"))
    with Deployment.open(DataDir(restarted_dir), workers=1) as restarted:
        assert after == _answers(restarted.service)  # the same as a restart on the new file


def test_a_copy_still_changing_is_not_taken_up_until_it_stands_still(root: Path) -> None:
    warehouse = root / "warehouse.duckdb"
    with Deployment.open(DataDir(root), workers=1) as deployment:
        refresh = _refresh(deployment)
        refreshed_copy(warehouse)
        assert not refresh.check()
        with duckdb.connect(str(warehouse)) as con:  # the load job is still writing it
            con.execute("DELETE FROM custody WHERE custody_id % 5 = 0")
        assert not refresh.check()  # changed since it was seen: not yet
        assert refresh.refreshes == 0
        assert refresh.check()
        assert refresh.refreshes == 1


def test_a_failed_refresh_keeps_the_previous_version_answering(root: Path, tmp_path: Path) -> None:
    warehouse = root / "warehouse.duckdb"
    good = tmp_path / "good.duckdb"  # a changed warehouse, kept aside for later
    shutil.copy2(warehouse, good)
    refreshed_copy(good)
    with Deployment.open(DataDir(root), workers=2) as deployment:
        service, refresh = deployment.service, _refresh(deployment)
        before = _answers(service)
        broken = root / "broken.duckdb"
        broken.write_bytes(b"not a DuckDB file" * 100)
        os.replace(broken, warehouse)
        assert not refresh.check()
        assert not refresh.check()  # stood still, but nothing can be built from it
        assert (refresh.state, refresh.reason) == ("failed", "ConfigurationError")
        assert _answers(service) == before  # the previous version still answers
        assert not list(deployment.audit.events(kinds={EventKind.POLICY_WAREHOUSE_REFRESHED}))
        assert not refresh.check()  # the same broken file is not tried again
        shutil.copy2(good, root / "incoming.duckdb")
        os.replace(root / "incoming.duckdb", warehouse)
        assert not refresh.check()
        assert refresh.check()  # a new version that stood still: taken up
        assert (refresh.state, refresh.reason) == ("current", "")
        assert _answers(service) != before


def test_a_failure_that_passes_is_retried_without_a_new_file(root: Path) -> None:
    # The projections cannot be written (an operator's mistake, a full disk); once that is
    # mended the same version is taken up at the next retry, later ones waiting longer.
    with Deployment.open(DataDir(root), workers=1, projections=True) as deployment:
        service, refresh = deployment.service, _refresh(deployment)
        now = [0.0]
        refresh.clock = lambda: now[0]
        before = _answers(service)
        shutil.rmtree(root / "projections")
        (root / "projections").write_text("not a folder", "utf-8")
        refreshed_copy(root / "warehouse.duckdb")
        assert not refresh.check()
        assert not refresh.check()
        assert refresh.state == "failed"
        now[0] += 59
        assert not refresh.check()  # not yet: a minute after the failure
        now[0] += 2
        assert not refresh.check()  # tried again, failed again: now two minutes
        assert refresh.state == "failed"
        now[0] += 119
        assert not refresh.check()
        assert _answers(service) == before
        (root / "projections").unlink()  # mended
        now[0] += 2
        assert refresh.check()
        assert refresh.state == "current"
        assert _answers(service) != before
        assert len(list(deployment.audit.events(kinds={EventKind.POLICY_WAREHOUSE_REFRESHED}))) == 1


NEWCOMER = """
[users."n.new"]
organisation = "Hartlepool Borough Council"
level = "general"
areas = ["E06000001"]
purposes = ["SA"]
roles = ["analyst"]
"""


def test_a_principal_added_after_the_start_gets_projections_within_the_check(
    root: Path, crafted_service: QueryService
) -> None:
    sql = "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY ALL"
    with Deployment.open(DataDir(root), workers=1, projections=True) as deployment:
        service, refresh = deployment.service, _refresh(deployment)
        now = [refresh.clock()]  # the first question is due covered_s after the start
        refresh.clock = lambda: now[0]
        with (root / "users.toml").open("a", encoding="utf-8") as users:
            users.write(NEWCOMER)  # access granted after the start
        newcomer = deployment.directory.principal("n.new", utc_now())
        assert newcomer is not None
        first = service.run_query(newcomer, sql, "SA")
        first.result.discard()
        assert PROJECTION_CATALOG not in first.rewrite.sql  # not built for them: live
        assert not refresh.check()  # not time to ask yet
        now[0] += 301
        assert refresh.check()  # asked: their views are not covered, rebuilt and switched
        assert (refresh.rebuilds, refresh.refreshes) == (1, 0)
        again = service.run_query(newcomer, sql, "SA")
        try:
            assert f"{PROJECTION_CATALOG}.main.p_" in again.rewrite.sql
            rows = sorted(tuple(r.values()) for r in again.result.to_table().to_pylist())
        finally:
            again.result.discard()
        live = crafted_service.run_query(newcomer, sql, "SA")
        try:
            assert rows == sorted(tuple(r.values()) for r in live.result.to_table().to_pylist())
        finally:
            live.result.discard()
        now[0] += 301
        assert not refresh.check()  # covered now: nothing to do
        assert not list(deployment.audit.events(kinds={EventKind.POLICY_WAREHOUSE_REFRESHED}))
        built = list(deployment.audit.events(kinds={EventKind.POLICY_PROJECTIONS_READY}))
        assert len(built) == 2  # at start, and the rebuild (each build records itself)


def test_a_server_takes_up_a_refreshed_warehouse_by_itself(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = prepare_data_dir(generated_source(request), tmp_path / "served")
    # With projections built in the background at start, as a server does: the refresh waits
    # for that switch, then rebuilds them for the new file.
    env = {"GATEWAY_WAREHOUSE_CHECK_S": "0.2", "GATEWAY_PROJECTIONS": "1"}
    gateway = start_gateway(data.root, env=env)
    try:
        headers = gateway.headers("s.patel")
        body = {"sql": "SELECT count(*) AS n FROM custody", "purpose": "SA-2026"}
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=60) as http:
            before = http.post("/v1/query", json=body).json()["rows"][0][0]
            fresh = data.root / "incoming.duckdb"
            shutil.copy2(data.warehouse, fresh)
            with duckdb.connect(str(fresh)) as con:
                con.execute(
                    "DELETE FROM custody WHERE custody_id = (SELECT min(custody_id) FROM custody)"
                )
            os.replace(fresh, data.warehouse)
            deadline = time.monotonic() + 60
            while http.post("/v1/query", json=body).json()["rows"][0][0] == before:
                assert time.monotonic() < deadline, "the refreshed warehouse was not taken up"
                time.sleep(0.2)
            while (health := http.get("/healthz").json())["warehouse"] != "current":
                assert time.monotonic() < deadline, health  # answers come a moment before
                time.sleep(0.05)
        assert health["status"] == "ok", health["reasons"]
        assert health["projections"] == "ready"
    finally:
        gateway.stop()
