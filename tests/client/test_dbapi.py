"""DB-API 2.0 (gateway.client.dbapi) against a live gateway: parameters, description types,
fetch sizes, the same rows and audit fingerprint as the HTTP client, refusals as PEP 249
errors with the gateway's code, and every statement audited with its purpose."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from gateway import errors
from gateway.client import connect as client_connect
from gateway.client import dbapi
from gateway.client.errors import ConnectionFailed, RequestTimedOut, UnexpectedResponse
from gateway.client.profile import ClientConfig, save_config
from gateway.client.stream import ArrowResult
from tests.client.test_light_install import BLOCKED

SQL = (
    "SELECT crime_id, recorded_at, police_uk_category, domestic_abuse FROM crime "
    "WHERE police_uk_category = :category AND recorded_at >= :since ORDER BY crime_id"
)
PARAMS = {"category": "burglary", "since": dt.datetime(2025, 1, 10)}


@pytest.fixture
def con(live_gateway) -> Iterator[dbapi.Connection]:  # type: ignore[no-untyped-def]
    with dbapi.connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026") as c:
        yield c


def _completed(live_gateway, query_ids: set[str]) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    with client_connect(live_gateway.url, live_gateway.token("s.patel")) as senior:
        events = senior.audit_events(kinds=["query.completed"], actor="a.khan", limit=1000)
    return {
        e["details"]["query_id"]: e["details"]
        for e in events["events"]
        if e["details"].get("query_id") in query_ids
    }


def test_module_globals_and_error_tree() -> None:
    assert (dbapi.apilevel, dbapi.threadsafety, dbapi.paramstyle) == ("2.0", 1, "named")
    for name in ("DataError", "OperationalError", "IntegrityError", "InternalError"):
        assert issubclass(getattr(dbapi, name), dbapi.DatabaseError)
    for cls in (dbapi.ProgrammingError, dbapi.NotSupportedError, dbapi.InterfaceError):
        assert issubclass(cls, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    assert not issubclass(dbapi.Warning, dbapi.Error)


def test_execute_with_parameters_gives_the_http_rows_and_fingerprint(con, live_gateway):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    cur.execute(SQL, PARAMS)
    rows = cur.fetchall()
    dbapi_id = cur.query_id
    with client_connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026") as gw:
        table = gw.query_arrow(SQL.replace(":", "$"), params=PARAMS)
        http_id = gw.last_query_id
    expected = [tuple(r.values()) for r in table.to_pylist()]
    assert rows == expected
    assert len(rows) > 10
    assert cur.rowcount == len(rows)
    assert isinstance(rows[0][1], dt.datetime)
    assert {r[2] for r in rows} == {"burglary"}
    assert dbapi_id
    assert http_id
    assert dbapi_id != http_id
    audited = _completed(live_gateway, {dbapi_id, http_id})
    assert audited[dbapi_id]["fingerprint"] == audited[http_id]["fingerprint"]
    assert audited[dbapi_id]["rows"] == len(rows)
    # the gateway's own $name works too; a different value gives different rows
    cur.execute(SQL.replace(":since", "$since"), {**PARAMS, "since": dt.datetime(2100, 1, 1)})
    assert cur.fetchall() == []


def test_description_types(con):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    assert cur.description is None
    cur.execute(
        "SELECT c.crime_id, c.recorded_at, c.police_uk_category, c.domestic_abuse, "
        "p.value_gbp, CAST(c.recorded_at AS DATE) AS day FROM crime c "
        "JOIN property p ON p.crime_id = c.crime_id ORDER BY 1 LIMIT 5"
    )
    names = [d[0] for d in cur.description]
    codes = {d[0]: d[1] for d in cur.description}
    assert names == [
        "crime_id",
        "recorded_at",
        "police_uk_category",
        "domestic_abuse",
        "value_gbp",
        "day",
    ]
    assert all(len(d) == 7 for d in cur.description)
    assert codes["crime_id"] == dbapi.NUMBER
    assert codes["recorded_at"] == dbapi.DATETIME
    assert codes["day"] == dbapi.DATETIME
    assert codes["police_uk_category"] == dbapi.STRING
    assert codes["police_uk_category"] != dbapi.NUMBER
    assert codes["value_gbp"] == dbapi.NUMBER
    value = next(d for d in cur.description if d[0] == "value_gbp")
    assert (value[4], value[5]) == (12, 2)
    row = cur.fetchone()
    assert isinstance(row[4], Decimal)
    assert isinstance(row[5], dt.date)


def test_fetchmany_arraysize_and_iteration(con):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    cur.execute("SELECT crime_id FROM crime ORDER BY crime_id LIMIT 500")
    total = cur.rowcount
    assert total > 50
    assert cur.arraysize == 1
    assert len(cur.fetchmany()) == 1
    cur.arraysize = 7
    seven = cur.fetchmany()
    three = cur.fetchmany(3)
    one = cur.fetchone()
    rest = list(cur)
    assert (len(seven), len(three)) == (7, 3)
    ids = [r[0] for r in [*seven, *three, one, *rest]]
    assert len(ids) == total - 1
    assert ids == sorted(ids)
    assert cur.fetchone() is None
    assert cur.fetchmany(5) == []
    assert cur.fetchall() == []


def test_a_partly_read_result_can_be_left(con):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    cur.execute("SELECT crime_id, modus_operandi FROM crime ORDER BY crime_id LIMIT 800")
    visible = cur.rowcount
    assert cur.fetchone() is not None
    cur.execute("SELECT least(count(*), 800) AS n FROM crime")  # the first is dropped, not read
    assert cur.fetchall() == [(visible,)]
    cur.close()
    with pytest.raises(dbapi.InterfaceError):
        cur.fetchone()


def test_fetch_arrow_table_matches_fetchall(con):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    cur.execute(SQL, PARAMS)
    first = cur.fetchone()
    table = cur.fetch_arrow_table()
    cur.execute(SQL, PARAMS)
    rows = cur.fetchall()
    assert isinstance(table, pa.Table)
    assert [first, *(tuple(r.values()) for r in table.to_pylist())] == rows


def test_refusals_are_programming_errors_with_their_code(con):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    with pytest.raises(dbapi.ProgrammingError) as hidden:
        cur.execute("SELECT * FROM intelligence_report")
    assert hidden.value.code == "table_not_permitted"
    assert hidden.value.query_id
    assert hidden.value.query_id == cur.query_id
    assert "INTEL-SECRET" not in str(hidden.value)
    with pytest.raises(dbapi.ProgrammingError) as missing:
        cur.execute("SELECT nope FROM crime")
    assert missing.value.code == "column_not_found"
    assert missing.value.position is not None
    with pytest.raises(dbapi.ProgrammingError) as unused:
        cur.execute("SELECT 1 AS x", {"area": "E06000001"})
    assert unused.value.code == "invalid_parameter"
    with pytest.raises(dbapi.ProgrammingError) as written:
        cur.execute("DELETE FROM crime")
    assert written.value.code == "statement_not_allowed"
    with pytest.raises(dbapi.NotSupportedError):
        cur.executemany("SELECT 1 AS x", [{}])
    with pytest.raises(dbapi.NotSupportedError):
        cur.execute("SELECT 1 AS x WHERE 1 = ?", (1,))
    con.commit()
    con.rollback()


def test_connection_failures_are_operational_errors(live_gateway):  # type: ignore[no-untyped-def]
    with (
        dbapi.connect(live_gateway.url, "pgw_" + "Q" * 43, purpose="SA-2026") as stranger,
        pytest.raises(dbapi.OperationalError) as refused,
    ):
        stranger.cursor().execute("SELECT 1 AS x")
    assert refused.value.code == "unauthenticated"
    with (
        dbapi.connect(live_gateway.url, live_gateway.token("a.khan"), purpose="JAG-2026-07") as c,
        pytest.raises(dbapi.ProgrammingError) as purpose,
    ):
        c.cursor().execute("SELECT 1 AS x")
    assert purpose.value.code == "purpose_not_approved"
    closed = dbapi.connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026")
    closed.close()
    with pytest.raises(dbapi.InterfaceError):
        closed.cursor()


def test_connect_reads_the_saved_profile(live_gateway, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_TOKEN", raising=False)
    monkeypatch.setenv("GATEWAY_CONFIG", str(tmp_path / "config.toml"))
    with pytest.raises(dbapi.OperationalError):
        dbapi.connect(live_gateway.url)
    save_config(
        ClientConfig(url=live_gateway.url, token=live_gateway.token("h.lee"), purpose="SA-2026")
    )
    with dbapi.connect() as con:
        cur = con.cursor()
        cur.execute("SELECT DISTINCT local_authority_code FROM crime")
        assert cur.fetchall() == [("E06000001",)]
    assert con.purpose == "SA-2026"


def test_every_statement_is_audited_with_its_purpose(con, live_gateway):  # type: ignore[no-untyped-def]
    cur = con.cursor()
    ids = set()
    for n in (1, 2, 3):
        cur.execute("SELECT count(*) AS n FROM crime WHERE crime_id % :m = 0", {"m": n})
        cur.fetchall()
        ids.add(cur.query_id)
    with pytest.raises(dbapi.ProgrammingError):
        cur.execute("SELECT * FROM intelligence_report")
    refused_id = cur.query_id
    with client_connect(live_gateway.url, live_gateway.token("s.patel")) as senior:
        events = senior.audit_events(actor="a.khan", limit=1000)["events"]
    by_query: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_query.setdefault(event["details"].get("query_id", ""), []).append(event)
    for query_id in (*ids, refused_id):
        assert query_id in by_query, query_id
        assert all(e["details"].get("purpose", "SA-2026") == "SA-2026" for e in by_query[query_id])
        assert any(e["details"].get("purpose") == "SA-2026" for e in by_query[query_id])
    assert {e["kind"] for e in by_query[refused_id]} & {"query.denied", "query.refused"}


def test_translate_parameters_leaves_text_alone() -> None:
    sql = "SELECT ':a' AS \":a\", x::INT /* :a */ FROM t WHERE a = :a AND b = :B -- :b"
    assert dbapi.translate_parameters(sql, ["a", "b"]) == (
        "SELECT ':a' AS \":a\", x::INT /* :a */ FROM t WHERE a = $a AND b = $B -- :b"
    )
    assert dbapi.translate_parameters(sql, []) == sql


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (errors.PolicyCheckFailed("x"), dbapi.ProgrammingError),
        (errors.NotProtectable("x"), dbapi.ProgrammingError),
        (errors.TableNotPermitted("x"), dbapi.ProgrammingError),
        (errors.SqlParseError("x"), dbapi.ProgrammingError),
        (errors.QueryTimeout("x"), dbapi.OperationalError),
        (errors.ResourceLimit("x"), dbapi.OperationalError),
        (errors.EngineBusy("x"), dbapi.OperationalError),
        (errors.AuditUnavailable("x"), dbapi.OperationalError),
        (errors.TooManyRows("x"), dbapi.OperationalError),
        (errors.AuthenticationError("x"), dbapi.OperationalError),
        (RequestTimedOut("x"), dbapi.OperationalError),
        (ConnectionFailed("x"), dbapi.OperationalError),
        (UnexpectedResponse("x"), dbapi.InterfaceError),
        (errors.GatewayError("x"), dbapi.InternalError),
        (errors.Conflict("x"), dbapi.DatabaseError),
    ],
)
def test_gateway_errors_map_to_pep_249_classes(error, expected):  # type: ignore[no-untyped-def]
    error.query_id = "q123"
    mapped = dbapi.dbapi_error(error)
    assert type(mapped) is expected
    assert (mapped.code, mapped.query_id) == (error.code, "q123")


def test_the_result_is_read_as_it_is_fetched():
    """Only the bytes of the batches fetched so far are taken from the wire."""
    sink = io.BytesIO()
    table = pa.table({"x": list(range(10_000))})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=1_000)
    data = sink.getvalue()
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    taken = 0

    def wire() -> Iterator[bytes]:
        nonlocal taken
        for chunk in chunks:
            taken += 1
            yield chunk

    result = ArrowResult(wire(), query_id="q1", expected_sha256=hashlib.sha256(data).hexdigest())
    assert result.next_batch().num_rows == 1_000
    assert taken < len(chunks) / 3
    assert result.read_all().num_rows == 9_000
    assert taken == len(chunks)
    assert result.finished
    damaged = ArrowResult(iter(chunks), query_id="q1", expected_sha256="0" * 64)
    with pytest.raises(UnexpectedResponse, match="fingerprint"):
        damaged.read_all()


DBAPI_SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
from gateway.client import dbapi
with dbapi.connect({url!r}, {token!r}, purpose="SA-2026") as con:
    cur = con.cursor().execute("SELECT DISTINCT local_authority_code FROM crime")
    print(cur.fetchall(), sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r}
                                 and sys.modules[m] is not None))
"""


def test_the_driver_needs_no_server_packages(live_gateway):  # type: ignore[no-untyped-def]
    script = DBAPI_SCRIPT.format(
        blocked=BLOCKED, url=live_gateway.url, token=live_gateway.token("h.lee")
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('E06000001',)] []"
