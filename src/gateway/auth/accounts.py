"""Sign-in accounts: each person's password hash, its history, failed attempts and lock.

The table ``login_account`` of ``DIR/governance.sqlite`` (beside ``api_token``) keeps, per
username, the argon2id hash of the current password and the hashes of earlier ones (newest
first, as many as the policy's ``history`` needs), whether it must be changed at the next
sign-in, the failed attempts in a row and when the account was locked. It never holds a
password. Every write takes a ``record`` callback that appends the audit record inside the same
transaction, before it commits (write-ahead, as :mod:`gateway.auth.tokens`): no lock, unlock or
password change exists without its record.

Example:
    >>> import tempfile, pathlib
    >>> store = AccountStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> store.set_password("a.khan", "$argon2id$…", must_change=True, keep=3).must_change
    True
    >>> store.record_failure("a.khan", max_failures=2).failures
    1
    >>> store.record_failure("a.khan", max_failures=2).locked_at is not None
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gateway.auth.tokens import credential_transaction
from gateway.clock import Clock, from_time, to_time, utc_now
from gateway.errors import NotFound
from gateway.register_store import RegisterConnection

__all__ = ["Account", "AccountStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS login_account (
    username         TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,
    previous_hashes  TEXT NOT NULL DEFAULT '[]',
    must_change      INTEGER NOT NULL DEFAULT 1,
    failures         INTEGER NOT NULL DEFAULT 0,
    locked_at        TEXT,
    changed_at       TEXT NOT NULL
)"""
_COLUMNS = "username, password_hash, previous_hashes, must_change, failures, locked_at, changed_at"

Record = Callable[["Account"], object]


@dataclass(frozen=True)
class Account:
    """One person's sign-in state (hashes only).

    Attributes:
        previous_hashes: earlier passwords' hashes, newest first.
        must_change: the password was set by someone else: change it at the next sign-in.
        failures: failed attempts since the last success (or unlock).
        locked_at: when it was locked (None: not locked).
        changed_at: when the password was last set.
    """

    username: str
    password_hash: str
    previous_hashes: tuple[str, ...]
    must_change: bool
    failures: int
    locked_at: datetime | None
    changed_at: datetime

    def locked(self, at: datetime, unlock_after: timedelta | None) -> bool:
        """Locked at ``at``: locked and (no interval, or the interval not yet over)."""
        if self.locked_at is None:
            return False
        return unlock_after is None or at < self.locked_at + unlock_after

    @property
    def recent_hashes(self) -> tuple[str, ...]:
        """The current hash, then earlier ones (what a new password must not match)."""
        return (self.password_hash, *self.previous_hashes)


def _account(row: tuple[object, ...]) -> Account:
    changed = from_time(str(row[6]))
    assert changed is not None
    return Account(
        username=str(row[0]),
        password_hash=str(row[1]),
        previous_hashes=tuple(json.loads(str(row[2]))),
        must_change=bool(row[3]),
        failures=int(str(row[4])),
        locked_at=from_time(str(row[5])) if row[5] is not None else None,
        changed_at=changed,
    )


class AccountStore:
    """The ``login_account`` table. Thread- and process-safe (one SQLite transaction per call).

    Args:
        path: the SQLite file (``DIR/governance.sqlite``); the table is created if absent.
        clock: current UTC time.
    """

    def __init__(self, path: Path, *, clock: Clock = utc_now, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        with self._connect(write=True) as con:
            con.execute(_SCHEMA)

    def _connect(self, *, write: bool = False) -> AbstractContextManager[RegisterConnection]:
        return credential_transaction(self.path, write=write, busy_timeout=self.busy_timeout)

    @staticmethod
    def _read(con: RegisterConnection, username: str) -> Account | None:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM login_account WHERE username = ?", (username,)
        ).fetchone()
        return _account(row) if row else None

    def get(self, username: str) -> Account | None:
        """The account of ``username``, or None when they have no password."""
        with self._connect() as con:
            return self._read(con, username)

    def usernames(self) -> list[str]:
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT username FROM login_account ORDER BY 1")]

    def set_password(
        self,
        username: str,
        password_hash: str,
        *,
        must_change: bool,
        keep: int,
        record: Record | None = None,
    ) -> Account:
        """Store a new hash; the old one joins the history (``keep`` newest kept). Clears the
        failures and any lock."""
        now = to_time(self.clock())
        with self._connect(write=True) as con:
            old = self._read(con, username)
            history = list(old.recent_hashes[:keep]) if old is not None else []
            con.execute(
                "INSERT INTO login_account (username, password_hash, previous_hashes,"
                " must_change, failures, locked_at, changed_at) VALUES (?, ?, ?, ?, 0, NULL, ?)"
                " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"
                " previous_hashes = excluded.previous_hashes, must_change = excluded.must_change,"
                " failures = 0, locked_at = NULL, changed_at = excluded.changed_at",
                (username, password_hash, json.dumps(history), int(must_change), now),
            )
            account = self._read(con, username)
            assert account is not None
            if record is not None:
                record(account)
        return account

    def record_failure(
        self, username: str, *, max_failures: int, record: Record | None = None
    ) -> Account:
        """Count a failed attempt; the ``max_failures``-th in a row locks the account.

        Raises:
            NotFound: no such account.
        """
        now = to_time(self.clock())
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE login_account SET failures = failures + 1,"
                " locked_at = CASE WHEN locked_at IS NULL AND failures + 1 >= ? THEN ?"
                " ELSE locked_at END WHERE username = ?",
                (max_failures, now, username),
            )
            account = self._read(con, username)
            if account is None:
                raise NotFound(f"{username!r} has no sign-in account")
            if record is not None:
                record(account)
        return account

    def record_success(self, username: str, *, rehashed: str | None = None) -> None:
        """A right password: the failures start again from 0 (and a stronger hash is kept)."""
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE login_account SET failures = 0,"
                " password_hash = coalesce(?, password_hash) WHERE username = ?",
                (rehashed, username),
            )

    def unlock(self, username: str, *, record: Record | None = None) -> Account:
        """Clear the lock and the failures.

        Raises:
            NotFound: no such account.
        """
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE login_account SET failures = 0, locked_at = NULL WHERE username = ?",
                (username,),
            )
            account = self._read(con, username)
            if account is None:
                raise NotFound(f"{username!r} has no sign-in account")
            if record is not None:
                record(account)
        return account
