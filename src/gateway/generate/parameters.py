"""What a generated warehouse is made from: seed, years, scale and the last month covered.

The same parameters (and generator version) always give the same warehouse contents.

Example:
    >>> p = GenerationParameters.checked(seed=7, years=2, scale=0.05, end_month="2026-10")
    >>> p.months[0], p.months[-1], len(p.months)
    ((2024, 11), (2026, 10), 24)
    >>> p.period_start.isoformat(), p.period_end.isoformat()
    ('2024-11-01T00:00:00', '2026-11-01T00:00:00')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.errors import ParameterError

__all__ = [
    "CRIMES_PER_YEAR",
    "CUSTODY_PER_YEAR",
    "GENERATOR_VERSION",
    "INCIDENTS_PER_YEAR",
    "INTELLIGENCE_PER_YEAR",
    "GenerationParameters",
]

GENERATOR_VERSION = "2"
"""Bumped whenever the same parameters would produce different contents."""

CRIMES_PER_YEAR = 70_000
INCIDENTS_PER_YEAR = 200_000
CUSTODY_PER_YEAR = 25_000
INTELLIGENCE_PER_YEAR = 12_000

MAX_YEARS = 50
MAX_CRIMES = 200_000_000
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class GenerationParameters:
    """Inputs of one generation run.

    Attributes:
        seed: random seed (0 ≤ seed < 2**63).
        years: number of years covered (the ``years * 12`` months ending with ``end_month``).
        scale: multiple of the real force's annual volumes (~70k crimes, ~200k incidents,
            ~25k custody records); addresses and people scale with it too.
        end_month: last month covered, ``YYYY-MM``.
    """

    seed: int = 2026
    years: int = 3
    scale: float = 1.0
    end_month: str = "2026-10"

    @classmethod
    def checked(
        cls, *, seed: int = 2026, years: int = 3, scale: float = 1.0, end_month: str = "2026-10"
    ) -> GenerationParameters:
        """Validated parameters.

        Raises:
            ParameterError: a value is out of range or malformed (one-line message).
        """
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ParameterError(f"seed must be an integer from 0 to 2**63-1, got {seed!r}")
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
            raise ParameterError(f"years must be an integer from 1 to {MAX_YEARS}, got {years!r}")
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ParameterError(f"scale must be a number, got {scale!r}")
        if not math.isfinite(scale) or scale <= 0:
            raise ParameterError(f"scale must be greater than 0, got {scale!r}")
        if CRIMES_PER_YEAR * scale * years > MAX_CRIMES:
            raise ParameterError(
                f"scale {scale} over {years} years would make more than {MAX_CRIMES:,} crimes"
            )
        match = _MONTH.match(end_month) if isinstance(end_month, str) else None
        if not match or not 1 <= int(match.group(2)) <= 12 or not int(match.group(1)) >= 1900:
            raise ParameterError(f"end month must look like 2026-10, got {end_month!r}")
        return cls(seed=seed, years=years, scale=float(scale), end_month=end_month)

    @property
    def months(self) -> tuple[tuple[int, int], ...]:
        """``(year, month)`` of every month covered, oldest first."""
        year, month = (int(p) for p in self.end_month.split("-"))
        last = year * 12 + month - 1
        first = last - self.years * 12 + 1
        return tuple((m // 12, m % 12 + 1) for m in range(first, last + 1))

    @property
    def period_start(self) -> datetime:
        year, month = self.months[0]
        return datetime(year, month, 1)

    @property
    def period_end(self) -> datetime:
        """The first instant after the period (exclusive end)."""
        year, month = self.months[-1]
        return datetime(year + month // 12, month % 12 + 1, 1)

    def to_info(self) -> dict[str, str]:
        """Key/value form stored in the warehouse's ``warehouse_info`` table."""
        return {
            "generator_version": GENERATOR_VERSION,
            "seed": str(self.seed),
            "years": str(self.years),
            "scale": repr(self.scale),
            "end_month": self.end_month,
        }

    @classmethod
    def from_info(cls, info: Mapping[str, str]) -> GenerationParameters:
        """Inverse of :meth:`to_info` (``KeyError``/``ValueError`` when not ours)."""
        return cls(
            seed=int(info["seed"]),
            years=int(info["years"]),
            scale=float(info["scale"]),
            end_month=info["end_month"],
        )

    def describe(self) -> str:
        """``seed 7, 2 years to 2026-10, scale 0.05``."""
        plural = "year" if self.years == 1 else "years"
        return f"seed {self.seed}, {self.years} {plural} to {self.end_month}, scale {self.scale:g}"
