"""Turning hour-of-week profiles into timestamps inside a month.

Times are int64 seconds since 1970-01-01 (naive local time, as a warehouse stores them), at
minute resolution; the writer converts them to TIMESTAMP.

Example:
    >>> from gateway.generate.randomness import stream
    >>> calendar = WeekCalendar.of(("night_out",))
    >>> seconds = calendar.sample(stream(1, "t"), 2026, 7, np.zeros(500, dtype=np.int64))
    >>> days = (seconds // 86400 + 3) % 7  # 0 = Monday
    >>> hours = seconds % 86400 // 3600
    >>> weekend_nights = ((days >= 4) & ((hours >= 20) | (hours < 4))).mean()
    >>> bool(weekend_nights > 0.35)
    True
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gateway.generate.profiles import hour_of_week
from gateway.generate.randomness import FloatArray, IntArray, choose_rows

__all__ = ["DAY", "HOUR", "MINUTE", "WeekCalendar", "epoch_seconds", "month_bounds"]

MINUTE = 60
HOUR = 3600
DAY = 86400
_EPOCH = datetime(1970, 1, 1)


def epoch_seconds(moment: datetime) -> int:
    """Seconds since 1970-01-01 of a naive datetime.

    Example:
        >>> epoch_seconds(datetime(1970, 1, 2))
        86400
    """
    return int((moment - _EPOCH).total_seconds())


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """``(first second, first second of the next month)`` of a month."""
    start = epoch_seconds(datetime(year, month, 1))
    return start, start + monthrange(year, month)[1] * DAY


@dataclass(frozen=True)
class WeekCalendar:
    """Cumulative hour-of-week weights for a fixed list of profile names (row = profile)."""

    names: tuple[str, ...]
    cumulative: FloatArray  # (profiles, 168)

    @classmethod
    def of(cls, names: Sequence[str]) -> WeekCalendar:
        weights = np.array([hour_of_week(n).reshape(-1) for n in names])
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        return cls(tuple(names), cumulative)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def sample(
        self, rng: np.random.Generator, year: int, month: int, profile: IntArray
    ) -> IntArray:
        """One timestamp in the month for each row, by that row's profile."""
        n = len(profile)
        cell = choose_rows(rng, self.cumulative, profile)
        weekday, hour = cell // 24, cell % 24
        start, end = month_bounds(year, month)
        days_in_month = (end - start) // DAY
        first_weekday = datetime(year, month, 1).weekday()
        first_day = (weekday - first_weekday) % 7
        count = (days_in_month - first_day + 6) // 7
        day = first_day + 7 * np.floor(rng.random(n) * count).astype(np.int64)
        minute = rng.integers(0, 60, n)
        return np.asarray(start + day * DAY + hour * HOUR + minute * MINUTE, dtype=np.int64)
