"""Templates and products over HTTP, from the Python client and the command line, against a
live gateway server (tests/gateway_server.py) on the generated warehouse."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pyarrow.csv as pacsv
import pytest

from gateway.audit import SQLiteAuditStore
from gateway.cli.demo import SA_PURPOSE, users_toml
from gateway.client import Connection, connect
from gateway.errors import AccessDenied, NotFound, ParameterError
from tests.disclosure.guarantee import GENERAL, check_count
from tests.gateway_server import LiveGateway
from tests.templates.fixtures import USERS, Raw

PERIOD = {"start_month": "2025-11", "end_month": "2026-10"}


@pytest.fixture
def gw(live_gateway: LiveGateway) -> Iterator[Connection]:
    with connect(live_gateway.url, live_gateway.token("a.khan"), purpose=SA_PURPOSE) as conn:
        yield conn


def year_count(raw: Raw, area: str, year: int) -> int:
    return int(
        raw.frame(
            "SELECT count(*) AS n FROM crime WHERE local_authority_code = $a AND year(recorded_at) = $y",
            a=area,
            y=year,
        ).item()
    )


def test_list_marks_what_your_level_may_run(live_gateway: LiveGateway) -> None:
    for user, expected in (("a.khan", False), ("e.okafor", True)):
        with connect(live_gateway.url, live_gateway.token(user)) as conn:
            listed = {t["name"]: t for t in conn.templates()}
        assert "crime-rates" in listed
        assert listed["crime-rates"]["available"] is True
        assert listed["intelligence-by-month"]["available"] is expected
        assert listed["repeat-victims"]["individuals"] is True


def test_show_has_parameters_and_sql(live_gateway: LiveGateway) -> None:
    with live_gateway.client("a.khan") as http:
        answer = http.get("/v1/templates/hotspot-lsoas")
        missing = http.get("/v1/templates/no-such-thing")
    assert answer.status_code == 200
    body = answer.json()
    assert "$top" in body["sql"]
    assert {p["name"] for p in body["parameters"]} == {
        "area",
        "start_month",
        "end_month",
        "category",
        "top",
    }
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_client_template_matches_the_warehouse(gw: Connection, raw: Raw) -> None:
    frame = gw.template("crime-rates", {"year": 2025})
    total = frame.filter(frame["police_uk_category"] == "all").to_dicts()[0]
    true = year_count(raw, "E06000002", 2025)
    check_count(true, total["crimes"], total["crimes_suppressed"], GENERAL)  # perturbed, ±2
    result = gw.template_result("crime-rates", {"year": 2025}, disclosure="none")
    exact = dict(
        zip(*(result.table[c].to_pylist() for c in ("police_uk_category", "crimes")), strict=True)
    )
    assert exact["all"] == true
    assert result.provenance["template"] == "crime-rates"
    assert result.provenance["user"] == "a.khan"
    assert result.provenance["disclosure"]["min_count"] == 0
    assert result.query_id == gw.last_query_id


def test_json_answer_over_plain_http(live_gateway: LiveGateway) -> None:
    with live_gateway.client("j.taylor") as http:
        answer = http.post(
            "/v1/templates/repeat-victimisation/run",
            json={"purpose": SA_PURPOSE, "params": PERIOD},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["template"] == "repeat-victimisation"
    assert [c["name"] for c in body["columns"]][:3] == ["band_order", "times_victimised", "victims"]
    assert body["provenance"]["disclosure"]["min_count"] == 10
    assert body["row_count"] == len(body["rows"])


@pytest.mark.parametrize(
    ("name", "params", "error", "message"),
    [
        ("crime-rates", {"yaer": 2025}, ParameterError, "unknown parameter 'yaer'"),
        ("crime-rates", {"year": "twenty"}, ParameterError, "expected a whole number"),
        ("crime-by-month", {"category": "arson"}, ParameterError, "'arson' is not allowed"),
        ("crime-rates", {"area": "E06000001"}, ParameterError, "is not one of your areas"),
        ("intelligence-by-month", {}, AccessDenied, "for enhanced-level analysts"),
        ("no-such-template", {}, NotFound, "no template called"),
    ],
)
def test_errors_come_back_as_the_servers_own_classes(
    gw: Connection, name: str, params: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        gw.template(name, params)


def test_export_a_template_run(gw: Connection, tmp_path: Path) -> None:
    target = tmp_path / "hotspots.csv"
    result = gw.template_export(
        "hotspot-lsoas", format="csv", output=target, params={**PERIOD, "top": 5}
    )
    assert result.approval == "not_required"
    assert result.path == target
    assert hashlib.sha256(target.read_bytes()).hexdigest() == result.sha256
    assert result.provenance["template"] == "hotspot-lsoas"
    table = pacsv.read_csv(target)  # a plain CSV, its marking inside and in the sidecar
    assert table.num_rows == 5
    sidecar = json.loads((tmp_path / "hotspots.provenance.json").read_text("utf-8"))
    assert set(table.column("protective_marking").to_pylist()) == {sidecar["marking"]}


def test_strategic_assessment_through_the_client(
    gw: Connection, live_gateway: LiveGateway, tmp_path: Path
) -> None:
    # Held for QA by a.khan's designated senior analyst (every product, by default), then
    # passed by her and downloaded.
    assert gw.strategic_assessment("E06000002", 2025, tmp_path / "sa") == []
    held = gw.last_product
    assert held is not None
    assert (held["qa"], held["authorisers"]) == ("pending", ["s.patel", "m.hughes"])
    with pytest.raises(AccessDenied, match="awaits quality assurance"):
        gw.download_product(held["product_id"], tmp_path / "sa")
    with connect(live_gateway.url, live_gateway.token("s.patel")) as senior:
        passed = senior.decide_product(held["product_id"], "pass", comment="figures checked")
    assert (passed["qa"], passed["decided_by"]) == ("passed", "s.patel")
    files = gw.download_product(held["product_id"], tmp_path / "sa")
    assert sorted(p.suffix for p in files) == [".html", ".json", ".xlsx"]
    html = next(p for p in files if p.suffix == ".html").read_text("utf-8")
    assert html.count("OFFICIAL-SENSITIVE") >= 2
    manifest = json.loads(next(p for p in files if p.suffix == ".json").read_text("utf-8"))
    assert manifest["user"] == "a.khan"
    assert len(manifest["sections"]) == 13
    for entry in manifest["files"]:
        path = tmp_path / "sa" / entry["file_name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]


def test_strategic_assessment_bad_year_is_a_400(live_gateway: LiveGateway) -> None:
    with live_gateway.client("a.khan") as http:
        answer = http.post(
            "/v1/products/strategic-assessment",
            json={"area": "E06000002", "year": 1850, "purpose": SA_PURPOSE},
        )
    assert answer.status_code in (400, 422)


# --- the command line ------------------------------------------------------------------------


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_URL", "GATEWAY_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True, text=True, timeout=180, env={**full, **(env or {})}, check=False,
    )  # fmt: skip


def test_cli_list_and_show_need_no_server() -> None:
    listed = gateway("template", "list")
    assert listed.returncode == 0, listed.stderr
    assert "crime-rates" in listed.stdout
    assert "[lists individuals]" in listed.stdout
    shown = gateway("template", "show", "before-after")
    assert shown.returncode == 0
    assert "intervention (area_code, required" in shown.stdout


def test_cli_run_against_the_server(live_gateway: LiveGateway, tmp_path: Path, raw: Raw) -> None:
    env = {
        "GATEWAY_URL": live_gateway.url,
        "GATEWAY_TOKEN": live_gateway.token("a.khan"),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
    }
    done = gateway("template", "run", "crime-rates", "--param", "year=2025", "--purpose", SA_PURPOSE,
                   "--format", "json", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    rows = [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]]
    total = next(r for r in rows if r["police_uk_category"] == "all")
    true = year_count(raw, "E06000002", 2025)
    check_count(true, total["crimes"], total["crimes_suppressed"], GENERAL)
    assert "template crime-rates" in done.stderr
    bad = gateway(
        "template", "run", "crime-rates", "--param", "year=twenty", "--purpose", SA_PURPOSE, env=env
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "error: template crime-rates: parameter 'year': expected a whole number, got 'twenty'"
    ]


@pytest.fixture(scope="module")
def local_dir(template_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory of its own (the CLI opens its own service and audit log on it)."""
    root = tmp_path_factory.mktemp("cli-data")
    (root / "warehouse.duckdb").write_bytes((template_data_dir / "warehouse.duckdb").read_bytes())
    (root / "users.toml").write_text(users_toml(list(USERS.values())), "utf-8")
    return root


def test_cli_run_locally_with_export(local_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "areas.csv"
    done = gateway("template", "run", "crime-by-area", "--param", "geography=lsoa", "--data-dir", str(local_dir),
                   "--user", "r.wilson", "--export", "csv", "--output", str(target))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(not_required)" in done.stdout  # an aggregate under disclosure control
    assert target.read_text("utf-8").startswith('"geography","lsoa_code"')  # readers read it
    sidecar = json.loads((tmp_path / "areas.provenance.json").read_text("utf-8"))
    assert sidecar["marking"] == "OFFICIAL"  # counts under disclosure control: [markings] aggregate
    missing_user = gateway("template", "run", "crime-rates", "--data-dir", str(local_dir))
    assert missing_user.returncode != 0
    assert "--data-dir needs --user" in missing_user.stderr
    # Run in r.wilson's scope, but the records say who was at the host's keyboard.
    with SQLiteAuditStore(local_dir / "audit.sqlite", read_only=True) as store:
        requests = [e.details for e in store.events(kinds=("query.started", "query.denied"))]
    assert requests
    host = f"host:{getpass.getuser()} (uid {os.getuid()})"
    assert {(d["user"], d.get("channel"), d["user_agent"]) for d in requests} == {
        ("r.wilson", "host", host)
    }


def test_cli_product_locally(local_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    done = gateway("product", "strategic-assessment", "--area", "E06000003", "--year", "2025",
                   "--output", str(out), "--data-dir", str(local_dir), "--user", "r.wilson")  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Built on the gateway's machine it is still held for QA (policy 198 3.2): kept and
    # registered in the data directory, nothing written where the user asked.
    assert "is held for quality assurance by s.patel or m.hughes" in done.stderr
    assert not out.exists() or not list(out.iterdir())
    kept = list((local_dir / "products").glob("p*.json"))
    assert len(kept) == 1


def test_openapi_lists_the_routes(live_gateway: LiveGateway) -> None:
    paths = httpx.get(f"{live_gateway.url}/openapi.json", timeout=30).json()["paths"]
    for path in ("/v1/templates", "/v1/templates/{name}", "/v1/templates/{name}/run",
                 "/v1/products/strategic-assessment"):  # fmt: skip
        assert path in paths


def last_month_with_data(raw: Raw) -> str:
    """The last complete month of crime in the warehouse (the small one ends with October)."""
    last_day = raw.frame("SELECT CAST(max(recorded_at) AS DATE) AS d FROM crime").item()
    month = last_day.replace(day=1)
    if (last_day + timedelta(days=1)).month == last_day.month:  # part-month: the one before
        month = (month - timedelta(days=1)).replace(day=1)
    return month.strftime("%Y-%m")


def test_default_periods_end_with_the_last_month_that_has_data(
    live_gateway: LiveGateway, raw: Raw
) -> None:
    # The server runs on today's clock; the data ends earlier. Relative defaults count back
    # from the data, so the default twelve months are twelve full months of data.
    through = last_month_with_data(raw)
    with live_gateway.client("a.khan") as http:
        answer = http.post(
            "/v1/templates/crime-by-area/run", json={"purpose": SA_PURPOSE, "params": {}}
        )
    assert answer.status_code == 200, answer.text
    provenance = answer.json()["provenance"]
    end = date.fromisoformat(through + "-01")
    start = date(end.year - 1, end.month, 1) + timedelta(days=31)
    assert provenance["periods"] == {
        "start_month": start.strftime("%Y-%m"),
        "end_month": through,
    }
    assert provenance["data_through"] == through
    with live_gateway.client("a.khan") as http:
        http_run = http.post(
            "/v1/templates/crime-by-area/run", json={"purpose": SA_PURPOSE, "params": PERIOD}
        )
    given = http_run.json()["provenance"]
    assert given["periods"] == PERIOD
    assert given["data_through"] is None  # every period was given: nothing counted back


def test_cli_says_which_periods_it_compared(local_dir: Path, raw: Raw) -> None:
    done = gateway("template", "run", "crime-by-area", "--data-dir", str(local_dir),
                   "--user", "r.wilson", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    through = last_month_with_data(raw)
    assert f"end_month {through}" in done.stderr
    assert f"count back from {through}, the last complete month with data" in done.stderr
