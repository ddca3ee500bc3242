"""Every format, written through the real service and read back with GDAL (pyogrio).

Map formats are read with pyogrio (zipped ones through ``/vsizip/``): feature count, CRS,
field names and values are compared with the same query's result. GeoParquet is read with
geopandas/pyarrow because the GDAL bundled with pyogrio has no Parquet driver.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyproj
import pytest

from gateway.datadir import DataDir
from gateway.exports import ExportFile, export_format, export_query
from gateway.service import QueryService
from tests.exports.helpers import ANALYST, PER_LSOA_SQL, POINTS_SQL

MAP_FORMATS = ["gpkg", "geojson", "shp", "tab", "mif", "fgb", "kml"]
TO_WGS84 = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def reference(service: QueryService) -> pd.DataFrame:
    """The point query's result as the analyst gets it, keyed by crime id."""
    outcome = service.run_query(ANALYST, POINTS_SQL, "SA-2026")
    try:
        frame = outcome.result.to_table().to_pandas()
    finally:
        outcome.result.discard()
    assert len(frame) > 100
    return frame.set_index("crime_id")


def _export(service: QueryService, data_dir: DataDir, fmt: str, **options: Any) -> ExportFile:
    return export_query(
        service,
        ANALYST,
        POINTS_SQL,
        "SA-2026",
        format=fmt,
        data_dir=data_dir,
        options=options or None,
    )


def _gdal_path(exported: ExportFile) -> str:
    if not exported.path.name.endswith(".zip"):
        return str(exported.path)
    ext = export_format(exported.format).layer_extension
    with zipfile.ZipFile(exported.path) as archive:
        (main,) = [n for n in archive.namelist() if n.endswith(ext)]
    return f"/vsizip/{exported.path}/{main}"


def _epsg(crs: str | None) -> int | None:
    return None if crs is None else pyproj.CRS(crs).to_epsg()


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return {"true": True, "false": False, "1": True, "0": False}[value.lower()]
    return bool(value)


@pytest.fixture(scope="module")
def written(service: QueryService, export_dir: DataDir) -> dict[tuple[str, int], ExportFile]:
    out = {}
    for fmt in MAP_FORMATS:
        for crs in (27700, 4326):
            if fmt == "kml" and crs == 27700:
                continue
            options: dict[str, Any] = {"geometry": "points"}
            if fmt != "kml":
                options["crs"] = crs
            out[(fmt, crs)] = _export(service, export_dir, fmt, **options)
    return out


@pytest.mark.parametrize(
    ("fmt", "crs"),
    [(f, c) for f in MAP_FORMATS for c in (27700, 4326) if not (f == "kml" and c == 27700)],
)
def test_map_format_round_trip(
    fmt: str, crs: int, written: dict[tuple[str, int], ExportFile], reference: pd.DataFrame
) -> None:
    exported = written[(fmt, crs)]
    path = _gdal_path(exported)
    info = pyogrio.read_info(path)
    assert _epsg(info["crs"]) == crs
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == len(reference) == exported.features
    assert frame.geometry.notna().all()

    renamed = {v: k for k, v in exported.provenance.field_names.items()}  # original → written
    expected_fields = [renamed.get(c, c) for c in ("crime_id", "recorded_at", "police_uk_category")]
    for name in expected_fields:
        assert name in frame.columns, (fmt, name, list(frame.columns))
    limit = export_format(fmt).max_field_name
    if limit:
        assert all(len(str(c)) <= limit for c in info["fields"])

    ids = frame[renamed.get("crime_id", "crime_id")].astype(str).astype(np.int64)
    assert set(ids) == set(reference.index)
    ref = reference.loc[ids.to_numpy()]
    assert list(frame[renamed.get("police_uk_category", "police_uk_category")]) == list(
        ref["police_uk_category"]
    )
    times = pd.to_datetime(frame[renamed.get("recorded_at", "recorded_at")].astype(str))
    assert (times.to_numpy() == ref["recorded_at"].to_numpy()).all()
    flags = frame[renamed.get("domestic_abuse", "domestic_abuse")].map(_as_bool)
    assert list(flags) == list(ref["domestic_abuse"])

    x, y = ref["easting"].to_numpy(), ref["northing"].to_numpy()
    if crs == 4326:
        x, y = TO_WGS84.transform(x, y)
        tolerance = 1e-7
    else:
        # MapInfo stores integers scaled to its BOUNDS: set to the force extent they give
        # about 0.01 mm; MapInfo's default bounds for the National Grid snap to ~3 mm.
        tolerance = 1e-4
    assert np.allclose(frame.geometry.x.to_numpy(), x, atol=tolerance, rtol=0)
    assert np.allclose(frame.geometry.y.to_numpy(), y, atol=tolerance, rtol=0)


@pytest.mark.parametrize("fmt", ["shp", "tab", "mif"])
def test_zips_hold_the_layer_files_and_a_provenance_sidecar(
    fmt: str, written: dict[tuple[str, int], ExportFile]
) -> None:
    exported = written[(fmt, 27700)]
    expected = {
        "shp": {".shp", ".shx", ".dbf", ".prj", ".cpg"},
        "tab": {".tab", ".dat", ".map", ".id"},
        "mif": {".mif", ".mid"},
    }[fmt]
    with zipfile.ZipFile(exported.path) as archive:
        names = archive.namelist()
        stem = Path(exported.file_name).stem
        sidecar = json.loads(archive.read(f"{stem}.provenance.json"))
        fields = archive.read(f"{stem}.fieldnames.csv").decode("utf-8").splitlines()
    assert {Path(n).suffix for n in names if not n.endswith((".json", ".csv"))} == expected
    assert fields[0] == "field,column"  # every field of the layer, and the column it holds
    listed = dict(line.split(",", 1) for line in fields[1:])
    assert list(listed) == list(pyogrio.read_info(_gdal_path(exported))["fields"])
    assert {k: v for k, v in listed.items() if k != v} == dict(exported.provenance.field_names)
    assert sidecar == exported.provenance.to_dict()
    assert sidecar["query_id"] == exported.export_id
    assert sidecar["marking"] == "OFFICIAL-SENSITIVE"
    assert sidecar["user"] == ANALYST.username
    assert sidecar["policy_hash"]
    assert sidecar["purpose"] == "SA-2026"


@pytest.mark.parametrize("fmt", ["tab", "mif"])
def test_mapinfo_specifics(
    fmt: str, written: dict[tuple[str, int], ExportFile], tmp_path: Path
) -> None:
    exported = written[(fmt, 27700)]
    with zipfile.ZipFile(exported.path) as archive:
        archive.extractall(tmp_path)
    stem = Path(exported.file_name).stem
    header = (tmp_path / f"{stem}.{fmt}").read_text("cp1252")
    assert re.search(r'Charset "WindowsLatin1"', header)  # any MapInfo opens it
    if fmt == "mif":  # TAB keeps its bounds in the binary .map (see the precision check above)
        bounds = re.search(r"Bounds \(([-\d.]+), ([-\d.]+)\) \(([-\d.]+), ([-\d.]+)\)", header)
        assert bounds, header[:400]
        minx, miny, maxx, maxy = (float(v) for v in bounds.groups())
        # The force extent (the base maps' authorities), padded: not a world-wide default.
        assert 420_000 < minx < 440_000
        assert 495_000 < miny < 510_000
        assert 475_000 < maxx < 495_000
        assert 535_000 < maxy < 550_000
    assert "DateTime" in header
    assert " Date " not in header
    assert "LargeInt" not in header  # readable by MapInfo before 15.2 and GDAL before 3.8


@pytest.mark.parametrize("fmt", ["tab", "mif"])
def test_mapinfo_opens_with_ogrinfo_as_epsg_27700(
    fmt: str, written: dict[tuple[str, int], ExportFile], tmp_path: Path
) -> None:
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed; the pyogrio checks above cover GDAL")
    exported = written[(fmt, 27700)]
    with zipfile.ZipFile(exported.path) as archive:
        archive.extractall(tmp_path)
    stem = Path(exported.file_name).stem
    run = subprocess.run(
        [ogrinfo, "-so", str(tmp_path / f"{stem}.{fmt}"), stem],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    wkt = run.stdout.split("Layer SRS WKT:", 1)[1].split("Data axis to CRS axis mapping", 1)[0]
    assert pyproj.CRS(wkt.strip()).to_epsg() == 27700
    assert f"Feature Count: {exported.features}" in run.stdout or fmt == "mif"


def test_gpkg_carries_provenance_metadata(written: dict[tuple[str, int], ExportFile]) -> None:
    exported = written[("gpkg", 27700)]
    info = pyogrio.read_info(exported.path)
    meta = info["dataset_metadata"]
    assert meta["marking"] == "OFFICIAL-SENSITIVE"
    assert meta["query_id"] == exported.export_id
    assert json.loads(meta["provenance"]) == exported.provenance.to_dict()
    assert info["layer_metadata"]["DESCRIPTION"].startswith("OFFICIAL-SENSITIVE | query ")


def test_fgb_geojson_and_kml_carry_the_marking(written: dict[tuple[str, int], ExportFile]) -> None:
    fgb = pyogrio.read_info(written[("fgb", 27700)].path)["layer_metadata"]
    assert fgb["TITLE"] == "OFFICIAL-SENSITIVE"
    assert json.loads(fgb["provenance"])["query_id"] == written[("fgb", 27700)].export_id
    geojson = json.loads(written[("geojson", 27700)].path.read_text("utf-8"))
    assert geojson["provenance"] == written[("geojson", 27700)].provenance.to_dict()
    kml = written[("kml", 4326)].path.read_text("utf-8")
    assert "OFFICIAL-SENSITIVE | query " + written[("kml", 4326)].export_id in kml


def test_geoparquet(service: QueryService, export_dir: DataDir, reference: pd.DataFrame) -> None:
    import geopandas

    for crs in (27700, 4326):
        exported = _export(service, export_dir, "geoparquet", crs=crs)
        frame = geopandas.read_parquet(exported.path)
        assert frame.crs.to_epsg() == crs
        assert len(frame) == len(reference)
        assert list(frame.columns[:3]) == ["crime_id", "recorded_at", "police_uk_category"]
        meta = pq.read_metadata(exported.path).metadata
        geo = json.loads(meta[b"geo"])
        assert geo["columns"]["geometry"]["geometry_types"] == ["Point"]
        assert json.loads(meta[b"gateway:provenance"])["query_id"] == exported.export_id
        if crs == 27700:
            ref = reference.loc[frame["crime_id"].to_numpy()]
            assert np.allclose(frame.geometry.x, ref["easting"])
            assert np.allclose(frame.geometry.y, ref["northing"])


def test_csv_with_and_without_the_comment_line(
    service: QueryService, export_dir: DataDir, reference: pd.DataFrame
) -> None:
    marked = _export(service, export_dir, "csv", csv_comment=True)
    first, header = marked.path.read_text("utf-8").splitlines()[:2]
    assert first.startswith(f"# OFFICIAL-SENSITIVE | query {marked.export_id} | a.khan")
    assert (
        header.replace('"', "")
        == "crime_id,recorded_at,police_uk_category,domestic_abuse,easting,northing"
    )

    bare = _export(service, export_dir, "csv")  # the default: no comment line, a column
    frame = pyogrio.read_dataframe(bare.path)  # GDAL's CSV driver
    assert list(frame.columns[:7]) == [
        "crime_id",
        "recorded_at",
        "police_uk_category",
        "domestic_abuse",
        "easting",
        "northing",
        "protective_marking",
    ]
    assert set(frame["protective_marking"]) == {"OFFICIAL-SENSITIVE"}
    assert len(frame) == len(reference)
    assert set(frame["crime_id"].astype(np.int64)) == set(reference.index)


def test_parquet(service: QueryService, export_dir: DataDir, reference: pd.DataFrame) -> None:
    exported = _export(service, export_dir, "parquet")
    table = pq.read_table(exported.path)
    assert table.num_rows == len(reference)
    assert table.schema.field("recorded_at").type == pa.timestamp("us")
    meta = table.schema.metadata
    assert meta[b"gateway:marking"] == b"OFFICIAL-SENSITIVE"
    assert json.loads(meta[b"gateway:provenance"])["query_id"] == exported.export_id


def test_xlsx_has_marking_on_every_sheet_and_a_provenance_sheet(
    service: QueryService, export_dir: DataDir, reference: pd.DataFrame
) -> None:
    import openpyxl

    exported = _export(service, export_dir, "xlsx")
    book = openpyxl.load_workbook(exported.path, read_only=False)
    assert book.sheetnames == ["Data", "Provenance"]
    for sheet in book.worksheets:
        assert sheet["A1"].value == "OFFICIAL-SENSITIVE"
        assert sheet.oddHeader.center.text == "OFFICIAL-SENSITIVE"
        assert sheet.oddFooter.center.text == "OFFICIAL-SENSITIVE"
    data = book["Data"]
    assert str(data["A2"].value).startswith(f"OFFICIAL-SENSITIVE | query {exported.export_id}")
    assert [c.value for c in data[4]] == [
        "crime_id",
        "recorded_at",
        "police_uk_category",
        "domestic_abuse",
        "easting",
        "northing",
    ]
    assert data.max_row == 4 + len(reference)
    first = data[5]
    ref = reference.loc[first[0].value]
    assert first[2].value == ref["police_uk_category"]
    assert first[1].value == ref["recorded_at"].to_pydatetime()
    fields = {row[0].value: row[1].value for row in book["Provenance"].iter_rows(min_row=5)}
    assert fields["query_id"] == exported.export_id
    assert fields["marking"] == "OFFICIAL-SENSITIVE"
    assert fields["user"] == "a.khan"
    assert fields["organisation"] == "Middlesbrough Council"
    assert len(fields["policy_hash"]) == 64


def test_areas_layer_in_every_map_format(service: QueryService, export_dir: DataDir) -> None:
    """A choropleth (areas joined on lsoa_code) reads back in each GDAL format."""
    for fmt in MAP_FORMATS:
        exported = export_query(
            service, ANALYST, PER_LSOA_SQL, "SA-2026", format=fmt, data_dir=export_dir
        )
        frame = pyogrio.read_dataframe(_gdal_path(exported))
        assert len(frame) == exported.features > 10
        assert frame.geometry.notna().all()
        assert set(frame.geometry.geom_type) <= {"Polygon", "MultiPolygon"}


def test_mapinfo_long_names_and_dates_end_to_end(
    service: QueryService, export_dir: DataDir, tmp_path: Path
) -> None:
    sql = (
        "SELECT lsoa_code, CAST(min(recorded_at) AS DATE) AS first_recorded_day, "
        "count(*) FILTER (WHERE domestic_abuse) AS crimes_flagged_as_domestic_abuse_in_period, "
        "count(*) FILTER (WHERE hate_crime) AS crimes_flagged_as_domestic_abuse_in_period_2 "
        "FROM crime GROUP BY ALL"
    )
    exported = export_query(service, ANALYST, sql, "SA-2026", format="tab", data_dir=export_dir)
    with zipfile.ZipFile(exported.path) as archive:
        archive.extractall(tmp_path)
    main = tmp_path / f"{Path(exported.file_name).stem}.tab"
    header = main.read_text("cp1252")
    assert "first_recorded_day DateTime" in header
    info = pyogrio.read_info(main)
    names = list(info["fields"])
    assert all(len(n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names) == 4
    assert exported.provenance.field_names == {
        "crm_flagged_as_dom_abuse_period": "crimes_flagged_as_domestic_abuse_in_period",
        "crm_flagge_as_dom_abuse_perio_2": "crimes_flagged_as_domestic_abuse_in_period_2",
    }
    frame = pyogrio.read_dataframe(main)
    assert str(frame["first_recorded_day"].dtype).startswith("datetime64")
    assert (frame["first_recorded_day"].dt.hour == 0).all()
