"""The review reports are one table (``gateway.audit.reporting.REPORTS``): the API and the CLI
offer every report in it, with the same parameters, and give the same rows for the same inputs.

The API answers over real HTTP from the shared live server; the CLI runs ``gateway audit report
NAME --data-dir DIR --format json`` on the same data directory (the log read-only).
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from typer.testing import CliRunner

import gateway.cli.audit as cli_audit
from gateway.api.routes import audit as audit_routes
from gateway.audit.reporting import REPORT_PARAMETERS, REPORTS, ReportName
from gateway.cli import app
from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway

runner = CliRunner()

#: Parameters that make each report say something about a short, fresh log.
ARGUMENTS: dict[str, dict[str, Any]] = {
    "activity": {},
    "daily-activity": {},
    "person-lookups": {},
    "large-extractions": {"min_rows": 1},
    "out-of-hours": {"work_start": "00:00", "work_end": "00:00:01", "timezone": "Asia/Tokyo"},
    "denied": {},
    "exports": {},
    "dormant": {"months": 1},
}
#: Front-end parameters that are not report parameters.
API_ONLY = {"name", "principal", "runtime"}
CLI_ONLY = {"kind", "data_dir", "output", "url", "users_file", "reason"}


def _names(function: Any, exclude: set[str]) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.name not in exclude
    }


def test_the_api_and_the_cli_take_exactly_the_table_parameters_with_its_defaults() -> None:
    api = _names(audit_routes.report, API_ONLY)
    cli = _names(cli_audit.report_command, CLI_ONLY)
    assert set(api) == set(cli) == set(REPORT_PARAMETERS)
    for name, parameter in REPORT_PARAMETERS.items():
        assert (api[name] or None) == (cli[name] or None) == (parameter.default or None), name
    assert set(ARGUMENTS) == set(REPORTS) == set(get_args(ReportName))
    for spec in REPORTS.values():
        assert set(p.name for p in spec.parameters) <= set(REPORT_PARAMETERS)


def _normal(value: Any) -> Any:
    """JSON cells from either side as comparable values (times as UTC datetimes)."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return value
    return value


def _api_rows(live_gateway: LiveGateway, name: str, params: dict[str, Any]) -> list[dict]:
    with live_gateway.client("s.patel") as http:
        answer = http.get(f"/v1/audit/reports/{name}", params=params)
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    columns = [c["name"] for c in body["columns"]]
    return [{c: _normal(v) for c, v in zip(columns, row, strict=True)} for row in body["rows"]]


def _cli_rows(data_dir: DataDir, name: str, params: dict[str, Any]) -> list[dict]:
    options = [
        f"--{key.replace('_', '-')}={value}" for key, value in params.items() if key != "user"
    ]
    args = ["audit", "report", name, "--data-dir", str(data_dir.root), "--format", "json"]
    result = runner.invoke(app, [*args, *options])
    assert result.exit_code == 0, result.output
    return [{c: _normal(v) for c, v in row.items()} for row in json.loads(result.output)]


@pytest.fixture(scope="module")
def period(live_gateway: LiveGateway) -> dict[str, str]:
    """A period holding an allowed and a refused query by h.lee, closed before the reports run
    (so records the reports themselves add do not change what either side sees)."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    with live_gateway.client("h.lee") as analyst:
        ok = analyst.post(
            "/v1/query", json={"sql": "SELECT crime_id FROM crime LIMIT 3", "purpose": "SA-2026"}
        )
        refused = analyst.post(
            "/v1/query", json={"sql": "SELECT * FROM intelligence_report", "purpose": "SA-2026"}
        )
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 403, refused.text
    until = datetime.now(UTC) + timedelta(seconds=1)
    return {"since": since.isoformat(), "until": until.isoformat()}


@pytest.mark.parametrize("name", list(REPORTS))
def test_api_and_cli_give_the_same_rows(
    name: str, live_gateway: LiveGateway, demo_data_dir: DataDir, period: dict[str, str]
) -> None:
    params = {**period, **ARGUMENTS[name]}
    api = _api_rows(live_gateway, name, params)
    cli = _cli_rows(demo_data_dir, name, params)
    assert api == cli
    if name in ("activity", "large-extractions", "out-of-hours", "denied"):
        assert any(row["user"] == "h.lee" for row in api), name
    if name == "dormant":  # the directory's users: h.lee queried, so is not dormant
        assert "h.lee" not in [row["user"] for row in api]
        assert api  # someone in the directory ran nothing this month


def test_dormant_users_named_are_checked_the_same_way(
    live_gateway: LiveGateway, demo_data_dir: DataDir, period: dict[str, str]
) -> None:
    params = {"until": period["until"], "months": 1}
    with live_gateway.client("s.patel") as http:
        answer = http.get(
            "/v1/audit/reports/dormant", params={**params, "user": ["h.lee", "nobody.here"]}
        )
    assert answer.status_code == 200, answer.text
    api = [row[0] for row in answer.json()["rows"]]
    args = ["audit", "report", "dormant", "--data-dir", str(demo_data_dir.root)]
    result = runner.invoke(
        app,
        [*args, "--format", "json", f"--until={params['until']}", "--months=1",
         "--user", "h.lee", "--user", "nobody.here"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api == [row["user"] for row in json.loads(result.output)] == ["nobody.here"]
