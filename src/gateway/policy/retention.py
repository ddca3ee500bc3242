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
    """``[retention]``: ``audit_days`` is how long audit records are kept; ``governance_days``
    how long the register keeps what is over (refused, withdrawn and lapsed requests, ended
    grants, lifted suspensions and stops, closed reviews, dead tokens) after it ended."""

    audit_days: int = SEVEN_YEARS_DAYS
    governance_days: int = SEVEN_YEARS_DAYS

    @property
    def audit_period(self) -> timedelta:
        return timedelta(days=self.audit_days)

    @property
    def governance_period(self) -> timedelta:
        return timedelta(days=self.governance_days)


def parse_retention_settings(raw: Any, *, source: str = "policy.toml") -> RetentionSettings:
    """Validate a raw ``[retention]`` table (``None`` = the defaults).

    Raises:
        ConfigurationError: ``<source>: retention.<key>: <problem>``.
    """
    if raw is None:
        return RetentionSettings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: retention: must be a table")
    known = ("audit_days", "governance_days")
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: retention.{key}: unknown key (expected one of {', '.join(known)})"
            )
    values: dict[str, int] = {}
    for key in known:
        days = raw.get(key, SEVEN_YEARS_DAYS)
        whole = isinstance(days, int) and not isinstance(days, bool)
        if not whole or not _MIN_DAYS <= days <= _MAX_DAYS:
            raise ConfigurationError(
                f"{source}: retention.{key}: must be a whole number of days from {_MIN_DAYS} "
                f"to {_MAX_DAYS}"
            )
        values[key] = days
    return RetentionSettings(**values)
