"""Results spilled to Arrow IPC stream files: limits, fingerprint, streaming, clean-up."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from gateway.engines import DuckDBEngine
from gateway.engines.spill import spill_batches
from gateway.errors import (
    ConfigurationError,
    Conflict,
    ParameterError,
    StatementNotAllowed,
    TooLarge,
)

from .conftest import CRIMES, LIMITS, audit_records


def test_result_matches_duckdb_and_its_file(
    engine: DuckDBEngine, warehouse: Path, qid: Callable[[], str]
) -> None:
    sql = "SELECT crime_id, recorded_at, modus_operandi FROM crime ORDER BY crime_id"
    result = engine.execute(sql, {}, limits=LIMITS, query_id=qid())
    expected = duckdb.connect(str(warehouse), read_only=True).sql(sql).to_arrow_table()
    assert result.to_table().equals(expected)
    assert (result.num_rows, result.truncated) == (CRIMES, False)
    assert result.schema.names == ["crime_id", "recorded_at", "modus_operandi"]
    data = result.path.read_bytes()
    assert result.num_bytes == len(data)
    assert result.fingerprint == hashlib.sha256(data).hexdigest()
    assert b"".join(result.iter_bytes(chunk_size=1000)) == data
    assert result.path.parent == engine.results_dir
    assert result.path.suffix == ".arrows"
    assert result.duration_s > 0
    assert result.path.stat().st_mode & 0o777 == 0o600


def test_rows_beyond_max_rows_are_cut_and_flagged(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    sql = "SELECT crime_id FROM crime ORDER BY crime_id"
    cut = engine.execute(sql, {}, limits=replace(LIMITS, max_rows=10), query_id=qid())
    assert cut.truncated
    assert cut.num_rows == 10
    assert cut.to_table().column("crime_id").to_pylist() == list(range(10))
    exact = engine.execute(sql, {}, limits=replace(LIMITS, max_rows=CRIMES), query_id=qid())
    assert not exact.truncated
    assert exact.num_rows == CRIMES


def test_result_larger_than_max_bytes_is_refused_and_removed(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    query_id = qid()
    with pytest.raises(TooLarge):
        engine.execute(
            "SELECT * FROM crime",
            {},
            limits=replace(LIMITS, max_result_bytes=4096),
            query_id=query_id,
        )
    assert not list(engine.results_dir.glob(f"{query_id}.*"))


def test_empty_result_keeps_its_schema(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    result = engine.execute(
        "SELECT crime_id, recorded_at FROM crime WHERE crime_id < 0",
        {},
        limits=LIMITS,
        query_id=qid(),
    )
    assert result.num_rows == 0
    assert not result.truncated
    assert result.to_table().schema == result.schema
    assert str(result.schema.field("recorded_at").type) == "date32[day]"


def test_reader_streams_from_the_mapped_file_without_copying(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    sql = "SELECT a.crime_id AS a, b.crime_id AS b FROM crime a, crime b WHERE b.crime_id < 100"
    result = engine.execute(sql, {}, limits=replace(LIMITS, max_rows=300_000), query_id=qid())
    assert result.num_bytes > 2_000_000
    before = pa.total_allocated_bytes()
    reader = result.reader()
    assert isinstance(reader, pa.RecordBatchReader)
    rows = sum(batch.num_rows for batch in reader)
    table = result.to_table()
    assert rows == result.num_rows == table.num_rows == 200_000
    assert pa.total_allocated_bytes() - before < 100_000  # buffers point into the mapping


def test_discard_deletes_the_file(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    result = engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid())
    assert result.path.exists()
    result.discard()
    result.discard()
    assert not result.path.exists()


@pytest.mark.parametrize("query_id", ["", "../escape", "a/b", ".hidden", "x" * 200, "q 1"])
def test_query_ids_are_plain_names(engine: DuckDBEngine, query_id: str) -> None:
    with pytest.raises(ParameterError):
        engine.execute("SELECT 1", {}, limits=LIMITS, query_id=query_id)


def test_a_query_id_is_used_once(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    query_id = qid()
    engine.execute("SELECT 1", {}, limits=LIMITS, query_id=query_id)
    with pytest.raises(Conflict):
        engine.execute("SELECT 2", {}, limits=LIMITS, query_id=query_id)


def test_spill_stops_reading_after_one_row_too_many(tmp_path: Path) -> None:
    pulled: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(100):
            pulled.append(i)
            yield pa.record_batch({"x": [i] * 10})

    reader = pa.RecordBatchReader.from_batches(pa.schema({"x": pa.int64()}), batches())
    summary = spill_batches(reader, tmp_path / "r.arrows", max_rows=25, max_result_bytes=10**6)
    assert (summary.num_rows, summary.truncated) == (25, True)
    assert len(pulled) == 3
    assert not (tmp_path / "r.arrows.part").exists()


def test_extra_schema_tables_are_readable_and_replaceable(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=2, extra_tables={"audit": {"records": audit_records(3)}})
    count = "SELECT count(*) AS n FROM audit.records"

    def n() -> int:
        return int(
            engine.execute(count, {}, limits=LIMITS, query_id=qid()).to_table()["n"][0].as_py()
        )

    assert n() == 3
    engine.publish_tables("audit", {"records": audit_records(7)})
    assert [n() for _ in range(4)] == [7, 7, 7, 7]  # every worker sees the new snapshot
    with pytest.raises(StatementNotAllowed):
        engine.execute(
            "INSERT INTO audit.records VALUES (1, 'x')", {}, limits=LIMITS, query_id=qid()
        )
    assert n() == 7
    with pytest.raises(ConfigurationError):
        engine.publish_tables("elsewhere", {"records": audit_records(1)})
