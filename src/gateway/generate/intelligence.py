"""Intelligence reports (enhanced access only): graded, free-text, about known offenders.

Graded on the 3×5×2 model: source evaluation 1–3 and intelligence assessment A–E, written
together as e.g. ``2B``. Most reports name a subject from the known-offender pool and a place
(often the subject's home); the text names them, an associate, addresses and vehicles.

Example:
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.05))
    >>> reports = intelligence_block(world, la_idx=1, months=world.params.months[:3], first_id=1)
    >>> set(g[0] for g in reports["grading"]) <= {"1", "2", "3"}
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from gateway.generate.randomness import WeightedPicker, stream
from gateway.generate.text import TemplateSet
from gateway.generate.timing import DAY, WeekCalendar, month_bounds
from gateway.generate.world import World

__all__ = ["intelligence_block"]

_SOURCE = ("1", "2", "3")
_SOURCE_WEIGHTS = (30.0, 55.0, 15.0)
_ASSESSMENT = ("A", "B", "C", "D", "E")
_ASSESSMENT_WEIGHTS = (10.0, 35.0, 35.0, 15.0, 5.0)


def intelligence_block(
    world: World, *, la_idx: int, months: Sequence[tuple[int, int]], first_id: int
) -> pl.DataFrame:
    """Reports submitted in ``months`` about one authority (sort key ``submitted_s``)."""
    rng = stream(world.params.seed, "intelligence", la_idx, months[0][0] * 12 + months[0][1])
    calendar = WeekCalendar.of(("daytime",))
    counts = []
    times = []
    for year, month in months:
        start, end = month_bounds(year, month)
        n_month = int(
            rng.poisson(world.volumes.intelligence[la_idx] * (end - start) / DAY / 30.4375)
        )
        counts.append(n_month)
        times.append(calendar.sample(rng, year, month, np.zeros(n_month, dtype=np.int64)))
    submitted = np.concatenate(times).astype(np.int64)
    n = len(submitted)
    people = world.people

    subject = np.where(rng.random(n) < 0.8, people.pool(la_idx, "offender").draw(rng, n), -1)
    associate = people.pool(la_idx, "offender").draw(rng, n)
    home = np.where(subject >= 0, people.home_location_id[np.maximum(subject, 0)], 0)
    other_place = np.where(
        rng.random(n) < 0.5,
        world.locations(la_idx, "street").draw(rng, n),
        world.locations(la_idx, "home").draw(rng, n),
    )
    location = np.where((home > 0) & (rng.random(n) < 0.5), home, other_place)
    has_location = rng.random(n) < 0.7
    text_place = location  # the text may mention a place even when the report is not tied to one
    vehicle = world.vehicles.draw(rng, n)

    grading = pl.Series(_SOURCE).gather(WeightedPicker(_SOURCE_WEIGHTS).draw(rng, n)) + pl.Series(
        _ASSESSMENT
    ).gather(WeightedPicker(_ASSESSMENT_WEIGHTS).draw(rng, n))
    vocabulary = world.ref.texts.vocabulary
    slots = pl.DataFrame(
        {
            "subject": people.full_names(np.maximum(subject, 0)).set(
                pl.Series(subject < 0), "an unknown male"
            ),
            "associate": people.full_names(associate),
            "address": world.place_column("address", text_place),
            "street": world.place_column("street", text_place),
            "town": world.place_column("town", text_place),
            "vrm": world.vehicles.vrm.gather(vehicle),
            "drug": pl.Series(list(vocabulary["drug"])).gather(
                rng.integers(0, len(vocabulary["drug"]), n)
            ),
        }
    )
    text = TemplateSet.of([world.ref.texts.intelligence]).render(
        rng, np.zeros(n, dtype=np.int64), slots
    )
    people.mark(subject)  # associates are only named in the text
    return pl.DataFrame(
        {
            "report_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "submitted_s": submitted,
            "subject_person_id": pl.Series(subject + 1).set(pl.Series(subject < 0), None),
            "location_id": pl.Series(location).set(pl.Series(~has_location), None),
            "grading": grading,
            "local_authority_code": pl.Series(
                [world.ref.authorities[la_idx].code] * n, dtype=pl.String
            ),
            "report_text": text,
        }
    )
