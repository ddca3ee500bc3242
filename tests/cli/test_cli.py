"""The ``gateway`` command line, run as a real process against a live server and data dirs.
Errors are one line on stderr with a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest


def gateway(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    for name in ("GATEWAY_URL", "GATEWAY_TOKEN"):
        if env is None or name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        input=input,
        check=False,
    )


@pytest.fixture
def as_user(live_gateway, tmp_path):  # type: ignore[no-untyped-def]
    def env(user: str) -> dict[str, str]:
        return {
            "GATEWAY_URL": live_gateway.url,
            "GATEWAY_TOKEN": live_gateway.token(user),
            "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
        }

    return env


def assert_one_line_error(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert words in lines[0]
    assert "Traceback" not in done.stderr


def test_query_prints_a_table(as_user):  # type: ignore[no-untyped-def]
    done = gateway(
        "query",
        "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1",
        "--purpose",
        "SA-2026",
        env=as_user("h.lee"),
    )
    assert done.returncode == 0, done.stderr
    assert "E06000001" in done.stdout
    assert "E06000002" not in done.stdout
    assert "1 rows (query q" in done.stderr


def test_query_formats_and_parameters(as_user, tmp_path):  # type: ignore[no-untyped-def]
    sql = "SELECT crime_id, police_uk_category FROM crime WHERE crime_id < $n ORDER BY 1"
    env = as_user("a.khan")
    csv = gateway(
        "query", sql, "--purpose", "SA-2026", "--param", "n=50", "--format", "csv", env=env
    )
    out = tmp_path / "r.parquet"
    parquet = gateway(
        "query",
        sql,
        "--purpose",
        "SA-2026",
        "--param",
        "n=50",
        "--format",
        "parquet",
        "--output",
        str(out),
        env=env,
    )
    doc = gateway(
        "query", sql, "--purpose", "SA-2026", "--param", "n=50", "--format", "json", env=env
    )
    assert csv.returncode == parquet.returncode == doc.returncode == 0, csv.stderr
    lines = csv.stdout.strip().splitlines()
    assert lines[0] == '"crime_id","police_uk_category","protective_marking"'
    table = pq.read_table(out)
    assert table.schema.metadata[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"  # inside, too
    assert table.num_rows == len(lines) - 1 == json.loads(doc.stdout)["row_count"]
    assert "wrote" in parquet.stderr
    assert str(out) in parquet.stderr


def test_query_with_disclosure_control(as_user, tmp_path):  # type: ignore[no-untyped-def]
    sql = "SELECT police_uk_category, count(*) AS crimes FROM crime GROUP BY 1"
    out = tmp_path / "protected.csv"
    done = gateway(
        "query", sql, "--purpose", "SA-2026", "--disclosure", "publication",
        "--format", "csv", "--output", str(out), env=as_user("a.khan"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "disclosure control: counts perturbed by the cell key method" in done.stderr
    assert "counts from 1 to 9 after perturbation suppressed" in done.stderr
    lines = out.read_text("utf-8").strip().splitlines()
    assert lines[0] == '"police_uk_category","crimes","crimes_suppressed","protective_marking"'
    for line in lines[1:]:
        _, crimes, suppressed, marking = line.split(",")
        assert marking == '"OFFICIAL"'  # counts under disclosure control: [markings] aggregate
        assert (crimes == "") == (suppressed == "true")
        assert crimes == "" or int(crimes) % 5 == 0
        assert crimes == "" or int(crimes) >= 10
    alone = gateway(
        "query", sql, "--purpose", "SA-2026", "--disclosure-count", "crimes",
        env=as_user("a.khan"),
    )  # fmt: skip
    assert_one_line_error(alone, "need --disclosure")
    refused = gateway(
        "query", "SELECT crime_id FROM crime", "--purpose", "SA-2026", "--disclosure", "policy",
        env=as_user("a.khan"),
    )  # fmt: skip
    assert_one_line_error(refused, "record-level")


def test_query_errors_are_one_line(as_user):  # type: ignore[no-untyped-def]
    refused = gateway(
        "query", "SELECT * FROM intelligence_report", "--purpose", "SA-2026", env=as_user("h.lee")
    )
    assert_one_line_error(refused, "intelligence_report")
    bad_param = gateway(
        "query", "SELECT 1", "--purpose", "SA-2026", "--param", "oops", env=as_user("h.lee")
    )
    assert_one_line_error(bad_param, "name=value")


def test_no_token_is_a_clear_error(tmp_path, live_gateway):  # type: ignore[no-untyped-def]
    done = gateway(
        "query",
        "SELECT 1",
        "--purpose",
        "SA-2026",
        "--url",
        live_gateway.url,
        env={"GATEWAY_CONFIG": str(tmp_path / "none.toml")},
    )
    assert_one_line_error(done, "gateway login")


def test_unreachable_server_is_a_clear_error(as_user):  # type: ignore[no-untyped-def]
    env = {**as_user("h.lee"), "GATEWAY_URL": "http://127.0.0.1:9"}
    done = gateway("catalog", env=env)
    assert_one_line_error(done, "cannot reach")


def test_catalog(as_user):  # type: ignore[no-untyped-def]
    done = gateway("catalog", "--table", "crime", env=as_user("h.lee"))
    assert done.returncode == 0, done.stderr
    assert "purpose SA-2026, level general" in done.stdout
    assert "local_authority_code IN ($areas)" in done.stdout
    assert any(
        line.split()[:1] == ["modus_operandi"] and line.split()[-1] == "null"
        for line in done.stdout.splitlines()
    )


def test_login_then_config(live_gateway, tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "cfg" / "config.toml"
    env = {"GATEWAY_CONFIG": str(config), "GATEWAY_TOKEN": live_gateway.token("j.taylor")}
    login = gateway("login", "--url", live_gateway.url, env=env)
    assert login.returncode == 0, login.stderr
    assert "as j.taylor" in login.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    shown = gateway("config", "show", env={"GATEWAY_CONFIG": str(config)})
    assert live_gateway.token("j.taylor") not in shown.stdout
    assert "pgw_" in shown.stdout
    assert "SA-2026" in shown.stdout
    query = gateway(
        "query",
        "SELECT local_authority_code FROM crime LIMIT 1",
        env={"GATEWAY_CONFIG": str(config)},
    )
    assert query.returncode == 0, query.stderr
    assert "E06000004" in query.stdout
    bad = gateway("config", "set", "url", "ftp://x", env={"GATEWAY_CONFIG": str(config)})
    assert_one_line_error(bad, "not an http(s) URL")


def test_admin_tokens_through_the_server_as_the_logged_in_admin(  # type: ignore[no-untyped-def]
    live_gateway, demo_data_dir, as_user
):
    root = str(demo_data_dir.root)
    admin = as_user("gw.admin")
    issued = gateway("tokens", "issue", "r.wilson", "--days", "1", "--label", "cli-test", env=admin)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    token_id = issued.stderr.split()[1]
    assert token.startswith("pgw_")
    assert token_id.startswith("tok_")
    for listed in (
        gateway("tokens", "list", "--user", "r.wilson", env=admin),
        gateway("tokens", "list", "--data-dir", root, "--user", "r.wilson"),
    ):
        assert token_id in listed.stdout
        assert token not in listed.stdout
    who = {"GATEWAY_URL": live_gateway.url, "GATEWAY_TOKEN": token,
           "GATEWAY_CONFIG": "/nonexistent/config.toml"}  # fmt: skip
    me = gateway("catalog", env=who)
    assert me.returncode == 0, me.stderr
    # the token was issued by the person logged in, never by a name on the command line
    with live_gateway.client("gw.admin") as http:
        records = http.get("/v1/tokens", params={"username": "r.wilson"}).json()
    assert {r["issued_by"] for r in records if r["token_id"] == token_id} == {"gw.admin"}
    revoked = gateway("tokens", "revoke", token_id, env=admin)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout
    assert_one_line_error(gateway("catalog", env=who), "revoked")
    assert_one_line_error(gateway("tokens", "issue", "nobody", env=admin), "no user 'nobody'")
    not_admin = gateway("tokens", "issue", "r.wilson", env=as_user("s.patel"))
    assert_one_line_error(not_admin, "admin role")
    named = gateway("tokens", "issue", "r.wilson", "--by", "gw.admin", env=admin)
    assert_one_line_error(named, "--as/--by are gone")
    on_host = gateway("tokens", "issue", "r.wilson", "--data-dir", root, "--reason", "CHG-7")
    assert_one_line_error(on_host, "administrator-only accounts")
    users = gateway("users", "list", "--data-dir", root)
    assert users.returncode == 0
    assert "e.okafor" in users.stdout
    assert "G-2026-001" in users.stdout


def test_audit_remote_and_local(as_user, demo_data_dir):  # type: ignore[no-untyped-def]
    senior = as_user("s.patel")
    verify = gateway("audit", "verify", env=senior)
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("audit chain valid")
    report = gateway("audit", "report", "activity", "--format", "csv", env=senior)
    assert report.returncode == 0, report.stderr
    assert report.stdout.splitlines()[0].startswith("user,organisation,purpose")
    events = gateway("audit", "events", "--kind", "token.issued", "--format", "json", env=senior)
    assert events.returncode == 0, events.stderr
    assert all(row["kind"] == "token.issued" for row in json.loads(events.stdout))
    analyst = gateway("audit", "verify", env=as_user("h.lee"))
    assert_one_line_error(analyst, "senior_analyst")
    local = gateway("audit", "verify", "--data-dir", str(demo_data_dir.root))
    assert local.returncode == 0
    assert local.stdout.startswith("audit chain valid")
    neither = gateway("audit", "report", "denied")
    assert_one_line_error(neither, "--data-dir")


def test_demo_prepares_a_data_dir_and_reruns_quickly(tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "demo"
    args = ("demo", "--data-dir", str(root), "--no-serve", "--years", "1", "--scale", "0.05")
    first = gateway(*args)
    assert first.returncode == 0, first.stderr
    tokens = json.loads((root / "demo-tokens.json").read_text())
    demo = {"h.lee", "a.khan", "r.wilson", "j.taylor", "e.okafor", "s.patel", "m.hughes"}
    assert demo | {"gw.admin"} <= set(tokens)
    # governed by default: the approvers of the register get tokens too, and no data level
    assert all(tokens[n]["level"] == "none" for n in set(tokens) - demo)
    for entry in tokens.values():
        assert set(entry) == {
            "token",
            "password",
            "level",
            "roles",
            "organisation",
            "areas",
            "purposes",
        }
    assert len({e["password"] for e in tokens.values()}) == len(tokens)
    assert "Web application: http://127.0.0.1:8000/" in first.stdout
    assert tokens["h.lee"]["password"] in first.stdout
    areas = sorted(
        e["areas"][0]
        for e in tokens.values()
        if e["level"] == "general" and e["roles"] == ["analyst"]
    )
    assert areas == ["E06000001", "E06000002", "E06000003", "E06000004"]
    assert [e["level"] for e in tokens.values()].count("enhanced") == 1
    assert tokens["s.patel"]["roles"] == ["senior_analyst"]
    assert tokens["gw.admin"]["roles"] == ["admin"]
    assert (root / "policy.toml").is_file()
    assert (root / "users.toml").is_file()
    assert 'curl -s -H "Authorization: Bearer pgw_' in first.stdout
    assert "from gateway.client import connect" in first.stdout
    began = time.monotonic()
    again = gateway(*args)
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - began < 30
    assert json.loads((root / "demo-tokens.json").read_text()) == tokens  # passwords kept too
    other = gateway(
        "demo", "--data-dir", str(root), "--no-serve", "--years", "2", "--scale", "0.05"
    )
    assert other.returncode != 0
    assert other.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "generated with" in other.stderr
    assert "Traceback" not in other.stderr


CONNECT_SCRIPT = """
from gateway.client import ClientError, connect
with connect() as gw:
    me = gw.me()
    frame = gw.query("SELECT count(*) AS n FROM crime")  # the purpose comes from the profile
print(me["username"], frame["n"][0] > 0)
try:
    connect("http://127.0.0.1:9")  # another server: the saved token is never sent there
except ClientError as exc:
    print("refused:", exc)
"""


def test_one_login_for_every_client_entry_point(live_gateway, tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    login = gateway(
        "login",
        "--url",
        live_gateway.url,
        env={"GATEWAY_CONFIG": str(config), "GATEWAY_TOKEN": live_gateway.token("s.patel")},
    )
    assert login.returncode == 0, login.stderr
    profile_only = {"GATEWAY_CONFIG": str(config)}  # no GATEWAY_URL, no GATEWAY_TOKEN
    # connect() in a notebook: the same profile (URL, token and purpose).
    env = {k: v for k, v in os.environ.items() if k not in ("GATEWAY_URL", "GATEWAY_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-c", CONNECT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **profile_only},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, refused = done.stdout.strip().splitlines()
    assert first == "s.patel True"
    assert refused.startswith("refused: no token for http://127.0.0.1:9")
    assert live_gateway.token("s.patel") not in refused
    # audit report and audit events: through the server the profile names.
    report = gateway("audit", "report", "activity", "--format", "json", env=profile_only)
    assert report.returncode == 0, report.stderr
    assert "s.patel" in report.stdout  # the query connect() ran
    events = gateway("audit", "events", "--format", "json", env=profile_only)
    assert events.returncode == 0, events.stderr
    verify = gateway("audit", "verify", env=profile_only)
    assert verify.returncode == 0, verify.stderr
