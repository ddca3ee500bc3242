"""The Arrow Flight SQL server: the gateway's second door, in front of the same query service.

Every call is authenticated with the gateway's API tokens and counted against the caller's
request rate (:mod:`gateway.api.flight.calls`); every statement runs through
:func:`gateway.api.querying.run_released` — the same quota, concurrent-query slot, policy
rewrite, limits, release rules and write-ahead audit as ``POST /v1/query`` — with the channel
``flight`` in its audit record. The calls::

    GetFlightInfo  CommandStatementQuery            run the SQL (audited); a result ticket
                   CommandPreparedStatementQuery    run a prepared statement with its bound values
                   CommandGetCatalogs / GetDbSchemas / GetTables / GetTableTypes / GetSqlInfo
                                                    metadata, as the caller's policy view shows it
                   CommandGetPrimaryKeys / ImportedKeys / ExportedKeys / CrossReference
                                                    empty: the warehouse declares no keys
    DoGet          TicketStatementQuery             stream a result (single-use, owner-bound ticket)
                   a metadata command               its table, for the caller
    DoPut          CommandPreparedStatementQuery    bind parameter values (one row, named columns)
    DoAction       CreatePreparedStatement, ClosePreparedStatement,
                   CancelFlightInfo, CancelQuery    withdraw a result not yet fetched
    GetSchema      a metadata command                its fixed schema

A statement runs while its ``GetFlightInfo`` is in progress; if the client cancels that call
(ADBC ``cancel()``, JDBC ``Statement.cancel``) or disconnects, or the server stops, the query
is withdrawn: the engine stops it and it is audited as ``cancelled``. Writes (updates, ingest,
transactions, Substrait plans) are refused: the gateway is read-only.

Every statement result carries its protective marking (the same the HTTP answer's
``X-Protective-Marking`` gives, as recorded in its completed audit record): in the Arrow schema
metadata (``gateway:marking``) of the FlightInfo and of the DoGet stream, in the FlightInfo's
``app_metadata`` (JSON ``{"marking", "query_id"}``) and in the ``x-protective-marking`` header.

Parameters are named: a prepared statement's ``$area`` takes the value of the bound column
``area`` (ADBC: ``cursor.execute(sql, {"area": "E06000002"})``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.flight as flight

from gateway.api.flight import metadata
from gateway.api.flight.calls import (
    CallHeaders,
    CallHeadersFactory,
    Credentials,
    call_purpose,
    credentials,
    flight_errors,
    peer_address,
)
from gateway.api.flight.handles import PendingResult, PreparedStatements, ResultTickets
from gateway.api.flight.protocol import CANCEL_STATUS, message, pack, parse, unpack
from gateway.api.querying import run_released
from gateway.api.resources import ServingResources
from gateway.api.runtime import GatewayRuntime
from gateway.api.shutdown import Shutdown, stopped_by_shutdown
from gateway.api.streaming import MARKING_HEADER
from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.engines.base import Cancellation
from gateway.errors import (
    AuthenticationError,
    GatewayError,
    InputError,
    ParameterError,
    QueryCancelled,
    StatementNotAllowed,
    TooLarge,
)
from gateway.policy.markings import ARROW_MARKING_KEY
from gateway.policy.view import PolicyView
from gateway.principal import Principal
from gateway.service import ClientInfo

__all__ = [
    "CANCEL_POLL_S",
    "QUERY_ID_HEADER",
    "FlightSqlServer",
    "bound_parameters",
    "marked_schema",
]

log = logging.getLogger("gateway.api.flight")

#: How often a running statement's call is checked for cancellation (seconds).
CANCEL_POLL_S = 0.05
#: The response header naming a statement's audit record.
QUERY_ID_HEADER = "x-query-id"
_METADATA_COMMANDS = {
    "CommandGetCatalogs": metadata.CATALOGS_SCHEMA,
    "CommandGetDbSchemas": metadata.DB_SCHEMAS_SCHEMA,
    "CommandGetTables": metadata.TABLES_SCHEMA,
    "CommandGetTableTypes": metadata.TABLE_TYPES_SCHEMA,
    "CommandGetSqlInfo": metadata.SQL_INFO_SCHEMA,
    "CommandGetPrimaryKeys": metadata.PRIMARY_KEYS_SCHEMA,
    "CommandGetImportedKeys": metadata.FOREIGN_KEYS_SCHEMA,
    "CommandGetExportedKeys": metadata.FOREIGN_KEYS_SCHEMA,
    "CommandGetCrossReference": metadata.FOREIGN_KEYS_SCHEMA,
}
_NEEDS_VIEW = {"CommandGetCatalogs", "CommandGetDbSchemas", "CommandGetTables"}
_ACTIONS = {
    "CreatePreparedStatement": "create a prepared statement",
    "ClosePreparedStatement": "close a prepared statement",
    "CancelFlightInfo": "withdraw a result not yet fetched",
    "CancelQuery": "withdraw a result not yet fetched (deprecated Flight SQL action)",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """An authenticated call: who, from where, and its headers."""

    principal: Principal
    client: ClientInfo
    headers: Mapping[str, Any]

    @property
    def username(self) -> str:
        return self.principal.username


class FlightSqlServer(flight.FlightServerBase):  # type: ignore[misc]
    """Flight SQL in front of ``runtime``'s query service; listening once constructed.

    Args:
        location: ``grpc://host:port`` or ``grpc+tls://host:port``.
        runtime, resources: the serving process's parts (shared with the HTTP API).
        shutdown: the process's stopping flag (running statements are withdrawn on it).
        tls_certificates: ``[(certificate PEM, key PEM)]`` for ``grpc+tls``.
        ticket_ttl_s: how long a result waits for its ``DoGet``.
        max_request_bytes: largest command, ticket or action body accepted (as the HTTP API's
            largest request body): 413 ``too_large`` before anything parses it.
    """

    def __init__(
        self,
        location: str,
        runtime: GatewayRuntime,
        resources: ServingResources,
        shutdown: Shutdown,
        *,
        tls_certificates: list[tuple[bytes, bytes]] | None = None,
        ticket_ttl_s: float = 60.0,
        max_request_bytes: int = 1 << 20,
    ) -> None:
        self.runtime = runtime
        self.max_request_bytes = max_request_bytes
        self.resources = resources
        self.stopping = shutdown
        self.tickets = ResultTickets(ticket_ttl_s)
        self.prepared = PreparedStatements()
        super().__init__(
            location,
            auth_handler=_HeaderAuthentication(),
            middleware={"headers": CallHeadersFactory(self._authenticate)},
            tls_certificates=tls_certificates or [],
        )

    # --- callers ---------------------------------------------------------------------------

    def _authenticate(self, presented: Credentials, address: str) -> Principal:
        principal = self.runtime.authenticator.authenticate(presented.authorization, address)
        if presented.username is not None and presented.username != principal.username:
            self.runtime.service.audit.record(
                AccessEvent(
                    EventKind.ACCESS_AUTHENTICATION_FAILED,
                    principal.username,
                    principal.organisation,
                    comment="user_mismatch",
                    extra={"reason": "user_mismatch", "client_address": address},
                )
            )
            raise AuthenticationError("the user name is not the owner of the token")
        self.runtime.limits.admit(principal.username)
        return principal

    def _caller(self, context: flight.ServerCallContext) -> Caller:
        middleware = context.get_middleware("headers")
        headers = middleware.headers if isinstance(middleware, CallHeaders) else {}
        address = peer_address(context.peer())
        principal = self._authenticate(credentials(headers), address)
        agent = next(iter(headers.get("user-agent") or []), "")
        client = ClientInfo(address=address, user_agent=str(agent)[:200], channel="flight")
        return Caller(principal, client, headers)

    def _purpose(self, caller: Caller, call: str) -> str:
        """The call's purpose; without one the refusal is audited (as HTTP's missing field)."""
        try:
            return call_purpose(caller.headers)
        except InputError as exc:
            self.runtime.service.audit.record(
                AccessEvent(
                    EventKind.ACCESS_REQUEST_REFUSED,
                    caller.username,
                    caller.principal.organisation,
                    subject=f"flight {call}",
                    comment=exc.code,
                    extra={
                        "status": exc.status,
                        "code": exc.code,
                        "reason": exc.message,
                        "client_address": caller.client.address,
                        "channel": "flight",
                    },
                )
            )
            raise

    # --- GetFlightInfo / GetSchema ---------------------------------------------------------

    @flight_errors
    def get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        caller = self._caller(context)
        name, command = self._command(descriptor)
        if name == "CommandStatementQuery":
            return self._run(context, caller, descriptor, command.query, None)
        if name == "CommandPreparedStatementQuery":
            statement = self.prepared.get(command.prepared_statement_handle, caller.username)
            return self._run(context, caller, descriptor, statement.sql, statement.params)
        if name in _METADATA_COMMANDS:
            if name in _NEEDS_VIEW:
                self._view(caller)  # refuse now (no purpose, purpose not approved)
            schema = _metadata_schema(name, command)
            endpoint = flight.FlightEndpoint(descriptor.command, [])
            return flight.FlightInfo(schema, descriptor, [endpoint], -1, -1)
        raise _unsupported(name)

    @flight_errors
    def get_schema(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.SchemaResult:
        self._caller(context)
        name, command = self._command(descriptor)
        if name in _METADATA_COMMANDS:
            return flight.SchemaResult(_metadata_schema(name, command))
        raise _unsupported(name, "a result's schema is known once it has run (GetFlightInfo)")

    def _run(
        self,
        context: flight.ServerCallContext,
        caller: Caller,
        descriptor: flight.FlightDescriptor,
        sql: str,
        params: Mapping[str, object] | None,
    ) -> flight.FlightInfo:
        purpose = self._purpose(caller, "GetFlightInfo")
        outcome, claim = self._watched(
            context,
            lambda cancel: run_released(
                self.runtime,
                self.resources,
                caller.principal,
                sql,
                purpose,
                params,
                client=caller.client,
                cancel=cancel,
            ),
        )
        result = outcome.result
        try:
            handle = self.tickets.issue(
                caller.username, outcome.query_id, result, claim.release, marking=outcome.marking
            )
        except BaseException:
            result.discard()
            claim.release()
            raise
        context.add_header(QUERY_ID_HEADER, outcome.query_id)
        context.add_header(MARKING_HEADER.lower(), outcome.marking)
        ticket = flight.Ticket(pack(message("TicketStatementQuery", statement_handle=handle)))
        endpoint = flight.FlightEndpoint(ticket, [])
        return flight.FlightInfo(
            marked_schema(result.schema, outcome.marking),
            descriptor,
            [endpoint],
            result.num_rows,
            result.num_bytes,
            app_metadata=json.dumps({"marking": outcome.marking, "query_id": outcome.query_id}),
        )

    def _watched(self, context: flight.ServerCallContext, work: Callable[[Cancellation], T]) -> T:
        """Run ``work`` here while a watcher withdraws it if the call is cancelled (client
        cancel or disconnect) or the server stops (then the client is told so: 503
        ``engine_unavailable``); always waits for ``work`` to return."""
        cancel = Cancellation()
        done = threading.Event()

        def watch() -> None:
            while not done.wait(CANCEL_POLL_S):
                if self.stopping.started or context.is_cancelled():
                    cancel.cancel()
                    return

        watcher = threading.Thread(target=watch, name="flight-cancel-watch", daemon=True)
        with self.stopping.working():
            watcher.start()
            try:
                return work(cancel)
            except QueryCancelled as exc:
                if self.stopping.started:
                    raise stopped_by_shutdown(exc) from exc
                raise
            finally:
                done.set()
                watcher.join()

    # --- DoGet -----------------------------------------------------------------------------

    @flight_errors
    def do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        caller = self._caller(context)
        name, command = unpack(self._sized(ticket.ticket))
        if name == "TicketStatementQuery":
            pending = self.tickets.redeem(command.statement_handle, caller.username)
            context.add_header(QUERY_ID_HEADER, pending.query_id)
            context.add_header(MARKING_HEADER.lower(), pending.marking)
            schema = marked_schema(pending.result.schema, pending.marking)
            return flight.GeneratorStream(schema, _stream(pending, schema))
        if name in _METADATA_COMMANDS:
            return flight.RecordBatchStream(self._metadata(caller, name, command))
        raise _unsupported(name)

    def _view_tables(self, caller: Caller) -> list[metadata.VisibleTable]:
        view = self._view(caller)
        return metadata.visible_tables(view, self.runtime.service.extra_schemas)

    def _view(self, caller: Caller) -> PolicyView:
        purpose = self._purpose(caller, "metadata")
        return self.runtime.service.view(caller.principal, purpose)

    def _metadata(self, caller: Caller, name: str, command: Any) -> pa.Table:
        if name == "CommandGetSqlInfo":
            return metadata.sql_info(list(command.info))
        if name == "CommandGetTableTypes":
            return metadata.table_types()
        if name not in _NEEDS_VIEW:  # the key commands: no keys are declared
            return _METADATA_COMMANDS[name].empty_table()
        found = self._view_tables(caller)
        if name == "CommandGetCatalogs":
            return metadata.catalogs(found)
        if name == "CommandGetDbSchemas":
            return metadata.db_schemas(
                found,
                _optional(command, "catalog"),
                _optional(command, "db_schema_filter_pattern"),
            )
        return metadata.tables(
            found,
            catalog=_optional(command, "catalog"),
            schema_pattern=_optional(command, "db_schema_filter_pattern"),
            table_pattern=_optional(command, "table_name_filter_pattern"),
            table_types=list(command.table_types),
            include_schema=bool(command.include_schema),
        )

    # --- DoPut: bind parameters --------------------------------------------------------------

    @flight_errors
    def do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        caller = self._caller(context)
        name, command = self._command(descriptor)
        if name != "CommandPreparedStatementQuery":
            raise _unsupported(name)
        handle = command.prepared_statement_handle
        self.prepared.get(handle, caller.username)
        self.prepared.bind(handle, caller.username, bound_parameters(_one_row(reader)))
        answer = message("DoPutPreparedStatementResult", prepared_statement_handle=handle)
        writer.write(pa.py_buffer(answer.SerializeToString()))

    # --- DoAction ----------------------------------------------------------------------------

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return list(_ACTIONS.items())

    @flight_errors
    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> list[bytes]:
        caller = self._caller(context)
        kind = action.type
        body = self._sized(action.body.to_pybytes() if action.body is not None else b"")
        if kind == "CreatePreparedStatement":
            request = _action_body(body, "ActionCreatePreparedStatementRequest")
            if request.HasField("transaction_id"):
                raise _unsupported("transactions")
            handle = self.prepared.create(caller.username, request.query)
            return [
                pack(
                    message("ActionCreatePreparedStatementResult", prepared_statement_handle=handle)
                )
            ]
        if kind == "ClosePreparedStatement":
            request = _action_body(body, "ActionClosePreparedStatementRequest")
            self.prepared.close(request.prepared_statement_handle, caller.username)
            return []
        if kind == "CancelFlightInfo":
            info = flight.FlightInfo.deserialize(parse("CancelFlightInfoRequest", body).info)
            status = self._cancel(info, caller)
            return [message("CancelFlightInfoResult", status=status).SerializeToString()]
        if kind == "CancelQuery":
            request = _action_body(body, "ActionCancelQueryRequest")
            status = self._cancel(flight.FlightInfo.deserialize(request.info), caller)
            return [pack(message("ActionCancelQueryResult", result=status))]
        raise _unsupported(kind[:80])

    def _cancel(self, info: flight.FlightInfo, caller: Caller) -> int:
        cancelled = False
        for endpoint in info.endpoints:
            try:
                name, command = unpack(endpoint.ticket.ticket)
            except InputError:
                continue
            if name == "TicketStatementQuery":
                cancelled |= self.tickets.cancel(command.statement_handle, caller.username)
        return CANCEL_STATUS["cancelled" if cancelled else "not_cancellable"]

    # --- request size ------------------------------------------------------------------------

    def _sized(self, data: bytes) -> bytes:
        if len(data) > self.max_request_bytes:
            raise TooLarge(
                f"the request is larger than the gateway accepts ({self.max_request_bytes:,} bytes)"
            )
        return data

    def _command(self, descriptor: flight.FlightDescriptor) -> tuple[str, Any]:
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise InputError("this server answers Flight SQL commands, not paths")
        return unpack(self._sized(descriptor.command))

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving (waits for calls in progress) and discard unfetched results."""
        self.shutdown()
        self.tickets.close()


class _HeaderAuthentication(flight.ServerAuthHandler):  # type: ignore[misc]
    """Lets ``Handshake`` be called (clients send Basic credentials on it), leaving every
    check to the headers: :class:`CallHeadersFactory` checks the handshake's, each handler
    the call's. Flight's own handshake tokens are not used."""

    def authenticate(
        self, outgoing: flight.ServerAuthSender, incoming: flight.ServerAuthReader
    ) -> None:
        return None

    def is_valid(self, token: bytes) -> str:
        return ""


def _one_row(reader: flight.MetadataRecordBatchReader) -> pa.Table:
    """The bound values sent, read only as far as one row (more is refused, not buffered)."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for chunk in reader:
        if chunk.data is None:
            continue
        rows += chunk.data.num_rows
        if rows > 1:
            raise ParameterError(
                "bind exactly one row of parameter values; the gateway runs one query at a time"
            )
        batches.append(chunk.data)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _action_body(body: bytes, name: str) -> Any:
    found, request = unpack(body)
    if found != name:
        raise InputError(f"the action body is a {found}, not a {name}")
    return request


def _optional(command: Any, field: str) -> str | None:
    return str(getattr(command, field)) if command.HasField(field) else None


def _metadata_schema(name: str, command: Any) -> pa.Schema:
    if name == "CommandGetTables" and command.include_schema:
        return metadata.TABLES_WITH_SCHEMA
    return _METADATA_COMMANDS[name]


def _unsupported(name: str, why: str = "the gateway is read-only") -> GatewayError:
    return StatementNotAllowed(f"{name} is not supported by this gateway: {why}")


def bound_parameters(values: pa.Table) -> dict[str, object]:
    """Bound parameter values (one row; a column per ``$name``) as the service takes them.

    Raises:
        ParameterError: not exactly one row, or a column without a usable name.

    Example:
        >>> bound_parameters(pa.table({"area": ["E06000002"], "n": [3]}))
        {'area': 'E06000002', 'n': 3}
    """
    if values.num_columns == 0:
        return {}
    if values.num_rows != 1:
        raise ParameterError(
            f"bind exactly one row of parameter values (got {values.num_rows}); "
            "the gateway runs one query at a time"
        )
    out: dict[str, object] = {}
    for name, column in zip(values.column_names, values.columns, strict=True):
        if not name or name.isdigit():
            raise ParameterError(
                "parameters are named: bind columns named like the query's $names "
                "(e.g. ADBC cursor.execute(sql, {'area': 'E06000002'}) for $area)"
            )
        out[name] = column[0].as_py()
    return out


def marked_schema(schema: pa.Schema, marking: str) -> pa.Schema:
    """``schema`` with the result's protective marking in its metadata (``gateway:marking``),
    so every Arrow client (ADBC, pyarrow, DBeaver) finds it in the result itself.

    Example:
        >>> marked_schema(pa.schema([("n", pa.int64())]), "OFFICIAL").metadata
        {b'gateway:marking': b'OFFICIAL'}
    """
    return schema.with_metadata({**(schema.metadata or {}), ARROW_MARKING_KEY: marking.encode()})


def _stream(pending: PendingResult, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The result's batches under the marked ``schema``; its file and quota are given back
    however the stream ends."""
    try:
        for batch in pending.result.reader():
            yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    finally:
        pending.discard()
