"""A map layer as GeoJSON for the browser: the export's own layer, in WGS 84, every row with a
place one feature (attributes kept), the rest counted; areas from the real base maps."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyogrio
import pytest
import shapely

from gateway.errors import InputError
from gateway.exports.geometry import build_layer
from gateway.exports.options import parse_options
from gateway.exports.preview import DIGITS, feature_collection, preview_layer


@pytest.fixture(scope="module")
def basemaps(small_data_dir: Path) -> Path:
    return small_data_dir / "basemaps.gpkg"


def lsoas(basemaps: Path, authority: str) -> list[str]:
    table = pyogrio.read_dataframe(basemaps, layer="lsoa", read_geometry=False)
    return sorted(table[table["local_authority_code"] == authority]["lsoa_code"].tolist())


def test_areas_are_drawn_from_the_base_maps_in_wgs84(basemaps: Path) -> None:
    codes = lsoas(basemaps, "E06000002")[:3]
    table = pa.table({"lsoa_code": [*codes, "E01999999"], "crimes": [4, None, 12, 7]})
    layer = preview_layer(table, {"geometry": "areas", "all_areas": False}, basemaps)
    collection = feature_collection(layer)
    assert [f["properties"]["lsoa_code"] for f in collection["features"]] == codes
    assert [f["properties"]["crimes"] for f in collection["features"]] == [4, None, 12]
    assert collection["skipped"] == 1  # a code the base maps lack is not drawn
    for feature in collection["features"]:
        shape = shapely.geometry.shape(feature["geometry"])
        lon, lat = shape.representative_point().coords[0]
        assert -2.0 < lon < -0.5
        assert 54.0 < lat < 55.0


def test_a_choropleth_holds_every_area_of_the_geography(basemaps: Path) -> None:
    codes = lsoas(basemaps, "E06000002")
    table = pa.table({"lsoa_code": codes[:1], "crimes": [9]})
    layer = preview_layer(table, {"geometry": "areas"}, basemaps, ["E06000002"])
    collection = feature_collection(layer)
    drawn = {
        f["properties"]["lsoa_code"]: f["properties"]["crimes"] for f in collection["features"]
    }
    assert sorted(drawn) == codes
    assert sum(drawn.values()) == 9  # the missing areas are there with 0


def test_the_preview_is_the_layer_an_export_writes(basemaps: Path) -> None:
    codes = lsoas(basemaps, "E06000001")
    table = pa.table({"lsoa_code": codes, "crimes": list(range(len(codes)))})
    options = {"geometry": "areas", "all_areas": False}
    preview = preview_layer(table, options, basemaps)
    export = build_layer(table, parse_options("gpkg", {**options, "crs": 4326}), basemaps)
    assert preview.table.equals(export.table)
    assert preview.epsg == export.epsg == 4326


def test_points_are_rounded_and_those_without_coordinates_counted() -> None:
    table = pa.table(
        {
            "easting": [450000.0, 451234.56, None],
            "northing": [520000.0, 521000.0, 522000.0],
            "crimes": [3, 5, 1],
        }
    )
    collection = feature_collection(preview_layer(table, {"geometry": "points"}, None))
    assert len(collection["features"]) == 2
    assert collection["skipped"] == 1
    for feature in collection["features"]:
        for value in feature["geometry"]["coordinates"]:
            assert value == round(value, DIGITS)
    limited = feature_collection(preview_layer(table, {"geometry": "points"}, None), limit=1)
    assert (len(limited["features"]), limited["truncated"]) == (1, 1)


def test_a_grid_cell_sums_the_weights_and_counts_the_rows() -> None:
    table = pa.table(
        {
            "easting": [450010.0, 450020.0, 450600.0],
            "northing": [520010.0] * 3,
            "crimes": [2, 3, None],
        }
    )
    options = {"geometry": "grid", "cell_size": 500, "weight": "crimes"}
    cells = feature_collection(preview_layer(table, options, None))["features"]
    props = sorted((c["properties"] for c in cells), key=lambda p: p["cell_id"])
    assert [(p["count"], p["sum_crimes"]) for p in props] == [(2, 5.0), (1, 0.0)]
    assert all(not math.isnan(p["sum_crimes"]) for p in props)


def test_a_layer_the_result_cannot_make_is_refused() -> None:
    with pytest.raises(InputError):
        preview_layer(pa.table({"crimes": [1]}), {"geometry": "points"}, None)
