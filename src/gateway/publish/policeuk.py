"""The police.uk street-level CSV: its exact layout and how a warehouse row becomes a line.

Pure: no I/O. The layout (DOMAIN.md)::

    Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,
    Crime type,Last outcome category,Context

- **Crime ID**: 64 hex characters, a keyed hash (HMAC-SHA-256) of the warehouse crime id —
  persistent (the same crime keeps its id from month to month) but not reversible without
  the deployment's key; empty for anti-social behaviour.
- **Month**: ``YYYY-MM`` only.
- **Longitude/Latitude**: the anonymous map point (WGS84, 6 decimals), never the place.
- **Location**: ``On or near <map point name>``; **LSOA**: the one the map point is in.
- **Crime type**: police.uk's category label; **Last outcome category**: the outcome label
  (empty for anti-social behaviour); **Context**: empty. The labels are the catalog's
  (:mod:`gateway.catalog.police_uk`), the ones the generator writes.

Example:
    >>> month_bounds("2026-03")
    (datetime.datetime(2026, 3, 1, 0, 0), datetime.datetime(2026, 4, 1, 0, 0))
    >>> crime_id_hash(b"k", 42)[:16], len(crime_id_hash(b"k", 42))
    ('87ada2e845b80857', 64)
    >>> location_text("Linthorpe Road")
    'On or near Linthorpe Road'
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from gateway.catalog.police_uk import CATEGORY_LABELS, MIN_ADDRESSES, OUTCOME_LABELS
from gateway.errors import ConfigurationError, ParameterError

__all__ = [
    "HEADER",
    "StreetRecord",
    "category_label",
    "crime_id_hash",
    "location_text",
    "month_bounds",
    "outcome_label",
    "point_publishable",
]

HEADER = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``[first instant, first instant of the next month)`` of ``YYYY-MM``.

    Raises:
        ParameterError: not a ``YYYY-MM`` month.
    """
    found = _MONTH.match(str(month).strip())
    if found is None:
        raise ParameterError(f"month must be YYYY-MM (e.g. 2026-03), not {month!r}")
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1)
    end = datetime(year + 1, 1, 1) if number == 12 else datetime(year, number + 1, 1)
    return start, end


def crime_id_hash(key: bytes, crime_id: int) -> str:
    """The published Crime ID: HMAC-SHA-256 of the warehouse id under the deployment's key."""
    return hmac.new(key, f"crime:{int(crime_id)}".encode("ascii"), hashlib.sha256).hexdigest()


def location_text(point_name: str) -> str:
    return f"On or near {point_name}"


def category_label(slug: str) -> str:
    """police.uk's label for a category slug.

    Raises:
        ConfigurationError: a slug police.uk does not publish (the warehouse and the list
            disagree; the slug itself is not sensitive).
    """
    label = CATEGORY_LABELS.get(slug)
    if label is None:
        raise ConfigurationError(f"crime category {slug!r} is not a police.uk category")
    return label


def outcome_label(code: str | None) -> str:
    """The label for an outcome code (``Under investigation`` when none is recorded yet).

    Raises:
        ConfigurationError: an outcome code police.uk does not publish.
    """
    if code is None or code == "":
        return OUTCOME_LABELS["under-investigation"]
    label = OUTCOME_LABELS.get(code)
    if label is None:
        raise ConfigurationError(f"outcome {code!r} is not a police.uk outcome category")
    return label


def point_publishable(address_count: int | None) -> bool:
    """A map point may carry records if it covers no addresses or at least eight."""
    return address_count is not None and (address_count == 0 or address_count >= MIN_ADDRESSES)


@dataclass(frozen=True)
class StreetRecord:
    """One line of the street-level CSV.

    Example:
        >>> StreetRecord("", "2026-03", "Cleveland Police", "Cleveland Police", -1.234567,
        ...     54.5, "On or near Park", "E01012001", "Middlesbrough 001A",
        ...     "Anti-social behaviour", "").fields()[4:6]
        ['-1.234567', '54.500000']
    """

    crime_id: str
    month: str
    reported_by: str
    falls_within: str
    longitude: float
    latitude: float
    location: str
    lsoa_code: str
    lsoa_name: str
    crime_type: str
    last_outcome: str
    context: str = ""

    def fields(self) -> list[str]:
        return [
            self.crime_id,
            self.month,
            self.reported_by,
            self.falls_within,
            f"{self.longitude:.6f}",
            f"{self.latitude:.6f}",
            self.location,
            self.lsoa_code,
            self.lsoa_name,
            self.crime_type,
            self.last_outcome,
            self.context,
        ]
