"""The Python client against a live server: the same data as the service layer, the server's
error classes, timeouts and connection failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from gateway.client import (
    AccessDenied,
    Connection,
    ConnectionFailed,
    PurposeNotApproved,
    RequestTimedOut,
    TableNotPermitted,
    connect,
)
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import AuthenticationError, ColumnNotFound, GatewayError, NotAggregate
from gateway.policy.disclosure import PUBLICATION_RULES
from gateway.service import QueryService
from gateway.users import UsersFile
from tests.disclosure.guarantee import check_count
from tests.gateway_server import free_port

SQL = (
    "SELECT c.crime_id, c.recorded_at, c.police_uk_category, p.person_id, p.date_of_birth "
    "FROM crime c JOIN crime_person cp ON cp.crime_id = c.crime_id "
    "JOIN person p ON p.person_id = cp.person_id ORDER BY c.crime_id, p.person_id LIMIT 200"
)


@pytest.fixture(scope="module")
def service(demo_data_dir: DataDir) -> Iterator[QueryService]:
    with Deployment.open(demo_data_dir, workers=1) as deployment:
        yield deployment.service


@pytest.fixture
def gw(live_gateway) -> Iterator[Connection]:  # type: ignore[no-untyped-def]
    with connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026") as conn:
        yield conn


def test_query_returns_what_the_service_returns(gw, service, demo_data_dir):  # type: ignore[no-untyped-def]
    principal = UsersFile(demo_data_dir.users).principal("a.khan", datetime.now(UTC))
    assert principal is not None
    outcome = service.run_query(principal, SQL, "SA-2026")
    try:
        direct = outcome.result.to_table()
    finally:
        outcome.result.discard()
    table = gw.query_arrow(SQL)
    frame = gw.query(SQL)
    assert table.equals(direct)
    assert isinstance(frame, pl.DataFrame)
    assert frame.equals(pl.from_arrow(direct))  # type: ignore[arg-type]
    assert gw.last_query_id
    assert gw.last_query_id.startswith("q")
    assert frame.to_pandas().shape == (direct.num_rows, direct.num_columns)


def test_parameters_including_dates(gw):  # type: ignore[no-untyped-def]
    sql = (
        "SELECT count(*) AS n FROM crime WHERE recorded_at >= $since "
        "AND police_uk_category = $category"
    )
    early = gw.query(sql, params={"since": datetime(2000, 1, 1), "category": "burglary"})
    late = gw.query(sql, params={"since": datetime(2100, 1, 1), "category": "burglary"})
    assert early["n"][0] > 0
    assert late["n"][0] == 0


def test_errors_are_the_server_classes(live_gateway, gw):  # type: ignore[no-untyped-def]
    with pytest.raises(TableNotPermitted) as refused:
        gw.query("SELECT * FROM intelligence_report")
    assert isinstance(refused.value, AccessDenied)
    assert refused.value.query_id == gw.last_query_id
    with pytest.raises(PurposeNotApproved):
        gw.query("SELECT 1 AS x", purpose="JAG-2026-07")
    with pytest.raises(ColumnNotFound) as missing:
        gw.query("SELECT nope FROM crime")
    assert missing.value.position is not None
    assert missing.value.position[0] == 1
    assert "line 1" in str(missing.value)
    with (
        connect(live_gateway.url, "pgw_" + "Q" * 43) as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.me()


def test_catalog_me_and_tables(gw):  # type: ignore[no-untyped-def]
    assert gw.me()["areas"] == ["E06000002"]
    names = {t["name"] for t in gw.catalog()["tables"]}
    assert "crime" in names
    assert "intelligence_report" not in names
    tables = gw.tables()
    masks = dict(
        zip(
            tables.filter(pl.col("table") == "person")["column"].to_list(),
            tables.filter(pl.col("table") == "person")["mask"].to_list(),
            strict=True,
        )
    )
    assert masks["surname"] == "null"


def test_query_bytes_streams_other_formats(gw):  # type: ignore[no-untyped-def]
    text = b"".join(gw.query_bytes("SELECT 1 AS x, 'a' AS y", format="csv")).decode()
    assert text.splitlines() == ['"x","y","protective_marking"', '1,"a","OFFICIAL"']


def test_disclosure_control_from_the_client(gw, live_gateway):  # type: ignore[no-untyped-def]
    sql = "SELECT police_uk_category, count(*) AS crimes FROM crime GROUP BY 1"
    true = dict(gw.query(sql).iter_rows())
    assert gw.last_disclosure is None
    frame = gw.query(sql, disclosure="publication")
    query_id = gw.last_query_id
    assert gw.last_disclosure is not None
    assert "rounded to the nearest 5" in gw.last_disclosure
    assert "cell key method" in gw.last_disclosure
    assert frame.columns == ["police_uk_category", "crimes", "crimes_suppressed"]
    assert sorted(frame["police_uk_category"]) == sorted(true)  # marked, not dropped
    # a category near the threshold is in the data, so suppression is exercised (whether it is
    # hidden depends on its noise; check_count asserts which outcomes are allowed)
    rules = PUBLICATION_RULES
    assert any(0 < n < rules.min_count + rules.max_noise for n in true.values()), true
    for category, crimes, suppressed in frame.iter_rows():
        check_count(true[category], crimes, suppressed, PUBLICATION_RULES)  # ±2, then to 5
        assert crimes is None or crimes % 5 == 0
    with pytest.raises(NotAggregate, match="record-level"):
        gw.query("SELECT crime_id, police_uk_category FROM crime", disclosure="policy")
    with live_gateway.client("s.patel") as http:
        audited = http.get(
            "/v1/audit/events",
            params={"kind": "query.completed", "actor": "a.khan", "limit": 1000},
        )
    (record,) = [
        e["details"] for e in audited.json()["events"] if e["details"]["query_id"] == query_id
    ]
    applied = record["disclosure"]
    assert (applied["mode"], applied["min_count"], applied["round_to"]) == ("publication", 10, 5)
    assert (applied["method"], applied["max_noise"]) == ("cell_key", 2)


def test_senior_analyst_review_from_the_client(live_gateway):  # type: ignore[no-untyped-def]
    with connect(live_gateway.url, live_gateway.token("s.patel")) as senior:
        assert senior.audit_verify()["ok"] is True
        report = senior.audit_report("activity")
        page = senior.audit_events(kinds=["query.completed"], limit=5)
    assert "user" in report.columns
    assert report.height > 0
    assert all(e["kind"] == "query.completed" for e in page["events"])


def test_timeouts_and_unreachable_servers(live_gateway):  # type: ignore[no-untyped-def]
    # 10^9 triples through a condition no join can index (an inequality such as a.i + b.i >
    # c.i is a range join, answered in under 0.5 s on masked projections): seconds of work
    part = "(SELECT incident_id AS i FROM incident ORDER BY 1 LIMIT 1000)"
    slow = f"SELECT count(*) AS n FROM {part} a, {part} b, {part} c WHERE (a.i * b.i + c.i) % 7 = 3"
    with (
        Connection(
            live_gateway.url, live_gateway.token("j.taylor"), purpose="SA-2026", timeout=0.5
        ) as impatient,
        pytest.raises(RequestTimedOut),
    ):
        impatient.query(slow)
    with (
        Connection(f"http://127.0.0.1:{free_port()}", "pgw_x", connect_timeout=2) as nowhere,
        pytest.raises(ConnectionFailed) as failed,
    ):
        nowhere.me()
    assert isinstance(failed.value, GatewayError)


def test_connect_needs_a_token(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
    monkeypatch.setenv("GATEWAY_CONFIG", str(tmp_path / "no-profile.toml"))
    with pytest.raises(GatewayError, match="gateway login"):
        connect()
