"""Fail closed on governance (issue 15, finding 5), over the real CLI and HTTP: ``gateway demo``
grants access through the governance register by default (``--simple`` is the loudly
labelled ungoverned bootstrap); ``gateway serve`` refuses to serve enhanced access from an
ungoverned directory unless ``--allow-ungoverned``, announces an ungoverned directory at
start, and ``GET /v1/me`` says which kind it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from gateway.cli.demo import demo_users, grant_demo_access, users_toml
from gateway.datadir import DataDir
from gateway.governance.directory import has_register
from tests.gateway_server import REPO, build_tiny_warehouse, start_gateway

CONTRACT_KEYS = {"token", "level", "roles", "organisation", "areas", "purposes"}


def _gateway(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("GATEWAY_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def _demo(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _gateway(
        "demo", "--data-dir", str(root), "--no-serve", "--years", "1", "--scale", "0.01", *extra
    )


@pytest.fixture(scope="module")
def governed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "governed"
    done = _demo(root)
    assert done.returncode == 0, done.stderr
    return root


def test_demo_is_governed_by_default_and_keeps_the_data_directory_contract(
    governed_demo: Path,
) -> None:
    dd = DataDir(governed_demo)
    assert dd.warehouse.is_file()
    assert has_register(dd)
    tokens = json.loads(dd.demo_tokens.read_text("utf-8"))
    assert tokens["e.okafor"]["level"] == "enhanced"
    assert all(set(entry) >= CONTRACT_KEYS for entry in tokens.values())


def test_serve_on_the_governed_demo_starts_and_says_governed(governed_demo: Path) -> None:
    live = start_gateway(governed_demo, allow_ungoverned=False)
    try:
        with live.client("e.okafor") as http:
            me = http.get("/v1/me").json()
        assert (me["level"], me["governance"]) == ("enhanced", "governed")
        assert "UNGOVERNED" not in live.log.read_text("utf-8", errors="replace")
    finally:
        live.stop()


def test_simple_demo_is_labelled_and_serve_refuses_its_enhanced_access(tmp_path: Path) -> None:
    root = tmp_path / "simple"
    done = _demo(root, "--simple")
    assert done.returncode == 0, done.stderr
    assert "WARNING: --simple: UNGOVERNED demo" in done.stderr
    assert not has_register(DataDir(root))
    refused = _gateway("serve", "--data-dir", str(root), "--port", "0", timeout=120)
    assert refused.returncode != 0
    assert "UNGOVERNED" in refused.stderr
    assert "e.okafor" in refused.stderr
    assert "--allow-ungoverned" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_allow_ungoverned_serves_it_loudly_and_me_says_ungoverned(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    build_tiny_warehouse(DataDir(root).warehouse)
    grant_demo_access(root)
    live = start_gateway(root, allow_ungoverned=True)
    try:
        with live.client("a.khan") as http:
            me = http.get("/v1/me").json()
        assert me["governance"] == "ungoverned"
        log = live.log.read_text("utf-8", errors="replace")
        assert "WARNING: UNGOVERNED ACCESS" in log
        assert "ENHANCED access for e.okafor" in log
    finally:
        live.stop()


def test_ungoverned_without_enhanced_access_starts_but_warns(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    dd = DataDir(root)
    build_tiny_warehouse(dd.warehouse)
    general_only = [u for u in demo_users(date.today()) if u.level != "enhanced"]
    dd.users.write_text(users_toml(general_only), "utf-8")
    grant_demo_access(root)
    live = start_gateway(root, allow_ungoverned=False)
    try:
        with live.client("a.khan") as http:
            assert http.get("/v1/me").json()["governance"] == "ungoverned"
        log = live.log.read_text("utf-8", errors="replace")
        assert "WARNING: UNGOVERNED ACCESS" in log
        assert "ENHANCED" not in log
    finally:
        live.stop()
