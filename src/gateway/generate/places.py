"""Streets and locations: dwellings, shops, licensed premises, streets, public places, schools.

Streets are short straight segments inside an LSOA with names unique within their authority.
Every location stands on a street: addresses are spread along both sides (odd numbers on one
side, even on the other), so dwellings line up like real streets on a map and every point lies
inside its own LSOA polygon (points are drawn and re-drawn until they do). Postcodes group
about 15 neighbouring addresses into a unit (``TS5 6AB``), sectors follow LSOAs and districts
follow MSOAs.

Counts: dwellings ≈ households (population / 2.3) × scale; commercial and licensed premises
cluster in town centres (≈ 12,000 and 1,300 × scale); streets, public places, schools and
stations belong to the geography and do not scale.

Example:
    >>> from gateway.generate.geography import build_geography
    >>> from gateway.generate.reference import load_reference
    >>> ref = load_reference()
    >>> places = build_places(ref, build_geography(ref, 7), seed=7, scale=0.05)
    >>> sorted(set(places.frame["location_type"].to_list()))[:3]
    ['commercial', 'dwelling', 'education']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gateway.generate.geography import Geography
from gateway.generate.place_names import ADDRESS_TYPES, LOCATION_TYPES, describe_places
from gateway.generate.randomness import FloatArray, IntArray, stream
from gateway.generate.reference import ReferenceData

__all__ = ["ADDRESS_TYPES", "LOCATION_TYPES", "Places", "build_places"]

HOUSEHOLD_SIZE = 2.3
COMMERCIAL_PER_SCALE = 12_000
LICENSED_PER_SCALE = 1_300
PUBLIC_PLACES = 1_000
SCHOOLS = 230
UNIT_ADDRESSES = 15
_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class Places:
    """Streets and locations of the force area.

    ``frame`` has one row per location, ordered by authority then LSOA, ``location_id`` =
    row + 1, with the catalog's location columns (except ``map_point_id``) plus helper
    columns: ``type_idx``, ``lsoa_idx``, ``la_idx``, ``street_idx``, ``site_kind`` (what
    police.uk would call the place: "Supermarket", "Nightclub", "Parking Area" … or null),
    ``retail`` and ``appeal`` (relative attractiveness to offenders, heavy-tailed).
    ``streets`` has one row per street: ``street_idx``, ``name``, ``lsoa_idx``, ``x``, ``y``.
    """

    frame: pl.DataFrame
    streets: pl.DataFrame

    def location_ids(self, la_idx: int, location_type: str) -> IntArray:
        """Ids of one authority's locations of one type."""
        sub = self.frame.filter(
            (pl.col("la_idx") == la_idx) & (pl.col("location_type") == location_type)
        )
        return sub["location_id"].to_numpy().astype(np.int64)


def build_places(ref: ReferenceData, geo: Geography, *, seed: int, scale: float) -> Places:
    """Draw streets and locations for ``geo`` (a pure function of its inputs)."""
    import shapely

    rng = stream(seed, "places")
    lsoa = geo.lsoa
    shapes = geo.lsoa_shapes
    shapely.prepare(shapes)
    streets = _streets(rng, ref, geo)

    n_lsoa = lsoa.height
    pop = lsoa["population"].to_numpy().astype(np.float64)
    night = lsoa["night_time"].to_numpy()
    area = lsoa["area_km2"].to_numpy()
    counts = {
        "dwelling": np.maximum(1, np.round(pop / HOUSEHOLD_SIZE * scale)).astype(np.int64),
        "commercial": rng.multinomial(
            round(COMMERCIAL_PER_SCALE * scale), _norm(1.0 + 25.0 * night)
        ),
        "licensed_premises": rng.multinomial(
            round(LICENSED_PER_SCALE * scale), _norm(0.3 + 30.0 * night**2)
        ),
        "public_place": rng.multinomial(PUBLIC_PLACES, _norm(1.0 + np.sqrt(area))),
        "education": rng.multinomial(SCHOOLS, _norm(pop)),
        "transport": _transport_counts(ref, geo),
    }
    street_lsoa = streets["lsoa_idx"].to_numpy()
    first_street = np.searchsorted(street_lsoa, np.arange(n_lsoa))
    n_streets = np.bincount(street_lsoa, minlength=n_lsoa)

    parts: list[pl.DataFrame] = []
    for type_idx, location_type in enumerate(LOCATION_TYPES):
        if location_type == "street":
            parts.append(
                pl.DataFrame(
                    {
                        "type_idx": np.full(streets.height, type_idx, dtype=np.int8),
                        "lsoa_idx": streets["lsoa_idx"].to_numpy().astype(np.int64),
                        "street_idx": streets["street_idx"].to_numpy().astype(np.int64),
                        "t": np.zeros(streets.height),
                        "side": np.zeros(streets.height, dtype=np.int8),
                    }
                )
            )
            continue
        per_lsoa = counts[location_type]
        lsoa_of = np.repeat(np.arange(n_lsoa), per_lsoa)
        main_street = location_type in ("commercial", "licensed_premises", "transport")
        offset = (rng.random(len(lsoa_of)) * n_streets[lsoa_of]).astype(np.int64)
        if main_street:
            offset[rng.random(len(lsoa_of)) < 0.5] = 0
        street_of = first_street[lsoa_of] + offset
        length = streets["length"].to_numpy()[street_of]
        parts.append(
            pl.DataFrame(
                {
                    "type_idx": np.full(len(lsoa_of), type_idx, dtype=np.int8),
                    "lsoa_idx": lsoa_of,
                    "street_idx": street_of,
                    "t": (rng.random(len(lsoa_of)) - 0.5) * length,
                    "side": np.where(rng.random(len(lsoa_of)) < 0.5, -1, 1).astype(np.int8),
                }
            )
        )
    frame = pl.concat(parts).with_columns(
        pl.col("lsoa_idx").cast(pl.Int32), pl.col("street_idx").cast(pl.Int32)
    )
    frame = frame.sort(["lsoa_idx", "type_idx", "street_idx", "t"], maintain_order=True)
    x, y = _positions(rng, frame, streets, shapes)
    frame = frame.with_columns(
        location_id=pl.int_range(1, frame.height + 1, dtype=pl.Int64),
        easting=x,
        northing=y,
    )
    frame = _numbers(frame)
    frame = _postcodes(frame, ref, geo, scale)
    frame = describe_places(rng, frame, ref, geo, streets)
    return Places(frame=frame, streets=streets.select("street_idx", "name", "lsoa_idx", "x", "y"))


def _norm(w: FloatArray) -> FloatArray:
    return np.asarray(w / w.sum(), dtype=np.float64)


def _streets(rng: np.random.Generator, ref: ReferenceData, geo: Geography) -> pl.DataFrame:
    import shapely

    lsoa = geo.lsoa
    pop = lsoa["population"].to_numpy()
    per_lsoa = np.maximum(4, np.round(pop / 110.0)).astype(np.int64)
    lsoa_of = np.repeat(np.arange(lsoa.height), per_lsoa)
    xs = np.empty(len(lsoa_of))
    ys = np.empty(len(lsoa_of))
    todo = np.arange(len(lsoa_of))
    shapes = geo.lsoa_shapes
    bounds = shapely.bounds(shapes)
    while len(todo):
        b = bounds[lsoa_of[todo]]
        cx = rng.uniform(b[:, 0], b[:, 2])
        cy = rng.uniform(b[:, 1], b[:, 3])
        cx, cy = np.round(cx, 1), np.round(cy, 1)
        inside = shapely.contains_xy(shapes[lsoa_of[todo]], cx, cy)
        xs[todo[inside]] = cx[inside]
        ys[todo[inside]] = cy[inside]
        todo = todo[~inside]
    area_m2 = lsoa["area_km2"].to_numpy()[lsoa_of] * 1e6
    length = np.clip(1.3 * np.sqrt(area_m2 / per_lsoa[lsoa_of]), 80.0, 700.0)
    # Names unique within each authority: stems × suffixes drawn without replacement.
    stems, suffixes = ref.street_stems, ref.street_suffixes
    combos = np.empty(len(lsoa_of), dtype=np.int64)
    la_of = lsoa["la_idx"].to_numpy()[lsoa_of]
    for la in np.unique(la_of):
        sel = np.flatnonzero(la_of == la)
        combos[sel] = rng.choice(len(stems) * len(suffixes), size=len(sel), replace=False)
    names = (
        pl.Series(stems).gather(combos // len(suffixes))
        + " "
        + pl.Series(suffixes).gather(combos % len(suffixes))
    )
    return pl.DataFrame(
        {
            "street_idx": np.arange(len(lsoa_of), dtype=np.int32),
            "name": names,
            "lsoa_idx": lsoa_of.astype(np.int32),
            "x": xs,
            "y": ys,
            "angle": rng.uniform(0.0, np.pi, len(lsoa_of)),
            "length": length,
        }
    )


def _transport_counts(ref: ReferenceData, geo: Geography) -> IntArray:
    """One station per town, in the LSOA nearest its centre."""
    cx = geo.lsoa["centroid_x"].to_numpy()
    cy = geo.lsoa["centroid_y"].to_numpy()
    counts = np.zeros(geo.lsoa.height, dtype=np.int64)
    for town in ref.towns:
        counts[int(np.argmin((cx - town.centre[0]) ** 2 + (cy - town.centre[1]) ** 2))] += 1
    return counts


def _positions(
    rng: np.random.Generator, frame: pl.DataFrame, streets: pl.DataFrame, shapes: Any
) -> tuple[FloatArray, FloatArray]:
    """Points along each location's street, redrawn until inside the LSOA polygon."""
    import shapely

    street = frame["street_idx"].to_numpy()
    lsoa_of = frame["lsoa_idx"].to_numpy()
    sx = streets["x"].to_numpy()[street]
    sy = streets["y"].to_numpy()[street]
    angle = streets["angle"].to_numpy()[street]
    length = streets["length"].to_numpy()[street]
    t = frame["t"].to_numpy().copy()
    side = frame["side"].to_numpy().astype(np.float64)
    x = np.empty(frame.height)
    y = np.empty(frame.height)
    todo = np.arange(frame.height)
    for attempt in range(12):
        if attempt:
            t[todo] = (rng.random(len(todo)) - 0.5) * length[todo] * (0.8**attempt)
        gap = side[todo] * (8.0 + np.abs(rng.normal(0.0, 3.0, len(todo))))
        px = sx[todo] + t[todo] * np.cos(angle[todo]) - gap * np.sin(angle[todo])
        py = sy[todo] + t[todo] * np.sin(angle[todo]) + gap * np.cos(angle[todo])
        px, py = np.round(px, 1), np.round(py, 1)
        inside = shapely.contains_xy(shapes[lsoa_of[todo]], px, py)
        x[todo[inside]] = px[inside]
        y[todo[inside]] = py[inside]
        todo = todo[~inside]
        if not len(todo):
            break
    x[todo] = sx[todo]  # the street centre is inside the LSOA by construction
    y[todo] = sy[todo]
    return x, y


def _numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """House numbers: odd on one side, even on the other, rising along the street."""
    numbered = pl.col("type_idx").is_in([0, 1, 2])
    rank = pl.col("t").rank("ordinal").over(["street_idx", "side", numbered]).cast(pl.Int32)
    return frame.with_columns(
        number=pl.when(numbered)
        .then(pl.when(pl.col("side") < 0).then(2 * rank - 1).otherwise(2 * rank))
        .otherwise(0)
        .cast(pl.Int32)
    )


def _postcodes(
    frame: pl.DataFrame, ref: ReferenceData, geo: Geography, scale: float
) -> pl.DataFrame:
    lsoa = geo.lsoa.with_row_index("lsoa_idx")
    district_of: dict[str, str] = {}
    for authority in ref.authorities:
        msoas = sorted(
            lsoa.filter(pl.col("local_authority_code") == authority.code)["msoa_code"].unique()
        )
        n_districts = len(authority.postcode_districts)
        for i, msoa in enumerate(msoas):
            district_of[msoa] = authority.postcode_districts[i * n_districts // len(msoas)]
    lsoa = lsoa.with_columns(district=pl.col("msoa_code").replace_strict(district_of))
    lsoa = lsoa.with_columns(
        sector=((pl.int_range(pl.len()).over("district") // 2) % 10).cast(pl.Int32)
    )
    unit_size = max(1, round(UNIT_ADDRESSES * scale))
    frame = frame.join(
        lsoa.select(pl.col("lsoa_idx").cast(pl.Int32), "district", "sector"),
        on="lsoa_idx",
        how="left",
        maintain_order="left",
    )
    frame = frame.with_columns(
        unit=(pl.int_range(pl.len()).over("lsoa_idx", order_by=["street_idx", "t"]) // unit_size)
    )
    first_of_unit = frame.select("district", "sector", "lsoa_idx", "unit").unique(
        maintain_order=True
    )
    first_of_unit = first_of_unit.with_columns(
        counter=pl.int_range(pl.len()).over(["district", "sector"]) % (len(_UNIT_LETTERS) ** 2)
    )
    letters = pl.Series(list(_UNIT_LETTERS))
    first_of_unit = first_of_unit.with_columns(
        postcode=pl.format(
            "{} {}{}{}",
            "district",
            "sector",
            pl.col("counter")
            .floordiv(len(_UNIT_LETTERS))
            .map_batches(lambda s: letters.gather(s), return_dtype=pl.String),
            pl.col("counter")
            .mod(len(_UNIT_LETTERS))
            .map_batches(lambda s: letters.gather(s), return_dtype=pl.String),
        )
    )
    return frame.join(
        first_of_unit.select("district", "sector", "lsoa_idx", "unit", "postcode"),
        on=["district", "sector", "lsoa_idx", "unit"],
        how="left",
        maintain_order="left",
    ).drop("district", "sector", "unit")
