"""The Arrow Flight SQL messages the gateway speaks, built from descriptors (no generated code).

Flight SQL commands travel as protobuf ``Any`` messages whose type URL names a message of
``FlightSql.proto`` (package ``arrow.flight.protocol.sql``, Apache Arrow's ``format/``
directory). Only the messages below are declared, field by field as in that file (names,
numbers, types, ``optional``), into a private descriptor pool: no ``protoc``, no generated
module to keep in step, and nothing registered in protobuf's global pool. Two messages of the
core ``Flight.proto`` (package ``arrow.flight.protocol``) are declared the same way for the
``CancelFlightInfo`` action; its embedded ``FlightInfo`` is kept as bytes (wire-compatible)
and read with :meth:`pyarrow.flight.FlightInfo.deserialize`.

Example:
    >>> command = pack(message("CommandStatementQuery", query="SELECT 1"))
    >>> name, body = unpack(command)
    >>> name, body.query
    ('CommandStatementQuery', 'SELECT 1')
    >>> unpack(b"not a command")
    Traceback (most recent call last):
    ...
    gateway.errors.InputError: the Flight command is not a Flight SQL message
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from gateway.errors import InputError

__all__ = [
    "CANCEL_STATUS",
    "SQL_PACKAGE",
    "message",
    "pack",
    "parse",
    "unpack",
]

SQL_PACKAGE = "arrow.flight.protocol.sql"
_FLIGHT_PACKAGE = "arrow.flight.protocol"

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_UINT32 = descriptor_pb2.FieldDescriptorProto.TYPE_UINT32
_INT32 = descriptor_pb2.FieldDescriptorProto.TYPE_INT32  # enums: the same varint on the wire

#: (name, number, type, label) with label "optional" (proto3 ``optional``), "repeated" or "".
_Field = tuple[str, int, int, str]

_TABLE_REF: tuple[_Field, ...] = (
    ("catalog", 1, _STRING, "optional"),
    ("db_schema", 2, _STRING, "optional"),
    ("table", 3, _STRING, ""),
)

_SQL_MESSAGES: dict[str, tuple[_Field, ...]] = {
    "CommandGetSqlInfo": (("info", 1, _UINT32, "repeated"),),
    "CommandGetCatalogs": (),
    "CommandGetDbSchemas": (
        ("catalog", 1, _STRING, "optional"),
        ("db_schema_filter_pattern", 2, _STRING, "optional"),
    ),
    "CommandGetTables": (
        ("catalog", 1, _STRING, "optional"),
        ("db_schema_filter_pattern", 2, _STRING, "optional"),
        ("table_name_filter_pattern", 3, _STRING, "optional"),
        ("table_types", 4, _STRING, "repeated"),
        ("include_schema", 5, _BOOL, ""),
    ),
    "CommandGetTableTypes": (),
    "CommandGetPrimaryKeys": _TABLE_REF,
    "CommandGetExportedKeys": _TABLE_REF,
    "CommandGetImportedKeys": _TABLE_REF,
    "CommandGetCrossReference": (
        ("pk_catalog", 1, _STRING, "optional"),
        ("pk_db_schema", 2, _STRING, "optional"),
        ("pk_table", 3, _STRING, ""),
        ("fk_catalog", 4, _STRING, "optional"),
        ("fk_db_schema", 5, _STRING, "optional"),
        ("fk_table", 6, _STRING, ""),
    ),
    "CommandStatementQuery": (
        ("query", 1, _STRING, ""),
        ("transaction_id", 2, _BYTES, "optional"),
    ),
    "TicketStatementQuery": (("statement_handle", 1, _BYTES, ""),),
    "CommandPreparedStatementQuery": (("prepared_statement_handle", 1, _BYTES, ""),),
    "ActionCreatePreparedStatementRequest": (
        ("query", 1, _STRING, ""),
        ("transaction_id", 2, _BYTES, "optional"),
    ),
    "ActionCreatePreparedStatementResult": (
        ("prepared_statement_handle", 1, _BYTES, ""),
        ("dataset_schema", 2, _BYTES, ""),
        ("parameter_schema", 3, _BYTES, ""),
    ),
    "ActionClosePreparedStatementRequest": (("prepared_statement_handle", 1, _BYTES, ""),),
    "DoPutPreparedStatementResult": (("prepared_statement_handle", 1, _BYTES, "optional"),),
    "ActionCancelQueryRequest": (("info", 1, _BYTES, ""),),
    "ActionCancelQueryResult": (("result", 1, _INT32, ""),),
}

_FLIGHT_MESSAGES: dict[str, tuple[_Field, ...]] = {
    "CancelFlightInfoRequest": (("info", 1, _BYTES, ""),),  # a FlightInfo message, as bytes
    "CancelFlightInfoResult": (("status", 1, _INT32, ""),),
}

#: ``CancelStatus`` (Flight.proto) and ``ActionCancelQueryResult.CancelResult`` share values.
CANCEL_STATUS = {"unspecified": 0, "cancelled": 1, "cancelling": 2, "not_cancellable": 3}


def _file(name: str, package: str, messages: dict[str, tuple[_Field, ...]]) -> Any:
    proto = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    for message_name, fields in messages.items():
        declared = proto.message_type.add(name=message_name)
        for field_name, number, kind, label in fields:
            field = declared.field.add(name=field_name, number=number, type=kind)
            field.json_name = field_name
            if label == "repeated":
                field.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            else:
                field.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
            if label == "optional":  # proto3 optional: a synthetic oneof records presence
                field.proto3_optional = True
                field.oneof_index = len(declared.oneof_decl)
                declared.oneof_decl.add(name=f"_{field_name}")
    return proto


def _classes() -> dict[str, type[Message]]:
    pool = descriptor_pool.DescriptorPool()
    classes: dict[str, type[Message]] = {}
    for file_name, package, messages in (
        ("gateway/flight_sql_subset.proto", SQL_PACKAGE, _SQL_MESSAGES),
        ("gateway/flight_subset.proto", _FLIGHT_PACKAGE, _FLIGHT_MESSAGES),
    ):
        pool.Add(_file(file_name, package, messages))
        for name in messages:
            descriptor = pool.FindMessageTypeByName(f"{package}.{name}")
            classes[name] = message_factory.GetMessageClass(descriptor)
    return classes


_CLASSES = _classes()


def message(name: str, **fields: Any) -> Any:
    """A new message of the type ``name`` (e.g. ``"CommandGetTables"``) with ``fields`` set."""
    return _CLASSES[name](**fields)


def pack(body: Message) -> bytes:
    """``body`` wrapped in ``Any`` and serialized: a Flight descriptor command or a ticket."""
    wrapped = any_pb2.Any()
    wrapped.Pack(body)
    return bytes(wrapped.SerializeToString())


def parse(name: str, data: bytes) -> Any:
    """A bare (not ``Any``-wrapped) message of type ``name``: action bodies and results.

    Raises:
        InputError: ``data`` is not such a message.
    """
    try:
        return _CLASSES[name].FromString(data)
    except DecodeError as exc:
        raise InputError(f"the Flight action body is not a {name} message") from exc


def unpack(data: bytes) -> tuple[str, Any]:
    """The Flight SQL message in a serialized ``Any``: its short type name and the message.

    Raises:
        InputError: not a serialized ``Any`` of a Flight SQL message this server declares.
    """
    wrapped = any_pb2.Any()
    try:
        wrapped.ParseFromString(data)
    except DecodeError as exc:
        raise InputError("the Flight command is not a Flight SQL message") from exc
    package, _, name = wrapped.TypeName().rpartition(".")
    if package != SQL_PACKAGE or not name:
        raise InputError("the Flight command is not a Flight SQL message")
    cls = _CLASSES.get(name)
    if cls is None or name not in _SQL_MESSAGES:
        raise InputError(f"the Flight SQL command {name[:80]} is not supported by this gateway")
    try:
        return name, cls.FromString(wrapped.value)
    except DecodeError as exc:
        raise InputError(f"the Flight SQL command {name} is malformed") from exc
