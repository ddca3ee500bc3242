"""PEP 249 (DB-API 2.0) over the HTTP client: for tools that speak to databases through a
standard Python driver (SQLAlchemy, pandas, Superset …) rather than :mod:`gateway.client`.

Each ``execute`` is one ``POST /v1/query`` with the connection's purpose: the same policy,
limits and audit record as any other query. Rows are read from the Arrow stream as ``fetch*``
asks for them, never the whole result at once; ``cursor.query_id`` names the audit record.

Parameters are named (``paramstyle = "named"``): ``:name`` in the SQL, values in a mapping; the
gateway's own ``$name`` works as well. Values are bound by the engine, never formatted into
the SQL. The gateway is read-only: ``commit`` and ``rollback`` do nothing, and ``executemany``
(for statements that change data) is not supported.

Errors are PEP 249's, each carrying the gateway's ``code``, ``query_id`` and ``position``, the
gateway's own error as ``__cause__``::

    Warning
    Error
    ├── InterfaceError        unexpected_response, a closed cursor or connection
    └── DatabaseError         other codes
        ├── DataError
        ├── OperationalError  unauthenticated, timeout, resource_limit, too_large, rate_limited,
        │                     busy, engine_unavailable, audit_unavailable, cancelled,
        │                     connection_failed, client_timeout
        ├── IntegrityError
        ├── InternalError     internal_error, configuration_error
        ├── ProgrammingError  every refusal of the statement: parse_error, table_not_permitted,
        │                     policy_check_failed, not_protectable, invalid_parameter …
        └── NotSupportedError executemany, positional parameters

Example:
    >>> from gateway.client import dbapi                                          # doctest: +SKIP
    >>> con = dbapi.connect("http://127.0.0.1:8000", "pgw_…", purpose="SA-2026")   # doctest: +SKIP
    >>> cur = con.cursor()                                                         # doctest: +SKIP
    >>> cur.execute("SELECT count(*) AS n FROM crime WHERE ward_code = :ward",
    ...             {"ward": "E05000001"})                                         # doctest: +SKIP
    >>> cur.fetchone()                                                             # doctest: +SKIP
    (118,)
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, Self

import pyarrow as pa

from gateway.client.connection import Connection as Client
from gateway.client.errors import ClientError, UnexpectedResponse
from gateway.client.profile import resolve_profile
from gateway.client.stream import ArrowResult
from gateway.errors import (
    AccessDenied,
    AuditUnavailable,
    AuthenticationError,
    ConfigurationError,
    EngineUnavailable,
    GatewayError,
    InputError,
    NotFound,
    QueryCancelled,
    QueryLimitExceeded,
    RateLimited,
    TooLarge,
)
from gateway.lifetime import ClosesOnExit

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
    "translate_parameters",
]

apilevel = "2.0"
#: Threads may share the module, not connections (a connection keeps its last query id).
threadsafety = 1
paramstyle = "named"


# --- errors ------------------------------------------------------------------------------


class Warning(Exception):
    """Important warnings (the gateway sends none; here for PEP 249)."""


class Error(Exception):
    """Root of the DB-API errors.

    Attributes:
        code: the gateway's machine code (e.g. ``table_not_permitted``), or the driver's.
        query_id: the audit record of the refused or failed query, when it has one.
        position: ``(line, column)`` in the SQL, where the gateway gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "driver_error",
        query_id: str | None = None,
        position: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.query_id = query_id
        self.position = position


class InterfaceError(Error):
    """A misuse of this driver (closed cursor) or an answer it cannot read."""


class DatabaseError(Error):
    """The gateway refused or failed the request."""


class DataError(DatabaseError):
    """A problem with the data processed (PEP 249; the gateway reports these as query_error)."""


class OperationalError(DatabaseError):
    """Not the statement's fault as written: connection, authentication, limits, load."""


class IntegrityError(DatabaseError):
    """Relational integrity (PEP 249; never raised: the gateway is read-only)."""


class InternalError(DatabaseError):
    """The gateway failed internally."""


class ProgrammingError(DatabaseError):
    """The statement was refused: SQL, names, parameters, permissions or policy."""


class NotSupportedError(DatabaseError):
    """What a read-only gateway does not do (executemany, positional parameters)."""


#: Gateway error classes → DB-API class, most specific first (the first match wins).
_ERROR_CLASSES: tuple[tuple[type[GatewayError], type[Error]], ...] = (
    (UnexpectedResponse, InterfaceError),
    (ClientError, OperationalError),  # connection_failed, client_timeout
    (AuthenticationError, OperationalError),
    (QueryLimitExceeded, OperationalError),  # timeout, resource_limit
    (TooLarge, OperationalError),
    (RateLimited, OperationalError),
    (EngineUnavailable, OperationalError),  # busy, engine_unavailable
    (AuditUnavailable, OperationalError),
    (QueryCancelled, OperationalError),
    (InputError, ProgrammingError),  # parse_error … policy_check_failed, not_protectable
    (AccessDenied, ProgrammingError),  # table_not_permitted, purpose_not_approved …
    (NotFound, ProgrammingError),
    (ConfigurationError, InternalError),
)


def dbapi_error(exc: GatewayError) -> Error:
    """The DB-API error for a gateway error, keeping its code, query id and position.

    Example:
        >>> from gateway.errors import PolicyCheckFailed, QueryTimeout
        >>> err = dbapi_error(PolicyCheckFailed("no"))
        >>> type(err).__name__, err.code
        ('ProgrammingError', 'policy_check_failed')
        >>> type(dbapi_error(QueryTimeout("slow"))).__name__
        'OperationalError'
    """
    cls: type[Error] = DatabaseError if exc.status != 500 else InternalError
    for source, target in _ERROR_CLASSES:
        if isinstance(exc, source):
            cls = target
            break
    return cls(str(exc), code=exc.code, query_id=exc.query_id, position=exc.position)


# --- types ---------------------------------------------------------------------------------


class DBAPITypeObject:
    """A PEP 249 type object: equal to every Arrow type (a ``description`` type code) of its
    kind.

    Example:
        >>> pa.int64() == NUMBER, pa.string() == NUMBER, pa.timestamp("us") == DATETIME
        (True, False, True)
    """

    def __init__(self, name: str, *kinds: Callable[[pa.DataType], bool]) -> None:
        self.name = name
        self._kinds = kinds

    def __eq__(self, other: object) -> bool:
        return isinstance(other, pa.DataType) and any(kind(other) for kind in self._kinds)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DB-API type {self.name}>"


STRING = DBAPITypeObject("STRING", pa.types.is_string, pa.types.is_large_string)
BINARY = DBAPITypeObject("BINARY", pa.types.is_binary, pa.types.is_large_binary)
NUMBER = DBAPITypeObject(
    "NUMBER", pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean
)
DATETIME = DBAPITypeObject(
    "DATETIME",
    pa.types.is_timestamp,
    pa.types.is_date,
    pa.types.is_time,
    pa.types.is_duration,
)
ROWID = DBAPITypeObject("ROWID")  # the warehouse has no row ids

Date = dt.date
Time = dt.time
Timestamp = dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> dt.date:
    return dt.date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> dt.time:
    return dt.time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> dt.datetime:
    return dt.datetime(*time.localtime(ticks)[:6])


# --- parameters ----------------------------------------------------------------------------

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


def _skip_quoted(sql: str, i: int) -> int:
    """The index after the quoted text (string, identifier or comment) starting at ``i``."""
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end < 0 else end + 2
    quote = sql[i]
    j = i + 1
    while j < len(sql):
        if sql[j] == quote:
            if sql.startswith(quote * 2, j):  # '' or "" inside: an escaped quote
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def translate_parameters(sql: str, names: Sequence[str]) -> str:
    """``:name`` written for a supplied parameter, as the gateway's ``$name``; nothing inside
    strings, quoted names or comments, and no ``::`` cast, changes.

    Example:
        >>> translate_parameters("SELECT ':a', x::INT FROM t WHERE a = :a -- :a", ["a"])
        "SELECT ':a', x::INT FROM t WHERE a = $a -- :a"
        >>> translate_parameters("SELECT l[1:b] FROM t", [])
        'SELECT l[1:b] FROM t'
    """
    wanted = {n.lower() for n in names}
    out: list[str] = []
    i = 0
    while i < len(sql):
        char = sql[i]
        if char in "'\"" or sql.startswith(("--", "/*"), i):
            end = _skip_quoted(sql, i)
            out.append(sql[i:end])
            i = end
        elif sql.startswith("::", i):
            out.append("::")
            i += 2
        elif char == ":" and i + 1 < len(sql) and sql[i + 1] in _NAME_START:
            end = i + 1
            while end < len(sql) and sql[end] in _NAME_CHARS:
                end += 1
            name = sql[i + 1 : end]
            out.append(("$" if name.lower() in wanted else ":") + name)
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _named(parameters: Mapping[str, Any] | Sequence[Any] | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if isinstance(parameters, Mapping):
        return {str(k): v for k, v in parameters.items()}
    if isinstance(parameters, Sequence) and not isinstance(parameters, str | bytes):
        if not parameters:
            return {}
        raise NotSupportedError(
            "positional parameters are not supported: write :name and pass a mapping",
            code="positional_parameters",
        )
    raise ProgrammingError("parameters must be a mapping of names to values", code="bad_request")


# --- connection and cursor -----------------------------------------------------------------


class Connection(ClosesOnExit):
    """A DB-API connection: one gateway, one user (the token), one purpose.

    Attributes:
        client: the :class:`gateway.client.Connection` it runs on (catalog, me, audit …).
        purpose: the purpose every statement is run and audited for.
    """

    def __init__(self, client: Client, purpose: str | None) -> None:
        self.client = client
        self.purpose = purpose
        self._cursors: list[Cursor] = []
        self.closed = False

    def cursor(self) -> Cursor:
        """A new cursor on this connection."""
        self._check_open()
        cursor = Cursor(self)
        self._cursors.append(cursor)
        return cursor

    def commit(self) -> None:
        """Nothing to commit: the gateway is read-only."""
        self._check_open()

    def rollback(self) -> None:
        """Nothing to roll back: the gateway is read-only."""
        self._check_open()

    def close(self) -> None:
        """Close every cursor and the HTTP connections (again: nothing happens)."""
        if self.closed:
            return
        for cursor in self._cursors:
            cursor.close()
        self._cursors.clear()
        self.client.close()
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise InterfaceError("the connection is closed", code="connection_closed")

    def _forget(self, cursor: Cursor) -> None:
        if cursor in self._cursors:
            self._cursors.remove(cursor)

    def __repr__(self) -> str:
        return f"<gateway.client.dbapi.Connection {self.client.url} purpose={self.purpose!r}>"


Row = tuple[Any, ...]
Description = tuple[str, pa.DataType, None, None, int | None, int | None, bool]


def _description(schema: pa.Schema) -> list[Description]:
    """PEP 249's 7-tuples; the type code is the column's Arrow type."""
    out: list[Description] = []
    for field in schema:
        precision = scale = None
        if pa.types.is_decimal(field.type):
            precision, scale = field.type.precision, field.type.scale
        out.append((field.name, field.type, None, None, precision, scale, field.nullable))
    return out


class Cursor(ClosesOnExit):
    """A DB-API cursor: runs statements and fetches their rows as they arrive.

    Rows become Python values (``datetime``, ``Decimal`` …) only as they are fetched, one
    Arrow record batch held at a time.

    Attributes:
        arraysize: rows :meth:`fetchmany` returns by default (1, per PEP 249).
        rowcount: rows in the last result (-1 before a statement).
        query_id: the audit record of the last statement (also on its errors).
        purpose: the purpose statements run for (default: the connection's).
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self.rowcount = -1
        self.query_id: str | None = None
        self.purpose = connection.purpose
        self.closed = False
        self._description: list[Description] | None = None
        self._result: ArrowResult | None = None  # None: no statement, or read to its end
        self._stream = ExitStack()
        self._batch: pa.RecordBatch | None = None  # the batch being fetched from
        self._offset = 0

    @property
    def description(self) -> list[Description] | None:
        """``(name, type_code, None, None, precision, scale, null_ok)`` per column; None before
        a statement. ``type_code`` is the Arrow type (compare it with NUMBER, STRING …)."""
        return self._description

    def execute(
        self, operation: str, parameters: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> Self:
        """Run one SELECT; its rows are then read with ``fetch*``.

        Raises:
            ProgrammingError: the gateway refused the statement (``code`` says why).
            OperationalError: connection, authentication, limits or load.
        """
        self._check_open()
        self._end_result()
        self._description, self.rowcount, self.query_id = None, -1, None
        params = _named(parameters)
        sql = translate_parameters(operation, list(params))
        client = self.connection.client
        try:
            self._result = self._stream.enter_context(
                client.query_stream(sql, purpose=self.purpose, params=params or None)
            )
        except GatewayError as exc:
            self.query_id = exc.query_id
            raise dbapi_error(exc) from exc
        self.query_id = self._result.query_id
        self._description = _description(self._result.schema)
        if self._result.row_count is not None:
            self.rowcount = self._result.row_count
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Mapping[str, Any]]) -> None:
        """Not supported: every gateway statement is a SELECT with a result."""
        raise NotSupportedError(
            "executemany is not supported: the gateway runs read-only SELECTs, one at a time",
            code="not_supported",
        )

    def fetchone(self) -> Row | None:
        """The next row, or None at the end."""
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[Row]:
        """Up to ``size`` rows (default :attr:`arraysize`); fewer only at the end."""
        return self._take(self.arraysize if size is None else size)

    def fetchall(self) -> list[Row]:
        """Every remaining row."""
        return self._take(None)

    def fetch_arrow_table(self) -> pa.Table:
        """Every remaining row as an Arrow table, without turning it into Python values."""
        self._check_fetch()
        batches = []
        while (batch := self._next_slice(None)) is not None:
            batches.append(batch)
        assert self._description is not None
        schema = pa.schema([pa.field(d[0], d[1], d[6]) for d in self._description])
        return pa.Table.from_batches(batches, schema=schema)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchone, None)

    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249: accepted, not needed."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """PEP 249: accepted, not needed."""

    def close(self) -> None:
        """Stop reading the current result and close the cursor."""
        if not self.closed:
            self._end_result()
            self.closed = True
            self.connection._forget(self)

    # --- reading ---------------------------------------------------------------------

    def _take(self, size: int | None) -> list[Row]:
        self._check_fetch()
        out: list[Row] = []
        while size is None or len(out) < size:
            part = self._next_slice(None if size is None else size - len(out))
            if part is None:
                break
            out.extend(zip(*(column.to_pylist() for column in part.columns), strict=True))
        return out

    def _next_slice(self, size: int | None) -> pa.RecordBatch | None:
        """Up to ``size`` rows of the current batch (the next batch when it is used up);
        None at the end of the result."""
        while self._batch is None or self._offset >= self._batch.num_rows:
            if self._result is None:
                return None
            try:
                self._batch, self._offset = self._result.next_batch(), 0
            except GatewayError as exc:
                self._end_result()
                exc.query_id = exc.query_id or self.query_id
                raise dbapi_error(exc) from exc
            if self._batch is None:
                self._end_result()
                return None
        length = self._batch.num_rows - self._offset if size is None else size
        part = self._batch.slice(self._offset, length)
        self._offset += part.num_rows
        return part

    def _check_fetch(self) -> None:
        self._check_open()
        if self._description is None:
            raise ProgrammingError("no statement has been executed", code="no_result")

    def _end_result(self) -> None:
        self._result, self._batch, self._offset = None, None, 0
        self._stream.close()

    def _check_open(self) -> None:
        if self.closed:
            raise InterfaceError("the cursor is closed", code="cursor_closed")
        self.connection._check_open()


def connect(
    url: str | None = None,
    token: str | None = None,
    *,
    purpose: str | None = None,
    timeout: float = 300.0,
) -> Connection:
    """A DB-API connection; URL, token and purpose as given, else ``GATEWAY_URL`` /
    ``GATEWAY_TOKEN``, else the profile ``gateway login`` saved (:mod:`gateway.client.profile`).

    Raises:
        ProgrammingError: no purpose given or saved (every statement needs one).
        OperationalError: no token given, in the environment or saved for that URL.
    """
    try:
        login = resolve_profile(url, token, purpose)
    except ConfigurationError as exc:
        raise OperationalError(exc.message, code="no_token") from exc
    if not login.purpose:
        raise ProgrammingError(
            "no purpose: pass purpose=… or save one with `gateway login`",
            code="purpose_required",
        )
    return Connection(Client(login.url, login.token, timeout=timeout), login.purpose)
