"""Write a month's police.uk street-level CSV, through the query service, audited.

**Why through the service, at general level.** Everything the extract needs is already what
the *general* policy shows: categories and outcomes of crimes, the ``asb_type`` of incidents,
each location's ``map_point_id``, and the public ``map_point``, ``lsoa`` reference tables. It
never needs an exact place, a person or free text. So the extract runs as a *publication
principal* derived from the administrator who asked — same username and organisation, level
``general``, every authority in the force as its areas, purpose
:data:`PUBLICATION_PURPOSE` — and its queries go through the same rewrite (row filters,
masks) and audit as an analyst's. The administrator role is checked first; the file is
registered in the audit log like any export.

Rules applied on top of the layout (:mod:`gateway.publish.policeuk`):

- crimes by ``recorded_at`` in the month; ASB = incidents with an ``asb_type`` reported in it;
- a record with no location, whose location has no map point, or whose map point covers 1–7
  addresses is published as police.uk publishes it: ``No location``, empty coordinates and
  LSOA (counted in the summary) — published points cover 8+ addresses or none;
- a month with no crimes and no anti-social behaviour is refused (``not_found``): an empty
  file would read as a month without crime;
- the file is named as in police.uk's archive, ``YYYY-MM-<force>-street.csv``;
- rows are ordered by LSOA, category and Crime ID, so the order reveals nothing about time;
- the file is registered with the policy's publication marking (``[markings] publication``,
  ``OFFICIAL``) and held for a second administrator's sign-off before publication
  (:mod:`gateway.publish.signoff`); whoever prepared it cannot sign it off.

Example:
    >>> extract = publish_police_uk(service, admin, "2026-03", data_dir=DataDir(root))
    ...                                                                 # doctest: +SKIP
    >>> extract.rows, extract.path.name                                 # doctest: +SKIP
    (6120, '2026-03-cleveland-street.csv')
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gateway.audit.facts import ExportRegistered
from gateway.auth.permissions import Action, require
from gateway.catalog.police_uk import ASB_LABEL
from gateway.datadir import DataDir
from gateway.errors import GatewayError, InputError, NotFound
from gateway.exports.approval import PENDING
from gateway.exports.geometry import transform_xy
from gateway.exports.writers import sha256_file
from gateway.principal import Principal
from gateway.publish.policeuk import (
    HEADER,
    NO_LOCATION,
    StreetRecord,
    category_label,
    crime_id_hash,
    location_text,
    month_bounds,
    outcome_label,
    point_publishable,
    street_file_name,
)
from gateway.service import ClientInfo, QueryService

__all__ = [
    "CRIME_ID_KEY",
    "PUBLICATION_PURPOSE",
    "PoliceUkExtract",
    "publication_principal",
    "publish_police_uk",
]

PUBLICATION_PURPOSE = "police-uk-publication"
#: Name of the HMAC key for published Crime IDs under ``DIR/secrets/``.
CRIME_ID_KEY = "police-uk-crime-id"
FORMAT = "police-uk-csv"

_AREAS_SQL = "SELECT local_authority_code FROM local_authority ORDER BY 1"
_POINT_COLUMNS = """
       m.name AS point_name, m.easting, m.northing, m.lsoa_code, m.address_count,
       a.name AS lsoa_name"""
_CRIMES_SQL = f"""
SELECT c.crime_id, c.police_uk_category, c.outcome, l.map_point_id,{_POINT_COLUMNS}
FROM crime AS c
LEFT JOIN location AS l ON l.location_id = c.location_id
LEFT JOIN map_point AS m ON m.map_point_id = l.map_point_id
LEFT JOIN lsoa AS a ON a.lsoa_code = m.lsoa_code
WHERE c.recorded_at >= $start AND c.recorded_at < $end
"""
_ASB_SQL = f"""
SELECT i.incident_id, l.map_point_id,{_POINT_COLUMNS}
FROM incident AS i
LEFT JOIN location AS l ON l.location_id = i.location_id
LEFT JOIN map_point AS m ON m.map_point_id = l.map_point_id
LEFT JOIN lsoa AS a ON a.lsoa_code = m.lsoa_code
WHERE i.asb_type IS NOT NULL AND i.reported_at >= $start AND i.reported_at < $end
"""


@dataclass(frozen=True)
class PoliceUkExtract:
    """A written, registered street-level CSV.

    Attributes:
        path: the CSV.
        month: ``YYYY-MM``.
        crimes, asb: lines of each kind.
        no_location: lines published as ``No location`` (no publishable map point).
        sha256, bytes: the registered file.
        query_ids: the audited queries it was made from (areas, crimes, ASB); the crimes
            query's id is the extract's id in the register (:attr:`extract_id`).
        marking: the protective marking it is registered with (the policy's publication
            marking).
    """

    path: Path
    month: str
    crimes: int
    asb: int
    no_location: int
    sha256: str
    bytes: int
    query_ids: tuple[str, ...]
    marking: str

    @property
    def rows(self) -> int:
        return self.crimes + self.asb

    @property
    def extract_id(self) -> str:
        """Its id in the register of exports (the crimes query's audit id): the one a second
        administrator signs off (:func:`gateway.publish.signoff.sign_off_publication`)."""
        return self.query_ids[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.path.name,
            "month": self.month,
            "rows": self.rows,
            "crimes": self.crimes,
            "asb": self.asb,
            "no_location": self.no_location,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "query_ids": list(self.query_ids),
            "extract_id": self.extract_id,
            "marking": self.marking,
        }


def publication_principal(admin: Principal, areas: tuple[str, ...]) -> Principal:
    """The principal the extract's queries run as (see the module docstring)."""
    return Principal(
        username=admin.username,
        organisation=admin.organisation,
        level="general",
        areas=areas,
        purposes=(PUBLICATION_PURPOSE,),
        roles=admin.roles,
    )


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _located(row: dict[str, Any]) -> bool:
    return row["map_point_id"] is not None and point_publishable(row["address_count"])


def _wgs84(rows: list[dict[str, Any]]) -> list[tuple[float, float] | None]:
    """Each row's map point in WGS84, None for a row police.uk publishes as ``No location``."""
    located = [r for r in rows if _located(r)]
    if not located:
        return [None] * len(rows)
    x = np.array([float(r["easting"]) for r in located])
    y = np.array([float(r["northing"]) for r in located])
    lon, lat = transform_xy(x, y, 27700, 4326)
    points = iter(zip(lon.tolist(), lat.tolist(), strict=True))
    return [next(points) if _located(r) else None for r in rows]


def _street_record(
    row: dict[str, Any],
    point: tuple[float, float] | None,
    month: str,
    force: str,
    *,
    crime_id: str,
    crime_type: str,
    last_outcome: str,
) -> StreetRecord:
    """The line for a crime or ASB row: at its map point (WGS84) and in that point's LSOA, or
    ``No location`` without coordinates or LSOA."""
    lon, lat = point if point is not None else (None, None)
    return StreetRecord(
        crime_id=crime_id,
        month=month,
        reported_by=force,
        falls_within=force,
        longitude=lon,
        latitude=lat,
        location=location_text(None if point is None else str(row["point_name"])),
        lsoa_code="" if point is None else str(row["lsoa_code"] or ""),
        lsoa_name="" if point is None else str(row["lsoa_name"] or ""),
        crime_type=crime_type,
        last_outcome=last_outcome,
    )


def publish_police_uk(
    service: QueryService,
    admin: Principal,
    month: str,
    *,
    data_dir: DataDir,
    output: Path | None = None,
    client: ClientInfo | None = None,
    progress: Callable[[str], None] | None = None,
) -> PoliceUkExtract:
    """Write ``month``'s street-level CSV (default
    ``DIR/exports/police-uk/<month>-<force>-street.csv``, police.uk's archive name).

    Raises:
        WrongRole: ``admin`` lacks the administrator role.
        ParameterError: ``month`` is not ``YYYY-MM``.
        NotFound: the month has no crimes and no anti-social behaviour (nothing is written).
        GatewayError: a query refused or failed (audited), or the audit log is unavailable.
    """
    say = progress or (lambda _: None)
    require(admin, Action.PUBLISH)
    start, end = month_bounds(month)
    month = f"{start:%Y-%m}"
    settings = service.policy.exports
    key = data_dir.secret(CRIME_ID_KEY)

    def run(
        principal: Principal, sql: str, params: dict[str, object] | None = None
    ) -> tuple[str, pa.Table]:
        outcome = service.run_query(principal, sql, PUBLICATION_PURPOSE, params, client=client)
        try:
            if outcome.result.truncated:
                raise InputError(
                    f"the {month} extract is larger than the row cap; it was not written"
                )
            return outcome.query_id, outcome.result.to_table()
        finally:
            outcome.result.discard()

    seed = publication_principal(admin, ())
    # Reference tables have no row filter: any areas list will do to read the authorities.
    areas_id, areas_table = run(seed, _AREAS_SQL)
    areas = tuple(str(a) for a in areas_table.column(0).to_pylist())
    publisher = publication_principal(admin, areas)
    say("crimes")
    crimes_id, crimes = run(publisher, _CRIMES_SQL, {"start": start, "end": end})
    say("anti-social behaviour")
    asb_id, asb = run(publisher, _ASB_SQL, {"start": start, "end": end})

    force = settings.force_name
    if crimes.num_rows + asb.num_rows == 0:
        raise NotFound(
            f"no crimes or anti-social behaviour are recorded in {month}: nothing to publish "
            "(an empty file would read as a month without crime)"
        )
    records: list[tuple[tuple[str, str, str], StreetRecord]] = []
    crime_rows, asb_rows = _rows(crimes), _rows(asb)
    for row, point in zip(crime_rows, _wgs84(crime_rows), strict=True):
        label = category_label(str(row["police_uk_category"]))
        record = _street_record(
            row,
            point,
            month,
            force,
            crime_id=crime_id_hash(key, int(row["crime_id"])),
            crime_type=label,
            last_outcome=outcome_label(row["outcome"]),
        )
        records.append(((record.lsoa_code, label, record.crime_id), record))
    for row, point in zip(asb_rows, _wgs84(asb_rows), strict=True):
        record = _street_record(
            row, point, month, force, crime_id="", crime_type=ASB_LABEL, last_outcome=""
        )
        where = "" if point is None else f"{point[0]:.6f},{point[1]:.6f}"
        records.append(((record.lsoa_code, ASB_LABEL, where), record))
    records.sort(key=lambda item: item[0])
    no_location = sum(1 for _, r in records if r.location == NO_LOCATION)

    say("writing")
    target = output or data_dir.police_uk / street_file_name(month, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for _, record in records:
            writer.writerow(record.fields())
    os.replace(tmp, target)
    digest = sha256_file(target)
    size = target.stat().st_size
    marking = service.policy.markings.publication
    try:
        service.audit.record(
            ExportRegistered(
                query_id=crimes_id,
                user=admin.username,
                organisation=admin.organisation,
                format=FORMAT,
                file_name=target.name,
                file_sha256=digest,
                bytes=size,
                marking=marking,
                approval=PENDING,  # a second administrator signs it off (publish.signoff)
            )
        )
    except GatewayError:
        target.unlink(missing_ok=True)
        raise
    return PoliceUkExtract(
        path=target,
        month=month,
        crimes=len(crime_rows),
        asb=len(asb_rows),
        no_location=no_location,
        sha256=digest,
        bytes=size,
        query_ids=(areas_id, crimes_id, asb_id),
        marking=marking,
    )
