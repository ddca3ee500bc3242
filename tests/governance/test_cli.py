"""``gateway access …`` as logged-in people, over real HTTP: bootstrap on the host (break-glass),
then every step by the person themselves, each with their own saved login.

One governed gateway (a real ``python -m gateway serve`` on loopback) for the module. The
register starts empty: the host operator bootstraps the first administrator and issues their
token (break-glass, audited with the OS user and reason); from then on everything goes
through the server, the actor taken from each person's token.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.audit import AuditLog, verify_data_dir
from gateway.audit.kinds import EventKind
from gateway.cli import COMMAND_MODULES, app
from gateway.datadir import DataDir
from gateway.errors import GatewayError
from tests.gateway_server import LiveGateway, build_tiny_warehouse, start_gateway

from .conftest import MBC_NETWORK, MBRO

runner = CliRunner()
for _module in COMMAND_MODULES:  # every command registered, as `gateway` itself does
    __import__(f"gateway.cli.{_module}")

PEOPLE = [
    ("m.jones", "MBC", ["line_manager", "local_supervisor"], []),
    ("p.spoc", "MBC", ["spoc"], []),
    ("s.patel", "CLE", ["senior_analyst"], []),
    ("o.wner", "CLE", ["system_owner"], []),
    (
        "a.khan",
        "MBC",
        ["analyst"],
        [
            "--line-manager",
            "m.jones",
            "--senior-analyst",
            "s.patel",
            "--local-supervisor",
            "m.jones",
        ],
    ),
    ("s.super", "CLE", ["superintendent"], ["--area", MBRO]),
    ("a.man", "CLE", ["analysis_manager"], []),
    ("i.sec", "CLE", ["information_security_officer"], []),
    ("h.intel", "CLE", ["head_of_intelligence"], []),
]


@dataclass
class Run:
    code: int
    out: str
    err: str


def gateway(*args: str, env: dict[str, str | None] | None = None, code: int = 0) -> Run:
    """Run ``gateway ARGS`` in-process (no GATEWAY_* from the outside)."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GATEWAY_")}
    result = runner.invoke(app, list(args), env=clean | (env or {}))
    if isinstance(result.exception, GatewayError):  # as `gateway` itself reports it
        run = Run(2, result.stdout, f"{result.stderr}error: {result.exception}\n")
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    else:
        run = Run(result.exit_code, result.stdout, result.stderr)
    assert run.code == code, f"gateway {' '.join(args)} → {run.code}:\n{run.out}\n{run.err}"
    return run


class People:
    """Each person's own saved login (a profile file of their own)."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder, self.url = folder, url

    def profile(self, who: str) -> dict[str, str | None]:
        return {"GATEWAY_CONFIG": str(self.folder / f"{who}.toml")}

    def login(self, who: str, token: str) -> None:
        done = gateway(
            "login", "--server", self.url, env=self.profile(who) | {"GATEWAY_TOKEN": token}
        )
        assert f"as {who} " in done.out
        assert (self.folder / f"{who}.toml").stat().st_mode & 0o777 == 0o600

    def __call__(self, who: str, *args: str, code: int = 0) -> Run:
        return gateway("access", *args, env=self.profile(who), code=code)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveGateway, People]]:
    root = tmp_path_factory.mktemp("governed-cli") / "gw"
    root.mkdir()
    data_dir = DataDir(root)
    build_tiny_warehouse(data_dir.warehouse)
    host = ["--data-dir", str(root), "--reason", "CHG-1001 new deployment"]
    gateway("access", "bootstrap", *host, "--username", "root", "--full-name", "Root Admin",
            "--email", "root@example.org", "--org-code", "CLE", "--org-name", "Cleveland Police",
            "--area", MBRO)  # fmt: skip
    gateway("access", "break-glass", "settings", *host, "--allow-loopback")
    token = gateway("tokens", "issue", "root", *host, "--days", "2").out.strip()
    data_dir.demo_tokens.write_text("{}", "utf-8")
    live = start_gateway(root)
    people = People(tmp_path_factory.mktemp("profiles"), live.url)
    people.login("root", token)
    try:
        yield live, people
    finally:
        live.stop()


def register(people: People) -> None:
    today = datetime.now(UTC).date()
    people("root", "org", "add", "MBC", "--name", "Middlesbrough Council", "--area", MBRO)
    people("root", "network", "add", "MBC", MBC_NETWORK, "--description", "Civic Centre")
    for username, org, roles, extra in PEOPLE:
        role_args = [a for r in roles for a in ("--role", r)]
        people("root", "user", "add", username, "--full-name", username.title(), "--org", org,
               "--title", "Officer", "--email", f"{username}@example.org", *role_args, *extra,
               "--phone", "01642 300000")  # fmt: skip
        token = gateway("tokens", "issue", username, "--days", "2", env=people.profile("root"))
        people.login(username, token.out.strip())
    people("i.sec", "vetting", "a.khan", "--level", "NPPV3", "--granted",
           str(today - timedelta(days=10)), "--expires", str(today + timedelta(days=1000)))  # fmt: skip
    kinds = ("confidentiality", "data_protection", "official_secrets_act")
    for kind in (*kinds, "security_operating_procedures"):
        people("a.khan", "declaration", "a.khan", "--kind", kind)
    for kind in ("gateway_training", "information_security_induction"):
        people("i.sec", "training", "a.khan", "--kind", kind)
    people(
        "root", "mou", "MBC", "--reference", "MOU-1", "--signed", str(today - timedelta(days=30))
    )
    people("p.spoc", "declare-coc", "MBC")
    signed = str(today - timedelta(days=20))
    people("root", "mou", "MBC", "--reference", "MOU-a.khan", "--signed", signed, "--for", "a.khan")
    assert "[isa_missing]" in people("a.khan", "status", code=1).out
    people("root", "org", "isa", "MBC", "--reference", "ISA-MBC", "--signed", signed,
           "--copied-to", "root")  # fmt: skip
    people("o.wner", "org", "authorise", "MBC", "--comment", "ISA and MoU in place")


@pytest.fixture(scope="module")
def registered(served: tuple[LiveGateway, People]) -> tuple[LiveGateway, People]:
    """The register filled in (organisation, its agreements, people and their logins) once for
    the module, by whichever test needs it first."""
    register(served[1])
    return served


def events(root: Path, kind: EventKind) -> list[Any]:
    with AuditLog.open(DataDir(root)) as log:
        return list(log.events(kinds=(kind,)))


def test_the_whole_workflow_by_separate_logged_in_people(
    registered: tuple[LiveGateway, People],
) -> None:
    live, people = registered
    assert "[no_request]" in people("a.khan", "status", code=1).out
    request_id = people(
        "a.khan", "request", "submit", "--purpose", "SA-2026=Strategic assessment",
        "--duties", "CSP analyst", "--product", "Strategic assessment",
        "--disseminate", "CSP board",
    ).out.strip()  # fmt: skip
    assert request_id.startswith("AR-")
    assert request_id in people("m.jones", "pending").out
    assert people("a.man", "pending").out == ""

    # Nobody acts in anyone else's name: --as is refused, one's own request cannot be endorsed,
    # and a step out of turn is refused — each by the server, for the logged-in person.
    named = people("a.khan", "endorse", request_id, "--as", "m.jones", code=2)
    assert "gateway login --server URL" in named.err
    own = people("a.khan", "endorse", request_id, code=2)
    assert own.err.strip() == "error: 'a.khan' cannot endorse their own request"
    early = people("h.intel", "authorise", request_id, code=2)
    assert "error:" in early.err
    assert "Traceback" not in early.err
    wrong = people("a.man", "endorse", request_id, code=2)
    assert "line_manager" in wrong.err

    assert (
        "next: endorsement by the local policing superintendent"
        in people("m.jones", "endorse", request_id, "--comment", "supports the SA").out
    )
    people("s.super", "endorse", request_id)
    people("a.man", "review", request_id)
    people("i.sec", "review", request_id)
    assert f"{request_id} authorised" in people("h.intel", "authorise", request_id).out

    status = people("a.khan", "status")
    assert "level general, purposes SA-2026" in status.out
    assert "ready: nothing missing" in status.out
    shown = people("h.intel", "request", "show", request_id).out
    for who in ("m.jones", "s.super", "a.man", "i.sec", "h.intel"):
        assert f" {who} (" in shown  # each step recorded under the person who took it

    people("i.sec", "suspend", "a.khan", "--reason", "shared login")
    assert "[suspended]" in people("i.sec", "status", "a.khan", code=1).out
    assert "is suspended" in people("a.khan", "status", code=2).err
    people("h.intel", "reinstate", "a.khan", "--comment", "cleared")
    assert "a.khan" in people("root", "user", "list").out
    assert "MBC" in people("root", "org", "list").out
    assert request_id in people("root", "request", "list", "--all").out
    assert people("a.khan", "user", "list", code=2).err.startswith("error: seeing the register")
    assert "opened: RV-" in people("root", "review-cycle").out

    [endorsed, *_] = events(live.data_dir, EventKind.ACCESS_ENDORSED)
    assert endorsed.actor == "m.jones"
    assert verify_data_dir(DataDir(live.data_dir)).ok


def test_break_glass_records_the_os_user_and_reason_and_cannot_approve(
    served: tuple[LiveGateway, People],
) -> None:
    live, _people = served
    [boot] = events(live.data_dir, EventKind.USER_BOOTSTRAP_ADMIN)
    assert boot.actor == f"host:{getpass.getuser()}"
    glass = boot.details["details"]["break_glass"]
    assert glass == {"os_user": getpass.getuser(), "os_uid": os.getuid(),
                     "reason": "CHG-1001 new deployment"}  # fmt: skip
    [first_token] = [
        e for e in events(live.data_dir, EventKind.TOKEN_ISSUED) if e.actor.startswith("host:")
    ]
    assert first_token.details["subject"] == "root"

    host = ["--data-dir", str(live.data_dir), "--reason", "INC-5 urgent"]
    refused = gateway("access", "authorise", "AR-20260101-000000", *host, code=2)
    assert refused.err.startswith("error: break-glass host mode (host:")
    assert "approval step" in refused.err
    assert "gateway login --server URL" in refused.err
    [attempt] = [
        e
        for e in events(live.data_dir, EventKind.ACCESS_DENIED)
        if e.details.get("subject") == "access.take_step"
    ]
    assert attempt.details["details"]["break_glass"]["reason"] == "INC-5 urgent"
    # a token for an approver is never issued on the host (it would let the host act as them)
    approver = gateway("tokens", "issue", "h.intel", *host, code=2)
    assert "administrator-only accounts" in approver.err
    assert "pgw_" not in approver.out
    # no reason, no break-glass
    bare = gateway("tokens", "issue", "root", "--data-dir", str(live.data_dir), code=2)
    assert "needs --reason" in bare.err


def test_an_unregistered_name_cannot_act(served: tuple[LiveGateway, People]) -> None:
    live, people = served
    unknown = gateway(
        "tokens", "issue", "not.a.registered.user", env=people.profile("root"), code=2
    )
    assert "no user 'not.a.registered.user'" in unknown.err
    named = gateway("publish", "police-uk", "--month", "2025-01", "--by",
                    "not.a.registered.user", env=people.profile("root"), code=2)  # fmt: skip
    assert "--as/--by are gone" in named.err
    on_host = gateway("publish", "police-uk", "--month", "2025-01", "--data-dir",
                      str(live.data_dir), "--reason", "x", code=2)  # fmt: skip
    assert "break-glass host mode" in on_host.err
    nobody = gateway("access", "pending", env={"GATEWAY_CONFIG": "/nonexistent.toml",
                                               "GATEWAY_URL": live.url}, code=2)  # fmt: skip
    assert "gateway login" in nobody.err
    for kind in (EventKind.ACCESS_REQUESTED, EventKind.ACCESS_ENDORSED, EventKind.TOKEN_ISSUED):
        assert all(e.actor != "not.a.registered.user" for e in events(live.data_dir, kind))


@pytest.mark.parametrize(
    ("command", "doing"),
    [
        (["export", "approve", "q-1", "--comment", "checked"], "approving or rejecting an export"),
        (["export", "reject", "q-1", "--comment", "no"], "approving or rejecting an export"),
        (["product", "pass", "p-1", "--comment", "fine"], "quality assurance of a product"),
        (["product", "return", "p-1", "--comment", "redo"], "quality assurance of a product"),
    ],
)
def test_release_decisions_are_never_taken_in_someone_elses_name(
    served: tuple[LiveGateway, People], command: list[str], doing: str
) -> None:
    live, people = served
    named = gateway(*command, "--as", "s.patel", env=people.profile("root"), code=2)
    assert "--as/--by are gone" in named.err
    host = ["--data-dir", str(live.data_dir), "--reason", "INC-6 backlog"]
    on_host = gateway(*command, *host, code=2)
    assert on_host.err.startswith("error: break-glass host mode (host:")
    assert doing in on_host.err


def test_an_organisation_is_suspended_and_reinstated_from_the_command_line(
    registered: tuple[LiveGateway, People],
) -> None:
    """Sets up its own state (the registered organisation and its people); whatever access
    a.khan holds, every token of the organisation is refused while it is suspended."""
    live, people = registered
    listed = people("a.khan", "org", "agreements").out
    assert "ISA-MBC" in listed
    assert "copy: root" in listed
    refused = people("p.spoc", "org", "suspend", "MBC", "--reason", "x", code=2)
    assert "suspending an organisation needs one of the roles" in refused.err
    people("i.sec", "org", "suspend", "MBC", "--reason", "data loss under investigation")
    assert "suspended" in people("a.khan", "status", code=2).err  # their token is refused
    assert "suspended" in people("m.jones", "pending", code=2).err
    assert "suspended" in people("p.spoc", "org", "agreements", code=2).err
    people("h.intel", "org", "reinstate", "MBC", "--reason", "investigation closed")
    people("m.jones", "pending")  # every token of the organisation works again
    assert "ISA-MBC" in people("p.spoc", "org", "agreements").out
    [stop] = events(live.data_dir, EventKind.ACCESS_ORGANISATION_SUSPENDED)
    assert (stop.actor, stop.details["subject"]) == ("i.sec", "MBC")
