"""Areas and places: nesting in tables and polygons, points inside their areas, map points."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import numpy as np
import shapely
from scipy.spatial import cKDTree

from tests.generate.conftest import scalar

# shared/DOMAIN.md: ONS code, population, BNG centroid, area km².
AUTHORITIES = {
    "E06000001": ("Hartlepool", 92_338, (447_160, 531_474), 93.7),
    "E06000002": ("Middlesbrough", 143_924, (451_141, 516_887), 53.9),
    "E06000003": ("Redcar and Cleveland", 136_531, (464_361, 519_597), 245.1),
    "E06000004": ("Stockton-on-Tees", 196_595, (444_940, 518_183), 204.9),
}
ADDRESS_TYPES = ("dwelling", "commercial", "licensed_premises", "education", "transport")


def test_layers_are_in_british_national_grid(layers: dict[str, Any]) -> None:
    assert set(layers) == {"local_authority", "neighbourhood", "ward", "lsoa", "map_point"}
    for name, frame in layers.items():
        assert frame.crs.to_epsg() == 27700, name
        assert frame.geometry.is_valid.all(), name


def test_authorities_match_the_domain_facts(
    warehouse: duckdb.DuckDBPyConnection, layers: dict[str, Any]
) -> None:
    table = {
        code: (name, pop)
        for code, name, pop in warehouse.execute(
            "SELECT local_authority_code, name, population FROM local_authority"
        ).fetchall()
    }
    assert table == {code: (v[0], v[1]) for code, v in AUTHORITIES.items()}
    shapes = layers["local_authority"].set_index("local_authority_code")
    for code, (_, _, (east, north), area) in AUTHORITIES.items():
        shape = shapes.loc[code, "geometry"]
        assert abs(shape.area / 1e6 - area) / area < 0.1, code
        assert shapely.distance(shape.centroid, shapely.Point(east, north)) < 3_000, code
        assert shape.contains(shapely.Point(east, north)), code


def test_area_counts_codes_and_names(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert 340 <= scalar(warehouse, "SELECT count(*) FROM lsoa") <= 360
    assert scalar(warehouse, "SELECT count(*) FROM ward") == 81
    names = dict(
        warehouse.execute("SELECT local_authority_code, name FROM local_authority").fetchall()
    )
    for code, name, msoa, la in warehouse.execute(
        "SELECT lsoa_code, name, msoa_code, local_authority_code FROM lsoa"
    ).fetchall():
        assert re.fullmatch(r"E01\d{6}", code)
        assert re.fullmatch(r"E02\d{6}", msoa)
        assert re.fullmatch(rf"{re.escape(names[la])} \d{{3}}[A-Z]", name), name
    assert all(
        re.fullmatch(r"E05\d{6}", w)
        for (w,) in warehouse.execute("SELECT ward_code FROM ward").fetchall()
    )
    per_lsoa = scalar(warehouse, "SELECT avg(population) FROM lsoa")
    assert 1_300 < per_lsoa < 1_900


def test_nesting_and_populations_in_the_tables(warehouse: duckdb.DuckDBPyConnection) -> None:
    inconsistent = scalar(
        warehouse,
        """SELECT count(*) FROM lsoa l JOIN ward w USING (ward_code)
             JOIN neighbourhood n ON n.neighbourhood_code = w.neighbourhood_code
           WHERE l.neighbourhood_code <> w.neighbourhood_code
              OR l.local_authority_code <> w.local_authority_code
              OR w.local_authority_code <> n.local_authority_code""",
    )
    assert inconsistent == 0
    for parent, key in (
        ("local_authority", "local_authority_code"),
        ("ward", "ward_code"),
        ("neighbourhood", "neighbourhood_code"),
    ):
        mismatched = scalar(
            warehouse,
            f"""SELECT count(*) FROM {parent} p JOIN
                  (SELECT {key}, sum(population) AS total FROM lsoa GROUP BY 1) s USING ({key})
                WHERE p.population <> s.total""",
        )
        assert mismatched == 0, parent
    mismatched_records = scalar(
        warehouse,
        """SELECT count(*) FROM crime c JOIN location l USING (location_id)
           WHERE c.lsoa_code <> l.lsoa_code OR c.ward_code <> l.ward_code
              OR c.neighbourhood_code <> l.neighbourhood_code OR c.local_authority_code <> l.local_authority_code""",
    )
    assert mismatched_records == 0


def test_polygons_tile_and_nest(
    layers: dict[str, Any], warehouse: duckdb.DuckDBPyConnection
) -> None:
    lsoa = layers["lsoa"]
    for level, key in (
        ("ward", "ward_code"),
        ("neighbourhood", "neighbourhood_code"),
        ("local_authority", "local_authority_code"),
    ):
        parents = layers[level].set_index(key)
        for code, members in lsoa.groupby(key):
            parent = parents.loc[code, "geometry"]
            pieces = members.geometry.to_numpy()
            total = float(shapely.area(pieces).sum())
            union = shapely.union_all(pieces)
            assert abs(total - union.area) < 1e-6 * total, (level, code)  # no overlaps
            assert abs(parent.area - total) < 1e-6 * total, (level, code)  # covers the parent
            assert shapely.area(shapely.difference(union, parent)) < 1e-6 * total, (level, code)
    force = shapely.union_all(layers["local_authority"].geometry.to_numpy())
    assert abs(force.area - layers["local_authority"].geometry.area.sum()) < 1.0
    # The layers carry the same codes as the tables.
    assert set(lsoa["lsoa_code"]) == {
        c for (c,) in warehouse.execute("SELECT lsoa_code FROM lsoa").fetchall()
    }


def test_every_location_lies_in_its_lsoa_and_authority(
    warehouse: duckdb.DuckDBPyConnection, layers: dict[str, Any]
) -> None:
    rows = warehouse.execute(
        "SELECT easting, northing, lsoa_code, local_authority_code FROM location"
    ).fetchall()
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    lsoa = layers["lsoa"].set_index("lsoa_code").geometry
    authority = layers["local_authority"].set_index("local_authority_code").geometry
    in_lsoa = shapely.contains_xy(lsoa.loc[[r[2] for r in rows]].to_numpy(), x, y)
    in_authority = shapely.contains_xy(authority.loc[[r[3] for r in rows]].to_numpy(), x, y)
    assert in_lsoa.all()
    assert in_authority.all()


def test_record_lsoas_are_where_their_places_are(
    warehouse: duckdb.DuckDBPyConnection, layers: dict[str, Any]
) -> None:
    rows = warehouse.execute(
        """SELECT l.easting, l.northing, i.lsoa_code FROM incident i JOIN location l USING (location_id)
           UNION ALL
           SELECT l.easting, l.northing, k.local_authority_code FROM custody k
             JOIN location l ON l.location_id = k.arrest_location_id"""
    ).fetchall()
    shapes = {
        **layers["lsoa"].set_index("lsoa_code").geometry.to_dict(),
        **layers["local_authority"].set_index("local_authority_code").geometry.to_dict(),
    }
    inside = shapely.contains_xy(
        np.array([shapes[r[2]] for r in rows]),
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
    )
    assert inside.all()


def test_dwellings_are_about_one_per_household(warehouse: duckdb.DuckDBPyConnection) -> None:
    dwellings = scalar(warehouse, "SELECT count(*) FROM location WHERE location_type = 'dwelling'")
    households = 569_388 / 2.3 * 0.05  # force population / household size × scale
    assert 0.9 * households < dwellings < 1.1 * households
    types = {
        t for (t,) in warehouse.execute("SELECT DISTINCT location_type FROM location").fetchall()
    }
    assert types == {
        "dwelling",
        "commercial",
        "licensed_premises",
        "street",
        "public_place",
        "education",
        "transport",
    }
    # Licensed premises cluster in the night-time economy: a few LSOAs hold most of them.
    top = scalar(
        warehouse,
        """SELECT sum(n) FILTER (WHERE rank <= 35) / sum(n) FROM (
             SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS rank
             FROM location WHERE location_type = 'licensed_premises' GROUP BY lsoa_code)""",
    )
    assert top > 0.5


def test_map_points_cover_eight_addresses_and_are_nearest(
    warehouse: duckdb.DuckDBPyConnection, layers: dict[str, Any]
) -> None:
    points = warehouse.execute(
        "SELECT map_point_id, easting, northing, local_authority_code, lsoa_code, address_count FROM map_point ORDER BY 1"
    ).fetchall()
    ids = np.array([p[0] for p in points])
    xy = np.array([[p[1], p[2]] for p in points])
    locations = warehouse.execute(
        "SELECT easting, northing, map_point_id, local_authority_code, location_type FROM location"
    ).fetchall()
    lxy = np.array([[r[0], r[1]] for r in locations])
    _, nearest = cKDTree(xy).query(lxy)
    assert (ids[nearest] == np.array([r[2] for r in locations])).all()
    point_la = {p[0]: p[3] for p in points}
    assert all(point_la[r[2]] == r[3] for r in locations)
    covered: dict[int, int] = {}
    for r in locations:
        if r[4] in ADDRESS_TYPES:
            covered[r[2]] = covered.get(r[2], 0) + 1
    assert all(p[5] == covered.get(p[0], 0) and p[5] >= 8 for p in points)
    # The base-map layer is the same set of points, each inside its LSOA.
    layer = layers["map_point"].sort_values("map_point_id")
    assert layer["map_point_id"].tolist() == ids.tolist()
    assert np.allclose(np.column_stack([layer.geometry.x, layer.geometry.y]), xy)
    lsoa = layers["lsoa"].set_index("lsoa_code").geometry
    assert shapely.contains_xy(
        lsoa.loc[[p[4] for p in points]].to_numpy(), xy[:, 0], xy[:, 1]
    ).all()
    kinds = {
        k for (k,) in warehouse.execute("SELECT DISTINCT point_type FROM map_point").fetchall()
    }
    assert kinds <= {"street", "public_place", "commercial"}
    assert "street" in kinds
