"""The policy's ``[retention]`` section: how long audit records are kept before disposal.

The connection agreement keeps audit records and governance history for seven years. Every
access-management action (requests, approvals, suspensions, the register) is an audit record,
so one schedule covers both::

    [retention]
    audit_days = 2557    # audit records older than this are disposed of by
                         # `gateway audit dispose` (7 years; at least 365)

Export files follow ``[exports] retention_days``, product manifests
``[products] manifest_retention_days``.

Example:
    >>> parse_retention_settings({"audit_days": 3650}).audit_days
    3650
    >>> parse_retention_settings(None) == RetentionSettings()
    True
    >>> parse_retention_settings({"audit_days": 30})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: retention.audit_days: must be a whole number of days from 365 to 36500
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.errors import ConfigurationError

__all__ = ["SEVEN_YEARS_DAYS", "RetentionSettings", "parse_retention_settings"]

#: Seven years (the connection agreement's retention of records), in days.
SEVEN_YEARS_DAYS = 2557
#: No schedule may dispose of audit records younger than a year (the yearly audits need them).
_MIN_DAYS = 365
_MAX_DAYS = 36_500


@dataclass(frozen=True)
class RetentionSettings:
    """``[retention]``: ``audit_days`` is how long audit records are kept."""

    audit_days: int = SEVEN_YEARS_DAYS

    @property
    def audit_period(self) -> timedelta:
        return timedelta(days=self.audit_days)


def parse_retention_settings(raw: Any, *, source: str = "policy.toml") -> RetentionSettings:
    """Validate a raw ``[retention]`` table (``None`` = the defaults).

    Raises:
        ConfigurationError: ``<source>: retention.<key>: <problem>``.
    """
    if raw is None:
        return RetentionSettings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: retention: must be a table")
    for key in raw:
        if key != "audit_days":
            raise ConfigurationError(
                f"{source}: retention.{key}: unknown key (expected audit_days)"
            )
    days = raw.get("audit_days", SEVEN_YEARS_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not _MIN_DAYS <= days <= _MAX_DAYS:
        raise ConfigurationError(
            f"{source}: retention.audit_days: must be a whole number of days from {_MIN_DAYS} "
            f"to {_MAX_DAYS}"
        )
    return RetentionSettings(audit_days=days)
