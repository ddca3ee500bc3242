"""The governance tables in ``DIR/governance.sqlite`` and how connections to it are opened.

The file is shared with the API token table (``api_token``, owned by ``gateway.auth``); the
governance tables below are this package's, and their schema version is kept in
``governance_schema`` (not ``PRAGMA user_version``, which would be shared).

A file written by an older gateway is migrated when a store first opens it: each step of
:data:`MIGRATIONS` takes the schema from one version to the next, in one transaction with the
version bump (a failed step leaves the file as it was). A newer file is refused.

Connections are opened by :func:`gateway.sqlite.connect` (WAL, ``synchronous=FULL``, foreign
keys on, a busy timeout), one per operation (cheap for SQLite, and safe across threads and
processes).

Example:
    >>> import tempfile, pathlib
    >>> con = connect(pathlib.Path(tempfile.mkdtemp()) / "governance.sqlite")
    >>> con.execute("SELECT version FROM governance_schema").fetchone()[0] == SCHEMA_VERSION
    True
    >>> con.close()
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from gateway.errors import ConfigurationError
from gateway.register_store import RegisterConnection, table_exists, transaction
from gateway.register_store import connect as open_register

__all__ = ["MIGRATIONS", "NUMBERED_TABLES", "SCHEMA_VERSION", "TABLES", "connect"]

SCHEMA_VERSION = 2

#: Tables added in version 2: the organisation's agreements and authorisations, and stops.
_PARTNERSHIP_DDL = (
    """CREATE TABLE IF NOT EXISTS sharing_agreement (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        reference TEXT NOT NULL, signed TEXT NOT NULL, expires TEXT,
        copied_to TEXT NOT NULL REFERENCES person (username),
        recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sponsorship (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        sponsor TEXT NOT NULL REFERENCES organisation (code), sponsored_by TEXT NOT NULL,
        at TEXT NOT NULL, comment TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS owner_authorisation (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        authorised_by TEXT NOT NULL, at TEXT NOT NULL, comment TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS organisation_stop (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        kind TEXT NOT NULL, reason TEXT NOT NULL, stopped_by TEXT NOT NULL,
        stopped_at TEXT NOT NULL, lifted_by TEXT, lifted_at TEXT,
        lift_comment TEXT NOT NULL DEFAULT '')""",
)

#: ``MIGRATIONS[v]`` takes a version ``v`` file to version ``v + 1``.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE person ADD COLUMN senior_analyst TEXT",
        "ALTER TABLE person ADD COLUMN deputies TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE person ADD COLUMN local_supervisor TEXT",
        "ALTER TABLE memorandum ADD COLUMN username TEXT REFERENCES person (username)",
        "ALTER TABLE request_transition ADD COLUMN phone TEXT NOT NULL DEFAULT ''",
        *_PARTNERSHIP_DDL,
    ),
}

_DDL = (
    "CREATE TABLE IF NOT EXISTS governance_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS organisation (
        code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        areas TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS network_range (
        organisation TEXT NOT NULL REFERENCES organisation (code), cidr TEXT NOT NULL,
        description TEXT NOT NULL, added_by TEXT NOT NULL, added_at TEXT NOT NULL,
        PRIMARY KEY (organisation, cidr))""",
    """CREATE TABLE IF NOT EXISTS person (
        username TEXT PRIMARY KEY, full_name TEXT NOT NULL,
        organisation TEXT NOT NULL REFERENCES organisation (code),
        role_title TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL, roles TEXT NOT NULL,
        line_manager TEXT, areas TEXT NOT NULL, workstations TEXT NOT NULL, left_on TEXT,
        senior_analyst TEXT, deputies TEXT NOT NULL DEFAULT '[]', local_supervisor TEXT)""",
    """CREATE TABLE IF NOT EXISTS vetting (
        id INTEGER PRIMARY KEY, username TEXT NOT NULL REFERENCES person (username),
        level TEXT NOT NULL, granted TEXT NOT NULL, expires TEXT NOT NULL,
        reference TEXT NOT NULL, recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS declaration (
        id INTEGER PRIMARY KEY, username TEXT NOT NULL REFERENCES person (username),
        kind TEXT NOT NULL, signed TEXT NOT NULL,
        recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS training (
        id INTEGER PRIMARY KEY, username TEXT NOT NULL REFERENCES person (username),
        kind TEXT NOT NULL, completed TEXT NOT NULL,
        recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS memorandum (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        reference TEXT NOT NULL, signed TEXT NOT NULL, expires TEXT,
        recorded_by TEXT NOT NULL, recorded_at TEXT NOT NULL,
        username TEXT REFERENCES person (username))""",
    """CREATE TABLE IF NOT EXISTS code_of_connection (
        id INTEGER PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        declared_by TEXT NOT NULL, declared_on TEXT NOT NULL, valid_until TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS access_request (
        request_id TEXT PRIMARY KEY, applicant TEXT NOT NULL REFERENCES person (username),
        organisation TEXT NOT NULL, level TEXT NOT NULL, state TEXT NOT NULL,
        version INTEGER NOT NULL, submitted_at TEXT NOT NULL,
        form TEXT NOT NULL, applicant_details TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS access_request_state ON access_request (state)",
    """CREATE TABLE IF NOT EXISTS request_transition (
        request_id TEXT NOT NULL REFERENCES access_request (request_id), seq INTEGER NOT NULL,
        state TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, at TEXT NOT NULL,
        comment TEXT NOT NULL, phone TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (request_id, seq))""",
    """CREATE TABLE IF NOT EXISTS access_grant (
        grant_id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE
            REFERENCES access_request (request_id),
        username TEXT NOT NULL REFERENCES person (username), level TEXT NOT NULL,
        purposes TEXT NOT NULL, areas TEXT NOT NULL, tables TEXT NOT NULL, unmask TEXT NOT NULL,
        extra_areas TEXT NOT NULL,
        starts TEXT NOT NULL, ends TEXT, reason TEXT NOT NULL,
        authorised_by TEXT NOT NULL, authorised_at TEXT NOT NULL,
        revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX IF NOT EXISTS access_grant_user ON access_grant (username)",
    """CREATE TABLE IF NOT EXISTS suspension (
        id INTEGER PRIMARY KEY, username TEXT NOT NULL REFERENCES person (username),
        kind TEXT NOT NULL, reason TEXT NOT NULL,
        suspended_by TEXT NOT NULL, suspended_at TEXT NOT NULL,
        lifted_by TEXT, lifted_at TEXT, lift_comment TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS access_review (
        review_id TEXT PRIMARY KEY, organisation TEXT NOT NULL REFERENCES organisation (code),
        opened_by TEXT NOT NULL, opened_at TEXT NOT NULL, due TEXT NOT NULL, closed_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS access_review_entry (
        review_id TEXT NOT NULL REFERENCES access_review (review_id),
        username TEXT NOT NULL, decision TEXT, decided_by TEXT, decided_at TEXT,
        comment TEXT NOT NULL DEFAULT '', PRIMARY KEY (review_id, username))""",
    "CREATE TABLE IF NOT EXISTS governance_setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    *_PARTNERSHIP_DDL,
)

#: The tables this package owns.
#: Tables whose rows are numbered (``id INTEGER PRIMARY KEY``): an insert returns the id.
NUMBERED_TABLES = frozenset(
    re.search(r"TABLE IF NOT EXISTS (\w+)", ddl).group(1)  # type: ignore[union-attr]
    for ddl in _DDL
    if "id INTEGER PRIMARY KEY" in ddl
)

TABLES = (
    "governance_schema",
    "organisation",
    "network_range",
    "person",
    "vetting",
    "declaration",
    "training",
    "memorandum",
    "code_of_connection",
    "access_request",
    "request_transition",
    "access_grant",
    "suspension",
    "access_review",
    "access_review_entry",
    "governance_setting",
    "sharing_agreement",
    "sponsorship",
    "owner_authorisation",
    "organisation_stop",
)


def _create(conn: RegisterConnection) -> None:
    with transaction(conn):
        found = table_exists(conn, "governance_schema")
        row = conn.execute("SELECT version FROM governance_schema").fetchone() if found else None
        if row is None:
            for statement in _DDL:
                conn.execute(statement)
            conn.execute("INSERT INTO governance_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the governance database has schema version {version}; this gateway reads up "
                f"to {SCHEMA_VERSION}"
            )
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        for statement in _DDL:  # anything missing (e.g. a table dropped by hand) is recreated
            conn.execute(statement)
        conn.execute("UPDATE governance_schema SET version = ?", (SCHEMA_VERSION,))


def connect(path: Path, *, busy_timeout: float = 10.0, create: bool = True) -> RegisterConnection:
    """Open the governance database; with ``create``, also create or check its tables (done
    once when a store opens; the per-operation connections skip it).

    Raises:
        ConfigurationError: the file cannot be opened or is from a newer gateway.
    """
    try:
        conn = open_register(path, mode="rwc" if create else "rw", busy_timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open the governance database {path}: {exc}") from exc
    if create:
        try:
            _create(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise ConfigurationError(
                f"cannot prepare the governance database {path}: {exc}"
            ) from exc
        except ConfigurationError:
            conn.close()
            raise
    return conn
