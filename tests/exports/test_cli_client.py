"""The client's export methods and the ``gateway export`` / ``gateway publish`` commands."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest

from gateway.client import connect
from gateway.client.exports import ProgressEvent, download_layer, list_layers
from gateway.errors import AccessDenied, InputError
from gateway.publish import HEADER
from tests.exports.helpers import PER_LSOA_SQL, POINTS_SQL
from tests.exports.test_api import analyst
from tests.gateway_server import REPO, LiveGateway


def test_client_export_with_progress(export_gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(export_gateway)
    events: list[ProgressEvent] = []
    with connect(export_gateway.url, export_gateway.token(name), purpose=purpose) as gw:
        result = gw.export(
            PER_LSOA_SQL, format="shp", output=tmp_path / "lsoa.zip", progress=events.append
        )
        assert result.released
        assert result.path == tmp_path / "lsoa.zip"
        assert gw.last_query_id == result.export_id
        frame = pyogrio.read_dataframe(f"/vsizip/{result.path}/lsoa.shp")  # named as asked
        assert len(frame) == result.features
        assert events[0].stage == "query"
        assert events[-1].stage == "done"
        assert events[-1].done == events[-1].total == result.features

        held = gw.export(POINTS_SQL, format="gpkg", output=tmp_path / "points.gpkg")
        assert held.approval == "pending"
        assert held.path is None
        assert not (tmp_path / "points.gpkg").exists()
        with pytest.raises(AccessDenied):
            gw.download_export(held.export_id, tmp_path / "points.gpkg")
        with pytest.raises(InputError, match="unknown export option"):
            gw.export(PER_LSOA_SQL, format="gpkg", options={"colour": "red"})

        layers = list_layers(gw)
        assert {layer["name"] for layer in layers} >= {"lsoa", "map_point"}
        path = download_layer(gw, "map_point", tmp_path / "points.fgb", format="fgb")
        assert pyogrio.read_info(path)["crs"] == "EPSG:27700"

    with connect(export_gateway.url, export_gateway.token("s.patel")) as senior:
        assert held.export_id in {e["export_id"] for e in senior.exports(pending=True)}
        with pytest.raises(InputError, match="needs a comment"):
            senior.decide_export(held.export_id, "approve")
        decided = senior.decide_export(held.export_id, "approve", comment="checked the points")
        assert decided["approval"] == "approved"
    with connect(export_gateway.url, export_gateway.token(name)) as gw:
        saved = gw.download_export(held.export_id, tmp_path / "points.gpkg")
        assert pyogrio.read_info(saved)["features"] == held.features


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_export_command(export_gateway: LiveGateway, tmp_path: Path) -> None:
    name, purpose = analyst(export_gateway)
    env = {
        "GATEWAY_URL": export_gateway.url,
        "GATEWAY_TOKEN": export_gateway.token(name),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
    }
    target = tmp_path / "grid.zip"
    run = _cli(
        "export", "query",
        "SELECT l.easting, l.northing FROM crime c JOIN location l USING (location_id)",
        "--purpose", purpose, "--format", "mif", "--option", "geometry=grid",
        "--option", "cell_size=400", "--option", "cell_shape=hex", "-o", str(target),
        env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stderr
    assert "running the query" in run.stderr
    frame = pyogrio.read_dataframe(f"/vsizip/{target}/grid.mif")
    assert int(frame["count"].sum()) > 0

    held = _cli(
        "export", "query", "SELECT crime_id FROM crime LIMIT 3", "--purpose", purpose,
        "-o", str(tmp_path / "held.csv"), env=env,
    )  # fmt: skip
    assert held.returncode == 0, held.stderr
    assert "held for authorisation by s.patel" in held.stderr
    assert not (tmp_path / "held.csv").exists()

    bad = _cli(
        "export", "query", PER_LSOA_SQL, "--purpose", purpose, "--format", "dwg",
        "-o", str(tmp_path / "x"), env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: unknown export format 'dwg'")
    assert "Traceback" not in bad.stderr


def test_publish_command(export_gateway: LiveGateway, tmp_path: Path) -> None:
    target = tmp_path / "street.csv"
    admin = {"GATEWAY_URL": export_gateway.url, "GATEWAY_TOKEN": export_gateway.token("gw.admin")}
    run = _cli("publish", "police-uk", "--month", "2026-02", "-o", str(target), env=admin)
    assert run.returncode == 0, run.stderr
    with target.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == HEADER
    assert {r[1] for r in rows[1:]} == {"2026-02"}
    bad = _cli("publish", "police-uk", "--month", "Feb 2026", env=admin)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: month")
    assert "Traceback" not in bad.stderr
    # publication is by the administrator logged in: never on the host, never under a --by name
    host = _cli(
        "publish", "police-uk", "--month", "2026-02", "--data-dir", str(export_gateway.data_dir),
        "--reason", "CHG-9", env={},
    )  # fmt: skip
    assert host.returncode == 2
    assert host.stderr.startswith("error: break-glass host mode")
    named = _cli("publish", "police-uk", "--month", "2026-02", "--by", "p.admin", env=admin)
    assert named.returncode == 2
    assert "--as/--by are gone" in named.stderr
