"""The Flight SQL server's pure parts: tickets and prepared statements, headers, metadata
patterns and types, parameter binding, messages and error mapping (no server)."""

from __future__ import annotations

import base64
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from google.protobuf import any_pb2, wrappers_pb2

from gateway.api.flight import flight_location, flight_tls
from gateway.api.flight.calls import call_purpose, credentials, flight_error, peer_address
from gateway.api.flight.handles import PreparedStatements, ResultTickets
from gateway.api.flight.metadata import VisibleTable, like_pattern, sql_arrow_type, tables
from gateway.api.flight.protocol import message, pack, unpack
from gateway.api.flight.server import bound_parameters
from gateway.api.settings import GatewaySettings
from gateway.engines.base import QueryResult
from gateway.errors import (
    AuthenticationError,
    ConfigurationError,
    EngineBusy,
    InputError,
    NotFound,
    ParameterError,
    PurposeRequired,
    QueryCancelled,
    TableNotPermitted,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def spilled(tmp_path: Path, name: str) -> QueryResult:
    path = tmp_path / f"{name}.arrows"
    table = pa.table({"n": [1]})
    with pa.ipc.new_stream(str(path), table.schema) as writer:
        writer.write_table(table)
    return QueryResult(
        query_id=name,
        path=path,
        schema=table.schema,
        num_rows=1,
        num_bytes=path.stat().st_size,
        truncated=False,
        fingerprint="f",
        duration_s=0.0,
    )


def test_tickets_expire_and_give_back_their_file_and_quota(tmp_path: Path) -> None:
    clock = Clock()
    released: list[str] = []
    book = ResultTickets(ttl_s=60, clock=clock)
    first = spilled(tmp_path, "q1")
    handle = book.issue("a.khan", "q1", first, lambda: released.append("q1"))
    assert len(handle) == 32
    clock.now = 61
    assert book.sweep() == 1
    assert released == ["q1"]
    assert not first.path.exists()
    with pytest.raises(NotFound):
        book.redeem(handle, "a.khan")


def test_a_ticket_is_refused_to_others_and_redeemed_once(tmp_path: Path) -> None:
    book = ResultTickets(ttl_s=60, clock=Clock())
    handle = book.issue("a.khan", "q1", spilled(tmp_path, "q1"), lambda: None)
    other = book.issue("a.khan", "q2", spilled(tmp_path, "q2"), lambda: None)
    assert handle != other
    with pytest.raises(NotFound) as refused:
        book.redeem(handle, "h.lee")
    assert "not yours" in str(refused.value)
    assert not book.cancel(handle, "h.lee")  # nor can they cancel it
    assert book.redeem(handle, "a.khan").query_id == "q1"
    with pytest.raises(NotFound):
        book.redeem(handle, "a.khan")
    book.close()
    assert len(book) == 0


def test_prepared_statements_are_their_creators_and_capped_per_user() -> None:
    book = PreparedStatements(max_per_user=2)
    first = book.create("a.khan", "SELECT 1")
    book.create("a.khan", "SELECT 2")
    book.create("a.khan", "SELECT 3")  # the oldest of a.khan's is closed to make room
    theirs = book.create("h.lee", "SELECT 4")
    with pytest.raises(NotFound):
        book.get(first, "a.khan")
    with pytest.raises(NotFound):
        book.bind(theirs, "a.khan", {"x": 1})
    with pytest.raises(NotFound):
        book.close(theirs, "a.khan")
    book.bind(theirs, "h.lee", {"x": 1})
    assert book.get(theirs, "h.lee").params == {"x": 1}
    assert len(list(book)) == 3


def test_credentials_and_purpose_from_headers() -> None:
    assert credentials({}).authorization is None
    assert credentials({"authorization": ["Bearer pgw_x"]}).authorization == "Bearer pgw_x"
    basic = base64.b64encode(b"a.khan:pgw_tok").decode()
    assert credentials({"authorization": [f"Basic {basic}"]}).username == "a.khan"
    for bad in ("Basic !!!", f"Basic {base64.b64encode(b'no-colon').decode()}"):
        with pytest.raises(AuthenticationError):
            credentials({"authorization": [bad]})
    with pytest.raises(InputError, match="more than once"):
        credentials({"authorization": ["Bearer a", "Bearer b"]})
    with pytest.raises(PurposeRequired, match=r"gateway\.purpose"):
        call_purpose({"gateway.purpose": ["  "]})
    with pytest.raises(InputError, match="at most"):
        call_purpose({"gateway.purpose": ["x" * 201]})
    assert peer_address("ipv4:127.0.0.1:40000") == "127.0.0.1"


def test_errors_become_flight_errors_with_their_code_and_query() -> None:
    refused = TableNotPermitted("not at your level")
    refused.query_id = "q20261204T000000Z-00"
    error = flight_error(refused)
    assert isinstance(error, flight.FlightUnauthorizedError)
    assert str(error) == "[table_not_permitted] not at your level (query q20261204T000000Z-00)"
    assert isinstance(flight_error(AuthenticationError("x")), flight.FlightUnauthenticatedError)
    assert isinstance(flight_error(EngineBusy("x")), flight.FlightUnavailableError)
    assert isinstance(flight_error(QueryCancelled("x")), flight.FlightCancelledError)
    assert isinstance(flight_error(ParameterError("x")), flight.FlightServerError)


def test_metadata_patterns_and_types() -> None:
    assert like_pattern("crime\\_%")("crime_person")
    assert not like_pattern("crime\\_%")("crimes")
    assert like_pattern(None)("anything")
    assert not like_pattern("a.c")("abc")  # a dot is a dot, not a regex
    assert sql_arrow_type("BIGINT") == pa.int64()
    assert sql_arrow_type("TIMESTAMP WITH TIME ZONE") == pa.timestamp("us", tz="UTC")
    assert sql_arrow_type("not a type (") == pa.string()
    found = [
        VisibleTable("warehouse", "main", "crime", {"crime_id": "BIGINT"}),
        VisibleTable(None, "audit", "queries", {"query_id": "VARCHAR"}),
    ]
    listed = tables(
        found,
        catalog="",
        schema_pattern=None,
        table_pattern=None,
        table_types=["VIEW"],
        include_schema=False,
    )
    assert listed.num_rows == 0  # no views
    listed = tables(
        found,
        catalog="",
        schema_pattern=None,
        table_pattern=None,
        table_types=[],
        include_schema=True,
    )
    assert listed.column("table_name").to_pylist() == ["queries"]  # "" = no catalog
    schema = pa.ipc.read_schema(pa.py_buffer(listed.column("table_schema")[0].as_py()))
    assert schema.names == ["query_id"]


def test_bound_parameters_are_one_named_row() -> None:
    assert bound_parameters(pa.table({})) == {}
    with pytest.raises(ParameterError, match="exactly one row"):
        bound_parameters(pa.table({"a": [1, 2]}))
    with pytest.raises(ParameterError, match="named"):
        bound_parameters(pa.table({"0": [1]}))


def test_messages_round_trip_and_foreign_ones_are_refused() -> None:
    name, body = unpack(pack(message("CommandGetTables", table_name_filter_pattern="c%")))
    assert name == "CommandGetTables"
    assert body.HasField("table_name_filter_pattern")
    assert not body.HasField("catalog")
    foreign = any_pb2.Any()
    foreign.Pack(wrappers_pb2.StringValue(value="x"))
    with pytest.raises(InputError, match="not a Flight SQL message"):
        unpack(foreign.SerializeToString())
    unknown = any_pb2.Any(type_url="type.googleapis.com/arrow.flight.protocol.sql.CommandXyz")
    with pytest.raises(InputError, match="not supported"):
        unpack(unknown.SerializeToString())


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("CERT")
    assert flight_tls(GatewaySettings()) == []
    with pytest.raises(ConfigurationError, match="both"):
        flight_tls(GatewaySettings(flight_tls_cert=cert))
    with pytest.raises(ConfigurationError, match="cannot read"):
        flight_tls(GatewaySettings(flight_tls_cert=cert, flight_tls_key=tmp_path / "none.pem"))
    settings = GatewaySettings(flight_port=32010, flight_tls_cert=cert, flight_tls_key=cert)
    assert flight_location(settings) == "grpc+tls://127.0.0.1:32010"
    from_env = GatewaySettings.from_env({"GATEWAY_FLIGHT_PORT": "32011"})
    assert from_env.flight_port == 32011
