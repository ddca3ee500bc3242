"""When a person last used the gateway, kept cheaply: the idle rules for sessions and tokens.

Two idle rules of the policy's ``[login]`` section read a "last seen" time: a web session is
signed off after ``idle_minutes`` without a request (``web_session.last_seen``), and a person's
API tokens stop after ``token_idle_minutes`` without any use of the gateway by that person —
no web request, no token request (``person_activity.last_seen``, this module's table).

Writing "last seen" on every request costs a write transaction (and an fsync) per request, all
queued behind SQLite's one writer. So a time is only written when the recorded one is older than
:func:`refresh_interval` — a twentieth of the idle interval, at most a minute. The recorded time
then lags the true last request by less than that interval, and an idle rule decided on it ends
a session (or stops a token) at most that much *early*, never late: with the default 15 minutes,
a session ends between 14 min 15 s and 15 min after its last request.

:class:`PersonActivity` also remembers, in the process, the last time it read or wrote for each
person: a person seen less than a refresh interval ago is certainly not idle, so the store is
not read at all.

Example:
    >>> from datetime import timedelta
    >>> refresh_interval(timedelta(minutes=15))
    datetime.timedelta(seconds=45)
    >>> refresh_interval(timedelta(days=7))
    datetime.timedelta(seconds=60)
    >>> import tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> store = PersonActivity(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> t = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
    >>> store.seen("a.khan", t, idle=timedelta(days=7))
    >>> store.last_seen("a.khan") == t
    True
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path

from gateway.auth.tokens import credential_transaction
from gateway.clock import from_time, to_time
from gateway.register_store import RegisterConnection

__all__ = ["PersonActivity", "refresh_due", "refresh_interval"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS person_activity (
    username   TEXT PRIMARY KEY,
    last_seen  TEXT NOT NULL
)"""
_LONGEST_REFRESH = timedelta(minutes=1)


def refresh_interval(idle: timedelta) -> timedelta:
    """How stale a recorded "last seen" may get before it is written again: a twentieth of the
    idle interval, at most a minute (so an idle rule acts at most that much early)."""
    return min(idle / 20, _LONGEST_REFRESH)


def refresh_due(last_seen: datetime, at: datetime, idle: timedelta) -> bool:
    """Whether a request at ``at`` should record itself, ``last_seen`` being recorded.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> t = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
        >>> idle = timedelta(minutes=15)
        >>> refresh_due(t, t + timedelta(seconds=44), idle), refresh_due(t, t + timedelta(seconds=45), idle)
        (False, True)
    """
    return at - last_seen >= refresh_interval(idle)


class PersonActivity:
    """The ``person_activity`` table of ``DIR/governance.sqlite``: each person's last use.

    Args:
        path: the SQLite file; the table is created if absent.
        busy_timeout: seconds to wait for another writer.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        #: username → the latest time this process read or wrote for them.
        self._known: dict[str, datetime] = {}
        with self._connect(write=True) as con:
            con.execute(_SCHEMA)

    def _connect(self, *, write: bool = False) -> AbstractContextManager[RegisterConnection]:
        return credential_transaction(self.path, write=write, busy_timeout=self.busy_timeout)

    def last_seen(self, username: str) -> datetime | None:
        """The recorded last use (None: never recorded)."""
        with self._connect() as con:
            row = con.execute(
                "SELECT last_seen FROM person_activity WHERE username = ?", (username,)
            ).fetchone()
        seen = from_time(row[0]) if row else None
        if seen is not None:
            self._remember(username, seen)
        return seen

    def seen(self, username: str, at: datetime, *, idle: timedelta) -> None:
        """Record a use at ``at`` unless one within :func:`refresh_interval` is recorded."""
        known = self._known.get(username)
        if known is not None and not refresh_due(known, at, idle):
            return
        with self._connect(write=True) as con:
            con.execute(
                # the later of the two, in SQL both SQLite and PostgreSQL (a shared register) run
                "INSERT INTO person_activity (username, last_seen) VALUES (?, ?)"
                " ON CONFLICT (username) DO UPDATE SET last_seen = CASE"
                " WHEN excluded.last_seen > person_activity.last_seen THEN excluded.last_seen"
                " ELSE person_activity.last_seen END",
                (username, to_time(at)),
            )
        self._remember(username, at)

    def idle_since(
        self, username: str, at: datetime, idle: timedelta, *, floor: datetime
    ) -> datetime | None:
        """When the person's idleness began, if they have been idle for ``idle`` at ``at``
        (else None); ``floor`` is the latest use known otherwise (a token's issue time)."""
        known = self._known.get(username)
        if known is not None and at - known < refresh_interval(idle):
            return None  # seen by this process moments ago: no need to read
        last = max(self.last_seen(username) or floor, floor)
        return last if at - last >= idle else None

    def _remember(self, username: str, at: datetime) -> None:
        known = self._known.get(username)
        if known is None or at > known:
            self._known[username] = at
