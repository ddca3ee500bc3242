"""Synthetic people: residents (victims, witnesses, callers) and known offenders, per authority.

People are held as compact arrays (indices into the shipped name lists) until they are written;
only people that some record links to are written to the ``person`` table. Who gets drawn is
heavy-tailed on purpose: a person's propensity to be victimised or to offend is Pareto
distributed, which gives the repeat victims and prolific offenders analysts look for.
Domestic-abuse victims are a subset of residents, each tied to one offender (their abuser).

Example:
    >>> from gateway.generate.geography import build_geography
    >>> from gateway.generate.places import build_places
    >>> from gateway.generate.randomness import stream
    >>> from gateway.generate.reference import load_reference
    >>> ref = load_reference()
    >>> geo = build_geography(ref, 7)
    >>> places = build_places(ref, geo, seed=7, scale=0.05)
    >>> people = build_people(ref, places, seed=7, residents=(500,) * 4, offenders=(200,) * 4,
    ...                       reference_day=20_000)
    >>> picks = people.pool(0, "offender").draw(stream(1, "x"), 1000)
    >>> bool(people.offender[picks].all())
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from gateway.generate.places import Places
from gateway.generate.randomness import (
    IntArray,
    WeightedPicker,
    choose_rows,
    pareto_weights,
    stream,
)
from gateway.generate.reference import ReferenceData

__all__ = ["GENDERS", "POOLS", "PROPENSITY", "People", "PersonPool", "build_people"]

GENDERS = ("male", "female", "unknown")
POOLS = ("any", "adult", "female", "male", "child", "female_child", "domestic", "offender")
"""Who a draw may pick: residents by kind (``any`` … ``female_child``), domestic-abuse victims,
or known offenders."""

# Pareto shape and cap of each pool's propensities: (alpha, cap). A capped person is drawn
# about cap / mean-weight times as often as the average member.
PROPENSITY = {
    "resident": (1.15, 80.0),  # repeat victimisation: a heavy tail
    "domestic": (1.1, 60.0),  # repeat domestic abuse: heavier still
    "offender": (0.9, 300.0),  # prolific offenders: heaviest
}
_PNC_CHECK = "ZABCDEFGHJKLMNPQRTUVWXY"


@dataclass(frozen=True)
class PersonPool:
    """Person indices of one pool in one authority, with their draw weights."""

    members: npt.NDArray[np.int32]
    picker: WeightedPicker

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        return self.members[self.picker.draw(rng, n)].astype(np.int64)


@dataclass(frozen=True)
class People:
    """Everyone the warehouse may mention; ``person_id`` = index + 1.

    ``used`` starts all False; the record generators mark whom they link to, and only those
    are written.
    """

    la_idx: npt.NDArray[np.int8]
    offender: npt.NDArray[np.bool_]
    gender: npt.NDArray[np.int8]
    birth_day: npt.NDArray[np.int32]  # days since 1970-01-01
    ethnicity: npt.NDArray[np.int8]
    forename: npt.NDArray[np.int16]
    surname: npt.NDArray[np.int16]
    home_location_id: npt.NDArray[np.int32]  # 0 = no fixed abode / not known
    partner: npt.NDArray[np.int32]  # domestic-abuse victims: index of their abuser, else -1
    forenames: pl.Series
    surnames: pl.Series
    ethnicity_codes: tuple[str, ...]
    pools: dict[tuple[int, str], PersonPool] = field(repr=False)
    used: npt.NDArray[np.bool_] = field(repr=False)

    def __len__(self) -> int:
        return len(self.la_idx)

    def pool(self, la_idx: int, name: str) -> PersonPool:
        return self.pools[(la_idx, name)]

    def full_names(self, idx: IntArray) -> pl.Series:
        """``"Forename Surname"`` for the given person indices."""
        return (
            self.forenames.gather(self.forename[idx])
            + " "
            + self.surnames.gather(self.surname[idx])
        )

    def mark(self, idx: IntArray) -> None:
        """Record that these people are linked to something written."""
        self.used[idx[idx >= 0]] = True

    def table(self, idx: IntArray) -> pl.DataFrame:
        """Rows of the ``person`` table for the given indices."""
        pnc_year = (self.birth_day[idx] // 365 + 1970 + 16 + (idx % 9)) % 100
        serial = (idx * 7919 + 104729) % 1_000_000
        number = pnc_year * 1_000_000 + serial
        check = pl.Series(list(_PNC_CHECK)).gather(number % 23)
        pnc = (
            pl.Series(pnc_year).cast(pl.String).str.zfill(2)
            + "/"
            + pl.Series(serial).cast(pl.String).str.zfill(6)
            + check
        )
        home = self.home_location_id[idx]
        return pl.DataFrame(
            {
                "person_id": idx + 1,
                "forename": self.forenames.gather(self.forename[idx]),
                "surname": self.surnames.gather(self.surname[idx]),
                "date_of_birth": pl.Series(self.birth_day[idx].astype("datetime64[D]")),
                "gender": pl.Series(GENDERS).gather(self.gender[idx]),
                "ethnicity": pl.Series(self.ethnicity_codes).gather(self.ethnicity[idx]),
                "home_location_id": pl.Series(home).set(pl.Series(home == 0), None),
                "pnc_id": pnc.set(pl.Series(~self.offender[idx]), None),
            }
        )


def build_people(
    ref: ReferenceData,
    places: Places,
    *,
    seed: int,
    residents: tuple[int, ...],
    offenders: tuple[int, ...],
    reference_day: int,
) -> People:
    """Draw ``residents[la]`` residents and ``offenders[la]`` offenders for each authority.

    Args:
        reference_day: the end of the period (days since 1970-01-01); ages are counted to it.
    """
    rng = stream(seed, "people")
    la_parts, offender_parts = [], []
    for la, (n_res, n_off) in enumerate(zip(residents, offenders, strict=True)):
        la_parts.append(np.full(n_res + n_off, la, dtype=np.int8))
        offender_parts.append(np.r_[np.zeros(n_res, dtype=bool), np.ones(n_off, dtype=bool)])
    la_idx = np.concatenate(la_parts)
    offender = np.concatenate(offender_parts)
    n = len(la_idx)

    gender = np.where(
        offender,
        np.where(rng.random(n) < 0.82, 0, 1),
        np.where(rng.random(n) < 0.49, 0, 1),
    ).astype(np.int8)
    gender[rng.random(n) < 0.005] = 2
    child = ~offender & (rng.random(n) < 0.12)
    age_years = np.where(
        offender,
        np.clip(12.0 + rng.gamma(2.2, 7.5, n), 12, 80),
        np.where(child, rng.uniform(4, 16, n), np.clip(16.0 + rng.gamma(2.0, 14.0, n), 16, 95)),
    )
    birth_day = (reference_day - age_years * 365.25 - rng.uniform(0, 365, n)).astype(np.int32)
    del age_years

    urban = np.isin(la_idx, [i for i, a in enumerate(ref.authorities) if a.short == "MB"])
    eth_w = np.array(
        [[e.weight for e in ref.ethnicities], [e.weight_urban for e in ref.ethnicities]]
    )
    eth_cum = np.cumsum(eth_w / eth_w.sum(axis=1, keepdims=True), axis=1)
    ethnicity = choose_rows(rng, eth_cum, urban.astype(np.int64)).astype(np.int8)
    forename, surname = _names(rng, ref, ethnicity, gender)

    home = np.zeros(n, dtype=np.int32)
    frame = places.frame
    for la in range(len(residents)):
        dwellings = frame.filter((pl.col("la_idx") == la) & (pl.col("location_type") == "dwelling"))
        ids = dwellings["location_id"].to_numpy()
        members = np.flatnonzero(la_idx == la)
        has_home = rng.random(len(members)) < np.where(offender[members], 0.88, 0.98)
        home[members[has_home]] = ids[rng.integers(0, len(ids), int(has_home.sum()))]

    partner = np.full(n, -1, dtype=np.int32)
    pools: dict[tuple[int, str], PersonPool] = {}
    adult = ~child & ~offender
    abused = adult & (rng.random(n) < np.where(gender == 1, 0.16, 0.04))
    for la in range(len(residents)):
        mine = la_idx == la
        resident = mine & ~offender
        domestic = resident & abused
        abusers = np.flatnonzero(mine & offender)
        partner[domestic] = abusers[rng.integers(0, len(abusers), int(domestic.sum()))]
        masks = {
            "any": resident,
            "adult": resident & adult,
            "female": resident & adult & (gender == 1),
            "male": resident & adult & (gender == 0),
            "child": resident & child,
            "female_child": resident & child & (gender == 1),
            "domestic": domestic,
            "offender": mine & offender,
        }
        for name, mask in masks.items():
            pool_members = np.flatnonzero(mask).astype(np.int32)
            alpha, cap = PROPENSITY.get(name, PROPENSITY["resident"])
            weights = pareto_weights(stream(seed, "pool", la, name), len(pool_members), alpha, cap)
            pools[(la, name)] = PersonPool(pool_members, WeightedPicker(weights))

    return People(
        la_idx=la_idx,
        offender=offender,
        gender=gender,
        birth_day=birth_day,
        ethnicity=ethnicity,
        forename=forename,
        surname=surname,
        home_location_id=home,
        partner=partner,
        forenames=pl.Series([f.name for f in ref.forenames]),
        surnames=pl.Series([s.name for s in ref.surnames]),
        ethnicity_codes=tuple(e.code for e in ref.ethnicities),
        pools=pools,
        used=np.zeros(n, dtype=bool),
    )


def _names(
    rng: np.random.Generator,
    ref: ReferenceData,
    ethnicity: npt.NDArray[np.int8],
    gender: npt.NDArray[np.int8],
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """Name group by ethnicity, then forename by group and gender, surname by group."""
    groups = sorted({g for e in ref.ethnicities for g, _ in e.name_groups})
    n = len(ethnicity)
    group_cum = np.zeros((len(ref.ethnicities), len(groups)))
    for i, e in enumerate(ref.ethnicities):
        for name, w in e.name_groups:
            group_cum[i, groups.index(name)] = w
    group_cum = np.cumsum(group_cum / group_cum.sum(axis=1, keepdims=True), axis=1)
    group = choose_rows(rng, group_cum, ethnicity.astype(np.int64))
    forename = np.zeros(n, dtype=np.int16)
    surname = np.zeros(n, dtype=np.int16)
    for g, group_name in enumerate(groups):
        for sex, sex_name in enumerate(GENDERS):
            rows = np.flatnonzero((group == g) & (gender == sex))
            options = [
                i
                for i, f in enumerate(ref.forenames)
                if f.group == group_name and (f.gender == sex_name or sex_name == "unknown")
            ]
            weights = np.array([ref.forenames[i].weight for i in options])
            forename[rows] = np.array(options)[WeightedPicker(weights).draw(rng, len(rows))]
        rows = np.flatnonzero(group == g)
        options = [i for i, s in enumerate(ref.surnames) if s.group == group_name]
        weights = np.array([ref.surnames[i].weight for i in options])
        surname[rows] = np.array(options)[WeightedPicker(weights).draw(rng, len(rows))]
    return forename, surname
