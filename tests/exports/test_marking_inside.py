"""Every file the gateway writes carries its protective marking *inside* (issue 15, finding 4):
each format is written through the real service with a raised marking (``SECRET``, so a
default could not pass for it) and read back with the reader an analyst would use — pandas,
GDAL (pyogrio), pyarrow, openpyxl. A CSV carries it in a trailing ``protective_marking`` column
by default (still read as it is), in a comment line on request, and never nowhere unless the
policy allows it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest

from gateway.datadir import DataDir
from gateway.errors import InputError, MarkingRequired
from gateway.exports import ExportFile, export_format, export_query
from gateway.policy.markings import parse_marking_settings
from gateway.service import QueryService
from tests.exports.helpers import ANALYST, POINTS_SQL

RAISED = "SECRET"


def _export(service: QueryService, data_dir: DataDir, fmt: str, **options: str) -> ExportFile:
    return export_query(
        service,
        ANALYST,
        POINTS_SQL,
        "SA-2026",
        format=fmt,
        data_dir=data_dir,
        options={"marking": RAISED, **options},
    )


def _layer_path(exported: ExportFile, tmp_path: Path) -> Path:
    """The layer file itself: a zipped layer is unpacked without its sidecars, so the
    marking must be in the layer's own files."""
    if not exported.path.name.endswith(".zip"):
        return exported.path
    ext = export_format(exported.format).layer_extension
    with zipfile.ZipFile(exported.path) as archive:
        for name in archive.namelist():
            if not name.endswith(".provenance.json"):
                archive.extract(name, tmp_path)
    [main] = tmp_path.glob(f"*{ext}")
    return main


def _marking_in(path: Path, fmt: str) -> set[str]:
    """The marking(s) a reader finds inside the file."""
    if fmt == "csv":
        frame = pd.read_csv(path)  # as it is: no options
        assert frame.columns[-1] == "protective_marking"
        gdal = pyogrio.read_dataframe(path)  # GDAL's CSV driver (QGIS, MapInfo's import)
        assert set(gdal["protective_marking"]) == set(frame["protective_marking"])
        return set(frame["protective_marking"])
    if fmt in ("parquet", "geoparquet"):
        return {pq.read_schema(path).metadata[b"gateway:marking"].decode()}
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        return {str(book[name]["A1"].value) for name in book.sheetnames}
    if fmt in ("shp", "mif"):  # no metadata GDAL reads back: a field of every feature
        return set(pyogrio.read_dataframe(path)["marking"])
    info = pyogrio.read_info(path)
    if fmt == "gpkg":
        return {info["dataset_metadata"]["marking"]}
    if fmt == "fgb":
        return {info["layer_metadata"]["TITLE"]}
    if fmt == "geojson":
        return {json.loads(path.read_text("utf-8"))["provenance"]["marking"]}
    if fmt == "tab":
        return {info["layer_metadata"]["DESCRIPTION"].split(" | ")[0]}
    if fmt == "kml":
        text = path.read_text("utf-8")
        return {RAISED} if f"{RAISED} | query " in text else set()
    raise AssertionError(f"no reader for {fmt}")


@pytest.mark.parametrize(
    "fmt",
    ["csv", "parquet", "xlsx", "gpkg", "geojson", "shp", "tab", "mif", "fgb", "geoparquet", "kml"],
)
def test_every_format_carries_its_marking_inside(
    service: QueryService, export_dir: DataDir, tmp_path: Path, fmt: str
) -> None:
    exported = _export(service, export_dir, fmt)
    assert exported.provenance.marking == RAISED
    assert _marking_in(_layer_path(exported, tmp_path), fmt) == {RAISED}


def test_a_csv_with_the_comment_line_instead_of_the_column(
    service: QueryService, export_dir: DataDir
) -> None:
    commented = _export(service, export_dir, "csv", csv_marking="comment")
    first = commented.path.read_text("utf-8").splitlines()[0]
    assert first.startswith(f"# {RAISED} | query {commented.export_id} | a.khan")
    frame = pd.read_csv(commented.path, comment="#")
    assert "protective_marking" not in frame.columns
    legacy = _export(service, export_dir, "csv", csv_comment="true")
    assert legacy.path.read_text("utf-8").startswith(f"# {RAISED} | query ")


def test_an_unmarked_csv_is_refused_unless_the_policy_allows_it(
    service: QueryService, export_dir: DataDir
) -> None:
    with pytest.raises(MarkingRequired) as refused:
        _export(service, export_dir, "csv", csv_marking="none")
    assert refused.value.code == "marking_required"
    assert refused.value.status == 400
    assert refused.value.query_id  # the query ran and was audited; no file was written
    assert not (export_dir.exports / refused.value.query_id).exists()
    # csv_comment=false no longer strips the marking: the column stays
    kept = _export(service, export_dir, "csv", csv_comment="false")
    assert pd.read_csv(kept.path)["protective_marking"].eq(RAISED).all()

    allowing = parse_marking_settings({"csv_marking": "none", "allow_unmarked_csv": True})
    assert allowing.csv_style(None) == "none"
    assert allowing.csv_style("column") == "column"


def test_a_result_column_cannot_pose_as_the_marking(
    service: QueryService, export_dir: DataDir
) -> None:
    sql = "SELECT lsoa_code, 'NOT PROTECTIVELY MARKED' AS protective_marking FROM crime"
    with pytest.raises(InputError) as refused:
        export_query(
            service, ANALYST, sql, "SA-2026", format="csv", data_dir=export_dir, options={}
        )
    assert "kept for the file's protective marking" in str(refused.value)
    # a Shapefile's own 'marking' field is never an analyst's column: theirs is renamed
    shp_sql = "SELECT easting, northing, 'NONE' AS marking FROM location LIMIT 5"
    shp = export_query(
        service, ANALYST, shp_sql, "SA-2026", format="shp", data_dir=export_dir, options={}
    )
    frame = pyogrio.read_dataframe(f"/vsizip/{shp.path}/{Path(shp.file_name).stem}.shp")
    assert set(frame["marking"]) == {"OFFICIAL-SENSITIVE"}
    assert set(frame["marking_2"]) == {"NONE"}
