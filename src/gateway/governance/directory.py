"""Principals from the governance store: grants drive enforcement.

:class:`GovernanceDirectory` implements :class:`gateway.principal.PrincipalDirectory`. For a
username and a moment it builds the principal from the grants in force then (see
:mod:`gateway.governance.standing`): an ended grant stops at once, a suspension shows as
``suspended``, missing preconditions leave no data level (the reason is on
:meth:`GovernanceDirectory.standing`).

It also answers where access may come from: :meth:`GovernanceDirectory.check_origin` refuses
an address outside the user's organisation's registered ranges (and their designated
workstations, if any), and records the refusal in the audit log.

Bootstrap administrators from ``users.toml`` (entries with the ``admin`` role) remain principals
while their username is not in the governance register — with no data level, the ``admin`` role
only, and connecting from loopback only. Everyone else comes from the register.

Example:
    >>> directory = GovernanceDirectory.open(DataDir(Path("demo-data")), audit)  # doctest: +SKIP
    >>> directory.check_origin("a.khan", "192.0.2.10", now)                       # doctest: +SKIP
    >>> principal = directory.principal("a.khan", now)                            # doctest: +SKIP
"""

from __future__ import annotations

import ipaddress
import sqlite3
from dataclasses import replace
from datetime import datetime

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.errors import AccessDenied, ConfigurationError, NetworkNotPermitted
from gateway.governance.origin import origin_refusal
from gateway.governance.standing import Standing
from gateway.governance.store import GovernanceStore
from gateway.principal import Principal, PrincipalDirectory
from gateway.register_store import connect, is_shared, table_exists
from gateway.users import UsersFile

__all__ = ["GovernanceDirectory", "has_register"]


def has_register(data_dir: DataDir) -> bool:
    """Whether ``DIR/governance.sqlite`` holds a governance register (with at least one user).

    The file may exist for API tokens alone; then ``users.toml`` stays the directory. A shared
    register (``GATEWAY_REGISTER_STORE``) that cannot be read is an error, never a fall-back
    to ``users.toml``.

    Raises:
        ConfigurationError: the shared register cannot be reached.
    """
    path = data_dir.governance
    shared = is_shared(path)
    if not shared and not path.is_file():
        return False
    try:
        con = connect(path, mode="ro")
    except sqlite3.Error as exc:
        if shared:
            raise ConfigurationError(
                f"the shared governance register cannot be read: {exc}"
            ) from exc
        return False
    try:
        found = table_exists(con, "person")
        return found and con.execute("SELECT 1 FROM person LIMIT 1").fetchone() is not None
    except sqlite3.Error as exc:
        if shared:
            raise ConfigurationError(
                f"the shared governance register cannot be read: {exc}"
            ) from exc
        return False
    finally:
        con.close()


class GovernanceDirectory:
    """Principals built from the governance register's grants, as of any moment.

    Args:
        store: the governance database.
        audit: where refused origins are recorded (None: not recorded — tests of pure reads).
        bootstrap: ``users.toml`` principals; only administrators are taken from it.
    """

    def __init__(
        self,
        store: GovernanceStore,
        audit: AuditLog | None = None,
        *,
        bootstrap: PrincipalDirectory | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.bootstrap = bootstrap

    @classmethod
    def open(cls, data_dir: DataDir, audit: AuditLog | None = None) -> GovernanceDirectory:
        """The directory of a deployment (``users.toml`` kept for its bootstrap admins)."""
        return cls(GovernanceStore(data_dir.governance), audit, bootstrap=UsersFile(data_dir.users))

    # --- PrincipalDirectory -----------------------------------------------------------------

    def standing(self, username: str, at: datetime) -> Standing | None:
        """The user's standing at ``at`` (None for a username not in the register)."""
        with self.store.reading() as r:
            person = r.person(username)
            return r.standing(person, at) if person is not None else None

    def _bootstrap(self, username: str, at: datetime) -> Principal | None:
        if self.bootstrap is None:
            return None
        found = self.bootstrap.principal(username, at)
        if found is None or not found.has_role("admin"):
            return None
        return replace(found, level="none", areas=(), purposes=(), grants=(),
                       roles=frozenset({"admin"}))  # fmt: skip

    def principal(self, username: str, at: datetime) -> Principal | None:
        """The principal for ``username`` at ``at`` (None if unknown)."""
        found = self.standing(username, at)
        if found is not None:
            return found.principal
        return self._bootstrap(username, at)

    def usernames(self) -> list[str]:
        with self.store.reading() as r:
            names = set(r.usernames())
        if self.bootstrap is not None:
            names |= {
                u
                for u in self.bootstrap.usernames()
                if (p := self.bootstrap.principal(u, utc_now())) is not None and p.has_role("admin")
            }
        return sorted(names)

    def data_refusal(self, username: str, at: datetime) -> AccessDenied | None:
        """Why ``username`` may not query data at ``at`` — suspended, left, expired, no grant,
        or preconditions missing (``vetting_expired``, ``precondition_missing``) — or None."""
        found = self.standing(username, at)
        if found is None:
            return AccessDenied(f"{username!r} holds no authorised access grant")
        return found.refusal(at)

    # --- origin ---------------------------------------------------------------------------------

    def origin_refusal(self, username: str, client_address: str, at: datetime) -> str | None:
        """Why a connection by ``username`` from ``client_address`` is not allowed (or None)."""
        with self.store.reading() as r:
            rules = r.settings().origin
            person = r.person(username)
            if person is None:
                if self._bootstrap(username, at) is not None and _is_loopback(client_address):
                    return None
                return "bootstrap administrators connect from the gateway host (loopback) only"
            org = r.require_organisation(person.organisation)
            return origin_refusal(client_address, org.networks, person.workstations, rules)

    def check_origin(self, username: str, client_address: str, at: datetime) -> None:
        """Refuse (and audit) a connection from an address the user may not connect from.

        Raises:
            NetworkNotPermitted: the address is not registered for the user; the attempt is
                recorded as an ``access.denied`` event first.
            AuditUnavailable: the refusal could not be recorded (still a refusal).
        """
        reason = self.origin_refusal(username, client_address, at)
        if reason is None:
            return
        error = NetworkNotPermitted(f"connection refused for {username!r}: {reason}")
        if self.audit is not None:
            self.audit.record(
                AccessEvent(
                    EventKind.ACCESS_DENIED,
                    username,
                    self._organisation_name(username),
                    subject=username,
                    comment=str(error),
                    extra={"reason": error.code, "client_address": client_address},
                )
            )
        raise error

    def _organisation_name(self, username: str) -> str:
        with self.store.reading() as r:
            person = r.person(username)
            org = r.organisation(person.organisation) if person is not None else None
            return org.name if org is not None else ""

    def admit(self, username: str, client_address: str, at: datetime) -> Principal | None:
        """Origin check, then the principal: what an API request's authentication should call.

        Returns None for an unknown username.
        """
        principal = self.principal(username, at)
        if principal is None:
            return None
        self.check_origin(username, client_address, at)
        return principal


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip()).is_loopback
    except ValueError:
        return False
