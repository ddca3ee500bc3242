"""The police.uk street-level extract, from the small generated warehouse through the service."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from gateway.audit.kinds import EventKind
from gateway.catalog.police_uk import CATEGORY_LABELS, OUTCOME_LABELS
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import ParameterError, WrongRole
from gateway.publish import HEADER, PUBLICATION_PURPOSE, PoliceUkExtract, publish_police_uk
from gateway.service import QueryService
from tests.exports.helpers import ADMIN, ANALYST, make_data_dir

MONTH = "2026-03"
ADDRESS_TYPES = ("dwelling", "commercial", "licensed_premises", "education", "transport")
TO_BNG = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@pytest.fixture(scope="module")
def data_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    return make_data_dir(small_data_dir, tmp_path_factory.mktemp("publish") / "gw", "")


@pytest.fixture(scope="module")
def service(data_dir: DataDir) -> Iterator[QueryService]:
    with Deployment.open(data_dir, workers=2) as deployment:
        yield deployment.service


@pytest.fixture(scope="module")
def extract(service: QueryService, data_dir: DataDir) -> PoliceUkExtract:
    return publish_police_uk(service, ADMIN, MONTH, data_dir=data_dir)


@pytest.fixture(scope="module")
def lines(extract: PoliceUkExtract) -> list[list[str]]:
    with extract.path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _warehouse(data_dir: DataDir, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(data_dir.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_exact_header_and_month(extract: PoliceUkExtract, lines: list[list[str]]) -> None:
    raw = extract.path.read_bytes()
    assert raw.startswith(
        b"Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        b"LSOA name,Crime type,Last outcome category,Context\n"
    )
    assert tuple(lines[0]) == HEADER
    body = lines[1:]
    assert len(body) == extract.rows > 100
    assert {row[1] for row in body} == {MONTH}
    assert all(len(row) == 12 for row in body)
    assert {row[2] for row in body} == {row[3] for row in body} == {"Cleveland Police"}
    assert {row[11] for row in body} == {""}  # Context


def test_counts_match_the_warehouse(
    extract: PoliceUkExtract, lines: list[list[str]], data_dir: DataDir
) -> None:
    ((crimes,),) = _warehouse(
        data_dir,
        "SELECT count(*) FROM crime WHERE recorded_at >= '2026-03-01' AND recorded_at < '2026-04-01'",
    )
    ((asb,),) = _warehouse(
        data_dir,
        "SELECT count(*) FROM incident WHERE asb_type IS NOT NULL "
        "AND reported_at >= '2026-03-01' AND reported_at < '2026-04-01'",
    )
    assert extract.crimes + extract.asb == crimes + asb  # every record, located or not
    assert extract.no_location == sum(1 for r in lines[1:] if r[6] == "No location")
    assert sum(1 for r in lines[1:] if r[9] == "Anti-social behaviour") == asb == extract.asb


def test_crime_ids_outcomes_and_categories(lines: list[list[str]]) -> None:
    body = lines[1:]
    crimes = [r for r in body if r[9] != "Anti-social behaviour"]
    asb = [r for r in body if r[9] == "Anti-social behaviour"]
    assert crimes
    assert asb
    assert all(re.fullmatch(r"[0-9a-f]{64}", r[0]) for r in crimes)
    assert len({r[0] for r in crimes}) == len(crimes)
    assert {r[9] for r in crimes} <= set(CATEGORY_LABELS.values())
    assert {r[10] for r in crimes} <= set(OUTCOME_LABELS.values())
    assert all(r[0] == "" and r[10] == "" for r in asb)
    assert all(r[6].startswith("On or near ") or r[6] == "No location" for r in body)


def test_every_point_is_a_publishable_map_point_in_its_lsoa(
    lines: list[list[str]], data_dir: DataDir
) -> None:
    rows = _warehouse(
        data_dir,
        "SELECT map_point_id, name, easting, northing, lsoa_code, address_count FROM map_point",
    )
    mx = np.array([float(r[2]) for r in rows])  # type: ignore[arg-type]
    my = np.array([float(r[3]) for r in rows])  # type: ignore[arg-type]
    addresses = dict(
        _warehouse(
            data_dir,
            f"SELECT map_point_id, count(*) FROM location WHERE location_type IN {ADDRESS_TYPES} "
            "GROUP BY ALL",
        )
    )
    lsoas = pyogrio.read_dataframe(data_dir.basemaps, layer="lsoa").set_index("lsoa_code")
    body = [r for r in lines[1:] if r[6] != "No location"]
    lon = np.array([float(r[4]) for r in body])
    lat = np.array([float(r[5]) for r in body])
    assert all(
        re.fullmatch(r"-?\d+\.\d{6}", r[4]) and re.fullmatch(r"\d+\.\d{6}", r[5]) for r in body
    )
    x, y = TO_BNG.transform(lon, lat)
    used = set()
    for row, px, py in zip(body, x, y, strict=True):
        distances = np.hypot(mx - px, my - py)
        nearest = int(distances.argmin())
        # Six decimals of a degree are about 0.1 m: the line is on that map point.
        assert distances[nearest] < 0.15, f"{row[6]} is not on a map point"
        mp_id, name, _, _, lsoa, count = rows[nearest]
        used.add(mp_id)
        assert row[6] == f"On or near {name}"
        assert row[7] == lsoa
        assert row[8] == lsoas.loc[lsoa, "name"]
        assert lsoas.loc[lsoa].geometry.distance(shapely.Point(px, py)) < 0.5  # in its LSOA
        assert count >= 8
        assert addresses[mp_id] >= 8
    assert len(used) > 50


def test_extract_is_audited_as_the_admin_through_the_service(
    extract: PoliceUkExtract, service: QueryService
) -> None:
    queries = [q for q in service.audit.queries() if q.query_id in extract.query_ids]
    assert len(queries) == 3
    assert all(q.status == "completed" for q in queries)
    assert {q.request["user"] for q in queries} == {ADMIN.username}
    assert {q.request["purpose"] for q in queries} == {PUBLICATION_PURPOSE}
    assert {q.request["level"] for q in queries} == {"general"}
    (registered,) = [
        e
        for e in service.audit.events(kinds=[EventKind.EXPORT_REGISTERED])
        if e.details["file_name"] == extract.path.name
    ]
    assert registered.details["file_sha256"] == extract.sha256
    assert registered.details["format"] == "police-uk-csv"
    assert registered.details["marking"] == "OFFICIAL"


def test_crime_ids_persist_between_runs(
    service: QueryService, data_dir: DataDir, extract: PoliceUkExtract, tmp_path: Path
) -> None:
    again = publish_police_uk(
        service, ADMIN, MONTH, data_dir=data_dir, output=tmp_path / "again.csv"
    )
    assert again.path.read_bytes() == extract.path.read_bytes()
    other = publish_police_uk(
        service, ADMIN, "2026-04", data_dir=data_dir, output=tmp_path / "apr.csv"
    )
    march = {line.split(",")[0] for line in extract.path.read_text("utf-8").splitlines()[1:]}
    april = {line.split(",")[0] for line in other.path.read_text("utf-8").splitlines()[1:]}
    assert (march & april) <= {""}  # each crime is published in the month it was recorded


def test_only_administrators_publish_and_months_are_checked(
    service: QueryService, data_dir: DataDir
) -> None:
    with pytest.raises(WrongRole):
        publish_police_uk(service, ANALYST, MONTH, data_dir=data_dir)
    for bad in ("2026-3", "2026-13", "March 2026", "2026-03-01"):
        with pytest.raises(ParameterError, match="YYYY-MM"):
            publish_police_uk(service, ADMIN, bad, data_dir=data_dir)
