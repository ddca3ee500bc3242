"""A SQLAlchemy dialect for the gateway: ``gateway://host:port/?purpose=SA-2026``, so
``pandas.read_sql``, Superset and other SQLAlchemy tools query it through
:mod:`gateway.client.dbapi` — the same policy, limits and audit as every other query.

The token is the URL's password (``gateway://:pgw_…@host:8000/?purpose=…``; the user name is
ignored, the token says who you are); without one, ``GATEWAY_TOKEN`` or the profile
``gateway login`` saved for that server. ``gateway:///?purpose=…`` (no host) uses the saved
URL; ``protocol=https`` in the query speaks HTTPS. SQL is compiled as for PostgreSQL, which
the gateway's DuckDB SQL accepts for the SELECTs tools write. Reflection (table names, columns,
``has_table``) reads ``GET /v1/catalog``: only the tables and columns the user may see for the
purpose, typed as they see them (a masked column may be text).

Registered through the ``sqlalchemy.dialects`` entry point (``pip install -e ".[sql]"``), or
by hand::

    from sqlalchemy.dialects import registry
    registry.register("gateway", "gateway.client.sqlalchemy_dialect", "GatewayDialect")

Example:
    >>> from sqlalchemy import create_engine, inspect, text                    # doctest: +SKIP
    >>> engine = create_engine("gateway://127.0.0.1:8000/?purpose=SA-2026")     # doctest: +SKIP
    >>> inspect(engine).get_table_names()[:3]                                  # doctest: +SKIP
    ['crime', 'crime_person', 'crime_vehicle']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.postgresql.base import (
    PGCompiler,
    PGIdentifierPreparer,
    PGTypeCompiler,
)
from sqlalchemy.engine import URL, Connection, default
from sqlalchemy.engine.interfaces import ReflectedColumn, ReflectedPrimaryKeyConstraint
from sqlalchemy.exc import NoSuchTableError

from gateway.client import dbapi

__all__ = ["GatewayDialect", "column_type"]

DEFAULT_SCHEMA = "main"

#: DuckDB type names (as the catalog reports them) → SQLAlchemy types.
_TYPES: Mapping[str, type[sqltypes.TypeEngine[Any]]] = {
    "VARCHAR": sqltypes.String,
    "TEXT": sqltypes.String,
    "BIGINT": sqltypes.BigInteger,
    "HUGEINT": sqltypes.BigInteger,
    "UBIGINT": sqltypes.BigInteger,
    "INTEGER": sqltypes.Integer,
    "UINTEGER": sqltypes.Integer,
    "SMALLINT": sqltypes.SmallInteger,
    "TINYINT": sqltypes.SmallInteger,
    "USMALLINT": sqltypes.SmallInteger,
    "UTINYINT": sqltypes.SmallInteger,
    "DOUBLE": sqltypes.Double,
    "FLOAT": sqltypes.Float,
    "REAL": sqltypes.Float,
    "BOOLEAN": sqltypes.Boolean,
    "DATE": sqltypes.Date,
    "TIME": sqltypes.Time,
    "TIMESTAMP": sqltypes.DateTime,
    "TIMESTAMP WITH TIME ZONE": sqltypes.DateTime,
    "TIMESTAMPTZ": sqltypes.DateTime,
    "INTERVAL": sqltypes.Interval,
    "BLOB": sqltypes.LargeBinary,
    "UUID": sqltypes.Uuid,
}
_DECIMAL = re.compile(r"^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$", re.IGNORECASE)


def column_type(name: str) -> sqltypes.TypeEngine[Any]:
    """The SQLAlchemy type for a catalog column type (NullType when not known).

    Example:
        >>> column_type("DECIMAL(12, 2)"), column_type("VARCHAR"), column_type("STRUCT(a INT)")
        (Numeric(precision=12, scale=2), String(), NullType())
    """
    if m := _DECIMAL.match(name.strip()):
        return sqltypes.Numeric(precision=int(m.group(1)), scale=int(m.group(2)))
    cls = _TYPES.get(name.strip().upper())
    return cls() if cls is not None else sqltypes.NullType()


class GatewayDialect(default.DefaultDialect):
    """SQLAlchemy dialect ``gateway``: read-only SELECTs over :mod:`gateway.client.dbapi`."""

    name = "gateway"
    driver = "dbapi"
    default_paramstyle = "named"
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_alter = False
    supports_sequences = False
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    supports_multivalues_insert = False
    postfetch_lastrowid = False
    statement_compiler = PGCompiler
    type_compiler_cls = PGTypeCompiler
    preparer = PGIdentifierPreparer
    default_schema_name = DEFAULT_SCHEMA

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return dbapi

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        """``gateway://[:token@]host:port/?purpose=…[&protocol=https]`` → ``dbapi.connect``."""
        query = dict(url.query)
        protocol = str(query.pop("protocol", "http"))
        purpose = query.pop("purpose", None)
        if query:
            raise dbapi.ProgrammingError(
                f"unknown URL option(s): {', '.join(sorted(query))} (known: purpose, protocol)",
                code="bad_request",
            )
        base = None
        if url.host:
            base = f"{protocol}://{url.host}" + (f":{url.port}" if url.port else "")
        return [], {"url": base, "token": url.password or None, "purpose": purpose}

    def _get_server_version_info(self, connection: Connection) -> tuple[int, ...]:
        return ()

    def _get_default_schema_name(self, connection: Connection) -> str:
        return DEFAULT_SCHEMA

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Nothing to roll back: the gateway is read-only."""

    def do_commit(self, dbapi_connection: Any) -> None:
        """Nothing to commit: the gateway is read-only."""

    def do_ping(self, dbapi_connection: Any) -> bool:
        dbapi_connection.client.health()
        return True

    # --- reflection: the user's view of the catalog --------------------------------------

    def _tables(self, connection: Connection, schema: str | None) -> dict[str, list[Any]]:
        """Visible table name → its catalog columns, in ``schema`` (default: the warehouse)."""
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, dbapi.Connection)
        catalog = raw.client.catalog(raw.purpose)
        out: dict[str, list[Any]] = {}
        for table in catalog["tables"]:
            owner, _, name = str(table["name"]).rpartition(".")
            if (owner or DEFAULT_SCHEMA) == (schema or DEFAULT_SCHEMA):
                out[name] = list(table["columns"])
        return out

    def get_schema_names(self, connection: Connection, **kw: Any) -> list[str]:
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, dbapi.Connection)
        owners = {
            str(t["name"]).rpartition(".")[0] for t in raw.client.catalog(raw.purpose)["tables"]
        }
        return sorted({DEFAULT_SCHEMA, *(o for o in owners if o)})

    def get_table_names(
        self, connection: Connection, schema: str | None = None, **kw: Any
    ) -> list[str]:
        return sorted(self._tables(connection, schema))

    def get_view_names(
        self, connection: Connection, schema: str | None = None, **kw: Any
    ) -> list[str]:
        return []

    def has_table(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        return table_name.lower() in self._tables(connection, schema)

    def get_columns(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedColumn]:
        columns = self._tables(connection, schema).get(table_name.lower())
        if columns is None:
            raise NoSuchTableError(table_name)
        return [
            {
                "name": str(c["name"]),
                "type": column_type(str(c["type"])),
                "nullable": True,
                "default": None,
                "comment": c.get("description") or None,
            }
            for c in columns
        ]

    def get_pk_constraint(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> ReflectedPrimaryKeyConstraint:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_indexes(
        self, connection: Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []
