"""The policy's ``[login]`` section: how people sign in to the web application.

The connection agreement and policy 198 set the defaults: a password of at least 12 characters
or a passphrase of at least 3 words, not one of the commonly used passwords, not one of the
last 3, changed at first sign-in; the account locked after 3 failed attempts (unlocked by an
administrator, or by itself after ``unlock_after_minutes``; 0 = only by an administrator);
signed off after 15 minutes idle; a person's API tokens stop after 7 days without any use of the
gateway by that person (``token_idle_minutes``; 0 = never), until they sign in to the web
application again; the security operating procedures (SyOPs) accepted at every
sign-in, under the notice that use is monitored and audited.

Example:
    >>> parse_login_settings({"max_failures": 5}).max_failures
    5
    >>> parse_login_settings(None) == LoginSettings()
    True
    >>> parse_login_settings({"idle_minutes": 0.05}).idle_timeout.total_seconds()
    3.0
    >>> parse_login_settings({"max_failures": 0})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: login.max_failures: must be a whole number from 1 to 100
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from gateway.errors import ConfigurationError
from gateway.policy.oidc import OidcSettings, parse_oidc_settings

__all__ = ["LoginSettings", "parse_login_settings"]

_SYOPS = (
    "I will use the gateway only for the purposes my access was approved for; I will not share "
    "my password or let anyone use my session; I will handle every result at its protective "
    "marking, store it only where my organisation's information sharing agreement allows, and "
    "report any loss or suspected misuse to my information security officer at once."
)
_NOTICE = (
    "This system is for authorised use only. Every sign-in, query, export and decision is "
    "monitored and recorded in a tamper-evident audit log that senior analysts review."
)


@dataclass(frozen=True)
class LoginSettings:
    """``[login]``.

    Attributes:
        min_length: shortest password accepted (unless it is a passphrase).
        passphrase_words: a passphrase has at least this many words of 3+ letters.
        history: a new password may not be any of the last ``history`` ones.
        first_login_change: an administrator's (or the demo's) password must be changed at the
            first sign-in.
        max_failures: failed attempts in a row that lock the account.
        unlock_after_minutes: a locked account unlocks itself after this long (0 = never; only
            an administrator unlocks it).
        idle_minutes: a session unused this long is signed off (server-side).
        session_max_hours: a session ends this long after sign-in whatever its use.
        token_idle_minutes: a person's API tokens stop when the person has not used the gateway
            (web or token) for this long; signing in to the web application starts them again
            (0 = tokens never stop for idleness).
        syops_version: the version of the SyOPs text; recorded with each acceptance.
        syops_text, monitoring_notice: what the sign-in pages show.
        oidc: ``[login.oidc]``: sign-in through an OpenID Connect provider as well (None: by
            password only; :class:`~gateway.policy.oidc.OidcSettings`).
    """

    min_length: int = 12
    passphrase_words: int = 3
    history: int = 3
    first_login_change: bool = True
    max_failures: int = 3
    unlock_after_minutes: int = 30
    idle_minutes: float = 15
    session_max_hours: float = 10
    token_idle_minutes: float = 7 * 24 * 60
    syops_version: str = "2026-1"
    syops_text: str = _SYOPS
    monitoring_notice: str = _NOTICE
    oidc: OidcSettings | None = None

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def token_idle_timeout(self) -> timedelta | None:
        """How long a person may be idle before their tokens stop (None: never)."""
        return timedelta(minutes=self.token_idle_minutes) if self.token_idle_minutes else None

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_max_hours)

    @property
    def unlock_after(self) -> timedelta | None:
        """How long a lock lasts by itself (None: until an administrator unlocks it)."""
        return timedelta(minutes=self.unlock_after_minutes) if self.unlock_after_minutes else None


_WHOLE = {
    "min_length": (8, 128),
    "passphrase_words": (2, 12),
    "history": (0, 24),
    "max_failures": (1, 100),
    "unlock_after_minutes": (0, 60 * 24 * 30),
}
_NUMBER = {
    "idle_minutes": (0.01, 24 * 60.0),
    "session_max_hours": (0.01, 24 * 7.0),
    "token_idle_minutes": (0.0, 366 * 24 * 60.0),
}
_TEXT = {"syops_version": 40, "syops_text": 4000, "monitoring_notice": 2000}


def parse_login_settings(raw: Any, *, source: str = "policy.toml") -> LoginSettings:
    """Validate a raw ``[login]`` table (``None`` = the defaults).

    Raises:
        ConfigurationError: ``<source>: login.<key>: <problem>``.
    """
    if raw is None:
        return LoginSettings()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{source}: login: must be a table")
    known = [f.name for f in fields(LoginSettings)]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{source}: login.{key}"
        if key in _WHOLE:
            low, high = _WHOLE[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(f"{path}: must be a whole number from {low} to {high}")
        elif key in _NUMBER:
            low_f, high_f = _NUMBER[key]
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not low_f <= value <= high_f:
                raise ConfigurationError(f"{path}: must be a number from {low_f} to {high_f}")
            value = float(value)
        elif key in _TEXT:
            if not isinstance(value, str) or not value.strip() or len(value) > _TEXT[key]:
                raise ConfigurationError(f"{path}: must be text of 1 to {_TEXT[key]} characters")
        elif key == "oidc":
            value = parse_oidc_settings(value, source=source)
        elif key == "first_login_change":
            if not isinstance(value, bool):
                raise ConfigurationError(f"{path}: must be true or false")
        else:
            raise ConfigurationError(f"{path}: unknown key (expected one of {known})")
        values[key] = value
    return LoginSettings(**values)
