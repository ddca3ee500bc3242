"""The ``[exports]`` section of ``policy.toml``: :class:`ExportSettings`, parsed when the policy
is loaded (``Policy.exports``), so a bad value stops the service at start with
``ConfigurationError("<policy>: exports.<key>: …")`` rather than failing the first export.

Every ``[exports]`` key is optional::

    [exports]
    marking = "OFFICIAL-SENSITIVE"            # protective marking printed on every export
    require_approval_for_record_level = true  # hold record-level releases for the analyst's
                                              # designated senior analyst (policy 198 app. 2)
    approval_levels = ["general", "enhanced"] # levels whose record-level releases are held
    approver_role = "senior_analyst"          # the role a designated approver must hold
    query_record_max_rows = 1000              # a record-level /v1/query result above this many
    query_record_max_bytes = 1048576          # rows or bytes is refused: request an export
    force_name = "Cleveland Police"           # police.uk "Reported by" / "Falls within"
    force_extent = [430000, 503000, 485000, 541000]   # EPSG:27700 bounds for MapInfo layers
    publication_marking = "OFFICIAL"          # marking registered for police.uk extracts
    retention_days = 30                       # export files are deleted this long after release

Example:
    >>> s = parse_export_settings({"marking": "OFFICIAL"})
    >>> s.marking, s.require_approval_for_record_level, s.approval_levels, s.query_record_max_rows
    ('OFFICIAL', True, ('general', 'enhanced'), 1000)
    >>> parse_export_settings({"colour": "red"})
    Traceback (most recent call last):
    ...
    gateway.errors.ConfigurationError: policy.toml: exports.colour: unknown key (expected one of approval_levels, approver_role, force_extent, force_name, marking, publication_marking, query_record_max_bytes, query_record_max_rows, require_approval_for_record_level, retention_days)
    >>> parse_export_settings({"approval_levels": ["genral"]}, source="p.toml",
    ...                       levels=("general", "enhanced"))
    Traceback (most recent call last):
    ...
    gateway.errors.ConfigurationError: p.toml: exports.approval_levels: no such level 'genral' (levels: general, enhanced)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigurationError

__all__ = [
    "DEFAULT_FORCE_EXTENT",
    "ExportSettings",
    "parse_export_settings",
]

#: The Cleveland force area in EPSG:27700 with a margin (DOMAIN.md: E 436–480k, N 507–537.5k).
DEFAULT_FORCE_EXTENT = (430_000.0, 503_000.0, 485_000.0, 541_000.0)
_MAX_MARKING = 80
_MAX_RETENTION_DAYS = 36_500
_MAX_RELEASE_SIZE = 10**12


@dataclass(frozen=True)
class ExportSettings:
    """How exports are governed in this deployment (see the module docstring)."""

    marking: str = "OFFICIAL-SENSITIVE"
    require_approval_for_record_level: bool = True
    approval_levels: tuple[str, ...] = ("general", "enhanced")
    approver_role: str = "senior_analyst"
    force_name: str = "Cleveland Police"
    force_extent: tuple[float, float, float, float] = DEFAULT_FORCE_EXTENT
    publication_marking: str = "OFFICIAL"
    retention_days: int = 30
    query_record_max_rows: int = 1000
    query_record_max_bytes: int = 1_048_576


def _count(raw: Mapping[str, Any], key: str, default: int, source: str, least: int) -> int:
    value = raw.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not least <= value <= _MAX_RELEASE_SIZE
    ):
        raise ConfigurationError(
            f"{source}: exports.{key}: must be a whole number from {least} to {_MAX_RELEASE_SIZE}"
        )
    return value


def _text(raw: Mapping[str, Any], key: str, default: str, source: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_MARKING:
        raise ConfigurationError(
            f"{source}: exports.{key}: must be non-empty text of at most {_MAX_MARKING} characters"
        )
    if any(ord(c) < 32 for c in value):
        raise ConfigurationError(f"{source}: exports.{key}: must not contain control characters")
    return value.strip()


def parse_export_settings(
    raw: Any, *, source: str = "policy.toml", levels: tuple[str, ...] | None = None
) -> ExportSettings:
    """Validate a raw ``[exports]`` table (``None`` = all defaults).

    Args:
        raw: the policy file's ``[exports]`` table.
        source: the policy file, for messages.
        levels: the policy's level names; ``approval_levels``, when given, may only name these
            (None: not checked).

    Raises:
        ConfigurationError: ``<source>: exports.<key>: <problem>``.
    """
    if raw is None:
        return ExportSettings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: exports: must be a table")
    defaults = ExportSettings()
    known = sorted(ExportSettings.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: exports.{key}: unknown key (expected one of {', '.join(known)})"
            )
    approval = raw.get("require_approval_for_record_level", True)
    if not isinstance(approval, bool):
        raise ConfigurationError(
            f"{source}: exports.require_approval_for_record_level: must be true or false"
        )
    approval_levels = raw.get("approval_levels", list(defaults.approval_levels))
    if not isinstance(approval_levels, list) or not all(
        isinstance(v, str) and v for v in approval_levels
    ):
        raise ConfigurationError(f"{source}: exports.approval_levels: must be a list of levels")
    unknown = [v for v in approval_levels if levels is not None and v not in levels]
    if unknown and "approval_levels" in raw:
        raise ConfigurationError(
            f"{source}: exports.approval_levels: no such level {unknown[0]!r} "
            f"(levels: {', '.join(levels or ())})"
        )
    extent = raw.get("force_extent", list(defaults.force_extent))
    if (
        not isinstance(extent, list)
        or len(extent) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in extent)
        or not (extent[0] < extent[2] and extent[1] < extent[3])
    ):
        raise ConfigurationError(
            f"{source}: exports.force_extent: must be [min_easting, min_northing, "
            "max_easting, max_northing] with min < max"
        )
    retention = raw.get("retention_days", defaults.retention_days)
    if (
        isinstance(retention, bool)
        or not isinstance(retention, int)
        or not 1 <= retention <= _MAX_RETENTION_DAYS
    ):
        raise ConfigurationError(
            f"{source}: exports.retention_days: must be a whole number of days from 1 to "
            f"{_MAX_RETENTION_DAYS}"
        )
    return ExportSettings(
        marking=_text(raw, "marking", defaults.marking, source),
        require_approval_for_record_level=approval,
        approval_levels=tuple(approval_levels),
        approver_role=_text(raw, "approver_role", defaults.approver_role, source),
        force_name=_text(raw, "force_name", defaults.force_name, source),
        force_extent=(float(extent[0]), float(extent[1]), float(extent[2]), float(extent[3])),
        publication_marking=_text(raw, "publication_marking", defaults.publication_marking, source),
        retention_days=retention,
        query_record_max_rows=_count(
            raw, "query_record_max_rows", defaults.query_record_max_rows, source, 0
        ),
        query_record_max_bytes=_count(
            raw, "query_record_max_bytes", defaults.query_record_max_bytes, source, 0
        ),
    )
