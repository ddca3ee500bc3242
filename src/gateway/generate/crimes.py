"""Recorded crimes for one authority and a run of months, with everything hanging off them.

For each month and offence code the count is Poisson with mean = the authority's monthly
volume × the code's share × its seasonal factor. Each crime then gets, in whole-array steps:
when it happened (hour-of-week profile of the code) and when it was recorded (report lag);
domestic-abuse and hate flags; a victim (heavy-tailed: repeat victims), a suspect (domestic
abuse: the victim's abuser; otherwise a heavy-tailed draw of known offenders: prolific
offenders); where (the victim's home for home offences, else a weighted place for the code's
setting: hotspots); an outcome with its date; property, vehicles, witnesses; and a modus
operandi that sometimes names the victim or the address.

It also returns the seeds of what follows from a crime: the arrests (for ``custody``) and the
calls that reported it (for ``incidents``).

Example:
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.02))
    >>> block = crime_block(world, la_idx=1, months=world.params.months[:2], first_id=1)
    >>> set(block.crime["local_authority_code"].to_list())
    {'E06000002'}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from gateway.generate.crime_details import modus_operandi, stolen_property
from gateway.generate.profiles import season
from gateway.generate.randomness import (
    IntArray,
    choose_rows,
    lognormal,
    mix_matrix,
    stream,
)
from gateway.generate.timing import DAY, HOUR, MINUTE, WeekCalendar, month_bounds
from gateway.generate.world import SETTINGS, World

__all__ = ["INCIDENT_LINK", "CrimeBlock", "crime_block"]

_LAG_MEDIAN = {"prompt": 25 * MINUTE, "same_day": 3 * HOUR, "slow": 2 * DAY, "historic": 60 * DAY}
_LAG_SIGMA = {"prompt": 1.0, "same_day": 1.0, "slow": 1.2, "historic": 1.5}
_SOLVABILITY = ("high", "medium", "low")
INCIDENT_LINK = {
    "violent-crime": 0.7,
    "robbery": 0.85,
    "burglary": 0.8,
    "vehicle-crime": 0.5,
    "bicycle-theft": 0.35,
    "shoplifting": 0.45,
    "theft-from-the-person": 0.6,
    "other-theft": 0.4,
    "criminal-damage-arson": 0.55,
    "drugs": 0.2,
    "possession-of-weapons": 0.7,
    "public-order": 0.75,
    "other-crime": 0.4,
}
_COURT = frozenset({"awaiting-court-result", "sent-to-crown-court"})


@dataclass(frozen=True)
class CrimeBlock:
    crime: pl.DataFrame  # catalog columns + sort key ``recorded_s``
    crime_person: pl.DataFrame
    crime_vehicle: pl.DataFrame
    property: pl.DataFrame
    arrests: pl.DataFrame  # crime_id, person, ho_offence_code, arrested_s, location_id, outcome
    calls: (
        pl.DataFrame
    )  # crime_id, reported_s, location_id, category, domestic, victim, suspect, vehicle


def crime_block(
    world: World, *, la_idx: int, months: Sequence[tuple[int, int]], first_id: int
) -> CrimeBlock:
    """All crimes committed in ``months`` in one authority (recorded within the period)."""
    ref = world.ref
    offences = ref.offences
    rng = stream(world.params.seed, "crime", la_idx, months[0][0] * 12 + months[0][1])
    calendar = WeekCalendar.of(sorted({o.time_profile for o in offences}))
    profile_of = np.array([calendar.index(o.time_profile) for o in offences])
    share = np.array([o.weight for o in offences])
    share = share / share.sum()

    # 1. How many of each offence, when committed, when recorded.
    code_parts, time_parts = [], []
    for year, month in months:
        start, end = month_bounds(year, month)
        days = (end - start) / DAY
        factor = np.array([season(o.season)[month - 1] for o in offences]) * days / 30.4375
        counts = rng.poisson(world.volumes.crimes[la_idx] * share * factor)
        codes = np.repeat(np.arange(len(offences)), counts)
        code_parts.append(codes)
        time_parts.append(calendar.sample(rng, year, month, profile_of[codes]))
    code = np.concatenate(code_parts)
    event = np.concatenate(time_parts)
    n = len(code)
    window = np.array([o.window_hours for o in offences])[code] * HOUR * rng.uniform(0.3, 1.0, n)
    window = (window // MINUTE) * MINUTE
    lag_kind = np.array([o.report_lag for o in offences])[code]
    lag = np.zeros(n)
    for kind, median in _LAG_MEDIAN.items():
        sel = lag_kind == kind
        lag[sel] = lognormal(rng, median, _LAG_SIGMA[kind], int(sel.sum()))
    lag = np.maximum(MINUTE, (lag // MINUTE) * MINUTE).astype(np.int64)
    historic = lag_kind == "historic"
    before = rng.random(n)
    window = window.astype(np.int64)
    committed_from = np.where(
        historic,
        event - lag - window,
        event - (before * window // MINUTE).astype(np.int64) * MINUTE,
    )
    committed_to = committed_from + window
    recorded = np.where(historic, event, committed_to + lag)
    keep = (recorded >= world.start_second) & (recorded < world.end_second)
    code, committed_from, committed_to, recorded = (
        code[keep],
        committed_from[keep],
        committed_to[keep],
        recorded[keep],
    )
    n = len(code)
    crime_id = np.arange(first_id, first_id + n, dtype=np.int64)

    # 2. Flags, victims, suspects.
    attr = _attributes(world)
    domestic = rng.random(n) < attr["domestic_rate"][code]
    hate = rng.random(n) < attr["hate_rate"][code]
    has_victim = (rng.random(n) < attr["victim_rate"][code]) | domestic
    victim = np.full(n, -1, dtype=np.int64)
    pools = sorted({o.victim_kind for o in offences} | {"domestic"})
    kind_of = np.array([pools.index(o.victim_kind) for o in offences])
    pool = np.where(domestic, pools.index("domestic"), kind_of[code])
    for p in np.unique(pool[has_victim]):
        sel = np.flatnonzero(has_victim & (pool == p))
        victim[sel] = world.people.pool(la_idx, pools[p]).draw(rng, len(sel))
    suspect_rate = np.where(
        domestic, np.maximum(attr["suspect_rate"][code], 0.9), attr["suspect_rate"][code]
    )
    has_suspect = rng.random(n) < suspect_rate
    suspect = np.full(n, -1, dtype=np.int64)
    suspect[has_suspect] = world.people.pool(la_idx, "offender").draw(rng, int(has_suspect.sum()))
    abuser = np.where(victim >= 0, world.people.partner[np.maximum(victim, 0)], -1)
    use_abuser = has_suspect & domestic & (abuser >= 0)
    suspect[use_abuser] = abuser[use_abuser]

    # 3. Where.
    setting_cum = mix_matrix([o.setting for o in offences], SETTINGS)
    setting = choose_rows(rng, setting_cum, code)
    location = np.zeros(n, dtype=np.int64)
    for s, name in enumerate(SETTINGS):
        sel = np.flatnonzero(setting == s)
        location[sel] = world.locations(la_idx, name).draw(rng, len(sel))
    home_of_victim = np.where(victim >= 0, world.people.home_location_id[np.maximum(victim, 0)], 0)
    at_home = (setting == SETTINGS.index("home")) & (home_of_victim > 0)
    location[at_home] = home_of_victim[at_home]

    # 4. Outcome.
    outcome, outcome_s, offender_named = _outcomes(world, rng, code, recorded, has_suspect)

    # 5. The crime rows.
    place = world.places.frame[location - 1]
    offence_codes = pl.Series([o.code for o in offences])
    yy = pl.from_epoch(pl.Series(recorded), time_unit="s").dt.year() % 100
    crime = pl.DataFrame(
        {
            "crime_id": crime_id,
            "crime_ref": "CL/"
            + pl.Series(crime_id).cast(pl.String).str.zfill(7)
            + "/"
            + yy.cast(pl.String).str.zfill(2),
            "recorded_s": recorded,
            "committed_from_s": committed_from,
            "committed_to_s": committed_to,
            "ho_offence_code": offence_codes.gather(code),
            "offence_description": pl.Series([o.description for o in offences]).gather(code),
            "police_uk_category": pl.Series([o.category for o in offences]).gather(code),
            "location_id": location,
            "local_authority_code": place["local_authority_code"],
            "lsoa_code": place["lsoa_code"],
            "ward_code": place["ward_code"],
            "neighbourhood_code": place["neighbourhood_code"],
            "domestic_abuse": domestic,
            "hate_crime": hate,
            "outcome": outcome,
            "outcome_s": outcome_s,
        }
    )

    # 6. People, property, vehicles linked to the crimes.
    witness = np.where(rng.random(n) < 0.12, world.people.pool(la_idx, "any").draw(rng, n), -1)
    crime_person = _crime_person(crime_id, victim, suspect, offender_named, witness)
    world.people.mark(crime_person["person_idx"].to_numpy())
    vehicle = np.where(rng.random(n) < attr["vehicle_rate"][code], world.vehicles.draw(rng, n), -1)
    roles = pl.Series([o.vehicle_role for o in offences]).gather(code)
    crime_vehicle = pl.DataFrame(
        {"crime_id": crime_id, "vehicle_idx": vehicle, "role": roles}
    ).filter(pl.col("vehicle_idx") >= 0)
    world.vehicles.mark(crime_vehicle["vehicle_idx"].to_numpy())
    prop, first_item = stolen_property(world, rng, crime_id, code, victim, location)

    crime = crime.with_columns(
        modus_operandi=modus_operandi(world, rng, crime, victim, suspect, vehicle, first_item)
    )

    # 7. What follows: arrests and the calls that reported the crimes.
    arrest_p = np.minimum(
        1.0, attr["arrest_rate"][code] / np.maximum(attr["suspect_rate"][code], 1e-9)
    )
    arrested = has_suspect & (rng.random(n) < arrest_p)
    # At the scene shortly after a promptly reported crime, or days after it was recorded
    # (never before the crime's month began: records are written in time order).
    at_scene = (lag_kind[keep] == "prompt") & (rng.random(n) < 0.6)
    arrested_at = np.where(
        at_scene,
        committed_to + (lognormal(rng, 40 * MINUTE, 0.8, n) // MINUTE).astype(np.int64) * MINUTE,
        recorded + (lognormal(rng, 3 * DAY, 1.2, n) // MINUTE).astype(np.int64) * MINUTE,
    )
    suspect_home = np.where(suspect >= 0, world.people.home_location_id[np.maximum(suspect, 0)], 0)
    arrest_place = np.where((rng.random(n) < 0.4) & (suspect_home > 0), suspect_home, location)
    arrests = pl.DataFrame(
        {
            "crime_id": crime_id,
            "person_idx": suspect,
            "ho_offence_code": crime["ho_offence_code"],
            "arrested_s": arrested_at,
            "location_id": arrest_place,
            "outcome": outcome,
        }
    ).filter(pl.Series(arrested))
    category = crime["police_uk_category"]
    link_p = category.replace_strict(INCIDENT_LINK, default=0.3, return_dtype=pl.Float64).to_numpy()
    link_p = np.where(historic[keep], 0.2, link_p)
    called = rng.random(n) < link_p
    reported = (
        committed_to
        + ((recorded - committed_to) * rng.uniform(0.1, 0.9, n) // MINUTE).astype(np.int64) * MINUTE
    )
    reported = np.where(historic[keep], recorded, reported)  # a historic report is the call itself
    calls = pl.DataFrame(
        {
            "crime_id": crime_id,
            "reported_s": reported,
            "location_id": location,
            "category": category,
            "domestic": domestic,
            "victim_idx": victim,
            "suspect_idx": suspect,
            "vehicle_idx": vehicle,
        }
    ).filter(pl.Series(called))
    return CrimeBlock(
        crime=crime,
        crime_person=crime_person.drop("person_idx"),
        crime_vehicle=crime_vehicle.with_columns(vehicle_id=pl.col("vehicle_idx") + 1).drop(
            "vehicle_idx"
        ),
        property=prop,
        arrests=arrests,
        calls=calls,
    )


def _attributes(world: World) -> dict[str, np.ndarray]:
    offences = world.ref.offences
    names = (
        "domestic_rate",
        "hate_rate",
        "victim_rate",
        "suspect_rate",
        "arrest_rate",
        "vehicle_rate",
    )
    return {name: np.array([getattr(o, name) for o in offences]) for name in names}


def _outcomes(
    world: World,
    rng: np.random.Generator,
    code: IntArray,
    recorded: IntArray,
    has_suspect: np.ndarray,
) -> tuple[pl.Series, pl.Series, np.ndarray]:
    """Latest outcome, when it was recorded (null while open), and whether an offender is named.

    Whether a crime ends in a charge or summons is calibrated per police.uk category to the Home
    Office outcome statistics (``outcome_rates.csv``): a crime with a suspect is charged with
    probability ``rate / suspect_rate`` of its offence, so the category's share of charged
    crimes is ``rate`` whatever its suspect rate. The charge outcome (court result) and the
    other outcomes (evidential difficulties, cautions, local resolutions …) are then drawn from
    the solvability mixes of ``outcomes.csv``.
    """
    offences, outcomes = world.ref.offences, world.ref.outcomes
    n = len(code)
    codes = [o.code for o in outcomes]
    categories = sorted({o.category for o in offences})

    def mixes(charge: bool) -> list[tuple[tuple[str, float], ...]]:
        """One weighted choice per (solvability, category): outcomes that need a suspect."""
        return [
            tuple(
                (
                    o.code,
                    o.weights[s]
                    if o.requires_suspect
                    and o.charge_summons == charge
                    and (not o.categories or c in o.categories)
                    else 0.0,
                )
                for o in outcomes
            )
            for s in range(len(_SOLVABILITY))
            for c in categories
        ]

    key_of = np.array(
        [
            _SOLVABILITY.index(o.solvability) * len(categories) + categories.index(o.category)
            for o in offences
        ]
    )
    charge_given_suspect = np.array(
        [
            min(0.95, world.ref.charge_rates[o.category] / max(o.suspect_rate, 0.01))
            for o in offences
        ]
    )
    choice = np.full(n, codes.index("no-further-action"), dtype=np.int64)
    choice[~has_suspect & (rng.random(n) < 0.03)] = codes.index("status-update-unavailable")
    charged = has_suspect & (rng.random(n) < charge_given_suspect[code])
    for outcome_rows, charge in ((charged, True), (has_suspect & ~charged, False)):
        rows = np.flatnonzero(outcome_rows)
        choice[rows] = choose_rows(rng, mix_matrix(mixes(charge), codes), key_of[code[rows]])
    lag_days = np.array([o.lag_days for o in outcomes])[choice]
    lag = lognormal(rng, lag_days * DAY, 0.8, n)
    at = recorded + (lag // MINUTE).astype(np.int64) * MINUTE
    final = at < world.end_second
    court_pending = np.array([o.pending == "awaiting-court-result" for o in outcomes])[choice]
    charged_at = recorded + (lognormal(rng, 20 * DAY, 0.6, n) // MINUTE).astype(np.int64) * MINUTE
    awaiting = ~final & court_pending & (charged_at < world.end_second)
    shown = np.where(
        final,
        choice,
        np.where(
            awaiting, codes.index("awaiting-court-result"), codes.index("under-investigation")
        ),
    )
    label = pl.Series(codes).gather(shown)
    when = np.where(final, at, np.where(awaiting, charged_at, -1))
    offender_flag = np.array([o.offender for o in outcomes])[choice]
    named = has_suspect & ((final & offender_flag) | awaiting)
    outcome_s = pl.Series(when).set(pl.Series(when < 0), None)
    return label, outcome_s, named


def _crime_person(
    crime_id: IntArray, victim: IntArray, suspect: IntArray, named: np.ndarray, witness: IntArray
) -> pl.DataFrame:
    parts = [
        pl.DataFrame({"crime_id": crime_id, "person_idx": victim, "role": "victim"}),
        pl.DataFrame(
            {
                "crime_id": crime_id,
                "person_idx": suspect,
                "role": np.where(named, "offender", "suspect"),
            }
        ),
        pl.DataFrame({"crime_id": crime_id, "person_idx": witness, "role": "witness"}),
    ]
    return (
        pl.concat(parts)
        .filter(pl.col("person_idx") >= 0)
        .with_columns(person_id=pl.col("person_idx") + 1)
        .select("crime_id", "person_id", "role", "person_idx")
    )
