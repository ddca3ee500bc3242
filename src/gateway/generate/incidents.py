"""Command-and-control incidents: the calls that reported crimes, and everything else.

Two sources, one treatment. Calls seeded by :mod:`crimes` become incidents linked to their
crime (opening code from the crime's category, ``DOMESTIC_INCIDENT`` for domestic abuse,
closing code ``CRIME_RECORDED``). The rest of the demand — concern for safety, ASB, road
traffic collisions, alarms, admin — is drawn per month and incident type (Poisson, seasonal,
hour-of-week profile) so the total matches the force's volume.

Every incident gets a grade from its type's grade mix and response times that honour the
grades most of the time: grade 1 arrives within 15 minutes (urban) or 20 minutes (rural) in
about 85% of cases, grade 2 within an hour, grade 3 within 48 hours, grade 4 by appointment,
grade 5 is resolved without attendance.

Example:
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.02))
    >>> block = incident_block(world, la_idx=0, months=world.params.months[:1], first_id=1,
    ...                        calls=empty_calls())
    >>> sorted(set(block.incident["grade"].to_list())) == [1, 2, 3, 4, 5]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from gateway.generate.crime_details import NAME_SHARE
from gateway.generate.crimes import INCIDENT_LINK
from gateway.generate.profiles import season
from gateway.generate.randomness import IntArray, choose_rows, lognormal, mix_matrix, stream
from gateway.generate.text import TemplateSet
from gateway.generate.timing import DAY, HOUR, MINUTE, WeekCalendar, month_bounds
from gateway.generate.world import SETTINGS, World

__all__ = ["IncidentBlock", "empty_calls", "expected_call_share", "incident_block"]

_SUBJECT_TYPES = {
    "ASB_PERSONAL": 0.6,
    "ASB_NUISANCE": 0.25,
    "MISSING_PERSON": 1.0,
    "MENTAL_HEALTH": 1.0,
    "CONCERN_FOR_SAFETY": 0.5,
    "PRE_PLANNED_EVENT": 0.8,
}


@dataclass(frozen=True)
class IncidentBlock:
    incident: pl.DataFrame  # catalog columns, times in seconds (``*_s``)
    incident_person: pl.DataFrame
    incident_vehicle: pl.DataFrame


def empty_calls() -> pl.DataFrame:
    """A ``calls`` frame with no rows (an authority-month without crimes)."""
    return pl.DataFrame(
        schema={
            "crime_id": pl.Int64,
            "reported_s": pl.Int64,
            "location_id": pl.Int64,
            "category": pl.String,
            "domestic": pl.Boolean,
            "victim_idx": pl.Int64,
            "suspect_idx": pl.Int64,
            "vehicle_idx": pl.Int64,
        }
    )


def expected_call_share(world: World) -> float:
    """Expected incidents per crime that come from crimes (to top up the rest)."""
    offences = world.ref.offences
    total = sum(o.weight for o in offences)
    return sum(o.weight * INCIDENT_LINK.get(o.category, 0.3) for o in offences) / total


def incident_block(
    world: World,
    *,
    la_idx: int,
    months: Sequence[tuple[int, int]],
    first_id: int,
    calls: pl.DataFrame,
) -> IncidentBlock:
    """Incidents reported in ``months`` in one authority: ``calls`` plus drawn demand."""
    types = world.ref.incident_types
    codes = [t.code for t in types]
    rng = stream(world.params.seed, "incident", la_idx, months[0][0] * 12 + months[0][1])
    calls = calls.filter(pl.col("reported_s") >= world.start_second)

    # Linked calls: the opening code follows the crime.
    by_category = {c: i for i, t in enumerate(types) for c in t.crime_categories}
    linked_type = calls["category"].replace_strict(by_category, return_dtype=pl.Int64).to_numpy()
    linked_type = np.where(
        calls["domestic"].to_numpy(), codes.index("DOMESTIC_INCIDENT"), linked_type
    )

    # Other demand, topped up to the authority's volume.
    calendar = WeekCalendar.of(sorted({t.time_profile for t in types}))
    profile_of = np.array([calendar.index(t.time_profile) for t in types])
    weights = np.array([t.weight for t in types])
    share = weights / weights.sum()
    monthly = max(
        0.0,
        world.volumes.incidents[la_idx] - world.volumes.crimes[la_idx] * expected_call_share(world),
    )
    type_parts, time_parts = [linked_type], [calls["reported_s"].to_numpy()]
    for year, month in months:
        start, end = month_bounds(year, month)
        factor = (
            np.array([season(t.season)[month - 1] for t in types]) * (end - start) / DAY / 30.4375
        )
        kind = np.repeat(np.arange(len(types)), rng.poisson(monthly * share * factor))
        type_parts.append(kind)
        time_parts.append(calendar.sample(rng, year, month, profile_of[kind]))
    kind = np.concatenate(type_parts).astype(np.int64)
    reported = np.concatenate(time_parts).astype(np.int64)
    n = len(kind)
    n_linked = calls.height
    linked = np.arange(n) < n_linked
    keep = reported < world.end_second
    incident_id = first_id + np.cumsum(keep) - 1

    def pad(column: str, fill: int) -> IntArray:
        return np.concatenate(
            [calls[column].to_numpy(), np.full(n - n_linked, fill, dtype=np.int64)]
        )

    crime_id = pad("crime_id", -1)
    location = pad("location_id", 0)
    setting = choose_rows(rng, mix_matrix([t.setting for t in types], SETTINGS), kind)
    for s, name in enumerate(SETTINGS):
        sel = np.flatnonzero(~linked & (setting == s))
        location[sel] = world.locations(la_idx, name).draw(rng, len(sel))

    grade = (
        choose_rows(
            rng, np.cumsum([np.array(t.grades) / sum(t.grades) for t in types], axis=1), kind
        )
        + 1
    )
    urban = world.geography.lsoa["urban"].to_numpy()[
        world.place_column("lsoa_idx", location).to_numpy()
    ]
    arrived, closed = _response(rng, grade, urban, reported)

    closing = _closing_codes(world, rng, kind, linked)
    persons = _people(world, rng, la_idx, kind, linked, calls, incident_id, keep)
    vehicle = np.where(
        rng.random(n) < np.array([t.vehicle_rate for t in types])[kind],
        world.vehicles.draw(rng, n),
        -1,
    )
    vehicle[:n_linked] = calls["vehicle_idx"].to_numpy()
    incident_vehicle = pl.DataFrame({"incident_id": incident_id, "vehicle_idx": vehicle}).filter(
        pl.Series(keep) & (pl.col("vehicle_idx") >= 0)
    )
    world.vehicles.mark(incident_vehicle["vehicle_idx"].to_numpy())

    place = world.places.frame[location - 1]
    day = pl.from_epoch(pl.Series(reported), time_unit="s").dt.strftime("%Y%m%d")
    incident = pl.DataFrame(
        {
            "incident_id": incident_id,
            "incident_ref": "CL-" + day + "-" + pl.Series(incident_id).cast(pl.String).str.zfill(7),
            "reported_s": reported,
            "opening_code": pl.Series(codes).gather(kind),
            "closing_code": closing,
            "grade": grade.astype(np.int32),
            "arrived_s": pl.Series(arrived).set(pl.Series(arrived < 0), None),
            "closed_s": closed,
            "asb_type": pl.Series([t.asb_type or None for t in types], dtype=pl.String).gather(
                kind
            ),
            "location_id": location,
            "local_authority_code": place["local_authority_code"],
            "lsoa_code": place["lsoa_code"],
            "crime_id": pl.Series(crime_id).set(pl.Series(crime_id < 0), None),
            "narrative": _narrative(world, rng, kind, linked, persons, location, vehicle),
        }
    ).filter(pl.Series(keep))
    incident_person = persons.filter(pl.col("keep")).drop("keep")
    world.people.mark(incident_person["person_idx"].to_numpy())
    return IncidentBlock(
        incident=incident,
        incident_person=incident_person.with_columns(person_id=pl.col("person_idx") + 1).select(
            "incident_id", "person_id", "role"
        ),
        incident_vehicle=incident_vehicle.select(
            "incident_id", vehicle_id=pl.col("vehicle_idx") + 1
        ),
    )


def _response(
    rng: np.random.Generator, grade: IntArray, urban: np.ndarray, reported: IntArray
) -> tuple[IntArray, IntArray]:
    """Arrival (-1 = nobody attended) and closing times by grade."""
    n = len(grade)
    travel = np.select(
        [grade == 1, grade == 2, grade == 3],
        [
            lognormal(rng, np.where(urban, 9.0, 13.0) * MINUTE, 0.45, n),
            lognormal(rng, 32.0 * MINUTE, 0.6, n),
            lognormal(rng, 6.0 * HOUR, 0.9, n),
        ],
        default=0.0,
    )
    appointment = (rng.integers(1, 6, n) * DAY + rng.integers(9, 18, n) * HOUR).astype(np.float64)
    travel = np.where(grade == 4, appointment, travel)
    cancelled = (grade <= 3) & (rng.random(n) < 0.04)
    attended = (grade <= 4) & ~cancelled
    arrived = np.where(attended, reported + (travel // MINUTE).astype(np.int64) * MINUTE, -1)
    on_scene = (lognormal(rng, 50.0 * MINUTE, 0.7, n) // MINUTE).astype(np.int64) * MINUTE
    handled = (lognormal(rng, np.where(grade == 5, 40.0, 20.0) * MINUTE, 0.8, n) // MINUTE).astype(
        np.int64
    )
    closed = np.where(attended, arrived + on_scene, reported + np.maximum(1, handled) * MINUTE)
    return arrived.astype(np.int64), closed.astype(np.int64)


def _closing_codes(
    world: World, rng: np.random.Generator, kind: IntArray, linked: np.ndarray
) -> pl.Series:
    types = world.ref.incident_types
    labels = sorted({c for t in types for c, _ in t.closing} | {"CRIME_RECORDED"})
    cumulative = mix_matrix([t.closing for t in types], labels)
    closing = pl.Series(labels).gather(choose_rows(rng, cumulative, kind))
    return closing.set(pl.Series(linked), "CRIME_RECORDED")


def _people(
    world: World,
    rng: np.random.Generator,
    la_idx: int,
    kind: IntArray,
    linked: np.ndarray,
    calls: pl.DataFrame,
    incident_id: IntArray,
    keep: np.ndarray,
) -> pl.DataFrame:
    """incident_person rows (with person indices) — callers, victims, suspects, subjects."""
    types = world.ref.incident_types
    people = world.people
    n = len(kind)
    n_linked = calls.height
    victim = np.full(n, -1, dtype=np.int64)
    suspect = np.full(n, -1, dtype=np.int64)
    victim[:n_linked] = calls["victim_idx"].to_numpy()
    suspect[:n_linked] = np.where(rng.random(n_linked) < 0.5, calls["suspect_idx"].to_numpy(), -1)
    code = np.array([t.code for t in types])[kind]
    domestic = ~linked & (code == "DOMESTIC_INCIDENT")
    victim[domestic] = people.pool(la_idx, "domestic").draw(rng, int(domestic.sum()))
    person_rate = np.array([t.person_rate for t in types])[kind]
    caller = np.where(rng.random(n) < person_rate, people.pool(la_idx, "any").draw(rng, n), -1)
    victim_calls = (victim >= 0) & (rng.random(n) < 0.5)
    caller[victim_calls] = victim[victim_calls]
    subject_p = np.array([_SUBJECT_TYPES.get(t.code, 0.0) for t in types])[kind]
    wants_subject = rng.random(n) < subject_p
    offender_subject = np.isin(code, ["ASB_PERSONAL", "ASB_NUISANCE", "PRE_PLANNED_EVENT"])
    subject = np.where(
        wants_subject,
        np.where(
            offender_subject,
            people.pool(la_idx, "offender").draw(rng, n),
            people.pool(la_idx, "any").draw(rng, n),
        ),
        -1,
    )
    abuser = np.where(domestic & (victim >= 0), people.partner[np.maximum(victim, 0)], -1)
    subject = np.where(abuser >= 0, abuser, subject)
    frames = [
        pl.DataFrame({"row": np.arange(n), "person_idx": who, "role": role})
        for who, role in (
            (caller, "caller"),
            (victim, "victim"),
            (suspect, "suspect"),
            (subject, "subject"),
        )
    ]
    rows = pl.concat(frames).filter(pl.col("person_idx") >= 0)  # at most one per role and row
    row = rows["row"].to_numpy()
    return rows.with_columns(incident_id=pl.Series(incident_id[row]), keep=pl.Series(keep[row]))


def _narrative(
    world: World,
    rng: np.random.Generator,
    kind: IntArray,
    linked: np.ndarray,
    persons: pl.DataFrame,
    location: IntArray,
    vehicle: IntArray,
) -> pl.Series:
    texts = world.ref.texts.narrative
    groups = list(texts)
    category = np.array([t.category for t in world.ref.incident_types])[kind]
    category = np.where(linked, "crime", category)
    group = pl.Series(category).replace_strict(
        {g: i for i, g in enumerate(groups)}, return_dtype=pl.Int64
    )
    n = len(kind)

    def person(role: str, fallback: str) -> pl.Series:
        who = np.full(n, -1, dtype=np.int64)
        sel = persons.filter(pl.col("role") == role)
        who[sel["row"].to_numpy()] = sel["person_idx"].to_numpy()
        names = world.people.full_names(np.maximum(who, 0))
        show = (who >= 0) & (rng.random(n) < NAME_SHARE)
        return names.set(pl.Series(~show), fallback)

    any_vehicle = np.where(vehicle >= 0, vehicle, world.vehicles.draw(rng, n))
    slots = pl.DataFrame(
        {
            "caller": person("caller", "the caller"),
            "subject": person("subject", "a male"),
            "address": world.place_column("address", location),
            "street": world.place_column("street", location),
            "town": world.place_column("town", location),
            "vrm": world.vehicles.vrm.gather(any_vehicle),
        }
    )
    return TemplateSet.of([texts[g] for g in groups]).render(rng, group.to_numpy(), slots)
