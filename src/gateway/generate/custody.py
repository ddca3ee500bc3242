"""Custody records (PACE Code C): arrests of crime suspects plus other arrests.

Arrests seeded by :mod:`crimes` keep their crime, suspect and offence; the rest of the force's
custody throughput (warrants, breaches, crimes recorded elsewhere) is drawn per month from the
known-offender pool with offences from ``custody.toml``. Timings follow PACE: arrival at the
suite within about half an hour of arrest (the relevant time), detention authorised minutes
later, most people released within 24 hours, a few kept to 36 hours (superintendent's
extension) and very few up to 96 hours (warrant of further detention).

Example:
    >>> from gateway.generate.crimes import crime_block
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.02))
    >>> months = world.params.months[:2]
    >>> crimes = crime_block(world, la_idx=1, months=months, first_id=1)
    >>> block = custody_block(world, la_idx=1, months=months, first_id=1, arrests=crimes.arrests)
    >>> hours = (block["released_s"] - block["arrived_s"]) / 3600
    >>> bool((hours <= 96).all()), bool((hours < 24).mean() > 0.85)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from gateway.generate.randomness import WeightedPicker, lognormal, stream
from gateway.generate.timing import DAY, HOUR, MINUTE, WeekCalendar, month_bounds
from gateway.generate.world import World

__all__ = ["custody_block", "expected_arrest_share"]

_COURT_OUTCOMES = frozenset(
    {
        "charged",
        "awaiting-court-result",
        "sent-to-crown-court",
        "imprisoned",
        "community-penalty",
        "fined",
        "conditional-discharge",
        "suspended-sentence",
        "not-guilty",
    }
)


def expected_arrest_share(world: World) -> float:
    """Expected custody records per crime that come from crimes."""
    offences = world.ref.offences
    return sum(o.weight * o.arrest_rate for o in offences) / sum(o.weight for o in offences)


def custody_block(
    world: World,
    *,
    la_idx: int,
    months: Sequence[tuple[int, int]],
    first_id: int,
    arrests: pl.DataFrame,
) -> pl.DataFrame:
    """Custody records for arrests in ``months`` in one authority (sort key ``arrested_s``)."""
    ref = world.ref
    rng = stream(world.params.seed, "custody", la_idx, months[0][0] * 12 + months[0][1])
    arrests = arrests.filter(
        (pl.col("arrested_s") >= world.start_second) & (pl.col("arrested_s") < world.end_second)
    )

    # Arrests not linked to a crime in the warehouse.
    calendar = WeekCalendar.of(("arrest",))
    monthly = max(
        0.0,
        world.volumes.custody[la_idx] - world.volumes.crimes[la_idx] * expected_arrest_share(world),
    )
    offence_codes = [c for c, _ in ref.unlinked_arrest_offences]
    offence_picker = WeightedPicker([w for _, w in ref.unlinked_arrest_offences])
    parts = [
        arrests.select(
            "crime_id", "person_idx", "ho_offence_code", "arrested_s", "location_id", "outcome"
        )
    ]
    for year, month in months:
        start, end = month_bounds(year, month)
        n = int(rng.poisson(monthly * (end - start) / DAY / 30.4375))
        person = world.people.pool(la_idx, "offender").draw(rng, n)
        home = world.people.home_location_id[person]
        place = np.where(
            (home > 0) & (rng.random(n) < 0.5), home, world.locations(la_idx, "street").draw(rng, n)
        )
        parts.append(
            pl.DataFrame(
                {
                    "crime_id": pl.Series([None] * n, dtype=pl.Int64),
                    "person_idx": person,
                    "ho_offence_code": pl.Series(offence_codes).gather(offence_picker.draw(rng, n)),
                    "arrested_s": calendar.sample(rng, year, month, np.zeros(n, dtype=np.int64)),
                    "location_id": place,
                    "outcome": pl.Series([None] * n, dtype=pl.String),
                }
            )
        )
    rows = pl.concat(parts)
    n = rows.height
    arrested = rows["arrested_s"].to_numpy()

    # PACE timings.
    arrived = arrested + _minutes(lognormal(rng, 25 * MINUTE, 0.5, n))
    refused = rng.random(n) < 0.01
    authorised = arrived + _minutes(lognormal(rng, 14 * MINUTE, 0.6, n))
    u = rng.random(n)
    detained = np.select(
        [u < 0.88, u < 0.97, u < 0.995],
        [
            np.minimum(lognormal(rng, 9 * HOUR, 0.55, n), 23.5 * HOUR),
            rng.uniform(14 * HOUR, 24 * HOUR, n),
            rng.uniform(24 * HOUR, 36 * HOUR, n),
        ],
        default=rng.uniform(36 * HOUR, 96 * HOUR, n),
    )
    released = np.where(
        refused,
        arrived + _minutes(rng.uniform(30, 90, n) * MINUTE),
        authorised + _minutes(detained),
    )
    # PACE clocks run from arrival (the relevant time): keep releases within 96 hours of it.
    released = np.minimum(released, arrived + 96 * HOUR - MINUTE)

    disposal_names = [d for d, _ in ref.disposals]
    disposal = pl.Series(disposal_names).gather(
        WeightedPicker([w for _, w in ref.disposals]).draw(rng, n)
    )
    charged = rows["outcome"].is_in(list(_COURT_OUTCOMES)).fill_null(False).to_numpy() & (
        rng.random(n) < 0.7
    )
    disposal = disposal.set(pl.Series(charged), "charged")
    disposal = disposal.set(pl.Series(refused), "no_further_action")

    authority = ref.authorities[la_idx]
    suites = list(ref.custody_suites)
    suite = np.where(
        rng.random(n) < 0.9, suites.index(authority.custody_suite), rng.integers(0, len(suites), n)
    )
    suite_names = pl.Series(suites).gather(suite)
    custody_id = np.arange(first_id, first_id + n, dtype=np.int64)
    yy = pl.from_epoch(pl.Series(arrested), time_unit="s").dt.year() % 100
    world.people.mark(rows["person_idx"].to_numpy())
    return pl.DataFrame(
        {
            "custody_id": custody_id,
            "custody_ref": suite_names.str.slice(0, 2).str.to_uppercase()
            + "/"
            + pl.Series(custody_id).cast(pl.String).str.zfill(7)
            + "/"
            + yy.cast(pl.String).str.zfill(2),
            "person_id": rows["person_idx"] + 1,
            "arrested_s": arrested,
            "arrived_s": arrived,
            "detention_authorised_s": pl.Series(authorised).set(pl.Series(refused), None),
            "released_s": released,
            "arrest_offence_code": rows["ho_offence_code"],
            "custody_suite": suite_names,
            "disposal": disposal,
            "crime_id": rows["crime_id"],
            "arrest_location_id": rows["location_id"],
            "local_authority_code": pl.Series([authority.code] * n, dtype=pl.String),
        }
    )


def _minutes(seconds: np.ndarray) -> np.ndarray:
    """Whole minutes, at least one."""
    return np.asarray(np.maximum(1, np.asarray(seconds) // MINUTE) * MINUTE, dtype=np.int64)
