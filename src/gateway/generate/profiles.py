"""When things happen: hour-of-week profiles and monthly seasonality, as plain numbers.

An hour-of-week profile is a 7×24 matrix (Monday first, hour 0–23) of relative weights; the
generator draws the weekday and hour of each event from it. A season is 12 monthly factors with
mean 1 (January first).

Example:
    >>> night = hour_of_week("night_out")
    >>> saturday_1am, tuesday_1am = night[5, 1], night[1, 1]
    >>> bool(saturday_1am > 3 * tuesday_1am)
    True
    >>> round(float(season("summer").mean()), 6)
    1.0
"""

from __future__ import annotations

import numpy as np

from gateway.generate.randomness import FloatArray

__all__ = ["PROFILES", "SEASONS", "hour_of_week", "season"]

_HOURS = np.arange(24)


def _bumps(*peaks: tuple[float, float, float], floor: float = 0.05) -> FloatArray:
    """Sum of circular Gaussian bumps ``(hour, width, height)`` over 24 hours."""
    out = np.full(24, floor)
    for hour, width, height in peaks:
        distance = np.minimum(np.abs(_HOURS - hour), 24 - np.abs(_HOURS - hour))
        out = out + height * np.exp(-0.5 * (distance / width) ** 2)
    return out


def _weekly(hours: FloatArray, days: tuple[float, ...]) -> FloatArray:
    return np.outer(np.asarray(days), hours)


def _night_out() -> FloatArray:
    """Night-time economy: late evenings, Friday and Saturday above all (early hours count
    for the next calendar day)."""
    evening = _bumps((23.0, 2.2, 1.0), floor=0.08)
    evening_days = np.array([0.55, 0.6, 0.75, 1.0, 2.4, 2.8, 0.9])  # night starting Mon..Sun
    out = np.empty((7, 24))
    for day in range(7):
        for hour in range(24):
            night_of = day if hour >= 12 else (day - 1) % 7
            out[day, hour] = evening[hour] * evening_days[night_of]
    return out


PROFILES: dict[str, FloatArray] = {
    "night_out": _night_out(),
    "evening": _weekly(
        _bumps((17.5, 3.0, 1.0), (21.0, 2.0, 0.6), floor=0.06),
        (0.95, 0.95, 1.0, 1.0, 1.15, 1.25, 1.1),
    ),
    "daytime": _weekly(
        _bumps((11.0, 3.5, 1.0), (15.5, 2.5, 0.6), floor=0.05),
        (1.1, 1.1, 1.1, 1.05, 1.05, 0.8, 0.7),
    ),
    "night": _weekly(
        _bumps((1.5, 2.5, 1.0), (22.5, 1.5, 0.4), floor=0.1), (1.0, 1.0, 1.0, 1.0, 1.1, 1.15, 1.05)
    ),
    "home": _weekly(
        _bumps((20.5, 3.0, 1.0), (0.5, 2.0, 0.5), floor=0.1),
        (0.95, 0.9, 0.9, 0.95, 1.05, 1.3, 1.35),
    ),
    "shop": _weekly(
        _bumps((13.0, 3.0, 1.0), (16.5, 1.5, 0.5), floor=0.01), (1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 0.8)
    ),
    "burglary": _weekly(
        _bumps((8.5, 1.5, 0.7), (18.0, 2.5, 1.0), (2.0, 2.0, 0.4), floor=0.08),
        (1.0, 1.0, 1.0, 1.0, 1.05, 1.0, 0.95),
    ),
    "commute": _weekly(
        _bumps((8.0, 1.2, 1.0), (17.0, 1.5, 1.1), floor=0.12), (1.1, 1.1, 1.1, 1.1, 1.15, 0.75, 0.6)
    ),
    "arrest": _weekly(
        _bumps((15.0, 4.0, 1.0), (22.0, 2.5, 0.7), floor=0.15), (1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.1)
    ),
    "flat": _weekly(_bumps((14.0, 5.0, 1.0), floor=0.3), (1.0,) * 7),
}

_SEASONS = {
    "summer": [0.86, 0.85, 0.94, 0.98, 1.06, 1.12, 1.16, 1.13, 1.02, 1.0, 0.96, 0.92],
    "winter": [1.1, 1.0, 0.95, 0.9, 0.87, 0.84, 0.87, 0.92, 0.97, 1.1, 1.2, 1.28],
    "xmas": [0.94, 0.92, 1.0, 0.97, 1.0, 0.97, 0.98, 0.98, 0.97, 1.02, 1.08, 1.17],
    "autumn": [0.9, 0.87, 0.95, 1.0, 1.03, 0.98, 1.02, 1.0, 0.98, 1.12, 1.26, 0.89],
    "flat": [1.0] * 12,
}
SEASONS: dict[str, FloatArray] = {k: np.asarray(v) / np.mean(v) for k, v in _SEASONS.items()}


def hour_of_week(name: str) -> FloatArray:
    """The 7×24 weight matrix of a named profile (``KeyError`` if unknown)."""
    return PROFILES[name]


def season(name: str) -> FloatArray:
    """Twelve monthly factors (January first) with mean 1 (``KeyError`` if unknown)."""
    return SEASONS[name]
