"""Protective markings set by the policy per data class (issue 15, finding 4), over real HTTP,
the CLI and the Python client: every data-carrying answer carries ``X-Protective-Marking``,
files carry it inside, the register lists the marking in the file, and an analyst may raise a
marking but never lower or remove it (400 ``marking_lowered``, audited)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest

from gateway.audit.kinds import EventKind
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.client import connect
from gateway.datadir import DataDir
from tests.exports.helpers import PER_LSOA_SQL
from tests.exports.test_api import analyst
from tests.gateway_server import REPO, LiveGateway

MARKING = "x-protective-marking"
REFERENCE_SQL = "SELECT local_authority_code, name FROM local_authority"


def _refusals(data_dir: Path, after: int) -> list[dict[str, Any]]:
    """The ``access.request_refused`` records' facts (route, status, code) after ``after``."""
    with SQLiteAuditStore(DataDir(data_dir).audit, read_only=True) as store:
        return [
            {"subject": e.details["subject"], **e.details["details"]}
            for e in store.events(after_seq=after, kinds=(EventKind.ACCESS_REQUEST_REFUSED,))
        ]


def _head(data_dir: Path) -> int:
    with SQLiteAuditStore(DataDir(data_dir).audit, read_only=True) as store:
        return store.head()[0]


@pytest.mark.parametrize("fmt", ["json", "csv", "arrow", "parquet"])
def test_query_answers_carry_the_marking_of_what_they_read(
    export_gateway: LiveGateway, fmt: str
) -> None:
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        records = http.post(
            "/v1/query", json={"sql": PER_LSOA_SQL, "purpose": purpose, "format": fmt}
        )
        reference = http.post(
            "/v1/query", json={"sql": REFERENCE_SQL, "purpose": purpose, "format": fmt}
        )
    assert records.status_code == 200, records.text
    assert records.headers[MARKING] == "OFFICIAL-SENSITIVE"  # [markings] record
    assert reference.status_code == 200, reference.text
    assert reference.headers[MARKING] == "OFFICIAL"  # [markings] reference


def test_export_file_header_and_register_carry_the_same_marking(
    export_gateway: LiveGateway,
) -> None:
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        made = http.post(
            "/v1/exports", json={"sql": PER_LSOA_SQL, "purpose": purpose, "format": "parquet"}
        )
        assert made.status_code == 200, made.text
        assert made.headers[MARKING] == "OFFICIAL-SENSITIVE"
        download = http.get(made.json()["download"])
        registered = http.get(f"/v1/exports/{made.json()['export_id']}").json()
    assert download.headers[MARKING] == "OFFICIAL-SENSITIVE"
    metadata = pq.read_schema(io.BytesIO(download.content)).metadata
    assert metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"
    assert registered["marking"] == "OFFICIAL-SENSITIVE"


def test_a_raised_marking_is_printed_in_the_file_and_registered(
    export_gateway: LiveGateway, tmp_path: Path
) -> None:
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        made = http.post(
            "/v1/exports",
            json={
                "sql": PER_LSOA_SQL,
                "purpose": purpose,
                "format": "gpkg",
                "options": {"marking": "secret"},
            },
        )
        assert made.status_code == 200, made.text
        download = http.get(made.json()["download"])
        registered = http.get(f"/v1/exports/{made.json()['export_id']}").json()
    assert made.headers[MARKING] == download.headers[MARKING] == "SECRET"
    assert registered["marking"] == "SECRET"
    path = tmp_path / "raised.gpkg"
    path.write_bytes(download.content)
    info = pyogrio.read_info(path)
    assert info["dataset_metadata"]["marking"] == "SECRET"
    assert json.loads(info["dataset_metadata"]["provenance"])["marking"] == "SECRET"
    assert info["layer_metadata"]["DESCRIPTION"].startswith("SECRET | query ")


@pytest.mark.parametrize(
    ("sql", "marking", "code"),
    [
        (PER_LSOA_SQL, "NOT PROTECTIVELY MARKED", "marking_lowered"),
        (PER_LSOA_SQL, "official", "marking_lowered"),  # crime data: OFFICIAL-SENSITIVE
        (PER_LSOA_SQL, "  ", "marking_lowered"),  # removed
        (REFERENCE_SQL, "NOT PROTECTIVELY MARKED", "marking_lowered"),
        (PER_LSOA_SQL, "UNCLASSIFIED-ISH", "marking_unknown"),
    ],
)
def test_a_lowered_or_removed_export_marking_is_refused_and_audited(
    export_gateway: LiveGateway, sql: str, marking: str, code: str
) -> None:
    name, purpose = analyst(export_gateway)
    before = _head(export_gateway.data_dir)
    with export_gateway.client(name) as http:
        answer = http.post(
            "/v1/exports",
            json={"sql": sql, "purpose": purpose, "format": "csv", "options": {"marking": marking}},
        )
        listed = http.get("/v1/exports").json()["exports"]
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == code
    refused = _refusals(export_gateway.data_dir, before)
    assert [(r["subject"], r["code"], r["status"]) for r in refused] == [
        ("POST /v1/exports", code, 400)
    ]
    # nothing was written or registered under the refused query's id
    query_id = answer.headers.get("x-query-id")
    assert query_id
    assert query_id not in {e["export_id"] for e in listed}


def test_a_lowered_product_marking_is_refused_before_anything_is_built(
    export_gateway: LiveGateway,
) -> None:
    name, purpose = analyst(export_gateway)
    area = export_gateway.tokens[name]["areas"][0]
    before = _head(export_gateway.data_dir)
    with export_gateway.client(name) as http:
        answer = http.post(
            "/v1/products/strategic-assessment",
            json={"area": area, "year": 2025, "purpose": purpose, "marking": "OFFICIAL"},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "marking_lowered"
    assert [r["code"] for r in _refusals(export_gateway.data_dir, before)] == ["marking_lowered"]
    with SQLiteAuditStore(DataDir(export_gateway.data_dir).audit, read_only=True) as store:
        kinds = {e.kind for e in store.events(after_seq=before)}
    assert "query.started" not in kinds  # refused before any template ran


def test_template_runs_and_map_layers_carry_their_marking(export_gateway: LiveGateway) -> None:
    name, purpose = analyst(export_gateway)
    body = {"purpose": purpose, "params": {}}
    with export_gateway.client(name) as http:
        run = http.post("/v1/templates/crime-by-area/run", json=body)
        arrow = http.post("/v1/templates/crime-by-area/run", json={**body, "format": "arrow"})
        exported = http.post(
            "/v1/templates/crime-by-area/run",
            json={
                **body,
                "export": {"format": "xlsx", "options": {"marking": "NOT PROTECTIVELY MARKED"}},
            },
        )
        layer = http.get("/v1/maps/local_authority", params={"purpose": purpose})
    assert run.status_code == 200, run.text
    # counts under the policy's disclosure control: the aggregate marking
    assert run.headers[MARKING] == run.json()["provenance"]["marking"] == "OFFICIAL"
    assert arrow.headers[MARKING] == "OFFICIAL"
    assert (exported.status_code, exported.json()["error"]["code"]) == (400, "marking_lowered")
    assert layer.status_code == 200, layer.text
    assert layer.headers[MARKING] == "OFFICIAL"  # a base map is reference data


def test_the_client_exposes_the_marking(export_gateway: LiveGateway) -> None:
    name, purpose = analyst(export_gateway)
    with connect(export_gateway.url, export_gateway.token(name), purpose=purpose) as gw:
        table = gw.query_arrow(PER_LSOA_SQL)
        assert gw.last_marking == "OFFICIAL-SENSITIVE"
        assert table.schema.metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"
        gw.query(REFERENCE_SQL)
        assert gw.last_marking == "OFFICIAL"
        with gw.query_stream(PER_LSOA_SQL) as result:
            assert result.marking == "OFFICIAL-SENSITIVE"
            assert isinstance(result.read_all(), pa.Table)


def test_the_cli_refuses_a_lowered_marking(export_gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(export_gateway)
    env = {
        **os.environ,
        "GATEWAY_URL": export_gateway.url,
        "GATEWAY_TOKEN": export_gateway.token(name),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
        "PYTHONPATH": str(REPO / "src"),
    }
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gateway", "export", "query", PER_LSOA_SQL),
            *("--purpose", purpose, "-o", "x.csv", "--option", "marking=NOT PROTECTIVELY MARKED"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "marking_lowered" in done.stderr or "lower than the policy" in done.stderr
    assert not (tmp_path / "x.csv").exists()


# --- the marking in the query's own audit record, and aggregate markings --------------------


def _completed(data_dir: Path, query_id: str) -> dict[str, Any]:
    """The details of ``query_id``'s ``query.completed`` record."""
    with SQLiteAuditStore(DataDir(data_dir).audit, read_only=True) as store:
        [done] = [
            e.details
            for e in store.events(kinds=(EventKind.QUERY_COMPLETED,))
            if e.details["query_id"] == query_id
        ]
    return done


RECORDS_SQL = "SELECT crime_id, lsoa_code FROM crime LIMIT 20"


def test_every_release_records_its_marking_in_the_querys_audit_record(
    export_gateway: LiveGateway,
) -> None:
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        answer = http.post("/v1/query", json={"sql": RECORDS_SQL, "purpose": purpose})
        parquet = http.post(
            "/v1/query", json={"sql": REFERENCE_SQL, "purpose": purpose, "format": "parquet"}
        )
        exported = http.post(
            "/v1/exports",
            json={
                "sql": PER_LSOA_SQL,
                "purpose": purpose,
                "format": "csv",
                "options": {"marking": "SECRET"},
            },
        )
        run = http.post("/v1/templates/crime-by-area/run", json={"purpose": purpose})
    assert answer.status_code == parquet.status_code == exported.status_code == 200
    assert run.status_code == 200, run.text
    # the answer, its header and its completed record agree
    assert answer.json()["marking"] == answer.headers[MARKING] == "OFFICIAL-SENSITIVE"
    assert _completed(export_gateway.data_dir, answer.json()["query_id"])["marking"] == (
        "OFFICIAL-SENSITIVE"
    )
    inside = pq.read_schema(io.BytesIO(parquet.content)).metadata[b"gateway:marking"]
    assert inside == b"OFFICIAL" == parquet.headers[MARKING].encode()
    assert _completed(export_gateway.data_dir, parquet.headers["x-query-id"])["marking"] == (
        "OFFICIAL"
    )
    # an export: the query's record keeps the data's marking, the file's registration the
    # (raised) marking printed in it
    export_id = exported.json()["export_id"]
    assert _completed(export_gateway.data_dir, export_id)["marking"] == "OFFICIAL-SENSITIVE"
    assert exported.headers[MARKING] == "SECRET"
    assert _completed(export_gateway.data_dir, run.json()["query_id"])["marking"] == "OFFICIAL"
    # and senior analysts see it in audit.queries
    from gateway.audit.tables import queries_table

    with SQLiteAuditStore(DataDir(export_gateway.data_dir).audit, read_only=True) as store:
        table = queries_table(store.events())
    rows = {r["query_id"]: r["marking"] for r in table.select(["query_id", "marking"]).to_pylist()}
    assert rows[answer.json()["query_id"]] == "OFFICIAL-SENSITIVE"
    assert rows[run.json()["query_id"]] == "OFFICIAL"


def test_aggregates_under_disclosure_control_take_the_aggregate_marking(
    export_gateway: LiveGateway,
) -> None:
    """``[markings] aggregate`` (OFFICIAL) for counts released under disclosure control; the
    same counts without it, and record-level rows, keep the record class's marking."""
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        controlled = http.post(
            "/v1/query", json={"sql": PER_LSOA_SQL, "purpose": purpose, "disclosure": "policy"}
        )
        bare = http.post("/v1/query", json={"sql": PER_LSOA_SQL, "purpose": purpose})
        records = http.post("/v1/query", json={"sql": RECORDS_SQL, "purpose": purpose})
        opted_out = http.post(
            "/v1/templates/crime-by-area/run", json={"purpose": purpose, "disclosure": "none"}
        )
        exported = http.post(
            "/v1/exports",
            json={
                "sql": PER_LSOA_SQL,
                "purpose": purpose,
                "format": "csv",
                "disclosure": "policy",
            },
        )
        download = http.get(exported.json()["download"])
    for answer in (controlled, bare, records, opted_out, exported, download):
        assert answer.status_code == 200, answer.text
    assert controlled.headers[MARKING] == controlled.json()["marking"] == "OFFICIAL"
    assert bare.headers[MARKING] == "OFFICIAL-SENSITIVE"
    assert records.headers[MARKING] == "OFFICIAL-SENSITIVE"
    assert opted_out.headers[MARKING] == "OFFICIAL-SENSITIVE"  # no control: records' marking
    assert exported.headers[MARKING] == "OFFICIAL"
    rows = download.text.splitlines()
    assert rows[0].endswith('"protective_marking"')
    assert all(row.endswith('"OFFICIAL"') for row in rows[1:])
    assert _completed(export_gateway.data_dir, controlled.json()["query_id"])["marking"] == (
        "OFFICIAL"
    )
