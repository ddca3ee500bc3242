"""Product manifests are kept for ``[products] manifest_retention_days``, then disposed of by
``gateway audit dispose`` — recorded first, with each manifest's SHA-256."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.audit import AuditLog
from gateway.datadir import DataDir
from tests.cli_process import run_gateway

NOW = datetime.now(UTC)
EIGHT_YEARS = timedelta(days=8 * 365)


def _manifest(data_dir: DataDir, product_id: str, written: datetime) -> Path:
    data_dir.products.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir.products / f"{product_id}.json"
    path.write_text(f'{{"product_id": "{product_id}"}}', "utf-8")
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def _registered(log: AuditLog, product_id: str, when: datetime) -> None:
    log.store.append(
        "product.registered",
        "a.khan",
        "Middlesbrough Council",
        {"product_id": product_id},
        time=when,
    )


def _setup(tmp_path: Path) -> tuple[DataDir, dict[str, Path]]:
    data_dir = DataDir(tmp_path / "gw")
    data_dir.root.mkdir()
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        _registered(log, "p-old", NOW - EIGHT_YEARS)
        _registered(log, "p-reregistered", NOW - timedelta(days=10))
    paths = {
        "p-old": _manifest(data_dir, "p-old", NOW - EIGHT_YEARS),
        # an old file, but registered ten days ago: its period runs from the later of the two
        "p-reregistered": _manifest(data_dir, "p-reregistered", NOW - EIGHT_YEARS),
        "p-new": _manifest(data_dir, "p-new", NOW - timedelta(days=1)),
    }
    return data_dir, paths


def test_manifests_past_the_schedule_are_disposed_of_and_recorded(tmp_path: Path) -> None:
    data_dir, paths = _setup(tmp_path)
    digest = hashlib.sha256(paths["p-old"].read_bytes()).hexdigest()
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root), "--reason", "R-20")
    assert run.returncode == 0, run.stderr
    assert "disposed of 1 product manifests" in run.stdout
    assert not paths["p-old"].exists()
    assert paths["p-reregistered"].exists()
    assert paths["p-new"].exists()
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        (record,) = log.events(kinds=("product.manifests_disposed",))
    assert record.details["manifests"] == [{"product_id": "p-old", "sha256": digest}]
    assert record.details["retention_days"] == 2557
    assert record.details["reason"] == "R-20"
    assert record.actor.startswith("host:")
    assert run_gateway("audit", "verify", "--data-dir", str(data_dir.root)).returncode == 0


def test_a_dry_run_keeps_every_manifest(tmp_path: Path) -> None:
    data_dir, paths = _setup(tmp_path)
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root), "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "would dispose of 1 product manifests: p-old" in run.stdout
    assert all(path.exists() for path in paths.values())
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        assert list(log.events(kinds=("product.manifests_disposed",))) == []
