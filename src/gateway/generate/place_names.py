"""What each place is called and how attractive it is to offenders.

Commercial sites, public places, schools and stations get a kind (police.uk's map-point wording:
"Supermarket", "Parking Area" …) and a name ("Albert Park", "The Red Lion"); every location gets
an ``appeal`` — heavy-tailed per place (capped), scaled by its LSOA's crime weight and its kind —
which makes repeat locations and hotspots; and an ``address``.

Example:
    >>> sorted(ADDRESS_TYPES)[:2]
    ['commercial', 'dwelling']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from gateway.generate.geography import Geography
from gateway.generate.randomness import pareto_weights
from gateway.generate.reference import ReferenceData

__all__ = ["ADDRESS_TYPES", "LOCATION_TYPES", "describe_places"]

LOCATION_TYPES = (
    "dwelling",
    "commercial",
    "licensed_premises",
    "street",
    "public_place",
    "education",
    "transport",
)
ADDRESS_TYPES = ("dwelling", "commercial", "licensed_premises", "education", "transport")
"""Location types with a postal address (what a map point must cover at least 8 of)."""

_KIND_APPEAL = {
    "Supermarket": 10.0,
    "Shopping Area": 5.0,
    "Convenience Store": 4.0,
    "Retail Park": 6.0,
    "Petrol Station": 2.0,
    "Takeaway": 1.5,
    "Pharmacy": 1.5,
    "Office": 0.3,
    "Industrial Unit": 0.6,
    "Garage": 0.6,
    "Nightclub": 4.0,
    "Bar": 2.0,
    "Pub": 1.0,
}
_APPEAL = {  # Pareto shape and cap of each type's appeal to offenders: repeat locations
    "dwelling": (2.5, 20.0),
    "commercial": (1.15, 40.0),
    "licensed_premises": (1.3, 30.0),
    "street": (2.0, 30.0),
    "public_place": (1.5, 30.0),
    "education": (2.0, 10.0),
    "transport": (2.0, 10.0),
}
_RETAIL_KINDS = frozenset(
    {
        "Supermarket",
        "Shopping Area",
        "Convenience Store",
        "Retail Park",
        "Petrol Station",
        "Pharmacy",
        "Takeaway",
    }
)


def describe_places(
    rng: np.random.Generator,
    frame: pl.DataFrame,
    ref: ReferenceData,
    geo: Geography,
    streets: pl.DataFrame,
) -> pl.DataFrame:
    """Add kinds, names, appeal, addresses and area codes to the placed locations."""
    n = frame.height
    type_idx = frame["type_idx"].to_numpy()
    lsoa_of = frame["lsoa_idx"].to_numpy()
    night = geo.lsoa["night_time"].to_numpy()[lsoa_of]
    town = geo.lsoa["town"].gather(lsoa_of)
    vocabulary = [k.kind for key in ref.place_kinds for k in ref.place_kinds[key]]
    vocabulary += ["Pub", "Bar", "Nightclub"]
    code = np.full(n, -1, dtype=np.int64)
    for type_name in ("commercial", "public_place", "education", "transport"):
        sel = np.flatnonzero(type_idx == LOCATION_TYPES.index(type_name))
        kinds = ref.place_kinds[type_name]
        weights = np.array([k.weight for k in kinds])
        codes = np.array([vocabulary.index(k.kind) for k in kinds])
        code[sel] = codes[rng.choice(len(kinds), size=len(sel), p=weights / weights.sum())]
    sel = np.flatnonzero(type_idx == LOCATION_TYPES.index("licensed_premises"))
    u = rng.random(len(sel))
    busy = night[sel] > 0.5
    bar_share = np.where(busy, 0.6, 0.1)
    code[sel] = np.where(
        busy & (u < 0.2),
        vocabulary.index("Nightclub"),
        np.where(u < bar_share, vocabulary.index("Bar"), vocabulary.index("Pub")),
    )
    kind = (
        pl.DataFrame({"code": code})
        .select(
            pl.when(pl.col("code") >= 0)
            .then(pl.lit(pl.Series(vocabulary)).gather(pl.col("code").clip(0)))
            .alias("kind")
        )
        .to_series()
    )
    words = pl.DataFrame(
        {
            "kind": kind,
            "town": town,
            "stem": pl.Series(ref.street_stems).gather(rng.integers(0, len(ref.street_stems), n)),
            "adjective": pl.Series(ref.pub_adjectives).gather(
                rng.integers(0, len(ref.pub_adjectives), n)
            ),
            "noun": pl.Series(ref.pub_nouns).gather(rng.integers(0, len(ref.pub_nouns), n)),
            "venue": pl.Series(ref.venue_names).gather(rng.integers(0, len(ref.venue_names), n)),
        }
    )
    name = words.select(_place_name_expr()).to_series()

    # Appeal to offenders: heavy-tailed per place, scaled by area crime weight and kind.
    lsoa_weight = (geo.lsoa["crime_weight"] / geo.lsoa["population"]).to_numpy()[lsoa_of]
    alpha = np.array([_APPEAL[t][0] for t in LOCATION_TYPES])[type_idx]
    cap = np.array([_APPEAL[t][1] for t in LOCATION_TYPES])[type_idx]
    appeal = lsoa_weight * pareto_weights(rng, n, alpha, cap)
    appeal *= (
        kind.replace_strict(_KIND_APPEAL, default=1.0, return_dtype=pl.Float64)
        .fill_null(1.0)
        .to_numpy()
    )
    street_name = streets["name"].gather(frame["street_idx"].to_numpy())
    la = geo.lsoa["la_idx"].to_numpy()[lsoa_of]
    lsoa_cols = geo.lsoa.select(
        "lsoa_code", "ward_code", "neighbourhood_code", "local_authority_code", "town"
    ).with_row_index("lsoa_idx")
    out = frame.with_columns(
        location_type=pl.Series(LOCATION_TYPES).gather(type_idx),
        street=street_name,
        site_kind=kind,
        place_name=name,
        retail=kind.is_in(list(_RETAIL_KINDS)).fill_null(False),
        appeal=appeal,
        la_idx=pl.Series(la.astype(np.int8)),
    ).join(
        lsoa_cols.with_columns(pl.col("lsoa_idx").cast(pl.Int32)),
        on="lsoa_idx",
        how="left",
        maintain_order="left",
    )
    address = (
        pl.when(pl.col("location_type") == "street")
        .then(pl.col("street"))
        .when(pl.col("location_type") == "dwelling")
        .then(pl.format("{} {}", "number", "street"))
        .when(pl.col("location_type") == "commercial")
        .then(pl.format("{} {}", "number", "street"))
        .when(pl.col("location_type") == "licensed_premises")
        .then(pl.format("{}, {} {}", "place_name", "number", "street"))
        .otherwise(pl.format("{}, {}", "place_name", "street"))
    )
    return out.with_columns(address=address).drop("t", "side")


def _place_name_expr() -> pl.Expr:
    """Name of a place from its kind and a few random words (null for dwellings and shops)."""
    kind = pl.col("kind")
    fixed = {
        "Park/Open Space": pl.format("{} Park", "stem"),
        "Parking Area": pl.lit("Car Park"),
        "Sports/Recreation Area": pl.format("{} Playing Fields", "stem"),
        "Play Area": pl.format("{} Play Area", "stem"),
        "Cemetery": pl.format("{} Cemetery", "stem"),
        "Footpath": pl.lit("Footpath"),
        "School": pl.format("{} Primary School", "stem"),
        "College": pl.format("{} College", "town"),
        "Bus Station": pl.format("{} Bus Station", "town"),
        "Railway Station": pl.format("{} Railway Station", "town"),
        "Pub": pl.format("The {} {}", "adjective", "noun"),
        "Bar": pl.col("venue"),
        "Nightclub": pl.col("venue"),
    }
    expr: Any = pl.when(kind.is_null()).then(pl.lit(None, dtype=pl.String))  # a When/Then chain
    for label, value in fixed.items():
        expr = expr.when(kind == label).then(value)
    named: pl.Expr = expr.otherwise(kind).alias("place_name")
    return named
