"""The police.uk street-level CSV: its exact layout and how a warehouse row becomes a line.

Pure: no I/O. The layout (DOMAIN.md)::

    Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,
    Crime type,Last outcome category,Context

- **Crime ID**: 64 hex characters, a keyed hash (HMAC-SHA-256) of the warehouse crime id —
  persistent (the same crime keeps its id from month to month) but not reversible without
  the deployment's key; empty for anti-social behaviour.
- **Month**: ``YYYY-MM`` only.
- **Longitude/Latitude**: the anonymous map point (WGS84, 6 decimals), never the place.
- **Location**: ``On or near <map point name>``; **LSOA**: the one the map point is in. A record
  with no publishable map point is published as police.uk does: Location ``No location``,
  empty coordinates and LSOA.
- **Crime type**: police.uk's category label; **Last outcome category**: the outcome label
  (empty for anti-social behaviour); **Context**: empty. The labels are the catalog's
  (:mod:`gateway.catalog.police_uk`), the ones the generator writes.

Example:
    >>> month_bounds("2026-03")
    (datetime.datetime(2026, 3, 1, 0, 0), datetime.datetime(2026, 4, 1, 0, 0))
    >>> crime_id_hash(b"k", 42)[:16], len(crime_id_hash(b"k", 42))
    ('87ada2e845b80857', 64)
    >>> location_text("Linthorpe Road"), location_text(None)
    ('On or near Linthorpe Road', 'No location')
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
    "NO_LOCATION",
    "StreetRecord",
    "category_label",
    "crime_id_hash",
    "force_id",
    "location_text",
    "month_bounds",
    "outcome_label",
    "point_publishable",
    "street_file_name",
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

#: What police.uk writes in "Location" for a record it cannot place on a map point (the
#: coordinates and LSOA are then empty).
NO_LOCATION = "No location"
#: Words of a force's name that police.uk's force identifier leaves out
#: ("Cleveland Police" → ``cleveland``, "Avon and Somerset Constabulary" → ``avon-and-somerset``).
_FORCE_WORDS = frozenset({"police", "constabulary", "service"})

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


def location_text(point_name: str | None) -> str:
    """``On or near <map point>``, or police.uk's ``No location`` when there is no point."""
    return NO_LOCATION if point_name is None else f"On or near {point_name}"


def force_id(force_name: str) -> str:
    """police.uk's identifier for a force, as in its archive's file names.

    Example:
        >>> force_id("Cleveland Police"), force_id("Avon and Somerset Constabulary")
        ('cleveland', 'avon-and-somerset')
    """
    words = "".join(c.lower() if c.isalnum() else " " for c in force_name).split()
    kept = [w for w in words if w not in _FORCE_WORDS]
    while kept and kept[0] == "of":  # "Police Service of Northern Ireland"
        kept.pop(0)
    return "-".join(kept or words)


def street_file_name(month: str, force_name: str) -> str:
    """The street-level file's name in police.uk's archive: ``YYYY-MM-<force>-street.csv``.

    Example:
        >>> street_file_name("2026-03", "Cleveland Police")
        '2026-03-cleveland-street.csv'
    """
    return f"{month}-{force_id(force_name)}-street.csv"


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
    longitude: float | None
    latitude: float | None
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
            "" if self.longitude is None else f"{self.longitude:.6f}",
            "" if self.latitude is None else f"{self.latitude:.6f}",
            self.location,
            self.lsoa_code,
            self.lsoa_name,
            self.crime_type,
            self.last_outcome,
            self.context,
        ]
