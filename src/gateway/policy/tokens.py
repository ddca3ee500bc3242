"""The policy's ``[tokens]`` section: how long an API token may last.

The connection agreement wants credentials that lapse: a token is issued for at most
``max_lifetime_days`` (default 90), never without an end, and a request for longer is refused
(not quietly shortened) so the administrator knows what was issued.

Example:
    >>> parse_token_settings({"max_lifetime_days": 30}).max_lifetime_days
    30
    >>> parse_token_settings(None) == TokenSettings()
    True
    >>> parse_token_settings({"max_lifetime_days": 0})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: tokens.max_lifetime_days: must be a whole number of days from 1 to 3650
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.errors import ConfigurationError

__all__ = ["TokenSettings", "parse_token_settings"]

_MAX_DAYS = 3650


@dataclass(frozen=True)
class TokenSettings:
    """``[tokens]``: ``max_lifetime_days`` caps every token's lifetime."""

    max_lifetime_days: int = 90

    @property
    def max_lifetime(self) -> timedelta:
        return timedelta(days=self.max_lifetime_days)


def parse_token_settings(raw: Any, *, source: str = "policy.toml") -> TokenSettings:
    """Validate a raw ``[tokens]`` table (``None`` = the defaults).

    Raises:
        ConfigurationError: ``<source>: tokens.<key>: <problem>``.
    """
    if raw is None:
        return TokenSettings()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: tokens: must be a table")
    for key in raw:
        if key != "max_lifetime_days":
            raise ConfigurationError(
                f"{source}: tokens.{key}: unknown key (expected max_lifetime_days)"
            )
    days = raw.get("max_lifetime_days", TokenSettings.max_lifetime_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_DAYS:
        raise ConfigurationError(
            f"{source}: tokens.max_lifetime_days: must be a whole number of days from 1 to "
            f"{_MAX_DAYS}"
        )
    return TokenSettings(max_lifetime_days=days)
