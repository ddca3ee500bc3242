"""``gateway demo --governed``: the demo users' access comes from grants made by the workflow.

A real data directory (the session's generated warehouse copied), seeded through
:func:`gateway.cli.demo.grant_demo_access` with ``governed=True``, served by a real
``python -m gateway serve`` on loopback.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from gateway.audit import AuditLog
from gateway.audit.verify import verify_data_dir
from gateway.cli.demo import demo_users, grant_demo_access
from gateway.datadir import DataDir
from gateway.governance.directory import GovernanceDirectory, has_register
from tests.gateway_server import LiveGateway, start_gateway

#: The register as a file (migrated, or a session fixture copied between tests).
pytestmark = pytest.mark.register_file

ANALYSTS = [u for u in demo_users(datetime.now(UTC).date()) if u.level != "none"]


@pytest.fixture(scope="module")
def governed(
    tmp_path_factory: pytest.TempPathFactory, small_data_dir: Path
) -> Iterator[LiveGateway]:
    root = tmp_path_factory.mktemp("governed-demo")
    shutil.copyfile(DataDir(small_data_dir).warehouse, DataDir(root).warehouse)
    grant_demo_access(root, governed=True)
    gateway = start_gateway(root)
    yield gateway
    gateway.stop()


def test_register_is_the_directory_and_grants_match_the_demo_users(governed: LiveGateway) -> None:
    dd = DataDir(governed.data_dir)
    assert has_register(dd)
    directory = GovernanceDirectory.open(dd)
    now = datetime.now(UTC)
    for expected in ANALYSTS:
        got = directory.principal(expected.username, now)
        assert got is not None, expected.username
        assert (got.level, got.areas, got.organisation, got.roles) == (
            expected.level,
            expected.areas,
            expected.organisation,
            expected.roles,
        )
        assert sorted(got.purposes) == sorted(expected.purposes)
        assert [(g.tables, sorted(g.unmask), g.purposes) for g in got.grants] == [
            (g.tables, sorted(g.unmask), g.purposes) for g in expected.grants
        ]


def test_every_request_went_through_every_step_and_the_chain_verifies(
    governed: LiveGateway,
) -> None:
    dd = DataDir(governed.data_dir)
    with AuditLog.open(dd) as log:
        events = list(log.events(kinds={"access.requested", "access.endorsed", "access.reviewed",
                                         "access.authorised"}))  # fmt: skip
    counts = Counter(e.kind for e in events)
    requests = sum(1 + len(u.grants) for u in ANALYSTS)
    assert counts == {
        "access.requested": requests,
        "access.endorsed": 2 * requests,
        "access.reviewed": 2 * requests,
        "access.authorised": requests,
    }
    # Separation of duties held: nobody acted on their own request.
    assert not {e.actor for e in events if e.kind != "access.requested"} & {
        u.username for u in ANALYSTS
    }
    assert verify_data_dir(dd).ok


def test_analysts_query_their_own_area_over_http(governed: LiveGateway) -> None:
    con = duckdb.connect(str(DataDir(governed.data_dir).warehouse), read_only=True)
    try:
        by_area = dict(
            con.sql("SELECT local_authority_code, count(*) FROM crime GROUP BY 1").fetchall()
        )
    finally:
        con.close()
    for analyst in ANALYSTS:
        with governed.client(analyst.username) as http:
            response = http.post(
                "/v1/query",
                json={"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"},
            )
        assert response.status_code == 200, response.text
        assert response.json()["rows"][0][0] == sum(by_area[a] for a in analyst.areas)


def test_enhanced_grant_applies_for_its_purpose_only(governed: LiveGateway) -> None:
    sql = "SELECT count(*) AS n FROM intelligence_report"
    with governed.client("e.okafor") as http:
        allowed = http.post("/v1/query", json={"sql": sql, "purpose": "JAG-2026-07"})
        refused = http.post("/v1/query", json={"sql": sql, "purpose": "SA-2026"})
    assert allowed.status_code == 200, allowed.text
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "table_not_permitted"


def test_approvers_hold_no_data_access(governed: LiveGateway) -> None:
    with governed.client("hoi.cle") as http:
        response = http.post(
            "/v1/query", json={"sql": "SELECT count(*) FROM crime", "purpose": "SA-2026"}
        )
    assert response.status_code == 403
