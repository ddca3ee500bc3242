"""Anonymous map points, police.uk style: each covers at least 8 postal addresses.

Candidates are the street centres. Every location is assigned to its nearest candidate;
candidates that cover fewer than 8 addresses are dropped a few at a time and the assignment is
redone. A location whose nearest point lies in another authority (only ever right at a border)
is nudged towards its street centre, or, when map points are sparse at small scales, to the
closest spot in its own LSOA whose nearest point is in its authority. The rounds repeat until
every point covers 8 or more addresses and no location is misplaced — so each location's
``map_point_id`` is exactly its nearest map point, and that point is in its authority.

A point is named like police.uk's "On or near …" places: the street, or — where most of the
addresses it covers are businesses — the kind of site ("Supermarket", "Nightclub"), or a public
place it stands next to ("Parking Area").

Example:
    >>> from gateway.generate.geography import build_geography
    >>> from gateway.generate.places import build_places
    >>> from gateway.generate.reference import load_reference
    >>> ref = load_reference()
    >>> geo = build_geography(ref, 7)
    >>> points = build_map_points(build_places(ref, geo, seed=7, scale=0.05), geo, seed=7)
    >>> int(points.table["address_count"].min()) >= MIN_ADDRESSES
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from gateway.catalog.police_uk import MIN_ADDRESSES
from gateway.errors import ConfigurationError
from gateway.generate.geography import Geography
from gateway.generate.places import ADDRESS_TYPES, Places
from gateway.generate.randomness import FloatArray, IntArray, stream

__all__ = ["MapPoints", "build_map_points", "nearest"]

PUBLIC_PLACE_REACH_M = 40.0
MAX_ROUNDS = 200
RESAMPLE_TRIES = 128


@dataclass(frozen=True)
class MapPoints:
    """The ``map_point`` rows and, per location row, its map point and (adjusted) position.

    A few addresses right at an authority border are nudged (towards their street centre, or
    elsewhere in their own LSOA) so that their nearest map point is in their own authority;
    ``easting``/``northing`` are the final location coordinates.
    """

    table: pl.DataFrame
    of_location: IntArray
    easting: FloatArray
    northing: FloatArray


def nearest(px: FloatArray, py: FloatArray, qx: FloatArray, qy: FloatArray) -> IntArray:
    """Index of the nearest of the points ``(px, py)`` for every query ``(qx, qy)``.

    Example:
        >>> p = np.array([0.0, 10.0])
        >>> nearest(p, np.zeros(2), np.array([1.0, 9.0]), np.zeros(2)).tolist()
        [0, 1]
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([px, py]))
    _, idx = tree.query(np.column_stack([qx, qy]), k=1)
    return np.asarray(idx, dtype=np.int64)


def build_map_points(places: Places, geo: Geography, *, seed: int) -> MapPoints:
    """Choose the map points for ``places`` and assign every location to one."""
    import shapely

    rng = stream(seed, "map_points")
    frame = places.frame
    streets = places.streets
    loc = _Locations(
        x=frame["easting"].to_numpy().copy(),
        y=frame["northing"].to_numpy().copy(),
        la=frame["la_idx"].to_numpy().astype(np.int64),
        lsoa=frame["lsoa_idx"].to_numpy().astype(np.int64),
        street=frame["street_idx"].to_numpy().astype(np.int64),
        is_address=frame["location_type"].is_in(list(ADDRESS_TYPES)).to_numpy(),
    )
    shapes = geo.lsoa_shapes
    shapely.prepare(shapes)
    sx = streets["x"].to_numpy()
    sy = streets["y"].to_numpy()
    lsoa_la = geo.lsoa["la_idx"].to_numpy().astype(np.int64)
    has_address = np.zeros(streets.height, dtype=bool)
    has_address[loc.street[loc.is_address]] = True
    candidate = np.flatnonzero(has_address)
    c_la = lsoa_la[streets["lsoa_idx"].to_numpy()[candidate]]
    authorities = len(np.unique(c_la))

    for _ in range(MAX_ROUNDS):
        assigned = nearest(sx[candidate], sy[candidate], loc.x, loc.y)
        covered = np.bincount(assigned[loc.is_address], minlength=len(candidate))
        short = covered < MIN_ADDRESSES
        if short.any():
            # Drop the emptier half of the short points; the rest may fill up as they go.
            keep = ~(short & (covered <= np.quantile(covered[short], 0.5)))
            candidate, c_la = candidate[keep], c_la[keep]
            if len(np.unique(c_la)) < authorities:
                raise ConfigurationError("too few addresses to place map points in every authority")
            continue
        misplaced = np.flatnonzero(loc.la != c_la[assigned])
        if not len(misplaced):
            break
        _nudge(rng, loc, misplaced, sx, sy, candidate, c_la, shapes)
    else:
        raise ConfigurationError("map points did not settle; try another seed")

    table = _describe(frame, streets, geo, candidate, assigned, covered, loc)
    return MapPoints(
        table=table, of_location=(assigned + 1).astype(np.int64), easting=loc.x, northing=loc.y
    )


@dataclass(frozen=True)
class _Locations:
    x: FloatArray  # mutable contents: nudged in place
    y: FloatArray
    la: IntArray
    lsoa: IntArray
    street: IntArray
    is_address: npt.NDArray[np.bool_]


def _nudge(
    rng: np.random.Generator,
    loc: _Locations,
    misplaced: IntArray,
    sx: FloatArray,
    sy: FloatArray,
    candidate: IntArray,
    c_la: IntArray,
    shapes: Any,
) -> None:
    """Move misplaced locations so their nearest map point is in their own authority."""
    import shapely

    cx, cy = sx[candidate], sy[candidate]
    px, py = loc.x[misplaced], loc.y[misplaced]
    tx, ty = sx[loc.street[misplaced]], sy[loc.street[misplaced]]
    moved = np.zeros(len(misplaced), dtype=bool)
    for share in (0.7, 0.5, 0.35, 0.25, 0.15, 0.08, 0.04, 0.0):  # towards the street centre
        qx = np.round(tx + share * (px - tx), 1)
        qy = np.round(ty + share * (py - ty), 1)
        ok = ~moved & shapely.contains_xy(shapes[loc.lsoa[misplaced]], qx, qy)
        ok &= c_la[nearest(cx, cy, qx, qy)] == loc.la[misplaced]
        loc.x[misplaced[ok]] = qx[ok]
        loc.y[misplaced[ok]] = qy[ok]
        moved |= ok
    stuck = misplaced[~moved]
    if not len(stuck):
        return
    # Sparse points (small scales): the closest acceptable spot elsewhere in the LSOA.
    tries = np.repeat(stuck, RESAMPLE_TRIES)
    box = shapely.bounds(shapes[loc.lsoa[tries]])
    qx = np.round(rng.uniform(box[:, 0], box[:, 2]), 1)
    qy = np.round(rng.uniform(box[:, 1], box[:, 3]), 1)
    ok = shapely.contains_xy(shapes[loc.lsoa[tries]], qx, qy)
    ok &= c_la[nearest(cx, cy, qx, qy)] == loc.la[tries]
    distance = np.where(ok, np.hypot(qx - loc.x[tries], qy - loc.y[tries]), np.inf)
    distance = distance.reshape(len(stuck), RESAMPLE_TRIES)
    best = np.arange(len(stuck)) * RESAMPLE_TRIES + distance.argmin(axis=1)
    found = np.isfinite(distance.min(axis=1))
    loc.x[stuck[found]] = qx[best[found]]
    loc.y[stuck[found]] = qy[best[found]]


def _describe(
    frame: pl.DataFrame,
    streets: pl.DataFrame,
    geo: Geography,
    candidate: IntArray,
    assigned: IntArray,
    covered: IntArray,
    loc: _Locations,
) -> pl.DataFrame:
    """Name and type every map point from the locations it covers."""
    cx = streets["x"].to_numpy()[candidate]
    cy = streets["y"].to_numpy()[candidate]
    covered_by = frame.select(
        point=pl.Series(assigned),
        location_type=pl.col("location_type"),
        site_kind=pl.col("site_kind"),
        distance=pl.Series(np.hypot(loc.x - cx[assigned], loc.y - cy[assigned])),
    )
    business = (
        covered_by.filter(pl.col("location_type").is_in(list(ADDRESS_TYPES[1:])))
        .group_by("point")
        .agg(
            businesses=pl.len(),
            business_kind=pl.col("site_kind").mode().sort().first(),
        )
    )
    public = (
        covered_by.filter(
            (pl.col("location_type") == "public_place")
            & (pl.col("distance") <= PUBLIC_PLACE_REACH_M)
        )
        .sort("point", "distance")
        .group_by("point", maintain_order=True)
        .agg(public_kind=pl.col("site_kind").first())
    )
    lsoa_idx = streets["lsoa_idx"].to_numpy()[candidate]
    points = pl.DataFrame(
        {
            "point": np.arange(len(candidate), dtype=np.int64),
            "street": streets["name"].gather(candidate),
            "address_count": covered.astype(np.int32),
        }
    )
    points = points.join(business, on="point", how="left").join(public, on="point", how="left")
    is_business = pl.col("businesses").fill_null(0) * 2 >= pl.col("address_count")
    has_public = pl.col("public_kind").is_not_null()
    return points.select(
        map_point_id=(pl.col("point") + 1).cast(pl.Int32),
        name=pl.when(is_business)
        .then(pl.col("business_kind"))
        .when(has_public)
        .then(pl.col("public_kind"))
        .otherwise(pl.col("street")),
        point_type=pl.when(is_business)
        .then(pl.lit("commercial"))
        .when(has_public)
        .then(pl.lit("public_place"))
        .otherwise(pl.lit("street")),
        easting=pl.Series(cx),
        northing=pl.Series(cy),
        lsoa_code=geo.lsoa["lsoa_code"].gather(lsoa_idx),
        local_authority_code=geo.lsoa["local_authority_code"].gather(lsoa_idx),
        address_count=pl.col("address_count"),
    )
