"""Map exports as a new map exporter meets them (issue 17, items 9–15), over the real CLI and
HTTP paths, read back with the tools users open files with: GDAL (pyogrio, and ``ogrinfo``
when installed), pandas, polars and DuckDB."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pyogrio
import pytest

from gateway.cli.export import EXPORT_OPTIONS_HELP
from gateway.exports.options import OPTION_DOCS
from tests.exports.helpers import PER_LSOA_SQL
from tests.exports.test_api import analyst
from tests.gateway_server import REPO, LiveGateway

MIDDLESBROUGH = "E06000002"
#: Crimes in one ward only: a choropleth of it would be mostly holes.
ONE_WARD_SQL = (
    "SELECT lsoa_code, count(*) AS crimes FROM crime WHERE ward_code = "
    "(SELECT min(ward_code) FROM crime) GROUP BY ALL"
)
LONG_NAMES_SQL = (
    "SELECT lsoa_code, police_uk_category, count(*) AS crimes_in_period, "
    "count(*) FILTER (WHERE domestic_abuse) AS crimes_flagged_domestic_abuse, "
    "count(*) FILTER (WHERE hate_crime) > 0 AS any_hate_crime FROM crime GROUP BY ALL"
)


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=180,
        check=False,
    )


@pytest.fixture
def as_analyst(export_gateway: LiveGateway, tmp_path: Path) -> tuple[dict[str, str], str]:
    name, purpose = analyst(export_gateway)
    env = {
        "GATEWAY_URL": export_gateway.url,
        "GATEWAY_TOKEN": export_gateway.token(name),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
    }
    return env, purpose


def _export(
    tmp_path: Path, env_purpose: tuple[dict[str, str], str], sql: str, output: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env, purpose = env_purpose
    return _cli(
        "export", "query", sql, "--purpose", purpose, "-o", output, *extra, env=env, cwd=tmp_path
    )


def _ogrinfo(path: Path) -> str | None:
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        return None
    done = subprocess.run(
        [ogrinfo, "-so", "-al", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


# --- 9: real files under the name asked for -----------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "siblings"),
    [(".shp", {".shp", ".dbf", ".shx", ".prj", ".cpg"}), (".tab", {".tab", ".dat", ".map", ".id"}),
     (".mif", {".mif", ".mid"})],
)  # fmt: skip
def test_multi_file_layers_are_written_as_files_named_as_asked(
    suffix: str, siblings: set[str], as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    done = _export(tmp_path, as_analyst, PER_LSOA_SQL, f"crimes{suffix}")  # format from suffix
    assert done.returncode == 0, done.stderr
    written = {p.name for p in tmp_path.iterdir() if not p.name.startswith(("config", "."))}
    assert {f"crimes{s}" for s in siblings} <= written
    assert {"crimes.provenance.json", "crimes.fieldnames.csv"} <= written
    assert not any(n.startswith("export") for n in written)
    info = pyogrio.read_info(tmp_path / f"crimes{suffix}", force_feature_count=True)
    assert info["layer_name"] == "crimes"  # named after the output, not "export"
    assert info["features"] > 10
    provenance = json.loads((tmp_path / "crimes.provenance.json").read_text("utf-8"))
    assert next(iter(provenance)) == "marking"
    assert provenance["marking"] == "OFFICIAL-SENSITIVE"
    listing = _ogrinfo(tmp_path / f"crimes{suffix}")
    if listing is not None:
        assert "Layer name: crimes" in listing


def test_zip_output_and_names_that_do_not_fit(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    no_format = _export(tmp_path, as_analyst, PER_LSOA_SQL, "crimes.zip")
    assert no_format.returncode != 0
    assert "--format" in no_format.stderr
    assert "Traceback" not in no_format.stderr

    zipped = _export(tmp_path, as_analyst, PER_LSOA_SQL, "crimes.zip", "--format", "tab")
    assert zipped.returncode == 0, zipped.stderr
    with zipfile.ZipFile(tmp_path / "crimes.zip") as archive:
        names = set(archive.namelist())
    assert {"crimes.tab", "crimes.dat", "crimes.map", "crimes.provenance.json"} <= names
    assert pyogrio.read_info(f"/vsizip/{tmp_path / 'crimes.zip'}/crimes.tab")["features"] > 10

    wrong = _export(tmp_path, as_analyst, PER_LSOA_SQL, "other.shp", "--format", "gpkg")
    assert wrong.returncode != 0
    assert "name the output other.gpkg" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert not list(tmp_path.glob("other*"))

    gpkg = _export(tmp_path, as_analyst, PER_LSOA_SQL, "hot.gpkg")
    assert gpkg.returncode == 0, gpkg.stderr
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "hot.gpkg")] == ["hot"]


def test_api_names_layers_after_the_query(export_gateway: LiveGateway) -> None:
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        answer = http.post(
            "/v1/exports", json={"sql": PER_LSOA_SQL, "purpose": purpose, "format": "shp"}
        ).json()
    assert answer["file_name"] == f"export_{answer['export_id']}.zip"


# --- 10: CSV that every reader reads, marking kept ------------------------------------------


def test_csv_reads_everywhere_and_keeps_its_marking(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path, export_gateway: LiveGateway
) -> None:
    done = _export(tmp_path, as_analyst, PER_LSOA_SQL, "crimes.csv")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "crimes.csv"
    expected = ["lsoa_code", "crimes", "protective_marking"]
    frame = pd.read_csv(path)
    assert list(frame.columns) == expected
    assert set(frame["protective_marking"]) == {"OFFICIAL-SENSITIVE"}  # inside, on every row
    assert len(frame) > 10
    assert pd.api.types.is_integer_dtype(frame["crimes"])
    try:
        import polars
    except ImportError:
        polars = None
    if polars is not None:
        pl_frame = polars.read_csv(path)
        assert pl_frame.columns == expected
        assert pl_frame.height == len(frame)
    con = duckdb.connect()
    rows = con.execute(f"SELECT count(*), sum(crimes) FROM read_csv('{path}')").fetchone()
    assert rows == (len(frame), int(frame["crimes"].sum()))
    gdal = pyogrio.read_dataframe(path)
    assert list(gdal.columns[:3]) == expected
    assert len(gdal) == len(frame)
    # The marking also travels beside the file and in the name the server gives it.
    provenance = json.loads((tmp_path / "crimes.provenance.json").read_text("utf-8"))
    assert provenance["marking"] == "OFFICIAL-SENSITIVE"
    assert provenance["format"] == "csv"
    name, purpose = analyst(export_gateway)
    with export_gateway.client(name) as http:
        answer = http.post(
            "/v1/exports", json={"sql": PER_LSOA_SQL, "purpose": purpose, "format": "csv"}
        ).json()
        download = http.get(answer["download"])
    assert answer["file_name"].endswith("_OFFICIAL-SENSITIVE.csv")
    assert "_OFFICIAL-SENSITIVE.csv" in download.headers["content-disposition"]
    assert download.text.startswith('"lsoa_code","crimes","protective_marking"\n')
    commented = _export(
        tmp_path, as_analyst, PER_LSOA_SQL, "commented.csv", "--option", "csv_comment=true"
    )
    assert commented.returncode == 0, commented.stderr
    first = (tmp_path / "commented.csv").read_text("utf-8").splitlines()[0]
    assert first.startswith("# OFFICIAL-SENSITIVE | query ")
    assert list(pd.read_csv(tmp_path / "commented.csv", comment="#").columns) == expected[:2]


# --- 11: options documented and validated ---------------------------------------------------


def test_every_option_is_documented_in_help_readme_and_openapi(
    export_gateway: LiveGateway, tmp_path: Path
) -> None:
    names = [doc.name for doc in OPTION_DOCS]
    assert {"geometry", "cell_shape", "cell_size", "area_column", "crs", "encoding"} <= set(names)
    shown = _cli("export", "query", "--help", env={"COLUMNS": "300"}, cwd=tmp_path)
    assert shown.returncode == 0
    helptext = " ".join(shown.stdout.split())
    readme = (REPO / "README.md").read_text("utf-8")
    with export_gateway.client() as http:
        schema = http.get("/openapi.json").json()
    description = schema["components"]["schemas"]["ExportBody"]["properties"]["options"][
        "description"
    ]
    for name in names:
        assert f"{name}=" in EXPORT_OPTIONS_HELP, name
        assert f"{name}=" in helptext, name
        assert f"`{name}`" in readme, name
        assert f"`{name}`" in description, name


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"cell_shape": "circle"}, "cell_shape: expected square or hex"),
        ({"cell_size": 5}, "cell_size: expected 100 to 50000 metres"),
        ({"geometry": "lines"}, "geometry: expected auto, points, areas, grid or none"),
        ({"area_column": "postcode"}, "area_column: expected one of lsoa_code"),
        ({"crs": 3857}, "EPSG:3857 is not offered"),
        ({"encoding": "latin9"}, "encoding: expected WindowsLatin1 or UTF-8"),
        ({"colour": "red"}, "unknown export option 'colour'"),
        ({"all_areas": "maybe"}, "all_areas: expected true or false"),
    ],
)
def test_bad_options_are_clear_400s(
    options: dict[str, object], words: str, export_gateway: LiveGateway
) -> None:
    name, purpose = analyst(export_gateway)
    body = {"sql": PER_LSOA_SQL, "purpose": purpose, "format": "tab", "options": options}
    with export_gateway.client(name) as http:
        answer = http.post("/v1/exports", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "bad_request"
    assert words in error["message"]


def test_encoding_is_refused_for_formats_without_one(export_gateway: LiveGateway) -> None:
    name, purpose = analyst(export_gateway)
    body = {"sql": PER_LSOA_SQL, "purpose": purpose, "format": "gpkg"}
    with export_gateway.client(name) as http:
        answer = http.post("/v1/exports", json={**body, "options": {"encoding": "UTF-8"}})
    assert answer.status_code == 400
    assert "only MapInfo TAB and MIF take an encoding" in answer.json()["error"]["message"]


# --- 12: choropleths without holes ----------------------------------------------------------


def _lsoas_of(export_gateway: LiveGateway, area: str) -> set[str]:
    frame = pyogrio.read_dataframe(export_gateway.data_dir / "basemaps.gpkg", layer="lsoa")
    return set(frame.loc[frame["local_authority_code"] == area, "lsoa_code"])


def test_choropleth_holds_every_area_of_the_users_geography(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path, export_gateway: LiveGateway
) -> None:
    done = _export(tmp_path, as_analyst, ONE_WARD_SQL, "ward.gpkg")
    assert done.returncode == 0, done.stderr
    frame = pyogrio.read_dataframe(tmp_path / "ward.gpkg")
    lsoas = _lsoas_of(export_gateway, MIDDLESBROUGH)
    assert set(frame["lsoa_code"]) == lsoas  # every LSOA of the analyst's authority
    assert frame.geometry.notna().all()
    with_crimes = frame[frame["crimes"] > 0]
    assert 0 < len(with_crimes) < len(lsoas)
    assert (frame["crimes"] >= 0).all()  # the others are 0, not missing

    only = _export(tmp_path, as_analyst, ONE_WARD_SQL, "only.gpkg", "--option", "all_areas=false")
    assert only.returncode == 0, only.stderr
    kept = pyogrio.read_dataframe(tmp_path / "only.gpkg")
    assert len(kept) == len(with_crimes)
    assert kept["crimes"].sum() == frame["crimes"].sum()


# --- 13: MapInfo that every MapInfo opens ---------------------------------------------------


def test_mapinfo_is_windows_latin1_sized_and_logical_by_default(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    done = _export(tmp_path, as_analyst, LONG_NAMES_SQL, "cats.mif")
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "cats.mif").read_text("cp1252")
    assert re.search(r"^Version 300$", header, re.MULTILINE)
    assert 'Charset "WindowsLatin1"' in header
    columns = dict(re.findall(r"^\s+(\w+) (\w+(?:\(\d+\))?)", header.split("Columns", 1)[1], re.M))
    assert columns["lsoa_code"] == "Char(9)"  # as wide as the codes, not Char(254)
    frame = pyogrio.read_dataframe(tmp_path / "cats.mif")
    widest = int(frame["police_uk_category"].str.len().max())  # police.uk slugs, ASCII
    assert columns["police_uk_category"] == f"Char({widest})"
    assert columns["any_hate_crime"] == "Logical"
    assert frame["any_hate_crime"].dtype == bool

    tab = _export(tmp_path, as_analyst, LONG_NAMES_SQL, "cats.tab")
    assert tab.returncode == 0, tab.stderr
    tab_header = (tmp_path / "cats.tab").read_text("cp1252")
    assert "!version 300" in tab_header
    assert "!charset WindowsLatin1" in tab_header
    assert "Char (254)" not in tab_header


def test_mapinfo_utf8_on_request_and_text_latin1_cannot_hold(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    sql = "SELECT lsoa_code, 'Łódź Café' AS twin_town, count(*) AS n FROM crime GROUP BY ALL"
    refused = _export(tmp_path, as_analyst, sql, "twin.tab")
    assert refused.returncode != 0
    assert "column 'twin_town'" in refused.stderr
    assert "encoding=UTF-8" in refused.stderr
    assert "Łódź" not in refused.stderr  # never the value
    assert "Traceback" not in refused.stderr
    done = _export(tmp_path, as_analyst, sql, "twin.tab", "--option", "encoding=UTF-8")
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "twin.tab").read_text("utf-8")
    assert "!version 1520" in header
    assert "!charset UTF-8" in header
    assert set(pyogrio.read_dataframe(tmp_path / "twin.tab")["twin_town"]) == {"Łódź Café"}


# --- 14: shapefile names readable, mapping beside the file ------------------------------------


def test_shapefile_field_names_are_readable_and_mapped_beside_the_file(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    done = _export(tmp_path, as_analyst, LONG_NAMES_SQL, "cats.shp")
    assert done.returncode == 0, done.stderr
    fields = list(pyogrio.read_info(tmp_path / "cats.shp")["fields"])
    assert all(len(f) <= 10 for f in fields)
    assert len({f.lower() for f in fields}) == len(fields)
    assert "pol_uk_cat" in fields
    assert not any(re.search(r"_\d$", f) for f in fields)  # no "crimes_i_2"
    with (tmp_path / "cats.fieldnames.csv").open(encoding="utf-8", newline="") as fh:
        mapping = {row["field"]: row["column"] for row in csv.DictReader(fh)}
    assert list(mapping) == fields
    assert mapping["pol_uk_cat"] == "police_uk_category"
    assert set(mapping.values()) == {
        "lsoa_code",
        "police_uk_category",
        "crimes_in_period",
        "crimes_flagged_domestic_abuse",
        "any_hate_crime",
        "protective_marking",  # the field "marking": the file's marking on every feature
    }
    assert mapping["marking"] == "protective_marking"


# --- 15: GeoJSON in WGS84 ---------------------------------------------------------------------


def test_geojson_defaults_to_wgs84_and_gis_formats_to_the_national_grid(
    as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    done = _export(tmp_path, as_analyst, PER_LSOA_SQL, "crimes.geojson")
    assert done.returncode == 0, done.stderr
    info = pyogrio.read_info(tmp_path / "crimes.geojson")
    assert info["crs"] == "EPSG:4326"
    minx, miny, maxx, maxy = info["total_bounds"]
    assert -2.0 < minx < maxx < 0.0  # Teesside, in degrees
    assert 54.0 < miny < maxy < 55.0
    document = json.loads((tmp_path / "crimes.geojson").read_text("utf-8"))
    assert "crs" not in document or "CRS84" in json.dumps(document["crs"])  # WGS84 lon/lat
    grid = _export(tmp_path, as_analyst, PER_LSOA_SQL, "bng.geojson", "--option", "crs=27700")
    assert grid.returncode == 0, grid.stderr
    assert pyogrio.read_info(tmp_path / "bng.geojson")["crs"] == "EPSG:27700"
    for suffix in (".gpkg", ".fgb"):
        gis = _export(tmp_path, as_analyst, PER_LSOA_SQL, f"gis{suffix}")
        assert gis.returncode == 0, gis.stderr
        assert pyogrio.read_info(tmp_path / f"gis{suffix}")["crs"] == "EPSG:27700"
    env, purpose = as_analyst
    layer = _cli(
        "export", "layer", "ward", "-o", "wards.geojson", "--purpose", purpose, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert layer.returncode == 0, layer.stderr
    assert pyogrio.read_info(tmp_path / "wards.geojson")["crs"] == "EPSG:4326"


@pytest.mark.parametrize("suffix", [".tab", ".shp"])
def test_text_too_long_for_a_fixed_width_field_is_refused_not_cut(
    suffix: str, as_analyst: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    sql = "SELECT lsoa_code, repeat('x', 300) AS long_note, count(*) AS n FROM crime GROUP BY ALL"
    done = _export(tmp_path, as_analyst, sql, f"long{suffix}")
    assert done.returncode != 0
    assert "column 'long_note' holds text longer than 254 characters" in done.stderr
    assert "x" * 50 not in done.stderr  # never the value
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("long*"))
    fits = _export(tmp_path, as_analyst, sql.replace("300", "254"), f"long{suffix}")
    assert fits.returncode == 0, fits.stderr
    frame = pyogrio.read_dataframe(tmp_path / f"long{suffix}")
    assert set(frame[frame.columns[1]].str.len()) == {254}  # whole, not cut
