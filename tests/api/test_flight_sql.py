"""The Arrow Flight SQL endpoint, driven by the ADBC Flight SQL driver from PyPI (the Go driver
DBeaver-style tools share) and, for the ticket rules, by a raw ``pyarrow.flight`` client.

One live ``gateway serve --flight-port`` on loopback, whose policy also hides a column
(``crime.outcome_at``) from general users, so metadata can be checked against a real omission.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.flight as flight
import pytest

adbc_flightsql = pytest.importorskip("adbc_driver_flightsql.dbapi")
adbc_dbapi = pytest.importorskip("adbc_driver_manager.dbapi")

from gateway.api.flight.protocol import message, pack  # noqa: E402
from gateway.audit.log import AuditLog  # noqa: E402
from gateway.cli.demo import grant_demo_access  # noqa: E402
from gateway.datadir import DataDir  # noqa: E402
from tests.gateway_server import (  # noqa: E402
    LiveGateway,
    generated_source,
    prepare_data_dir,
    start_gateway,
)

ANALYST = "a.khan"  # general, Middlesbrough
OTHER = "h.lee"  # general, Hartlepool
SENIOR = "s.patel"  # senior analyst: audit events, and the audit schema
PURPOSE = "SA-2026"
HIDDEN_COLUMN = "outcome_at"
#: Endless for the policy's 60 s limit (a four-way self join of the analyst's crimes).
SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "src/gateway/policy/default_policy.toml"


@pytest.fixture(scope="module")
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """HTTP and Flight SQL over one data directory whose general level does not list
    ``crime.outcome_at`` (so it is not visible at all)."""
    root = tmp_path_factory.mktemp("flight") / "data"
    data_dir = prepare_data_dir(generated_source(request), root)
    text = DEFAULT_POLICY.read_text("utf-8")
    assert f'{HIDDEN_COLUMN} = "show"\n' in text
    data_dir.policy.write_text(text.replace(f'{HIDDEN_COLUMN} = "show"\n', "", 1), "utf-8")
    live = start_gateway(data_dir.root, flight=True)
    yield live
    live.stop()


def connect(gateway: LiveGateway, user: str, purpose: str | None = PURPOSE, **options: str) -> Any:
    """An ADBC DB-API connection with ``user``'s token and, unless None, a purpose header."""
    db_kwargs = {"adbc.flight.sql.authorization_header": f"Bearer {gateway.token(user)}"}
    if purpose is not None:
        db_kwargs["adbc.flight.sql.rpc.call_header.gateway.purpose"] = purpose
    db_kwargs.update(options)
    return adbc_flightsql.connect(gateway.flight_url, db_kwargs=db_kwargs, autocommit=True)


def raw_client(gateway: LiveGateway) -> flight.FlightClient:
    return flight.FlightClient(gateway.flight_url)


def call_options(gateway: LiveGateway, user: str) -> flight.FlightCallOptions:
    headers = [
        (b"authorization", f"Bearer {gateway.token(user)}".encode()),
        (b"gateway.purpose", PURPOSE.encode()),
    ]
    return flight.FlightCallOptions(headers=headers)


def statement(sql: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(pack(message("CommandStatementQuery", query=sql)))


def audit_events(gateway: LiveGateway, *kinds: str, actor: str = ANALYST) -> list[dict[str, Any]]:
    with gateway.client(SENIOR) as http:
        answer = http.get(
            "/v1/audit/events", params={"kind": list(kinds), "actor": actor, "limit": 1000}
        )
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def query_records(gateway: LiveGateway, sql: str, actor: str = ANALYST) -> list[dict[str, Any]]:
    """The query records (started, completed, denied) of ``sql`` by ``actor``."""
    events = audit_events(gateway, "query.started", "query.completed", "query.denied", actor=actor)
    ids = {e["details"]["query_id"] for e in events if e["details"].get("sql_submitted") == sql}
    return [e for e in events if e["details"]["query_id"] in ids]


def unique(sql: str) -> str:
    """``sql`` with a fresh alias, so its audit records are told apart from other runs."""
    return sql.replace(" AS n", f" AS n_{secrets.token_hex(4)}")


def http_catalog(gateway: LiveGateway, user: str) -> dict[str, list[str]]:
    with gateway.client(user) as http:
        answer = http.get("/v1/catalog", params={"purpose": PURPOSE})
    assert answer.status_code == 200, answer.text
    return {t["name"]: [c["name"] for c in t["columns"]] for t in answer.json()["tables"]}


# --- connect, metadata --------------------------------------------------------------------


def test_a_token_connects_and_lists_only_the_users_tables(gateway: LiveGateway) -> None:
    expected = http_catalog(gateway, ANALYST)
    with connect(gateway, ANALYST) as conn:
        objects = conn.adbc_get_objects(depth="columns").read_all().to_pylist()
        crime = conn.adbc_get_table_schema("crime", db_schema_filter="main")
        info = conn.adbc_get_info()
    listed = {
        table["table_name"]: [c["column_name"] for c in table["table_columns"]]
        for catalog in objects
        for schema in catalog["catalog_db_schemas"]
        for table in schema["db_schema_tables"]
    }
    assert listed == expected  # exactly the HTTP catalog's tables and columns, in order
    assert "intelligence_report" not in listed
    assert crime.names == expected["crime"]
    assert HIDDEN_COLUMN not in crime.names
    assert info["vendor_name"] == "Partnership Analytics Gateway"


def test_hidden_tables_and_columns_never_appear_in_metadata(gateway: LiveGateway) -> None:
    """Every metadata answer, read as raw bytes, for patterns that would match them."""
    client = raw_client(gateway)
    options = call_options(gateway, ANALYST)
    commands = [
        message("CommandGetTables", include_schema=True),
        message("CommandGetTables", table_name_filter_pattern="intel%", include_schema=True),
        message("CommandGetTables", table_name_filter_pattern="%", db_schema_filter_pattern="%"),
        message("CommandGetDbSchemas"),
        message("CommandGetCatalogs"),
    ]
    for command in commands:
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)), options)
        table = client.do_get(info.endpoints[0].ticket, options).read_all()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        assert b"intelligence_report" not in data
        assert HIDDEN_COLUMN.encode() not in data
        assert b"audit" not in data  # a general analyst has no audit schema
    with connect(gateway, ANALYST) as conn, pytest.raises(Exception, match=r"not found|NOT_FOUND"):
        conn.adbc_get_table_schema("intelligence_report")


def test_key_metadata_answers_empty(gateway: LiveGateway) -> None:
    """Tools ask for keys when a table is opened; none are declared, so none are listed."""
    client = raw_client(gateway)
    options = call_options(gateway, ANALYST)
    for command in (
        message("CommandGetPrimaryKeys", table="crime"),
        message("CommandGetImportedKeys", table="crime"),
        message("CommandGetCrossReference", pk_table="crime", fk_table="crime_person"),
    ):
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)), options)
        table = client.do_get(info.endpoints[0].ticket, options).read_all()
        assert table.num_rows == 0
        assert table.schema.equals(info.schema)
        assert "table_name" in table.schema.names or "pk_table_name" in table.schema.names


def test_a_senior_analyst_also_sees_the_audit_schema(gateway: LiveGateway) -> None:
    """Granted extra schemas are listed (without a catalog: ``audit.queries`` is how they are
    queried); a general analyst's answer has none (above)."""
    client = raw_client(gateway)
    options = call_options(gateway, SENIOR)
    command = flight.FlightDescriptor.for_command(pack(message("CommandGetDbSchemas")))
    info = client.get_flight_info(command, options)
    schemas = client.do_get(info.endpoints[0].ticket, options).read_all().to_pylist()
    assert {"catalog_name": "warehouse", "db_schema_name": "main"} in schemas
    assert {"catalog_name": None, "db_schema_name": "audit"} in schemas


# --- statements -----------------------------------------------------------------------------


def test_a_query_returns_the_same_rows_and_fingerprint_as_http(gateway: LiveGateway) -> None:
    sql = unique(
        "SELECT lsoa_code, police_uk_category, count(*) AS n FROM crime GROUP BY ALL ORDER BY ALL"
    )
    with connect(gateway, ANALYST) as conn, conn.cursor() as cur:
        cur.execute(sql)
        over_flight = cur.fetch_arrow_table()
    with gateway.client(ANALYST) as http:
        answer = http.post("/v1/query", json={"sql": sql, "purpose": PURPOSE, "format": "arrow"})
    assert answer.status_code == 200, answer.text
    over_http = pa.ipc.open_stream(answer.content).read_all()
    assert over_flight.num_rows > 0
    assert over_flight.equals(over_http)

    records = query_records(gateway, sql)
    started = {e["details"]["query_id"]: e for e in records if e["kind"] == "query.started"}
    completed = {e["details"]["query_id"]: e for e in records if e["kind"] == "query.completed"}
    assert set(started) == set(completed)
    assert len(started) == 2
    channels = {started[q]["details"]["channel"]: completed[q]["details"] for q in started}
    assert set(channels) == {"flight", "http"}
    assert channels["flight"]["outcome"] == channels["http"]["outcome"] == "ok"
    assert channels["flight"]["rows"] == over_flight.num_rows
    assert channels["flight"]["fingerprint"] == channels["http"]["fingerprint"] != ""
    with gateway.client(SENIOR) as http:  # and senior analysts see the channel in SQL
        audit = http.post(
            "/v1/query",
            json={
                "sql": "SELECT channel, fingerprint FROM audit.queries "
                "WHERE sql_submitted = $sql ORDER BY channel",
                "purpose": PURPOSE,
                "params": {"sql": sql},
            },
        )
    assert audit.status_code == 200, audit.text
    fingerprint = channels["http"]["fingerprint"]
    assert audit.json()["rows"] == [["flight", fingerprint], ["http", fingerprint]]


def test_a_result_carries_its_marking_as_its_audit_record_keeps_it(gateway: LiveGateway) -> None:
    """The marking is in the result itself (Arrow schema metadata, for ADBC and pyarrow), the
    FlightInfo's app_metadata and the completed audit record; reference data is OFFICIAL,
    crime records OFFICIAL-SENSITIVE (the policy's [markings])."""
    records_sql = unique("SELECT lsoa_code, count(*) AS n FROM crime GROUP BY ALL")
    reference_sql = unique("SELECT count(*) AS n FROM local_authority")
    with connect(gateway, ANALYST) as conn, conn.cursor() as cur:
        cur.execute(records_sql)
        records = cur.fetch_arrow_table()
        cur.execute(reference_sql)
        reference = cur.fetch_arrow_table()
    assert records.schema.metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"
    assert reference.schema.metadata[b"gateway:marking"] == b"OFFICIAL"

    client = raw_client(gateway)
    options = call_options(gateway, ANALYST)
    info = client.get_flight_info(statement(records_sql), options)
    assert info.schema.metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"
    described = json.loads(info.app_metadata)
    assert described["marking"] == "OFFICIAL-SENSITIVE"
    fetched = client.do_get(info.endpoints[0].ticket, options).read_all()
    assert fetched.schema.metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"

    for sql, marking in ((records_sql, "OFFICIAL-SENSITIVE"), (reference_sql, "OFFICIAL")):
        completed = [e for e in query_records(gateway, sql) if e["kind"] == "query.completed"]
        assert completed
        assert {e["details"]["marking"] for e in completed} == {marking}
    assert described["query_id"] in {
        e["details"]["query_id"] for e in query_records(gateway, records_sql)
    }


def test_a_prepared_statement_with_parameters(gateway: LiveGateway) -> None:
    sql = unique("SELECT count(*) AS n FROM crime WHERE lsoa_code = $lsoa")
    with gateway.client(ANALYST) as http:
        lsoas = http.post(
            "/v1/query",
            json={
                "sql": "SELECT DISTINCT lsoa_code FROM crime ORDER BY 1 LIMIT 2",
                "purpose": PURPOSE,
            },
        ).json()["rows"]
        expected = [
            http.post(
                "/v1/query", json={"sql": sql, "purpose": PURPOSE, "params": {"lsoa": row[0]}}
            ).json()["rows"][0][0]
            for row in lsoas
        ]
    assert len(lsoas) == 2
    got = []
    with connect(gateway, ANALYST) as conn, conn.cursor() as cur:
        for row in lsoas:  # one prepared statement, bound twice
            cur.execute(sql, pa.record_batch({"lsoa": [row[0]]}))
            got.append(cur.fetchone()[0])
    with (
        connect(gateway, ANALYST) as conn,
        conn.cursor() as cur,
        pytest.raises(adbc_dbapi.Error, match=r"\[invalid_parameter\].*\$lsoa"),
    ):
        cur.execute(sql)  # a new statement with nothing bound
    with (
        connect(gateway, ANALYST) as conn,
        conn.cursor() as cur,
        pytest.raises(adbc_dbapi.Error, match=r"\[invalid_parameter\].*exactly one row"),
    ):
        cur.execute(sql, pa.record_batch({"lsoa": [row[0] for row in lsoas]}))
    assert got == expected
    assert all(n > 0 for n in got)
    flight_records = [
        e for e in query_records(gateway, sql) if e["details"].get("channel") == "flight"
    ]
    assert [e["details"]["params"] for e in flight_records if e["kind"] == "query.started"] == [
        {"lsoa": row[0]} for row in lsoas
    ]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT * FROM intelligence_report", "table_not_permitted"),
        ("SELECT * FROM read_csv('/etc/passwd')", "function_not_allowed"),
        ("DELETE FROM crime", "statement_not_allowed"),
    ],
)
def test_a_refused_statement_carries_its_error_code(
    gateway: LiveGateway, sql: str, code: str
) -> None:
    with (
        connect(gateway, ANALYST) as conn,
        conn.cursor() as cur,
        pytest.raises(adbc_dbapi.Error, match=rf"\[{code}\].*\(query q\d{{8}}T") as refused,
    ):
        cur.execute(sql)
    assert "Traceback" not in str(refused.value)
    denied = [e for e in query_records(gateway, sql) if e["kind"] == "query.denied"]
    assert denied
    assert denied[-1]["details"]["reason"] == code
    assert denied[-1]["details"]["channel"] == "flight"


def test_without_a_purpose_everything_that_reads_data_is_refused(gateway: LiveGateway) -> None:
    sql = unique("SELECT count(*) AS n FROM crime")
    before = len(audit_events(gateway, "access.request_refused"))
    with connect(gateway, ANALYST, purpose=None) as conn:
        with conn.cursor() as cur, pytest.raises(Exception, match=r"\[purpose_required\]"):
            cur.execute(sql)
        with pytest.raises(Exception, match=r"\[purpose_required\]"):
            conn.adbc_get_objects(depth="tables").read_all()
    assert query_records(gateway, sql) == []  # nothing ran
    refused = audit_events(gateway, "access.request_refused")[before:]
    assert refused
    assert all(e["details"]["details"]["code"] == "purpose_required" for e in refused)
    assert all(e["details"]["details"]["channel"] == "flight" for e in refused)
    with (
        connect(gateway, ANALYST, purpose="JAG-2026-HPL") as conn,
        conn.cursor() as cur,
        pytest.raises(Exception, match=r"\[purpose_not_approved\]"),
    ):
        cur.execute(sql)  # another area's purpose: not one of a.khan's


def test_the_purpose_can_be_the_statements(gateway: LiveGateway) -> None:
    """A purpose set on one statement (ADBC statement option) is that statement's, in its
    audit record; set on the connection too with another value, it is ambiguous: refused."""
    sql = unique("SELECT count(*) AS n FROM crime")
    header = "adbc.flight.sql.rpc.call_header.gateway.purpose"
    with connect(gateway, ANALYST, purpose=None) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{header: "JAG-2026-MBR"})
        cur.execute(sql)
        assert cur.fetchone()[0] > 0
    started = [e for e in query_records(gateway, sql) if e["kind"] == "query.started"]
    assert [e["details"]["purpose"] for e in started] == ["JAG-2026-MBR"]
    with connect(gateway, ANALYST) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{header: "JAG-2026-MBR"})
        with pytest.raises(adbc_dbapi.Error, match=r"gateway\.purpose.*more than once"):
            cur.execute(sql)


def test_credentials_bearer_basic_and_wrong(gateway: LiveGateway) -> None:
    """A user name with the token as password (Basic, exchanged at the handshake for the
    bearer) works; someone else's name with the token, or a wrong token, does not."""
    token = gateway.token(ANALYST)

    def basic(username: str, password: str) -> Any:
        return adbc_flightsql.connect(
            gateway.flight_url,
            db_kwargs={
                "username": username,
                "password": password,
                "adbc.flight.sql.rpc.call_header.gateway.purpose": PURPOSE,
            },
            autocommit=True,
        )

    with basic(ANALYST, token) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM crime")
        assert cur.fetchone()[0] > 0
    for username, password in ((OTHER, token), (ANALYST, "pgw_" + "x" * 43)):
        with pytest.raises(adbc_dbapi.Error, match=r"\[unauthenticated\]"):
            basic(username, password)


# --- cancellation and tickets -----------------------------------------------------------------


def test_a_cancelled_query_is_audited_as_cancelled(gateway: LiveGateway) -> None:
    sql = SLOW + f" -- {secrets.token_hex(4)}"
    failure: list[BaseException] = []
    with connect(gateway, ANALYST) as conn, conn.cursor() as cur:

        def run() -> None:
            try:
                cur.execute(sql)
                cur.fetchall()
            except Exception as exc:
                failure.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 10
        while not query_records(gateway, sql) and time.monotonic() < deadline:
            time.sleep(0.1)  # until it runs (its started record is written)
        began = time.monotonic()
        cur.adbc_cancel()
        worker.join(15)
    assert not worker.is_alive()
    assert failure
    deadline = time.monotonic() + 5
    completed: list[dict[str, Any]] = []
    while not completed and time.monotonic() < deadline:
        completed = [e for e in query_records(gateway, sql) if e["kind"] == "query.completed"]
        time.sleep(0.05)
    assert completed, "no completed record"
    assert completed[0]["details"]["outcome"] == "cancelled"
    assert completed[0]["details"]["rows"] == 0
    assert time.monotonic() - began < 5  # its limit is 60 s


def test_a_ticket_is_single_use_and_only_its_owners(gateway: LiveGateway) -> None:
    client = raw_client(gateway)
    mine, theirs = call_options(gateway, ANALYST), call_options(gateway, OTHER)
    info = client.get_flight_info(statement("SELECT count(*) AS n FROM crime"), mine)
    ticket = info.endpoints[0].ticket
    with pytest.raises(flight.FlightError, match="no such result ticket"):
        client.do_get(ticket, theirs).read_all()
    assert client.do_get(ticket, mine).read_all().num_rows == 1  # still valid for its owner
    with pytest.raises(flight.FlightError, match="no such result ticket"):
        client.do_get(ticket, mine).read_all()  # used
    forged = flight.Ticket(
        pack(message("TicketStatementQuery", statement_handle=secrets.token_bytes(32)))
    )
    with pytest.raises(flight.FlightError, match="no such result ticket"):
        client.do_get(forged, mine).read_all()


def test_cancel_flight_info_withdraws_an_unfetched_result(gateway: LiveGateway) -> None:
    client = raw_client(gateway)
    mine, theirs = call_options(gateway, ANALYST), call_options(gateway, OTHER)
    info = client.get_flight_info(statement("SELECT count(*) AS n FROM crime"), mine)
    request = message("CancelFlightInfoRequest", info=info.serialize()).SerializeToString()

    def cancel(options: flight.FlightCallOptions) -> int:
        results = list(client.do_action(flight.Action("CancelFlightInfo", request), options))
        answer = message("CancelFlightInfoResult")
        answer.ParseFromString(results[0].body.to_pybytes())
        return int(answer.status)

    assert cancel(theirs) == 3  # NOT_CANCELLABLE: not theirs to cancel
    assert cancel(mine) == 1  # CANCELLED
    with pytest.raises(flight.FlightError, match="no such result ticket"):
        client.do_get(info.endpoints[0].ticket, mine).read_all()


def test_no_credentials_malformed_or_oversized_no_answer(gateway: LiveGateway) -> None:
    client = raw_client(gateway)
    with pytest.raises(flight.FlightUnauthenticatedError, match=r"\[unauthenticated\]"):
        client.get_flight_info(statement("SELECT 1"))
    with pytest.raises(flight.FlightError, match="not a Flight SQL message"):
        client.get_flight_info(
            flight.FlightDescriptor.for_command(b"\x00garbage"), call_options(gateway, ANALYST)
        )
    huge = "SELECT 1 AS n WHERE 'x' <> '" + "x" * (2 << 20) + "'"
    with pytest.raises(flight.FlightError, match=r"\[too_large\]"):
        client.get_flight_info(statement(huge), call_options(gateway, ANALYST))
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200


def test_sigterm_withdraws_a_running_flight_statement(gateway: LiveGateway, tmp_path: Path) -> None:
    """A server stopped while a Flight statement runs cancels it (audited ``cancelled``),
    tells the client it is shutting down, and exits with status 0."""
    root = tmp_path / "data"
    root.mkdir()
    shutil.copyfile(DataDir(gateway.data_dir).warehouse, DataDir(root).warehouse)
    grant_demo_access(root)
    live = start_gateway(root, flight=True)
    try:
        failure: list[BaseException] = []

        def run() -> None:
            try:
                raw_client(live).get_flight_info(statement(SLOW), call_options(live, ANALYST))
            except flight.FlightError as exc:
                failure.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 10
        while "gateway_engine_running 1" not in httpx.get(f"{live.url}/metrics").text:
            assert time.monotonic() < deadline, "the statement never ran"
            time.sleep(0.05)
        live.process.send_signal(signal.SIGTERM)
        live.process.wait(timeout=30)
        worker.join(10)
    finally:
        live.stop()
    assert live.process.returncode == 0
    assert len(failure) == 1
    assert re.search(r"\[engine_unavailable\] the gateway is shutting down", str(failure[0]))
    with AuditLog.open(DataDir(root)) as log:
        flight_queries = [
            q
            for q in log.queries(actor=ANALYST)
            if q.started is not None and q.started.details.get("channel") == "flight"
        ]
    assert len(flight_queries) == 1
    completed = flight_queries[0].completed
    assert completed is not None
    assert completed.details["outcome"] == "cancelled"


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveGateway, bytes]]:
    """A gateway serving Flight SQL over TLS with a throwaway self-signed certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    root = tmp_path_factory.mktemp("flight-tls")
    cert, key = root / "cert.pem", root / "key.pem"
    names = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", names, "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    data_dir = prepare_data_dir(generated_source(request), root / "data")
    env = {"GATEWAY_FLIGHT_TLS_CERT": str(cert), "GATEWAY_FLIGHT_TLS_KEY": str(key)}
    live = start_gateway(data_dir.root, env=env, flight=True)
    live.flight_url = live.flight_url.replace("grpc://", "grpc+tls://")
    yield live, cert.read_bytes()
    live.stop()


def test_flight_sql_over_tls(tls_gateway: tuple[LiveGateway, bytes]) -> None:
    live, certificate = tls_gateway
    trusted = {"adbc.flight.sql.client_option.tls_root_certs": certificate.decode()}
    with connect(live, ANALYST, **trusted) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM crime")
        assert cur.fetchone()[0] > 0
    plain = flight.FlightClient(live.flight_url.replace("grpc+tls://", "grpc://"))
    with pytest.raises(flight.FlightError):
        plain.get_flight_info(
            statement("SELECT 1"),
            call_options(live, ANALYST),
        )
