"""Synthetic vehicles with current-format UK registration marks (``NV21 ABC``).

A mark is a two-letter memory tag (mostly North East "N…" tags), a two-digit age identifier
(March: the year, e.g. 21; September: year + 50, e.g. 71) and three random letters (never I or
Q). Marks are unique. Like people, vehicles are only written when something links to them.

Example:
    >>> from gateway.generate.reference import load_reference
    >>> fleet = build_vehicles(load_reference(), seed=7, count=1000, reference_year=2026)
    >>> vrm = fleet.table(np.arange(3))["vrm"].to_list()[0]
    >>> len(vrm), vrm[4]
    (8, ' ')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from gateway.generate.randomness import IntArray, WeightedPicker, pareto_weights, stream
from gateway.generate.reference import ReferenceData

__all__ = ["Vehicles", "build_vehicles"]

_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # no I or Q


@dataclass(frozen=True)
class Vehicles:
    """All vehicles; ``vehicle_id`` = index + 1."""

    vrm: pl.Series
    make: pl.Series
    model: pl.Series
    colour: pl.Series
    vehicle_type: pl.Series
    picker: WeightedPicker
    used: npt.NDArray[np.bool_] = field(repr=False)

    def __len__(self) -> int:
        return len(self.vrm)

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        return self.picker.draw(rng, n)

    def mark(self, idx: IntArray) -> None:
        self.used[idx] = True

    def table(self, idx: IntArray) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "vehicle_id": idx + 1,
                "vrm": self.vrm.gather(idx),
                "make": self.make.gather(idx),
                "model": self.model.gather(idx),
                "colour": self.colour.gather(idx),
                "vehicle_type": self.vehicle_type.gather(idx),
            }
        )


def build_vehicles(ref: ReferenceData, *, seed: int, count: int, reference_year: int) -> Vehicles:
    """Draw ``count`` vehicles registered up to ``reference_year``."""
    rng = stream(seed, "vehicles")
    models = ref.vehicles
    model = WeightedPicker([m.weight for m in models]).draw(rng, count)
    colour = WeightedPicker(list(ref.colour_weights)).draw(rng, count)

    local = [t for t in ref.memory_tags if t.startswith("N")]
    other = [t for t in ref.memory_tags if not t.startswith("N")]
    tags = pl.Series(local + other)
    tag = tags.gather(
        np.where(
            rng.random(count) < ref.local_tag_share,
            rng.integers(0, len(local), count),
            len(local) + rng.integers(0, len(other), count),
        )
    )
    # Age: mean about nine years; registered in March (yy) or September (yy + 50).
    age = np.clip(rng.gamma(2.0, 4.5, count), 0.0, reference_year - 2002)
    year = (reference_year - np.floor(age)).astype(np.int64)
    september = rng.random(count) < 0.5
    age_id = np.where(september, year % 100 + 50, year % 100)

    letters = rng.integers(0, len(_LETTERS), (count, 3))
    vrm = _marks(tag, age_id, letters)
    for _ in range(50):
        redo = np.flatnonzero((~vrm.is_first_distinct()).to_numpy())
        if not len(redo):
            break
        letters[redo] = rng.integers(0, len(_LETTERS), (len(redo), 3))
        vrm = _marks(tag, age_id, letters)

    return Vehicles(
        vrm=vrm,
        make=pl.Series([m.make for m in models]).gather(model),
        model=pl.Series([m.model for m in models]).gather(model),
        colour=pl.Series(list(ref.colours)).gather(colour),
        vehicle_type=pl.Series([m.vehicle_type for m in models]).gather(model),
        picker=WeightedPicker(pareto_weights(stream(seed, "vehicle_appeal"), count, 2.5)),
        used=np.zeros(count, dtype=bool),
    )


def _marks(tag: pl.Series, age_id: IntArray, letters: IntArray) -> pl.Series:
    alphabet = pl.Series(list(_LETTERS))
    return (
        tag
        + pl.Series(age_id).cast(pl.String).str.zfill(2)
        + " "
        + alphabet.gather(letters[:, 0])
        + alphabet.gather(letters[:, 1])
        + alphabet.gather(letters[:, 2])
    )
