"""API tokens: high-entropy bearer secrets, shown once, stored only as SHA-256 hashes.

A token reads ``pgw_`` followed by 43 URL-safe characters (32 random bytes). The store keeps its
SHA-256 hash, never the token, in the table ``api_token`` of ``DIR/governance.sqlite`` (the
governance store keeps its own tables in the same file). A presented token is hashed, the row
with that hash is looked up, and the stored hash is compared with :func:`hmac.compare_digest`.

Tokens have an id (``tok_…``, safe to show and log), an owner, an optional expiry and may be
revoked. Issuing and revoking are audited by :mod:`gateway.auth.admin`, write-ahead: it passes
a ``record`` callback that appends the audit record *inside* this store's transaction, after
the row is written and before it commits. If the record cannot be written the transaction rolls
back — no token exists without its record, and no revocation without its record.

Example:
    >>> import tempfile, pathlib
    >>> store = TokenStore(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> issued = store.issue("a.khan", issued_by="admin")
    >>> issued.token.startswith("pgw_"), store.find(issued.token).username
    (True, 'a.khan')
    >>> store.find("pgw_not-a-real-token") is None
    True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from gateway.clock import Clock, from_time, to_time, utc_now
from gateway.errors import GatewayError, NotFound
from gateway.register_store import RegisterConnection, connect, is_shared, transaction
from gateway.sqlite import connect as open_sqlite

__all__ = [
    "MAX_TOKEN_LENGTH",
    "TOKEN_PREFIX",
    "IssuedToken",
    "TokenRecord",
    "TokenState",
    "TokenStore",
    "TokenStoreUnavailable",
    "credential_transaction",
    "hash_token",
    "new_token",
]

#: Every token starts with this, so a leaked one is easy to recognise (and to scan for).
TOKEN_PREFIX = "pgw_"  # noqa: S105 (a prefix, not a secret)
_TOKEN_BYTES = 32
#: Longest text accepted as a token before hashing (anything longer is malformed).
MAX_TOKEN_LENGTH = 128

TokenState = Literal["active", "expired", "revoked"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS api_token (
        token_id    TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        username    TEXT NOT NULL,
        label       TEXT NOT NULL DEFAULT '',
        issued_at   TEXT NOT NULL,
        issued_by   TEXT NOT NULL,
        expires_at  TEXT,
        revoked_at  TEXT,
        revoked_by  TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS api_token_username ON api_token (username)",
)


@contextmanager
def credential_transaction(
    path: Path, *, write: bool = False, busy_timeout: float = 10.0
) -> Iterator[RegisterConnection]:
    """A connection to a credential store (tokens, sign-in accounts, web sessions: tables of
    ``DIR/governance.sqlite``) in a transaction committed on leaving the block (rolled back on
    any exception); ``write`` takes the write lock at once (``BEGIN IMMEDIATE``).

    Raises:
        TokenStoreUnavailable: the file cannot be opened, read or written (503).
    """
    try:
        if not write and not is_shared(path):
            with _READERS.reading(path, busy_timeout) as reader:
                yield reader
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            closing(connect(path, busy_timeout=busy_timeout)) as con,
            transaction(con, write=write),
        ):
            yield con
    except sqlite3.Error as exc:
        raise TokenStoreUnavailable(f"the credential store cannot be used: {exc}") from exc


class _Readers(threading.local):
    """One open read connection per thread and credential file: every request reads the
    token store (and the sign-in account) before anything else, and opening the file with its
    pragmas cost more than the read. Each use is its own read transaction (a fresh snapshot:
    a revocation committed a moment ago is seen), the connection is dropped on any error, and
    a file replaced on disk (another inode) or a forked process opens afresh. A nested use
    opens a connection of its own."""

    def __init__(self) -> None:
        self.idle: dict[Path, tuple[sqlite3.Connection, tuple[int, int, int]]] = {}

    @contextmanager
    def reading(self, path: Path, busy_timeout: float) -> Iterator[sqlite3.Connection]:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            stat = None
        identity = (os.getpid(), stat.st_dev, stat.st_ino) if stat is not None else None
        con: sqlite3.Connection | None = None
        kept = self.idle.pop(path, None)
        if kept is not None:
            if kept[1] == identity:
                con = kept[0]
            else:
                kept[0].close()
        if con is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = open_sqlite(path, busy_timeout=busy_timeout)
        try:
            with transaction(con, write=False):
                yield con
        except BaseException:
            con.close()
            raise
        if identity is None or path in self.idle:
            con.close()
        else:
            self.idle[path] = (con, identity)


_READERS = _Readers()


class TokenStoreUnavailable(GatewayError):
    """The token store cannot be read or written (so nobody can be authenticated)."""

    code = "authentication_unavailable"
    status = 503


def new_token() -> str:
    """A fresh bearer token: ``pgw_`` + 32 random bytes, URL-safe base64.

    Example:
        >>> len(new_token())
        47
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a token: the only form the store keeps.

    Example:
        >>> hash_token("pgw_x")[:12]
        'f362000bfb53'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    """A stored token (without its secret).

    Attributes:
        token_id: public id, e.g. ``tok_3f9a1c0b2d4e``.
        username: the principal the token authenticates as.
        label: what it is for (``notebook``, ``demo``).
        issued_at, issued_by: when and by whom it was issued.
        expires_at: when it stops working (None = never).
        revoked_at, revoked_by: set once revoked.
    """

    token_id: str
    username: str
    label: str
    issued_at: datetime
    issued_by: str
    expires_at: datetime | None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def state(self, at: datetime) -> TokenState:
        """``revoked``, ``expired`` or ``active`` at time ``at``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class IssuedToken:
    """A newly issued token: ``token`` is the secret, shown to its owner once and never again."""

    token: str
    record: TokenRecord


class TokenStore:
    """The ``api_token`` table: issue, find, list and revoke tokens. Thread-safe (one SQLite
    connection per call, opened by :func:`gateway.sqlite.connect`) and safe for several
    processes (SQLite's own locking).

    Args:
        path: the SQLite file (``DIR/governance.sqlite``); created with the table if absent.
        clock: returns the current UTC time (tests inject one).
        busy_timeout: seconds to wait for another writer.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = utc_now,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        with self._connect(write=True) as con:
            for statement in _SCHEMA:
                con.execute(statement)

    def _connect(self, *, write: bool = False) -> AbstractContextManager[RegisterConnection]:
        return credential_transaction(self.path, write=write, busy_timeout=self.busy_timeout)

    # --- writing -------------------------------------------------------------------------

    def issue(
        self,
        username: str,
        *,
        issued_by: str,
        label: str = "",
        expires_in: timedelta | None = timedelta(days=90),
        record: Callable[[TokenRecord], object] | None = None,
    ) -> IssuedToken:
        """Create a token for ``username``; the returned secret is not stored anywhere.

        Args:
            record: called with the new token's record inside the transaction, before it
                commits (write the audit record here); if it raises, no token is created.

        Raises:
            TokenStoreUnavailable: the token could not be stored (if ``record`` already ran,
                its record describes a token that does not exist).
        """
        now = self.clock()
        token = new_token()
        new = TokenRecord(
            token_id=f"tok_{secrets.token_hex(6)}",
            username=username,
            label=label,
            issued_at=now,
            issued_by=issued_by,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        with self._connect(write=True) as con:
            con.execute(
                "INSERT INTO api_token (token_id, token_hash, username, label, issued_at,"
                " issued_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    new.token_id,
                    hash_token(token),
                    username,
                    label,
                    to_time(now),
                    issued_by,
                    to_time(new.expires_at),
                ),
            )
            if record is not None:
                record(new)  # write-ahead: raising here rolls the token back
        return IssuedToken(token, new)

    def revoke(
        self,
        token_id: str,
        *,
        revoked_by: str,
        record: Callable[[TokenRecord], object] | None = None,
    ) -> TokenRecord:
        """Revoke a token by id (revoking a revoked token keeps the first revocation).

        Args:
            record: called with the revoked token's record inside the transaction, before it
                commits; if it raises, the token is not revoked.

        Raises:
            NotFound: there is no token with that id.
        """
        with self._connect(write=True) as con:
            con.execute(
                "UPDATE api_token SET revoked_at = ?, revoked_by = ?"
                " WHERE token_id = ? AND revoked_at IS NULL",
                (to_time(self.clock()), revoked_by, token_id),
            )
            row = con.execute(
                f"SELECT {self._COLUMNS} FROM api_token WHERE token_id = ?", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"there is no token {token_id!r}")
            revoked = self._record(row)
            if record is not None:
                record(revoked)  # write-ahead: raising here keeps the token active
        return revoked

    # --- reading -------------------------------------------------------------------------

    _COLUMNS = "token_id, username, label, issued_at, issued_by, expires_at, revoked_at, revoked_by"

    @staticmethod
    def _record(row: tuple[str, ...]) -> TokenRecord:
        issued_at = from_time(row[3])
        assert issued_at is not None
        return TokenRecord(
            token_id=row[0],
            username=row[1],
            label=row[2],
            issued_at=issued_at,
            issued_by=row[4],
            expires_at=from_time(row[5]),
            revoked_at=from_time(row[6]),
            revoked_by=row[7],
        )

    def find(self, token: str) -> TokenRecord | None:
        """The record of a presented token (in any state), or None if no such token exists.

        The lookup is by hash; the stored hash is then compared in constant time.
        """
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            return None
        presented = hash_token(token)
        with self._connect() as con:
            row = con.execute(
                f"SELECT token_hash, {self._COLUMNS} FROM api_token WHERE token_hash = ?",
                (presented,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], presented):
            return None
        return self._record(row[1:])

    def get(self, token_id: str) -> TokenRecord | None:
        """A token's record by its public id."""
        with self._connect() as con:
            row = con.execute(
                f"SELECT {self._COLUMNS} FROM api_token WHERE token_id = ?", (token_id,)
            ).fetchone()
        return self._record(row) if row else None

    def list(self, username: str | None = None) -> list[TokenRecord]:
        """Every token (or one user's), oldest first."""
        query = f"SELECT {self._COLUMNS} FROM api_token"
        args: tuple[str, ...] = ()
        if username is not None:
            query += " WHERE username = ?"
            args = (username,)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY issued_at, token_id", args).fetchall()
        return [self._record(row) for row in rows]
