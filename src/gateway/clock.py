"""The gateway's time: now in UTC, the clock services take, times as stored and as typed.

Every time the gateway keeps is timezone-aware UTC. Services that stamp times take a
:data:`Clock` (tests inject a fixed one); the default is :func:`utc_now`.

Example:
    >>> utc_now().tzinfo
    datetime.timezone.utc
    >>> fixed: Clock = lambda: datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    >>> to_time(fixed())
    '2026-03-29T01:30:00.000000+00:00'
    >>> from_time(to_time(fixed())) == fixed()
    True
    >>> parse_when("2026-07-01T08:00").isoformat()
    '2026-07-01T08:00:00+00:00'
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from gateway.errors import ConfigurationError, InputError

__all__ = ["Clock", "from_time", "parse_when", "to_time", "utc_now"]

#: Returns the current time (timezone-aware, UTC).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC, microsecond precision."""
    return datetime.now(UTC)


def to_time(value: datetime | None) -> str | None:
    """A time as stored text: UTC ISO 8601 with microseconds (``None`` stays ``None``).

    Raises:
        ConfigurationError: a naive time (every time in the gateway is aware).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ConfigurationError("stored times must carry a time zone")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_time(text: str | None) -> datetime | None:
    """A time read back from :func:`to_time`'s text (empty or ``None``: ``None``)."""
    return datetime.fromisoformat(text) if text else None


def parse_when(text: str | None, zone: tzinfo = UTC) -> datetime | None:
    """A time as a person types it (``--since``, ``?until=``): an ISO date or date-time; one
    without a zone is local time in ``zone``. ``None`` stays ``None``.

    Example:
        >>> from zoneinfo import ZoneInfo
        >>> parse_when("2026-07-01", ZoneInfo("Europe/London")).isoformat()
        '2026-07-01T00:00:00+01:00'

    Raises:
        InputError: not an ISO date or date-time.
    """
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not an ISO date or date-time (e.g. 2026-04-01)") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)
