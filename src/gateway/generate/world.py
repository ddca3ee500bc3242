"""The synthetic world the records are drawn from: areas, places, map points, people, vehicles.

:func:`build_world` assembles it once per run; the record generators (``crimes``,
``incidents``, ``custody``, ``intelligence``) only read it (and mark which people and vehicles
they link to). It also answers "where would this kind of offence happen?" with one weighted
location sampler per authority and setting.

Settings (the ``setting`` mixes of offence_codes.csv and incident_types.csv):

    home      dwellings                       retail    shops, supermarkets …
    business  offices, industrial units …     nte       licensed premises and busy streets
    street    streets                         public    parks, car parks, stations
    school    schools and colleges

Example:
    >>> from gateway.generate.randomness import stream
    >>> from gateway.generate.reference import load_reference
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.02))
    >>> ids = world.locations(0, "home").draw(stream(1, "x"), 5)
    >>> set(world.place_column("location_type", ids).to_list())
    {'dwelling'}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from gateway.generate.geography import Geography, build_geography
from gateway.generate.map_points import build_map_points
from gateway.generate.parameters import (
    CRIMES_PER_YEAR,
    CUSTODY_PER_YEAR,
    INCIDENTS_PER_YEAR,
    INTELLIGENCE_PER_YEAR,
    GenerationParameters,
)
from gateway.generate.people import People, build_people
from gateway.generate.places import Places, build_places
from gateway.generate.randomness import IntArray, WeightedPicker
from gateway.generate.reference import ReferenceData
from gateway.generate.timing import DAY, epoch_seconds
from gateway.generate.vehicles import Vehicles, build_vehicles

__all__ = ["SETTINGS", "LocationSampler", "Volumes", "World", "build_world"]

SETTINGS = ("home", "retail", "business", "nte", "street", "public", "school")


@dataclass(frozen=True)
class LocationSampler:
    """Location ids of one authority suited to one setting, with their weights."""

    ids: IntArray
    picker: WeightedPicker

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        return self.ids[self.picker.draw(rng, n)]


@dataclass(frozen=True)
class Volumes:
    """Expected monthly record counts per authority (index = authority row)."""

    crimes: tuple[float, ...]
    incidents: tuple[float, ...]
    custody: tuple[float, ...]
    intelligence: tuple[float, ...]


@dataclass(frozen=True)
class World:
    ref: ReferenceData
    params: GenerationParameters
    geography: Geography
    places: Places  # frame has the final coordinates and map_point_id
    map_points: pl.DataFrame
    people: People
    vehicles: Vehicles
    volumes: Volumes
    samplers: dict[tuple[int, str], LocationSampler] = field(repr=False)

    @property
    def start_second(self) -> int:
        return epoch_seconds(self.params.period_start)

    @property
    def end_second(self) -> int:
        return epoch_seconds(self.params.period_end)

    def locations(self, la_idx: int, setting: str) -> LocationSampler:
        return self.samplers[(la_idx, setting)]

    def place_column(self, name: str, location_ids: IntArray) -> pl.Series:
        """A column of the location frame for the given ids (id = row + 1)."""
        return self.places.frame[name].gather(location_ids - 1)


def build_world(ref: ReferenceData, params: GenerationParameters) -> World:
    """Everything but the records, for ``params``."""
    seed, scale, years = params.seed, params.scale, params.years
    geography = build_geography(ref, seed)
    places = build_places(ref, geography, seed=seed, scale=scale)
    points = build_map_points(places, geography, seed=seed)
    frame = places.frame.with_columns(
        easting=pl.Series(points.easting),
        northing=pl.Series(points.northing),
        map_point_id=pl.Series(points.of_location, dtype=pl.Int32),
    )
    places = Places(frame=frame, streets=places.streets)

    shares = np.array([a.population * a.crime_rate for a in ref.authorities])
    shares = shares / shares.sum()
    volumes = Volumes(
        crimes=tuple(CRIMES_PER_YEAR * scale / 12 * shares),
        incidents=tuple(INCIDENTS_PER_YEAR * scale / 12 * shares),
        custody=tuple(CUSTODY_PER_YEAR * scale / 12 * shares),
        intelligence=tuple(INTELLIGENCE_PER_YEAR * scale / 12 * shares),
    )
    months = 12 * years
    resident_draws = [
        months * (1.0 * c + 0.75 * i)
        for c, i in zip(volumes.crimes, volumes.incidents, strict=True)
    ]
    offender_draws = [
        months * (0.5 * c + k + 0.8 * n + 0.1 * i)
        for c, k, n, i in zip(
            volumes.crimes, volumes.custody, volumes.intelligence, volumes.incidents, strict=True
        )
    ]
    reference_day = epoch_seconds(params.period_end) // DAY
    people = build_people(
        ref,
        places,
        seed=seed,
        residents=tuple(max(200, round(0.55 * d)) for d in resident_draws),
        offenders=tuple(max(100, round(0.3 * d)) for d in offender_draws),
        reference_day=reference_day,
    )
    vehicle_draws = months * sum(volumes.crimes) * 0.15 + months * sum(volumes.incidents) * 0.08
    vehicles = build_vehicles(
        ref,
        seed=seed,
        count=max(500, round(0.7 * vehicle_draws)),
        reference_year=params.period_end.year,
    )
    return World(
        ref=ref,
        params=params,
        geography=geography,
        places=places,
        map_points=points.table,
        people=people,
        vehicles=vehicles,
        volumes=volumes,
        samplers=_samplers(places.frame, geography),
    )


def _samplers(frame: pl.DataFrame, geography: Geography) -> dict[tuple[int, str], LocationSampler]:
    kind = pl.col("location_type")
    night = pl.col("night_time") ** 2 * 20.0
    frame = frame.with_columns(
        night_time=geography.lsoa["night_time"].gather(frame["lsoa_idx"].to_numpy())
    )
    rules: dict[str, tuple[pl.Expr, pl.Expr]] = {
        "home": (kind == "dwelling", pl.col("appeal")),
        "retail": ((kind == "commercial") & pl.col("retail"), pl.col("appeal")),
        "business": ((kind == "commercial") & ~pl.col("retail"), pl.col("appeal")),
        "nte": (
            (kind == "licensed_premises") | (kind == "street"),
            pl.when(kind == "licensed_premises")
            .then(pl.col("appeal") * 3.0)
            .otherwise(pl.col("appeal") * night),
        ),
        "street": (kind == "street", pl.col("appeal")),
        "public": ((kind == "public_place") | (kind == "transport"), pl.col("appeal")),
        "school": (kind == "education", pl.col("appeal")),
    }
    out: dict[tuple[int, str], LocationSampler] = {}
    for la in range(geography.local_authority.height):
        local = frame.filter(pl.col("la_idx") == la)
        for setting, (where, weight) in rules.items():
            rows = local.filter(where).select("location_id", weight.alias("w"))
            if rows.height == 0:  # tiny scales: fall back to streets
                rows = local.filter(kind == "street").select(
                    "location_id", pl.col("appeal").alias("w")
                )
            out[(la, setting)] = LocationSampler(
                rows["location_id"].to_numpy().astype(np.int64),
                WeightedPicker(rows["w"].to_numpy()),
            )
    return out
