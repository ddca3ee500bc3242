"""Exports, base maps and the police.uk extract over real HTTP (``gateway serve``)."""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from pathlib import Path

import pyogrio
import pytest

from gateway.policy.disclosure import PUBLICATION_RULES
from gateway.publish import HEADER
from tests.disclosure.guarantee import check_count
from tests.exports.helpers import PER_LSOA_SQL
from tests.gateway_server import LiveGateway

ANALYST = "a.khan"  # demo users (gateway.cli.demo)


@pytest.fixture
def gateway(export_gateway: LiveGateway) -> LiveGateway:
    return export_gateway


def analyst(gateway: LiveGateway) -> tuple[str, str]:
    demo = gateway.tokens
    name = next(n for n, t in demo.items() if t["level"] == "general" and "analyst" in t["roles"])
    return name, demo[name]["purposes"][0]


def test_list_and_download_base_maps(gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(gateway)
    with gateway.client(name) as http:
        layers = http.get("/v1/maps").json()["layers"]
        assert [layer["name"] for layer in layers] == [
            "local_authority",
            "neighbourhood",
            "ward",
            "lsoa",
            "map_point",
        ]
        assert {layer["name"]: layer["kind"] for layer in layers}["map_point"] == "points"
        answer = http.get(
            "/v1/maps/ward", params={"purpose": purpose, "format": "tab", "crs": 4326}
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/zip"
        assert hashlib.sha256(answer.content).hexdigest() == answer.headers["x-export-sha256"]
        target = tmp_path / "ward.zip"
        target.write_bytes(answer.content)
        with zipfile.ZipFile(target) as archive:
            assert "ward.provenance.json" in archive.namelist()
        info = pyogrio.read_info(f"/vsizip/{target}/ward.tab")
        assert info["features"] == next(lyr["features"] for lyr in layers if lyr["name"] == "ward")
        refused = http.get("/v1/maps/lsoa", params={"purpose": "NOT-MINE", "format": "gpkg"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "purpose_not_approved"


def test_export_then_download(gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(gateway)
    with gateway.client(name) as http:
        answer = http.post(
            "/v1/exports", json={"sql": PER_LSOA_SQL, "purpose": purpose, "format": "gpkg"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["approval"] == "not_required"
        assert body["data_class"] == "aggregate"
        assert body["provenance"]["marking"] == "OFFICIAL-SENSITIVE"
        file = http.get(body["download"])
        assert file.status_code == 200
        assert (
            hashlib.sha256(file.content).hexdigest()
            == body["sha256"]
            == file.headers["x-export-sha256"]
        )
        assert file.headers["x-query-id"] == body["export_id"]
        path = tmp_path / "x.gpkg"
        path.write_bytes(file.content)
        assert pyogrio.read_info(path)["features"] == body["features"]
        state = http.get(f"/v1/exports/{body['export_id']}").json()
        assert state["sha256"] == body["sha256"]


def test_disclosure_controlled_map_export(gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(gateway)
    with gateway.client(name) as http:
        true = {
            code: n
            for code, n in http.post(
                "/v1/query", json={"sql": PER_LSOA_SQL, "purpose": purpose}
            ).json()["rows"]
        }
        answer = http.post(
            "/v1/exports",
            json={
                "sql": PER_LSOA_SQL,
                "purpose": purpose,
                "format": "gpkg",
                "disclosure": "publication",
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["data_class"] == "aggregate"
        assert "rounded to the nearest 5" in body["provenance"]["disclosure"]
        assert "cell key method" in body["provenance"]["disclosure"]
        path = tmp_path / "protected.gpkg"
        path.write_bytes(http.get(body["download"]).content)
        refused = http.post(
            "/v1/exports",
            json={"sql": "SELECT crime_id FROM crime", "purpose": purpose, "format": "csv",
                  "disclosure": "policy"},
        )  # fmt: skip
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "not_aggregate"
    layer = pyogrio.read_dataframe(path, read_geometry=False)
    assert sorted(layer["lsoa_code"]) == sorted(true)  # every area, suppressed ones marked
    assert layer["crimes_suppressed"].astype(bool).any()
    for code, crimes, suppressed in layer[["lsoa_code", "crimes", "crimes_suppressed"]].itertuples(
        index=False
    ):
        empty = crimes is None or math.isnan(crimes)  # a suppressed count is empty in the layer
        assert empty == bool(suppressed)
        check_count(true[code], None if empty else int(crimes), bool(suppressed), PUBLICATION_RULES)
        if not suppressed:
            assert crimes % 5 == 0  # perturbed, then rounded to 5


def test_progress_stream(gateway: LiveGateway) -> None:
    name, purpose = analyst(gateway)
    sql = "SELECT l.easting, l.northing FROM crime c JOIN location l USING (location_id)"
    with gateway.client(name) as http:
        answer = http.post(
            "/v1/exports",
            params={"progress": "true"},
            json={
                "sql": sql,
                "purpose": purpose,
                "format": "fgb",
                "options": {"geometry": "grid", "cell_size": 500},
            },
        )
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in answer.text.splitlines()]
        stages = [line["progress"]["stage"] for line in lines if "progress" in line]
        assert stages[0] == "query"
        assert "write" in stages
        assert stages[-1] == "done"
        assert lines[-1]["export"]["format"] == "fgb"
        refused = http.post(
            "/v1/exports",
            params={"progress": "true"},
            json={"sql": "SELECT * FROM intelligence_report", "purpose": purpose, "format": "csv"},
        )
        last = json.loads(refused.text.splitlines()[-1])
        assert last["error"]["code"] == "table_not_permitted"


def test_held_export_over_http(gateway: LiveGateway) -> None:
    name, purpose = analyst(gateway)
    with gateway.client(name) as http:
        body = http.post(
            "/v1/exports",
            json={
                "sql": "SELECT crime_id FROM crime LIMIT 20",
                "purpose": purpose,
                "format": "csv",
            },
        ).json()
        assert body["approval"] == "pending"
        held = http.get(body["download"])
        assert held.status_code == 403
        assert "awaiting" in held.json()["error"]["message"]
        assert http.post(f"/v1/exports/{body['export_id']}/approve", json={}).status_code == 403
    with gateway.client("s.patel") as senior:
        pending = senior.get("/v1/exports", params={"pending": "true"}).json()["exports"]
        assert body["export_id"] in {e["export_id"] for e in pending}
        decided = senior.post(
            f"/v1/exports/{body['export_id']}/approve", json={"comment": "ok for JAG"}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["approval"] == "approved"
        again = senior.post(f"/v1/exports/{body['export_id']}/reject", json={})
        assert again.status_code == 409
    with gateway.client(name) as http:
        released = http.get(body["download"])
        assert released.status_code == 200
        # a CSV every reader reads, its marking inside on every row
        assert released.text.splitlines()[0] == '"crime_id","protective_marking"'
        assert released.text.splitlines()[1].endswith(',"OFFICIAL-SENSITIVE"')
        assert "_OFFICIAL-SENSITIVE.csv" in released.headers["content-disposition"]
    with gateway.client("s.patel") as senior:
        report = senior.get("/v1/audit/reports/exports").json()
        names = [c["name"] for c in report["columns"]]
        (row,) = [
            dict(zip(names, r, strict=True))
            for r in report["rows"]
            if r[names.index("query_id")] == body["export_id"]
        ]
        assert (row["registered_approval"], row["approval"]) == ("pending", "approved")
        assert (row["decided_by"], row["decision_comment"]) == ("s.patel", "ok for JAG")
        assert row["downloads"] == 1


def test_police_uk_extract_for_administrators_only(gateway: LiveGateway) -> None:
    name, _ = analyst(gateway)
    with gateway.client(name) as http:
        refused = http.post("/v1/publish/police-uk", json={"month": "2026-03"})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "wrong_role"
    with gateway.client("gw.admin") as admin:
        answer = admin.post("/v1/publish/police-uk", json={"month": "2026-03"})
        assert answer.status_code == 200, answer.text
        lines = answer.text.splitlines()
        assert lines[0] == ",".join(HEADER)
        assert int(answer.headers["x-rows"]) == len(lines) - 1 > 0
        bad = admin.post("/v1/publish/police-uk", json={"month": "2026-13"})
        assert bad.status_code == 400
