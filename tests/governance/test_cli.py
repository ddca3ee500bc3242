"""``gateway access …``: the whole process from the command line, on a real data directory."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

import gateway.cli.access  # noqa: F401  (registers ``gateway access``)
from gateway.audit import verify_data_dir
from gateway.cli import app
from gateway.datadir import DataDir
from gateway.errors import StepOutOfOrder

from .conftest import MBC_NETWORK, MBRO, World, general_form

runner = CliRunner()


class Cli:
    def __init__(self, data_dir: DataDir) -> None:
        self.root = str(data_dir.root)

    def __call__(self, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["access", *args, "--data-dir", self.root])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, result.output
        return result.output


@pytest.fixture
def cli(data_dir: DataDir) -> Cli:
    return Cli(data_dir)


def register(cli: Cli) -> None:
    today = datetime.now(UTC).date()
    cli("bootstrap", "--username", "root", "--full-name", "Root Admin", "--email", "root@example.org",
        "--org-code", "CLE", "--org-name", "Cleveland Police", "--area", MBRO)  # fmt: skip
    cli("org", "add", "MBC", "--name", "Middlesbrough Council", "--area", MBRO, "--as", "root")
    cli("network", "add", "MBC", MBC_NETWORK, "--description", "Civic Centre", "--as", "root")
    people = [
        ("m.jones", "MBC", ["line_manager"], []),
        ("p.spoc", "MBC", ["spoc"], []),
        ("a.khan", "MBC", ["analyst"], ["--line-manager", "m.jones"]),
        ("s.super", "CLE", ["superintendent"], ["--area", MBRO]),
        ("a.man", "CLE", ["analysis_manager"], []),
        ("i.sec", "CLE", ["information_security_officer"], []),
        ("h.intel", "CLE", ["head_of_intelligence"], []),
    ]
    for username, org, roles, extra in people:
        role_args = [a for r in roles for a in ("--role", r)]
        cli("user", "add", username, "--full-name", username.title(), "--org", org,
            "--title", "Officer", "--email", f"{username}@example.org", *role_args, *extra,
            "--as", "root")  # fmt: skip
    cli("vetting", "a.khan", "--level", "NPPV3", "--granted", str(today - timedelta(days=10)),
        "--expires", str(today + timedelta(days=1000)), "--as", "i.sec")  # fmt: skip
    for kind in ("confidentiality", "data_protection", "security_operating_procedures"):
        cli("declaration", "a.khan", "--kind", kind, "--as", "a.khan")
    for kind in ("gateway_training", "information_security_induction"):
        cli("training", "a.khan", "--kind", kind, "--as", "i.sec")
    cli("mou", "MBC", "--reference", "MOU-1", "--signed", str(today - timedelta(days=30)),
        "--as", "root")  # fmt: skip
    cli("declare-coc", "MBC", "--as", "p.spoc")


def test_the_whole_process_from_the_command_line(cli: Cli, data_dir: DataDir) -> None:
    register(cli)
    assert "[no_request]" in cli("status", "a.khan", code=1)
    request_id = cli(
        "request", "submit", "--as", "a.khan", "--purpose", "SA-2026=Strategic assessment",
        "--duties", "CSP analyst", "--product", "Strategic assessment",
        "--disseminate", "CSP board",
    ).strip()  # fmt: skip
    assert request_id.startswith("AR-")
    assert request_id in cli("pending", "--role", "line_manager")
    assert request_id in cli("pending", "--role", "line_manager", "--as", "m.jones")
    assert cli("pending", "--role", "line_manager", "--as", "a.man") == ""
    with pytest.raises(StepOutOfOrder):
        cli("authorise", request_id, "--as", "h.intel")

    assert "next: endorsement by the local policing superintendent" in cli(
        "endorse", request_id, "--as", "m.jones", "--comment", "supports the SA"
    )
    cli("endorse", request_id, "--as", "s.super")
    cli("review", request_id, "--as", "a.man")
    cli("review", request_id, "--as", "i.sec")
    assert f"{request_id} authorised" in cli("authorise", request_id, "--as", "h.intel")

    status = cli("status", "a.khan")
    assert "level general, purposes SA-2026" in status
    assert "ready: nothing missing" in status
    shown = cli("request", "show", request_id)
    assert "supports the SA" in shown
    assert "head_of_intelligence" in shown

    cli("suspend", "a.khan", "--as", "i.sec", "--reason", "shared login")
    assert "[suspended]" in cli("status", "a.khan", code=1)
    cli("reinstate", "a.khan", "--as", "h.intel", "--comment", "cleared")
    assert '"allow_loopback": true' in cli("settings", "--allow-loopback", "--as", "root")
    assert "opened: RV-" in cli("review-cycle", "--as", "root")
    assert verify_data_dir(data_dir).ok


def test_a_refusal_is_one_line_and_exit_2(world: World, data_dir: DataDir) -> None:
    request_id = world.service.submit("a.khan", general_form()).request_id
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "access", "endorse", request_id, "--as", "a.khan",
         "--data-dir", str(data_dir.root)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.strip() == "error: 'a.khan' cannot endorse their own request"
    assert world.service.request(request_id).state == "submitted"
