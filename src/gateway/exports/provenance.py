"""Provenance: what every exported file says about where it came from.

Built from the audited query (id, user, organisation, level, purpose, policy hash) and the
export (format, CRS, marking, approval). Each format carries it where it can:

    GeoPackage     dataset metadata (gpkg_metadata) + layer description
    FlatGeobuf     layer title (the marking) and description + layer metadata
    GeoJSON        a top-level "provenance" member + description
    KML            the document description
    XLSX           marking and summary on top of every sheet, a Provenance sheet
    CSV            the marking in a trailing ``protective_marking`` column, or a leading
                   ``# …`` comment line (``csv_marking=comment``)
    Shapefile      the marking in a ``marking`` field of every feature
    Parquet        file key-value metadata (``gateway:provenance``)
    zips           ``<name>.provenance.json`` beside the layer files (Shapefile, MapInfo)

Pure: no clock (the time is passed in), no I/O.

Example:
    >>> from datetime import datetime, timezone
    >>> p = Provenance(query_id="q1", user="a.khan", organisation="Middlesbrough Council",
    ...     level="general", purpose="SA-2026", created_at=datetime(2026, 5, 1, tzinfo=timezone.utc),
    ...     policy_hash="ab" * 32, marking="OFFICIAL-SENSITIVE", format="gpkg", rows=3)
    >>> p.summary()
    'OFFICIAL-SENSITIVE | query q1 | a.khan (Middlesbrough Council) | 2026-05-01T00:00:00Z | purpose SA-2026 | policy abababababab'
    >>> p.to_dict()["marking"]
    'OFFICIAL-SENSITIVE'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Provenance"]


@dataclass(frozen=True)
class Provenance:
    """The provenance of one exported file.

    Attributes:
        query_id: the audited query the file was made from (also the export's id).
        user, organisation, level: who made it, at which data level.
        purpose: the approved purpose the query named.
        created_at: when the file was written (UTC).
        policy_hash: version (SHA-256) of the policy applied.
        marking: protective marking.
        format: export format name.
        rows: data rows (features) in the file.
        crs: ``EPSG:27700`` / ``EPSG:4326`` for map layers, None otherwise.
        geometry: how geometry was made (``points from easting/northing``, …), or None.
        data_class: ``aggregate`` or ``record`` (see :mod:`gateway.analysis.classify`).
        approval: ``not_required`` or ``pending`` when the file was written.
        template: the template name when the SQL came from the template library.
        result_fingerprint: the audited query result's fingerprint.
        truncated: the level's row cap cut the result (the file holds the first rows only).
        field_names: shortened name → original column name, where a format shortened names.
        source: where the data came from (``warehouse``).
        disclosure: the disclosure control applied to the data, in a line (None: none).
    """

    query_id: str
    user: str
    organisation: str
    level: str
    purpose: str
    created_at: datetime
    policy_hash: str
    marking: str
    format: str
    rows: int
    crs: str | None = None
    geometry: str | None = None
    data_class: str = "record"
    approval: str = "not_required"
    template: str | None = None
    result_fingerprint: str = ""
    truncated: bool = False
    field_names: Mapping[str, str] = field(default_factory=dict)
    source: str = "Partnership Analytics Gateway"
    disclosure: str | None = None

    @property
    def created(self) -> str:
        return self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, keys in a fixed order (marking first)."""
        return {
            "marking": self.marking,
            "query_id": self.query_id,
            "user": self.user,
            "organisation": self.organisation,
            "level": self.level,
            "purpose": self.purpose,
            "created_at": self.created,
            "policy_hash": self.policy_hash,
            "format": self.format,
            "rows": self.rows,
            "crs": self.crs,
            "geometry": self.geometry,
            "data_class": self.data_class,
            "approval": self.approval,
            "template": self.template,
            "result_fingerprint": self.result_fingerprint,
            "truncated": self.truncated,
            "field_names": dict(self.field_names),
            "source": self.source,
            "disclosure": self.disclosure,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """Inverse of :meth:`to_dict` (for stored export manifests)."""
        created = datetime.strptime(str(data["created_at"]), "%Y-%m-%dT%H:%M:%SZ")
        return cls(
            query_id=str(data["query_id"]),
            user=str(data["user"]),
            organisation=str(data["organisation"]),
            level=str(data["level"]),
            purpose=str(data["purpose"]),
            created_at=created.replace(tzinfo=UTC),
            policy_hash=str(data["policy_hash"]),
            marking=str(data["marking"]),
            format=str(data["format"]),
            rows=int(data["rows"]),
            crs=data.get("crs"),
            geometry=data.get("geometry"),
            data_class=str(data.get("data_class", "record")),
            approval=str(data.get("approval", "not_required")),
            template=data.get("template"),
            result_fingerprint=str(data.get("result_fingerprint", "")),
            truncated=bool(data.get("truncated", False)),
            field_names=dict(data.get("field_names") or {}),
            source=str(data.get("source", "")),
            disclosure=data.get("disclosure"),
        )

    def to_json(self) -> str:
        """Pretty JSON (the zip sidecar's content)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def summary(self) -> str:
        """One line for headers and comments (no newlines)."""
        return (
            f"{self.marking} | query {self.query_id} | {self.user} ({self.organisation}) | "
            f"{self.created} | purpose {self.purpose} | policy {self.policy_hash[:12]}"
        )

    def metadata(self) -> dict[str, str]:
        """Flat text items for GDAL/Parquet metadata: each field plus the whole as JSON."""
        items = {
            key: (json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value))
            for key, value in self.to_dict().items()
            if value is not None and value != {}
        }
        items["provenance"] = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)
        return items

    def rows_for_sheet(self) -> list[tuple[str, str]]:
        """``(field, value)`` pairs for the XLSX Provenance sheet."""
        out: list[tuple[str, str]] = []
        for key, value in self.to_dict().items():
            if key == "field_names":
                out.extend(
                    (f"field {short}", original) for short, original in self.field_names.items()
                )
                continue
            out.append((key, "" if value is None else str(value)))
        return out
