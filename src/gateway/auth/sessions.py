"""Web sessions, kept on the server: a random id in a cookie, its SHA-256 in ``web_session``.

A session moves through stages — ``password_change`` (a first sign-in or a reset password),
``syops`` (the security operating procedures to accept), ``active`` — and gets a new id and a
new CSRF token at each step (so an id seen before sign-in is never one that is signed in). It
ends when its owner signs out, when it has not been used for the policy's idle interval, or
when it is older than the policy's session lifetime: :meth:`SessionStore.find` answers with the
session and whether it is still live, and the caller ends and audits a dead one. Expiry is
decided here, on the server, from ``last_seen``; a browser timer is only a courtesy.

Example:
    >>> import tempfile, pathlib
    >>> store = SessionStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> secret, session = store.create("a.khan", "syops")
    >>> store.find(secret).username, store.find("not-a-session") is None
    ('a.khan', True)
    >>> new_secret, moved = store.advance(secret, "active")
    >>> store.find(secret) is None, store.find(new_secret).stage
    (True, 'active')
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from gateway.auth.tokens import credential_transaction
from gateway.clock import Clock, from_time, to_time, utc_now
from gateway.register_store import RegisterConnection

__all__ = ["SessionStage", "SessionStore", "WebSession"]

SessionStage = Literal["password_change", "syops", "active"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS web_session (
        id_hash     TEXT PRIMARY KEY,
        username    TEXT NOT NULL,
        stage       TEXT NOT NULL,
        csrf_token  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        last_seen   TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS web_session_username ON web_session (username)",
)
_COLUMNS = "id_hash, username, stage, csrf_token, created_at, last_seen"
_MAX_SECRET = 128


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A stored session (the id itself is only in its owner's cookie).

    Attributes:
        id_hash: SHA-256 of the session id (safe to log).
        stage: what the session may do: change the password, accept the SyOPs, or everything.
        csrf_token: what every form and script request of this session must carry.
        created_at: when its owner's password was accepted.
        last_seen: the last request it made.
    """

    id_hash: str
    username: str
    stage: SessionStage
    csrf_token: str
    created_at: datetime
    last_seen: datetime

    def ended_by(self, at: datetime, idle: timedelta, lifetime: timedelta) -> str | None:
        """``idle`` or ``lifetime`` when the session is over at ``at``, else None."""
        if at - self.last_seen >= idle:
            return "idle"
        if at - self.created_at >= lifetime:
            return "lifetime"
        return None


def _session(row: tuple[str, ...]) -> WebSession:
    created, seen = from_time(row[4]), from_time(row[5])
    assert created is not None
    assert seen is not None
    stage: SessionStage = row[2]  # type: ignore[assignment]
    return WebSession(row[0], row[1], stage, row[3], created, seen)


class SessionStore:
    """The ``web_session`` table of ``DIR/governance.sqlite``.

    Args:
        path: the SQLite file; the table is created if absent.
        clock: current UTC time.
    """

    def __init__(self, path: Path, *, clock: Clock = utc_now, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        with self._connect(write=True) as con:
            for statement in _SCHEMA:
                con.execute(statement)

    def _connect(self, *, write: bool = False) -> AbstractContextManager[RegisterConnection]:
        return credential_transaction(self.path, write=write, busy_timeout=self.busy_timeout)

    def create(self, username: str, stage: SessionStage) -> tuple[str, WebSession]:
        """A new session: its secret id (for the cookie, never stored) and its record."""
        secret = secrets.token_urlsafe(32)
        now = to_time(self.clock())
        assert now is not None
        row = (_hash(secret), username, stage, secrets.token_urlsafe(32), now, now)
        with self._connect(write=True) as con:
            con.execute(f"INSERT INTO web_session ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", row)
        return secret, _session(row)

    def find(self, secret: str) -> WebSession | None:
        """The session a cookie names (live or not), or None."""
        if not secret or len(secret) > _MAX_SECRET:
            return None
        with self._connect() as con:
            row = con.execute(
                f"SELECT {_COLUMNS} FROM web_session WHERE id_hash = ?", (_hash(secret),)
            ).fetchone()
        return _session(row) if row else None

    def touch(self, session: WebSession) -> None:
        """Record a request now (the idle interval starts again)."""
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE web_session SET last_seen = ? WHERE id_hash = ?",
                (to_time(self.clock()), session.id_hash),
            )

    def advance(self, secret: str, stage: SessionStage) -> tuple[str, WebSession]:
        """Move a session to ``stage`` under a new id and CSRF token (the old id stops).

        Raises:
            KeyError: no such session.
        """
        session = self.find(secret)
        if session is None:
            raise KeyError("no such session")
        new_secret = secrets.token_urlsafe(32)
        now = to_time(self.clock())
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE web_session SET id_hash = ?, stage = ?, csrf_token = ?, last_seen = ?"
                " WHERE id_hash = ?",
                (_hash(new_secret), stage, secrets.token_urlsafe(32), now, session.id_hash),
            )
        moved = self.find(new_secret)
        assert moved is not None
        return new_secret, moved

    def end(self, session: WebSession) -> None:
        with self._connect(write=True) as con:
            con.execute("DELETE FROM web_session WHERE id_hash = ?", (session.id_hash,))

    def end_all(self, username: str) -> int:
        """End every session of ``username`` (locked, or the password changed elsewhere)."""
        with self._connect(write=True) as con:
            ended = con.execute("DELETE FROM web_session WHERE username = ?", (username,))
            return int(ended.rowcount)
