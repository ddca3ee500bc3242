"""The police.uk extract is marked OFFICIAL and needs a second person's sign-off before
publication (issue 15, finding 4), over real HTTP and the CLI: the preparer gets the file to
check, marked and held ``awaiting_sign_off``; the preparer cannot sign it off; another
administrator can, with a comment; the sign-off is an audit record with the file's hash."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from gateway.audit.kinds import EventKind
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.cli.demo import demo_users, grant_demo_access, users_toml
from gateway.datadir import DataDir
from gateway.principal import Principal
from tests.exports.helpers import make_data_dir
from tests.gateway_server import REPO, LiveGateway, start_gateway

MONTH = "2026-03"
PREPARER = "gw.admin"
SECOND = "gw.admin2"


@pytest.fixture(scope="module")
def two_admins(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    root = tmp_path_factory.mktemp("sign-off") / "gw"
    dd = make_data_dir(small_data_dir, root, "")
    second = Principal(SECOND, "Cleveland Police", "none", roles=frozenset({"admin"}))
    dd.users.write_text(users_toml([*demo_users(date.today()), second]), "utf-8")
    grant_demo_access(root)
    live = start_gateway(root)
    yield live
    live.stop()


def _cli(live: LiveGateway, user: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GATEWAY_URL": live.url,
        "GATEWAY_TOKEN": live.token(user),
        "GATEWAY_CONFIG": str(tmp / "config.toml"),
        "PYTHONPATH": str(REPO / "src"),
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=180,
        check=False,
    )


def _sign_offs(live: LiveGateway, extract_id: str) -> list[tuple[str, str, str]]:
    with SQLiteAuditStore(DataDir(live.data_dir).audit, read_only=True) as store:
        return [
            (e.actor, e.details["comment"], e.details["file_sha256"])
            for e in store.events(kinds=(EventKind.EXPORT_APPROVED,))
            if e.details["query_id"] == extract_id
        ]


def test_the_preparer_never_signs_off_a_second_administrator_does(
    two_admins: LiveGateway,
) -> None:
    with two_admins.client(PREPARER) as http:
        prepared = http.post("/v1/publish/police-uk", json={"month": MONTH})
        assert prepared.status_code == 200, prepared.text
        assert prepared.headers["x-protective-marking"] == "OFFICIAL"
        assert prepared.headers["x-publication"] == "awaiting_sign_off"
        extract_id = prepared.headers["x-query-id"]
        held = http.get(f"/v1/exports/{extract_id}").json()
        assert (held["approval"], held["marking"], held["owner"]) == (
            "pending",
            "OFFICIAL",
            PREPARER,
        )
        own = http.post(
            f"/v1/publish/police-uk/{extract_id}/sign-off", json={"comment": "looks fine"}
        )
    assert (own.status_code, own.json()["error"]["code"]) == (403, "self_approval")
    with two_admins.client("a.khan") as http:  # not an administrator
        analyst = http.post(
            f"/v1/publish/police-uk/{extract_id}/sign-off", json={"comment": "looks fine"}
        )
    assert (analyst.status_code, analyst.json()["error"]["code"]) == (403, "wrong_role")
    with two_admins.client(SECOND) as http:
        bare = http.post(f"/v1/publish/police-uk/{extract_id}/sign-off", json={})
        assert (bare.status_code, bare.json()["error"]["code"]) == (400, "comment_required")
        signed = http.post(
            f"/v1/publish/police-uk/{extract_id}/sign-off",
            json={"comment": "checked: no points under 8 addresses, categories as police.uk"},
        )
        assert signed.status_code == 200, signed.text
        assert (signed.json()["approval"], signed.json()["decided_by"]) == ("approved", SECOND)
        again = http.post(f"/v1/publish/police-uk/{extract_id}/sign-off", json={"comment": "x"})
        assert again.status_code == 409
        missing = http.post("/v1/publish/police-uk/q-none/sign-off", json={"comment": "x"})
        assert missing.status_code == 404
    assert _sign_offs(two_admins, extract_id) == [
        (
            SECOND,
            "checked: no points under 8 addresses, categories as police.uk",
            prepared.headers["x-export-sha256"],
        )
    ]


def test_an_ordinary_export_cannot_be_signed_off_as_a_publication(
    two_admins: LiveGateway,
) -> None:
    with two_admins.client("a.khan") as http:
        made = http.post(
            "/v1/exports",
            json={"sql": "SELECT name FROM local_authority", "purpose": "SA-2026", "format": "csv"},
        )
    assert made.status_code == 200, made.text
    with two_admins.client(SECOND) as http:
        answer = http.post(
            f"/v1/publish/police-uk/{made.json()['export_id']}/sign-off", json={"comment": "x"}
        )
    assert answer.status_code == 404


def test_sign_off_over_the_cli(two_admins: LiveGateway, tmp_path: Path) -> None:
    prepared = _cli(two_admins, PREPARER, tmp_path, "publish", "police-uk", "--month", MONTH)
    assert prepared.returncode == 0, prepared.stderr
    assert "AWAITING SIGN-OFF" in prepared.stdout
    extract_id = prepared.stdout.split("gateway publish sign-off ")[1].split()[0]
    comment = ("--comment", "checked the counts against the month's crimes")
    own = _cli(two_admins, PREPARER, tmp_path, "publish", "sign-off", extract_id, *comment)
    assert own.returncode != 0
    assert "self_approval" in own.stderr or "second administrator" in own.stderr
    assert "Traceback" not in own.stderr
    done = _cli(two_admins, SECOND, tmp_path, "publish", "sign-off", extract_id, *comment)
    assert done.returncode == 0, done.stderr
    assert f"prepared by {PREPARER}: it may be published" in done.stdout
    assert [a for a, _, _ in _sign_offs(two_admins, extract_id)] == [SECOND]
