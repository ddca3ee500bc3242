"""Where a deployment's audit log is kept: its SQLite file, or a shared PostgreSQL database.

The embedded default is ``DIR/audit.sqlite``. Gateway hosts that share one log set
``GATEWAY_AUDIT_STORE`` (``gateway serve --audit-store`` sets it for the server and its
workers) to a libpq connection string, optionally naming the schema after ``#``::

    GATEWAY_AUDIT_STORE=postgresql://gateway@db.internal:5432/gateway#gateway_audit

Checkpoints, their key and the witnesses stay per data directory as before; every process
opening the log (server, CLI, ``gateway audit verify``) finds it the same way, so they must
see the same setting.

Example:
    >>> from pathlib import Path
    >>> from gateway.datadir import DataDir
    >>> audit_store_location(DataDir(Path("/srv/gw")), {})
    '/srv/gw/audit.sqlite'
    >>> split_location("postgresql://gw@db/audit#audit_2026")
    ('postgresql://gw@db/audit', 'audit_2026')
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from gateway.audit.store import AuditStore
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError

__all__ = [
    "AUDIT_STORE_VARIABLE",
    "audit_store_location",
    "embedded_log_missing",
    "open_audit_store",
    "split_location",
]

#: The environment variable naming a shared audit store.
AUDIT_STORE_VARIABLE = "GATEWAY_AUDIT_STORE"

_POSTGRES = ("postgresql://", "postgres://")


def audit_store_location(data_dir: DataDir, environ: Mapping[str, str] | None = None) -> str:
    """The configured store: a ``postgresql://`` string, or the SQLite file's path."""
    env = os.environ if environ is None else environ
    configured = env.get(AUDIT_STORE_VARIABLE, "").strip()
    if not configured:
        return str(data_dir.audit)
    if not configured.startswith(_POSTGRES):
        raise ConfigurationError(
            f"{AUDIT_STORE_VARIABLE} must be a postgresql:// connection string (unset: the "
            f"embedded {data_dir.audit.name}), not {configured.split(':', 1)[0]!r}"
        )
    return configured


def embedded_log_missing(data_dir: DataDir, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the log is the embedded file and there is none yet (a shared store is never
    known missing before it is opened)."""
    embedded = audit_store_location(data_dir, environ) == str(data_dir.audit)
    return embedded and not data_dir.audit.is_file()


def split_location(location: str) -> tuple[str, str | None]:
    """``(connection string, schema or None)`` of a ``postgresql://…#schema`` location."""
    dsn, _, schema = location.partition("#")
    return dsn, (schema or None)


def open_audit_store(
    data_dir: DataDir,
    *,
    read_only: bool = False,
    record_key: bytes | None = None,
    busy_timeout: float = 10.0,
    max_size_bytes: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuditStore:
    """Open the deployment's audit store wherever it is kept.

    ``max_size_bytes`` caps the embedded file only (a PostgreSQL server's space is its
    administrator's to manage).

    Raises:
        AuditUnavailable: the store cannot be opened.
        ConfigurationError: ``GATEWAY_AUDIT_STORE`` is not a connection string, or the
            PostgreSQL driver (the ``postgresql`` extra) is not installed.
    """
    location = audit_store_location(data_dir, environ)
    if not location.startswith(_POSTGRES):
        from gateway.audit.sqlite import SQLiteAuditStore

        return SQLiteAuditStore(
            data_dir.audit,
            read_only=read_only,
            busy_timeout=busy_timeout,
            max_size_bytes=max_size_bytes,
            record_key=record_key,
        )
    try:
        from gateway.audit.postgresql import DEFAULT_SCHEMA, PostgresAuditStore
    except ImportError as exc:  # pragma: no cover - the extra is part of every test install
        raise ConfigurationError(
            "a PostgreSQL audit store needs the driver: pip install 'partnership-gateway"
            "[postgresql]'"
        ) from exc
    dsn, schema = split_location(location)
    return PostgresAuditStore(
        dsn,
        schema=schema or DEFAULT_SCHEMA,
        read_only=read_only,
        record_key=record_key,
        statement_timeout=busy_timeout * 3,
    )
