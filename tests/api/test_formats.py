"""Result formats: Arrow bytes are the audited bytes; CSV, Parquet and JSON carry the same data;
JSON encodes dates, decimals and non-finite numbers sensibly; result files are removed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time

import httpx
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tests.gateway_server import BIG_AGGREGATE

SQL = (
    "SELECT crime_id, recorded_at, CAST(recorded_at AS DATE) AS day, domestic_abuse, "
    "police_uk_category FROM crime ORDER BY crime_id LIMIT 300"
)


def _post(live_gateway, user, body):  # type: ignore[no-untyped-def]
    with live_gateway.client(user) as http:
        return http.post("/v1/query", json=body)


def test_arrow_bytes_match_the_audit_fingerprint(live_gateway):  # type: ignore[no-untyped-def]
    answer = _post(live_gateway, "h.lee", {"sql": SQL, "purpose": "SA-2026", "format": "arrow"})
    assert answer.status_code == 200
    digest = hashlib.sha256(answer.content).hexdigest()
    assert answer.headers["x-result-sha256"] == digest
    query_id = answer.headers["x-query-id"]
    with live_gateway.client("s.patel") as http:
        events = http.get(
            "/v1/audit/events", params={"kind": "query.completed", "actor": "h.lee", "limit": 1000}
        ).json()["events"]
    completed = [e for e in events if e["details"].get("query_id") == query_id]
    assert len(completed) == 1
    assert completed[0]["details"]["fingerprint"] == digest


def test_csv_parquet_json_and_arrow_agree(live_gateway):  # type: ignore[no-untyped-def]
    base = {"sql": SQL, "purpose": "SA-2026"}
    arrow = pa.ipc.open_stream(
        io.BytesIO(_post(live_gateway, "a.khan", {**base, "format": "arrow"}).content)
    ).read_all()
    parquet = pq.read_table(
        io.BytesIO(_post(live_gateway, "a.khan", {**base, "format": "parquet"}).content)
    )
    csv_answer = _post(live_gateway, "a.khan", {**base, "format": "csv"})
    assert csv_answer.headers["content-type"].startswith("text/csv")
    csv = pl.read_csv(io.BytesIO(csv_answer.content), try_parse_dates=True)
    document = _post(live_gateway, "a.khan", base).json()
    assert parquet.equals(arrow)
    assert csv["crime_id"].to_list() == arrow.column("crime_id").to_pylist()
    assert csv["police_uk_category"].to_list() == arrow.column("police_uk_category").to_pylist()
    assert document["row_count"] == arrow.num_rows == len(document["rows"])
    assert document["truncated"] is False
    assert [c["name"] for c in document["columns"]] == arrow.schema.names
    first = document["rows"][0]
    assert first[0] == arrow.column("crime_id")[0].as_py()
    assert first[1] == arrow.column("recorded_at")[0].as_py().isoformat()
    assert first[2] == arrow.column("day")[0].as_py().isoformat()


def test_json_encodes_awkward_values(live_gateway):  # type: ignore[no-untyped-def]
    sql = (
        "SELECT CAST(12.50 AS DECIMAL(12, 2)) AS money, CAST('nan' AS DOUBLE) AS nan, "
        "CAST('inf' AS DOUBLE) AS inf, [1, 2] AS list, {'a': 1, 'b': 'x'} AS struct, "
        "INTERVAL 3 DAY AS gap, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS at, NULL AS nothing"
    )
    answer = _post(live_gateway, "h.lee", {"sql": sql, "purpose": "SA-2026"})
    assert answer.status_code == 200, answer.text
    row = json.loads(answer.content)["rows"][0]
    assert row[0] == 12.5
    assert row[1] is None
    assert row[2] is None
    assert row[3] == [1, 2]
    assert row[4] == {"a": 1, "b": "x"}
    assert row[5] == "P3D"
    assert row[6].startswith("2026-01-02T03:04:05")
    assert row[6].endswith("+00:00")
    assert row[7] is None
    csv = _post(live_gateway, "h.lee", {"sql": sql, "purpose": "SA-2026", "format": "csv"})
    assert csv.status_code == 200
    assert '"[1, 2]"' in csv.text or "[1, 2]" in csv.text


def test_empty_results_in_every_format(live_gateway):  # type: ignore[no-untyped-def]
    sql = "SELECT crime_id, recorded_at FROM crime WHERE crime_id < 0"
    for fmt in ("json", "arrow", "csv", "parquet"):
        answer = _post(live_gateway, "h.lee", {"sql": sql, "purpose": "SA-2026", "format": fmt})
        assert answer.status_code == 200, (fmt, answer.text)
        assert answer.headers["x-row-count"] == "0"
        if fmt == "csv":  # an empty CSV is marked too
            assert answer.text == '"crime_id","recorded_at","protective_marking"\n'

    parquet = pq.read_table(io.BytesIO(answer.content))
    assert parquet.num_rows == 0
    assert parquet.schema.names == ["crime_id", "recorded_at"]


def test_result_files_are_removed_after_streaming(live_gateway, demo_data_dir):  # type: ignore[no-untyped-def]
    ids = []
    for fmt in ("json", "arrow", "csv", "parquet"):
        answer = _post(live_gateway, "j.taylor", {"sql": SQL, "purpose": "SA-2026", "format": fmt})
        ids.append(answer.headers["x-query-id"])
    results = demo_data_dir.root / "tmp" / "results"
    left = {p.name for p in results.glob("*")} if results.exists() else set()
    assert not [name for name in left if any(name.startswith(i) for i in ids)]


def test_every_query_answer_names_its_query(live_gateway):  # type: ignore[no-untyped-def]
    ok = _post(live_gateway, "h.lee", {"sql": "SELECT 1 AS x", "purpose": "SA-2026"})
    bad = _post(live_gateway, "h.lee", {"sql": "SELEKT 1", "purpose": "SA-2026"})
    assert ok.headers["x-query-id"] == ok.json()["query_id"]
    assert bad.status_code == 400
    assert bad.headers["x-query-id"] == bad.json()["error"]["query_id"]


def test_abandoned_download_leaves_no_result_file(live_gateway, demo_data_dir):  # type: ignore[no-untyped-def]
    body = {**BIG_AGGREGATE, "format": "csv"}
    with (
        live_gateway.client("s.patel") as http,
        http.stream("POST", "/v1/query", json=body) as answer,
    ):
        assert answer.status_code == 200
        query_id = answer.headers["x-query-id"]
        next(answer.iter_raw(1024))
    results = demo_data_dir.root / "tmp" / "results"
    deadline = time.monotonic() + 10
    while any(p.name.startswith(query_id) for p in results.glob("*")):
        assert time.monotonic() < deadline, "result file left behind"
        time.sleep(0.1)
    assert httpx.get(live_gateway.url + "/healthz", timeout=10).json()["status"] == "ok"


def test_csv_answers_guard_text_that_spreadsheets_would_run(live_gateway):  # type: ignore[no-untyped-def]
    body = {
        "sql": "SELECT $evil AS note, $tab AS tab, 'a-b' AS fine, -5 AS n, -2.5 AS x, "
        "name FROM local_authority ORDER BY name LIMIT 1",
        "params": {"evil": '=HYPERLINK("http://evil.example")', "tab": "\t@SUM(A1)"},
        "purpose": "SA-2026",
        "format": "csv",
    }
    guarded = _post(live_gateway, "a.khan", body)
    raw = _post(live_gateway, "a.khan", {**body, "formula_guard": False})
    assert guarded.status_code == raw.status_code == 200, guarded.text
    header, row = list(csv.reader(io.StringIO(guarded.text)))
    assert header == ["note", "tab", "fine", "n", "x", "name", "protective_marking"]
    assert row[-1] == guarded.headers["x-protective-marking"] == "OFFICIAL"  # marked inside
    assert row[:5] == ['\'=HYPERLINK("http://evil.example")', "'\t@SUM(A1)", "a-b", "-5", "-2.5"]
    (_, unguarded) = list(csv.reader(io.StringIO(raw.text)))
    assert unguarded[:2] == ['=HYPERLINK("http://evil.example")', "\t@SUM(A1)"]


def test_a_csv_answer_carries_its_marking_on_every_row(live_gateway):  # type: ignore[no-untyped-def]
    """The marking inside the CSV answer (as inside a CSV export), which pandas/polars read as
    a column; a result column cannot pose as it (400, audited as the query's outcome)."""
    sql = "SELECT crime_id, police_uk_category FROM crime ORDER BY 1 LIMIT 5"
    answer = _post(live_gateway, "h.lee", {"sql": sql, "purpose": "SA-2026", "format": "csv"})
    assert answer.status_code == 200, answer.text
    frame = pl.read_csv(io.BytesIO(answer.content))
    assert frame.columns == ["crime_id", "police_uk_category", "protective_marking"]
    assert set(frame["protective_marking"]) == {answer.headers["x-protective-marking"]}
    assert answer.headers["x-protective-marking"] == "OFFICIAL-SENSITIVE"
    posing = "SELECT 'NOT PROTECTIVELY MARKED' AS protective_marking FROM crime LIMIT 1"
    refused = _post(live_gateway, "h.lee", {"sql": posing, "purpose": "SA-2026", "format": "csv"})
    assert refused.status_code == 400
    assert "kept for the answer's protective marking" in refused.json()["error"]["message"]
    as_json = _post(live_gateway, "h.lee", {"sql": posing, "purpose": "SA-2026"})
    assert as_json.status_code == 200  # JSON names its marking in its own member
    assert as_json.json()["marking"] == "OFFICIAL-SENSITIVE"
