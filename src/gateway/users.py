"""Bootstrap principals from ``users.toml`` (the governance store takes over when present).

Format::

    [users."a.khan"]
    organisation = "Middlesbrough Council"
    level = "general"                 # general | enhanced | none
    areas = ["E06000002"]
    purposes = ["SA-2026-MBRO"]
    roles = ["analyst"]
    expires = 2027-03-31              # optional
    suspended = false                 # optional
    senior_analyst = "s.patel"        # designated senior analyst: authorises releases, QA
    deputies = ["m.hughes"]           # optional: who may act for the senior analyst

    [[users."e.okafor".grants]]       # enhanced grants (optional)
    grant_id = "G-2026-001"
    purposes = ["JAG-2026-07"]
    starts = 2026-01-01
    ends = 2026-12-31
    tables = ["intelligence_report"]
    unmask = ["person.surname"]
    areas = ["E06000001"]

Example:
    >>> principals = parse_users('''
    ... [users."a.khan"]
    ... organisation = "Middlesbrough Council"
    ... level = "general"
    ... areas = ["E06000002"]
    ... purposes = ["SA-2026"]
    ... ''')
    >>> principals["a.khan"].areas
    ('E06000002',)
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError
from gateway.principal import LEVELS, AccessGrant, Principal

__all__ = ["UsersFile", "load_users", "parse_users"]

_USER_KEYS = {
    "organisation",
    "level",
    "areas",
    "purposes",
    "roles",
    "expires",
    "suspended",
    "grants",
    "senior_analyst",
    "deputies",
}
_GRANT_KEYS = {"grant_id", "purposes", "starts", "ends", "tables", "unmask", "areas", "reason"}


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"users.toml: {path}: must be a list of strings")
    return tuple(value)


def _date(value: Any, path: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise ConfigurationError(f"users.toml: {path}: must be a date like 2027-03-31")


def _grant(raw: Any, path: str) -> AccessGrant:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"users.toml: {path}: must be a table")
    unknown = set(raw) - _GRANT_KEYS
    if unknown:
        raise ConfigurationError(f"users.toml: {path}.{sorted(unknown)[0]}: unknown key")
    if not isinstance(raw.get("grant_id"), str):
        raise ConfigurationError(f"users.toml: {path}.grant_id: required")
    return AccessGrant(
        grant_id=raw["grant_id"],
        purposes=_strings(raw.get("purposes", []), f"{path}.purposes"),
        starts=_date(raw.get("starts"), f"{path}.starts"),
        ends=_date(raw["ends"], f"{path}.ends") if "ends" in raw else None,
        tables=_strings(raw.get("tables", []), f"{path}.tables"),
        unmask=_strings(raw.get("unmask", []), f"{path}.unmask"),
        areas=_strings(raw.get("areas", []), f"{path}.areas"),
        reason=str(raw.get("reason", "")),
    )


def _designation(spec: dict[str, Any], name: str, path: str) -> tuple[str, ...]:
    """The designated senior analyst, then the deputies (never the user themselves)."""
    senior = spec.get("senior_analyst")
    deputies = _strings(spec.get("deputies", []), f"{path}.deputies")
    if senior is None:
        if deputies:
            raise ConfigurationError(f"users.toml: {path}.deputies: needs a senior_analyst")
        return ()
    if not isinstance(senior, str) or not senior.strip():
        raise ConfigurationError(f"users.toml: {path}.senior_analyst: must be a username")
    chain = (senior.strip(), *(d.strip() for d in deputies))
    if name in chain:
        raise ConfigurationError(
            f"users.toml: {path}: a user cannot be their own senior analyst or deputy"
        )
    return tuple(dict.fromkeys(chain))


def parse_users(text: str) -> dict[str, Principal]:
    """Principals by username from users.toml text (validated, precise errors)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"users.toml: not valid TOML: {exc}") from exc
    users = raw.get("users", {})
    if not isinstance(users, dict):
        raise ConfigurationError("users.toml: [users] must be a table of users")
    principals = {}
    for name, spec in users.items():
        path = f"users.{name}"
        if not isinstance(spec, dict):
            raise ConfigurationError(f"users.toml: {path}: must be a table")
        unknown = set(spec) - _USER_KEYS
        if unknown:
            raise ConfigurationError(f"users.toml: {path}.{sorted(unknown)[0]}: unknown key")
        level = spec.get("level", "none")
        if level not in LEVELS:
            raise ConfigurationError(f"users.toml: {path}.level: must be one of {list(LEVELS)}")
        expires = spec.get("expires")
        expires_at = (
            datetime.combine(_date(expires, f"{path}.expires"), time.max, tzinfo=UTC)
            if expires is not None
            else None
        )
        principals[name] = Principal(
            senior_analysts=_designation(spec, name, path),
            username=name,
            organisation=str(spec.get("organisation", "")),
            level=level,
            areas=_strings(spec.get("areas", []), f"{path}.areas"),
            purposes=_strings(spec.get("purposes", []), f"{path}.purposes"),
            roles=frozenset(_strings(spec.get("roles", []), f"{path}.roles")),
            grants=tuple(
                _grant(g, f"{path}.grants[{i}]") for i, g in enumerate(spec.get("grants", []))
            ),
            expires_at=expires_at,
            suspended=bool(spec.get("suspended", False)),
        )
    for principal in principals.values():
        for designated in principal.senior_analysts:
            if designated not in principals:
                raise ConfigurationError(
                    f"users.toml: users.{principal.username}: senior analyst or deputy "
                    f"{designated!r} is not a user in this file"
                )
    return principals


def load_users(path: Path) -> dict[str, Principal]:
    """Read ``users.toml``; a missing file means no bootstrap users."""
    if not path.exists():
        return {}
    return parse_users(path.read_text("utf-8"))


class UsersFile:
    """A :class:`~gateway.principal.PrincipalDirectory` over ``users.toml``, re-read when the
    file changes (so an administrator's edit — e.g. a suspension — applies at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._principals: dict[str, Principal] = {}

    def _current(self) -> dict[str, Principal]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._principals = load_users(self.path)
            self._stamp = stamp
        return self._principals

    def principal(self, username: str, at: datetime) -> Principal | None:
        return self._current().get(username)

    def usernames(self) -> list[str]:
        return sorted(self._current())
