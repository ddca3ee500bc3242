"""Signing in to the web application, by the policy's ``[login]`` rules, every step audited.

    sign_in            username + password → a session at its first stage
                       (``password_change`` when the password was set by someone else, else
                       ``syops``); wrong password → a failure counted and audited; the
                       ``max_failures``-th in a row locks the account (audited)
    change_password    the current password, then a new one that meets the rules
                       (``access.password_changed``: the change alert)
    accept_syops       the SyOPs accepted under the monitoring notice → ``active``
                       (``access.signed_in`` with the SyOPs version)
    resolve            a cookie's session → the principal, or why not (idle, too old, locked,
                       suspended …: a dead session is ended and audited)
    set_password       an administrator (or the demo) sets one: must be changed at first use
    unlock, unlock_as  an administrator unlocks an account (``unlock_as``: the signed-in
                       administrator, checked against ``admin.administer``)

Refusals are deliberately alike: an unknown username and a wrong password get the same answer
after the same work (an argon2 verification), so the form does not tell who has an account.
A locked account says so (the person must ask an administrator), and its API tokens stop too;
so do the tokens of a person idle past ``token_idle_minutes`` until they sign in again
(:class:`~gateway.auth.authenticate.BearerTokenAuthenticator` asks
:meth:`SignIn.token_refusal`). A request's time is recorded only when the recorded one is
older than a small fraction of the idle interval (:mod:`gateway.auth.activity`), so a page or
console request does not write on every call.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.log import AuditLog
    >>> from gateway.datadir import DataDir
    >>> from gateway.policy.login import LoginSettings
    >>> from gateway.principal import Principal
    >>> from gateway.users import UsersFile
    >>> dd = DataDir(pathlib.Path(tempfile.mkdtemp()))
    >>> _ = dd.users.write_text('[users."a.khan"]\\nlevel = "general"\\n')
    >>> with AuditLog.open(dd) as log:
    ...     signin = SignIn.open(dd.governance, UsersFile(dd.users), log, LoginSettings())
    ...     _ = signin.set_password("a.khan", "granite ferry lantern", by="gw.admin")
    ...     secret, session = signin.sign_in("a.khan", "granite ferry lantern", "127.0.0.1")
    ...     session.stage
    'password_change'
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.auth.accounts import Account, AccountStore
from gateway.auth.activity import PersonActivity, refresh_due
from gateway.auth.authenticate import account_refusal
from gateway.auth.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from gateway.auth.permissions import Action, Permissions
from gateway.auth.sessions import SessionStore, WebSession
from gateway.auth.tokens import TokenRecord
from gateway.clock import Clock, utc_now
from gateway.errors import (
    AccessDenied,
    AccountIdle,
    AccountLocked,
    AuthenticationError,
    GatewayError,
    InputError,
    NotFound,
)
from gateway.policy.login import LoginSettings
from gateway.principal import Principal, PrincipalDirectory

__all__ = ["PasswordRejected", "SessionEnded", "SignIn"]

_WRONG = "the username or password is not right"
#: Verified against when the username has no account, so a miss costs what a hit costs.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


class PasswordRejected(InputError):
    """A new password that breaks the policy's rules (400 ``password_rejected``)."""

    code = "password_rejected"


class SessionEnded(AuthenticationError):
    """The session is over (signed out, idle, too old) or never existed: sign in again.

    Attributes:
        reason: ``signed_out`` (or never signed in), ``idle`` or ``lifetime``.
    """

    def __init__(self, message: str, *, reason: str = "signed_out") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _Actor:
    username: str
    organisation: str


class SignIn:
    """The sign-in workflow over the account and session stores.

    Args:
        accounts, sessions, activity: the stores (tables of ``DIR/governance.sqlite``).
        directory: resolves a username to the principal as of now.
        audit: where every step is recorded.
        rules: the policy's ``[login]`` section.
        clock: current UTC time.
    """

    def __init__(
        self,
        accounts: AccountStore,
        sessions: SessionStore,
        directory: PrincipalDirectory,
        audit: AuditLog,
        rules: LoginSettings,
        *,
        activity: PersonActivity | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.accounts = accounts
        self.sessions = sessions
        self.activity = activity or PersonActivity(sessions.path)
        self.directory = directory
        self.audit = audit
        self.rules = rules
        self.clock = clock

    @classmethod
    def open(
        cls,
        path: Path,
        directory: PrincipalDirectory,
        audit: AuditLog,
        rules: LoginSettings,
        *,
        clock: Clock = utc_now,
    ) -> SignIn:
        """Over the stores in the SQLite file ``path`` (``DIR/governance.sqlite``)."""
        return cls(
            AccountStore(path, clock=clock),
            SessionStore(path, clock=clock),
            directory,
            audit,
            rules,
            activity=PersonActivity(path),
            clock=clock,
        )

    # --- records -------------------------------------------------------------------------

    def _actor(self, username: str) -> _Actor:
        principal = self.directory.principal(username, self.clock())
        return _Actor(username, principal.organisation if principal else "")

    def _record(
        self,
        kind: EventKind,
        actor: _Actor,
        *,
        subject: str = "",
        comment: str = "",
        **extra: str | int | None,
    ) -> None:
        self.audit.record(
            AccessEvent(
                kind,
                actor.username,
                actor.organisation,
                subject=subject or actor.username,
                comment=comment,
                extra={"channel": "web", **extra},
            )
        )

    def _failed(
        self,
        actor: _Actor,
        reason: str,
        client_address: str,
        *,
        failures: int | None = None,
        limit: int | None = None,
        method: str | None = None,
    ) -> None:
        self._record(
            EventKind.ACCESS_AUTHENTICATION_FAILED,
            actor,
            comment=reason,
            reason=reason,
            client_address=client_address,
            failures=failures,
            limit=limit,
            **({"method": method} if method else {}),
        )

    # --- state -------------------------------------------------------------------------

    def locked(self, username: str, at: datetime | None = None) -> bool:
        """Whether ``username``'s account is locked now (their tokens stop too)."""
        account = self.accounts.get(username)
        return account is not None and account.locked(at or self.clock(), self.rules.unlock_after)

    def token_refusal(self, token: TokenRecord, at: datetime) -> GatewayError | None:
        """Why the owner of an active token may not use it at ``at`` — locked, or idle past
        ``token_idle_minutes`` (since their last use of the gateway, or the token's issue) —
        else None, and the use is recorded (at most every refresh interval)."""
        username = token.username
        if self.locked(username, at):
            return AccountLocked(
                f"the account {username!r} is locked after failed sign-in attempts; "
                "an administrator can unlock it"
            )
        idle = self.rules.token_idle_timeout
        if idle is None:
            return None
        since = self.activity.idle_since(username, at, idle, floor=token.issued_at)
        if since is not None:
            return AccountIdle(
                f"{username!r} has not used the gateway since {since:%Y-%m-%d %H:%M} UTC "
                f"(tokens stop after {self.rules.token_idle_minutes:g} minutes without use): "
                "sign in to the web application to use them again"
            )
        self.activity.seen(username, at, idle=idle)
        return None

    def _seen(self, username: str, at: datetime) -> None:
        """A use of the gateway by ``username`` (keeps their tokens from going idle)."""
        idle = self.rules.token_idle_timeout
        if idle is not None:
            self.activity.seen(username, at, idle=idle)

    def _lapse_expired_lock(self, account: Account, now: datetime) -> Account:
        """A lock whose interval is over ends (audited, by the system) before the attempt."""
        if account.locked_at is None or account.locked(now, self.rules.unlock_after):
            return account
        return self.accounts.unlock(
            account.username,
            record=lambda a: self._record(
                EventKind.ACCESS_ACCOUNT_UNLOCKED,
                _Actor("system", ""),
                subject=a.username,
                comment="the lock's interval ([login] unlock_after_minutes) is over",
            ),
        )

    # --- signing in ----------------------------------------------------------------------

    def sign_in(self, username: str, password: str, client_address: str) -> tuple[str, WebSession]:
        """Check a password and open a session at its first stage.

        Returns:
            the session's secret id (for the cookie) and its record.

        Raises:
            AuthenticationError: unknown username or wrong password (401, one message).
            AccountLocked: the account is locked (403).
            AccountSuspended, AccessExpired: the person may not use the gateway now (403).
        """
        now = self.clock()
        username = username.strip()[:100]
        actor = self._actor(username or "anonymous")
        account = self.accounts.get(username) if username else None
        if account is None:
            verify_password(_DECOY_HASH, password)
            self._failed(actor, "unknown_user", client_address)
            raise AuthenticationError(_WRONG)
        account = self._lapse_expired_lock(account, now)
        if account.locked(now, self.rules.unlock_after):
            self._failed(actor, "account_locked", client_address)
            raise AccountLocked(self._locked_message())
        if not verify_password(account.password_hash, password):
            self._count_failure(actor, client_address)
        principal = self.directory.principal(username, now)
        if principal is None:
            self._failed(actor, "unknown_user", client_address)
            raise AuthenticationError(_WRONG)
        refusal = account_refusal(principal, now)
        if refusal is not None:
            self._failed(actor, refusal.code, client_address)
            raise refusal
        rehashed = hash_password(password) if needs_rehash(account.password_hash) else None
        self.accounts.record_success(username, rehashed=rehashed)
        self._seen(username, now)
        return self.sessions.create(username, "password_change" if account.must_change else "syops")

    def sign_in_verified(
        self, username: str, client_address: str, *, method: str, subject: str
    ) -> tuple[str, WebSession]:
        """Open a session for a person an identity provider has vouched for (OpenID Connect).

        The provider only proves who the person is: they must be in the directory, and a
        lock, suspension or expiry refuses them as it would a password. The session starts at
        the SyOPs (no password is involved, so none is due for change).

        Raises:
            AuthenticationError: not a gateway user (401, the same answer as a wrong password).
            AccountLocked, AccountSuspended, AccessExpired: they may not use the gateway now.
        """
        now = self.clock()
        actor = self._actor(username)
        account = self.accounts.get(username)
        if account is not None:
            account = self._lapse_expired_lock(account, now)
            if account.locked(now, self.rules.unlock_after):
                self._failed(actor, "account_locked", client_address, method=method)
                raise AccountLocked(self._locked_message())
        principal = self.directory.principal(username, now)
        if principal is None:
            self._failed(actor, "unknown_user", client_address, method=method)
            raise AuthenticationError("the identity provider's account is not a gateway user")
        refusal = account_refusal(principal, now)
        if refusal is not None:
            self._failed(actor, refusal.code, client_address, method=method)
            raise refusal
        secret, session = self.sessions.create(username, "syops")
        self._record(
            EventKind.ACCESS_IDENTITY_VERIFIED,
            actor,
            comment=f"identity verified by {method}",
            method=method,
            provider_subject=subject[:200],
            client_address=client_address,
            session=session.id_hash[:16],
        )
        return secret, session

    def identity_rejected(self, reason: str, client_address: str, *, method: str) -> None:
        """Record a sign-in through an identity provider that failed before anyone was known."""
        self._failed(self._actor("anonymous"), reason, client_address, method=method)

    def _count_failure(self, actor: _Actor, client_address: str) -> NoReturn:
        limit = self.rules.max_failures

        def record(account: Account) -> None:
            self._failed(
                actor, "bad_password", client_address, failures=account.failures, limit=limit
            )
            if account.failures == limit:
                self._record(
                    EventKind.ACCESS_ACCOUNT_LOCKED,
                    _Actor("system", ""),
                    subject=actor.username,
                    comment=f"{limit} failed sign-in attempts in a row",
                    client_address=client_address,
                )

        account = self.accounts.record_failure(actor.username, max_failures=limit, record=record)
        if account.failures >= limit:
            self.sessions.end_all(actor.username)
            raise AccountLocked(self._locked_message())
        raise AuthenticationError(_WRONG)

    def _locked_message(self) -> str:
        after = self.rules.unlock_after
        when = (
            f"it unlocks after {self.rules.unlock_after_minutes} minutes, or "
            if after is not None
            else ""
        )
        return (
            f"the account is locked after {self.rules.max_failures} failed sign-in attempts; "
            f"{when}an administrator can unlock it"
        )

    # --- the stages ---------------------------------------------------------------------

    def change_password(
        self, secret: str, current: str, new: str, client_address: str
    ) -> tuple[str, WebSession]:
        """Change the signed-in person's password; the session moves on under a new id.

        Raises:
            SessionEnded: no live session.
            AuthenticationError: the current password is not right (counted as a failure).
            PasswordRejected: the new password breaks the rules.
        """
        session = self._live(secret)
        actor = self._actor(session.username)
        account = self.accounts.get(session.username)
        if account is None:
            raise SessionEnded("sign in again")
        if not verify_password(account.password_hash, current):
            self._count_failure(actor, client_address)
        problem = password_problem(
            new, session.username, self.rules, account.recent_hashes[: self.rules.history]
        )
        if problem is not None:
            raise PasswordRejected(problem)
        self.accounts.set_password(
            session.username,
            hash_password(new),
            must_change=False,
            keep=self.rules.history,
            record=lambda a: self._record(
                EventKind.ACCESS_PASSWORD_CHANGED,
                actor,
                comment="changed by its owner",
                client_address=client_address,
            ),
        )
        stage = "syops" if session.stage == "password_change" else session.stage
        return self.sessions.advance(secret, stage)

    def accept_syops(
        self, secret: str, version: str, client_address: str
    ) -> tuple[str, WebSession]:
        """The SyOPs accepted: the session becomes active under a new id (audited as the
        sign-in).

        Raises:
            SessionEnded: no live session.
            InputError: the version accepted is not the policy's current one (the page was old).
        """
        session = self._live(secret)
        if session.stage != "syops":
            raise AccessDenied("the security operating procedures are not what is due now")
        if version != self.rules.syops_version:
            raise InputError("the security operating procedures changed: read them again")
        new_secret, active = self.sessions.advance(secret, "active")
        self._record(
            EventKind.ACCESS_SIGNED_IN,
            self._actor(session.username),
            comment="security operating procedures accepted",
            syops_version=version,
            client_address=client_address,
            session=active.id_hash[:16],
        )
        return new_secret, active

    def sign_out(self, secret: str) -> None:
        session = self.sessions.find(secret)
        if session is None:
            return
        self.sessions.end(session)
        if session.stage == "active":
            self._record(
                EventKind.ACCESS_SIGNED_OUT,
                self._actor(session.username),
                comment="signed out",
                reason="signed_out",
                session=session.id_hash[:16],
            )

    def _live(self, secret: str) -> WebSession:
        """The session a cookie names if it is live (a dead one is ended and audited)."""
        session = self.sessions.find(secret)
        if session is None:
            raise SessionEnded("you are not signed in")
        ended = session.ended_by(self.clock(), self.rules.idle_timeout, self.rules.session_lifetime)
        if ended is not None:
            self.sessions.end(session)
            self._record(
                EventKind.ACCESS_SIGNED_OUT,
                self._actor(session.username),
                comment=f"session ended: {ended}",
                reason=ended,
                session=session.id_hash[:16],
            )
            message = (
                f"signed out after {self.rules.idle_minutes:g} minutes without use"
                if ended == "idle"
                else "the session is over; sign in again"
            )
            raise SessionEnded(message, reason=ended)
        return session

    def resolve(self, secret: str) -> tuple[WebSession, Principal]:
        """The session and its principal for a request; the idle interval starts again
        (recorded when the recorded time is older than a small fraction of the interval).

        Raises:
            SessionEnded: no live session (idle, too old, signed out).
            AccountLocked, AccountSuspended, AccessExpired: the person may not use it now.
        """
        session = self._live(secret)
        now = self.clock()
        principal = self.directory.principal(session.username, now)
        refusal: GatewayError | None = (
            SessionEnded("you are not signed in") if principal is None else None
        )
        if principal is not None:
            refusal = account_refusal(principal, now)
        if refusal is None and self.locked(session.username, now):
            refusal = AccountLocked(self._locked_message())
        if refusal is not None or principal is None:
            self.sessions.end(session)
            raise refusal or SessionEnded("you are not signed in")
        if refresh_due(session.last_seen, now, self.rules.idle_timeout):
            self.sessions.touch(session)
        self._seen(session.username, now)
        return session, principal

    # --- administration ------------------------------------------------------------------

    def set_password(self, username: str, password: str | None, *, by: str) -> str:
        """Set a password for ``username`` (generated when None), to be changed at first use
        when the policy says so; returns it (shown once, never stored).

        Raises:
            NotFound: no such user.
            PasswordRejected: the password given breaks the rules.
        """
        if self.directory.principal(username, self.clock()) is None:
            raise NotFound(f"there is no user {username!r}")
        chosen = password if password is not None else _generated_passphrase()
        account = self.accounts.get(username)
        history = account.recent_hashes if account else ()
        problem = password_problem(chosen, username, self.rules, history)
        if problem is not None:
            raise PasswordRejected(problem)
        self.accounts.set_password(
            username,
            hash_password(chosen),
            must_change=self.rules.first_login_change,
            keep=self.rules.history,
            record=lambda a: self._record(
                EventKind.ACCESS_PASSWORD_SET,
                self._actor(by),
                subject=username,
                comment="set by an administrator",
                must_change=int(a.must_change),
            ),
        )
        self.sessions.end_all(username)
        return chosen

    def unlock_as(
        self, actor: Principal, username: str, *, permissions: Permissions, reason: str = ""
    ) -> Account:
        """An administrator (``admin.administer``) unlocks an account, as themselves.

        Raises:
            AccessDenied: ``actor`` is not an administrator.
            NotFound: no such account.
        """
        permissions.require(actor, Action.ADMINISTER)
        return self.unlock(username, by=actor.username, reason=reason)

    def accounts_overview(self) -> list[Account]:
        """Every sign-in account (hashes included: for administration pages, never shown)."""
        return [a for name in self.accounts.usernames() if (a := self.accounts.get(name))]

    def unlock(self, username: str, *, by: str, reason: str = "") -> Account:
        """Unlock an account (audited).

        Raises:
            NotFound: no such account.
        """
        return self.accounts.unlock(
            username,
            record=lambda a: self._record(
                EventKind.ACCESS_ACCOUNT_UNLOCKED,
                self._actor(by),
                subject=username,
                comment=reason or "unlocked by an administrator",
            ),
        )


_WORDS = [
    "amber",
    "anchor",
    "apple",
    "arrow",
    "aspen",
    "badge",
    "basin",
    "beacon",
    "birch",
    "bramble",
    "breeze",
    "bronze",
    "cabin",
    "canal",
    "candle",
    "canyon",
    "cedar",
    "chalk",
    "cherry",
    "cliff",
    "clover",
    "cobalt",
    "comet",
    "copper",
    "coral",
    "cotton",
    "crane",
    "crystal",
    "dawn",
    "delta",
    "desert",
    "ember",
    "falcon",
    "fern",
    "ferry",
    "fjord",
    "flint",
    "forest",
    "fossil",
    "garnet",
    "glacier",
    "granite",
    "harbor",
    "hazel",
    "heron",
    "island",
    "ivory",
    "jasper",
    "juniper",
    "kettle",
    "lagoon",
    "lantern",
    "lark",
    "lemon",
    "linen",
    "lotus",
    "maple",
    "marble",
    "meadow",
    "mirror",
    "moss",
    "nectar",
    "oasis",
    "ocean",
    "olive",
    "orchid",
    "otter",
    "pebble",
    "pepper",
    "pine",
    "plume",
    "prairie",
    "quartz",
    "quill",
    "raven",
    "reef",
    "ridge",
    "river",
    "robin",
    "saffron",
    "sage",
    "salmon",
    "shadow",
    "silver",
    "slate",
    "spruce",
    "summit",
    "swallow",
    "thistle",
    "timber",
    "topaz",
    "tulip",
    "tundra",
    "valley",
    "velvet",
    "walnut",
    "willow",
    "winter",
    "yarrow",
    "zephyr",
]


def _generated_passphrase(words: int = 5) -> str:
    """Five random words and two digits (about 40 bits, shown once, changed at first use).

    Example:
        >>> len(_generated_passphrase().split("-"))
        6
    """
    chosen = [secrets.choice(_WORDS) for _ in range(words)]
    return "-".join([*chosen, f"{secrets.randbelow(100):02d}"])
