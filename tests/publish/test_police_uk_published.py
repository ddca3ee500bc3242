"""The police.uk extract as police.uk publishes it: its outcome labels, its archive's file name,
"No location" lines, a month without data refused, and publishing through the server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest

from gateway.catalog.police_uk import OUTCOME_LABELS
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.publish import HEADER, publish_police_uk
from gateway.publish.policeuk import outcome_label, street_file_name
from gateway.service import QueryService
from tests.exports.helpers import ADMIN, make_data_dir
from tests.gateway_server import REPO, LiveGateway, start_gateway

MONTH = "2026-03"
EMPTY_MONTH = "2031-01"  # after the generated data ends

#: police.uk's published outcome categories ("Last outcome category" in the street-level
#: files; data.police.uk's outcome category list), as published.
POLICE_UK_OUTCOMES = frozenset(
    {
        "Action to be taken by another organisation",
        "Awaiting court outcome",
        "Court case unable to proceed",
        "Court result unavailable",
        "Defendant found not guilty",
        "Defendant sent to Crown Court",
        "Formal action is not in the public interest",
        "Further action is not in the public interest",
        "Further investigation is not in the public interest",
        "Investigation complete; no suspect identified",
        "Local resolution",
        "Offender deprived of property",
        "Offender fined",
        "Offender given a caution",
        "Offender given a drugs possession warning",
        "Offender given absolute discharge",
        "Offender given community sentence",
        "Offender given conditional discharge",
        "Offender given penalty notice",
        "Offender given suspended prison sentence",
        "Offender ordered to pay compensation",
        "Offender otherwise dealt with",
        "Offender sent to prison",
        "Status update unavailable",
        "Suspect charged",
        "Suspect charged as part of another case",
        "Unable to prosecute suspect",
        "Under investigation",
    }
)


def test_every_outcome_label_is_one_police_uk_publishes() -> None:
    assert set(OUTCOME_LABELS.values()) == POLICE_UK_OUTCOMES
    assert OUTCOME_LABELS["sent-to-crown-court"] == "Defendant sent to Crown Court"
    # Every outcome the generator writes into the warehouse is published with such a label.
    with (REPO / "datasets" / "outcomes.csv").open(encoding="utf-8", newline="") as fh:
        generated = [row["outcome"] for row in csv.DictReader(fh)]
    assert "sent-to-crown-court" in generated
    assert {outcome_label(code) for code in generated} <= POLICE_UK_OUTCOMES


@pytest.fixture(scope="module")
def data_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """The small warehouse with some March records that police.uk could not place: crimes
    without a location, and incidents at a map point covering only three addresses."""
    dirs = make_data_dir(small_data_dir, tmp_path_factory.mktemp("published") / "gw", "")
    con = duckdb.connect(str(dirs.warehouse))
    try:
        con.execute(
            "UPDATE crime SET location_id = NULL WHERE crime_id IN (SELECT crime_id FROM crime "
            "WHERE recorded_at >= '2026-03-01' AND recorded_at < '2026-04-01' "
            "ORDER BY crime_id LIMIT 4)"
        )
        con.execute(
            "UPDATE map_point SET address_count = 3 WHERE map_point_id = (SELECT "
            "l.map_point_id FROM incident i JOIN location l USING (location_id) WHERE "
            "i.asb_type IS NOT NULL AND i.reported_at >= '2026-03-01' AND i.reported_at < "
            "'2026-04-01' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)"
        )
    finally:
        con.close()
    return dirs


@pytest.fixture(scope="module")
def service(data_dir: DataDir) -> Iterator[QueryService]:
    with Deployment.open(data_dir, workers=1) as deployment:
        yield deployment.service


def test_file_is_named_as_in_the_police_uk_archive(
    service: QueryService, data_dir: DataDir
) -> None:
    extract = publish_police_uk(service, ADMIN, MONTH, data_dir=data_dir)
    assert extract.path.name == "2026-03-cleveland-street.csv"
    assert street_file_name("2026-03", "Avon and Somerset Constabulary") == (
        "2026-03-avon-and-somerset-street.csv"
    )
    assert street_file_name("2026-03", "Police Service of Northern Ireland") == (
        "2026-03-northern-ireland-street.csv"
    )


def test_unplaceable_records_are_published_as_no_location(
    service: QueryService, data_dir: DataDir, tmp_path: Path
) -> None:
    extract = publish_police_uk(service, ADMIN, MONTH, data_dir=data_dir, output=tmp_path / "m.csv")
    frame = pd.read_csv(extract.path, dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == HEADER
    nowhere = frame[frame["Location"] == "No location"]
    crimes = nowhere[nowhere["Crime type"] != "Anti-social behaviour"]
    asb = nowhere[nowhere["Crime type"] == "Anti-social behaviour"]
    con = duckdb.connect(str(data_dir.warehouse), read_only=True)
    ((unplaceable,),) = con.execute(
        "SELECT count(*) FROM crime c LEFT JOIN location l USING (location_id) LEFT JOIN "
        "map_point m USING (map_point_id) WHERE c.recorded_at >= '2026-03-01' AND "
        "c.recorded_at < '2026-04-01' AND (l.location_id IS NULL OR m.address_count "
        "BETWEEN 1 AND 7)"
    ).fetchall()
    assert len(crimes) == unplaceable >= 4  # no location, or at the three-address point
    assert len(asb) >= 1  # the incidents at the three-address point
    assert extract.no_location == len(nowhere)
    for column in ("Longitude", "Latitude", "LSOA code", "LSOA name"):
        assert set(nowhere[column]) == {""}, column
    assert crimes["Crime ID"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert set(crimes["Last outcome category"]) <= POLICE_UK_OUTCOMES
    placed = frame[frame["Location"] != "No location"]
    assert placed["Location"].str.startswith("On or near ").all()
    assert (placed["Longitude"] != "").all()
    ((total,),) = con.execute(
        "SELECT (SELECT count(*) FROM crime WHERE recorded_at >= '2026-03-01' AND "
        "recorded_at < '2026-04-01') + (SELECT count(*) FROM incident WHERE asb_type IS NOT "
        "NULL AND reported_at >= '2026-03-01' AND reported_at < '2026-04-01')"
    ).fetchall()
    assert len(frame) == total  # nothing left out


def test_a_month_without_data_is_an_error_not_an_empty_file(
    service: QueryService, data_dir: DataDir, tmp_path: Path
) -> None:
    target = tmp_path / "empty.csv"
    with pytest.raises(NotFound, match="nothing to publish"):
        publish_police_uk(service, ADMIN, EMPTY_MONTH, data_dir=data_dir, output=target)
    assert not target.exists()
    done = _cli(
        "publish", "police-uk", "--month", EMPTY_MONTH, "--data-dir", str(data_dir.root),
        "-o", str(target), env={}, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2  # no local publication: break-glass on the host cannot publish
    assert done.stderr.startswith("error: break-glass host mode")
    assert "Traceback" not in done.stderr
    assert not target.exists()


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    full["PYTHONPATH"] = str(REPO / "src")  # this checkout, whatever the current folder
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def publish_gateway(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    root = tmp_path_factory.mktemp("publish-api") / "gw"
    make_data_dir(small_data_dir, root, "")
    grant_demo_access(root)
    live = start_gateway(root)
    yield live
    live.stop()


def test_publishing_through_the_server(publish_gateway: LiveGateway, tmp_path: Path) -> None:
    env = {
        "GATEWAY_URL": publish_gateway.url,
        "GATEWAY_TOKEN": publish_gateway.token("gw.admin"),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
    }
    done = _cli("publish", "police-uk", "--month", MONTH, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    saved = tmp_path / "2026-03-cleveland-street.csv"  # police.uk's name, in the current folder
    frame = pd.read_csv(saved, dtype=str, keep_default_na=False)
    assert tuple(frame.columns) == HEADER
    assert set(frame["Month"]) == {MONTH}
    assert f"{len(frame):,} lines" in done.stdout

    empty = _cli("publish", "police-uk", "--month", EMPTY_MONTH, env=env, cwd=tmp_path)
    assert empty.returncode != 0
    assert "nothing to publish" in empty.stderr
    assert "Traceback" not in empty.stderr
    answer = httpx.post(
        f"{publish_gateway.url}/v1/publish/police-uk",
        json={"month": EMPTY_MONTH},
        headers=publish_gateway.headers("gw.admin"),
        timeout=60,
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"

    analyst = {**env, "GATEWAY_TOKEN": publish_gateway.token("a.khan")}
    refused = _cli("publish", "police-uk", "--month", MONTH, env=analyst, cwd=tmp_path)
    assert refused.returncode != 0
    assert "admin" in refused.stderr
