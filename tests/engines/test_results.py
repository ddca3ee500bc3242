"""Results spilled to Arrow IPC stream files by the DuckDB engine: streaming, clean-up, query
ids, extra schemas (what every engine must do with results is in ``test_contract.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.engines import DuckDBEngine
from gateway.engines.spill import spill_batches
from gateway.errors import (
    ConfigurationError,
    ParameterError,
    StatementNotAllowed,
    TooLarge,
)

from .conftest import LIMITS, TUNING, audit_records


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


def test_a_small_result_comes_back_in_memory_and_a_large_one_as_a_file(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str], tmp_path: Path
) -> None:
    engine = make_engine(workers=1, tuning=replace(TUNING, inline_result_bytes=64 * 1024))
    small = engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid())
    assert small.data is not None
    assert not small.path.exists()
    assert not any(engine.results_dir.iterdir())  # no file was written, not even a part
    assert small.fingerprint == hashlib.sha256(small.data).hexdigest()
    assert small.num_bytes == len(small.data)
    assert small.to_table().to_pylist() == [{"x": 1}]
    assert b"".join(small.iter_bytes(chunk_size=7)) == small.data
    sql = "SELECT a.crime_id AS a, b.crime_id AS b FROM crime a, crime b WHERE b.crime_id < 100"
    large = engine.execute(sql, {}, limits=replace(LIMITS, max_rows=300_000), query_id=qid())
    assert large.data is None
    assert large.num_bytes > 64 * 1024
    on_disk = large.path.read_bytes()
    assert large.fingerprint == hashlib.sha256(on_disk).hexdigest()  # hashed while written
    assert large.num_bytes == len(on_disk)
    large.discard()
    spilled = make_engine(workers=1, tuning=replace(TUNING, inline_result_bytes=0))
    always = spilled.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid())
    assert always.data is None
    assert always.path.read_bytes() == small.data  # the same stream either way
    assert always.fingerprint == small.fingerprint


def test_a_stream_past_the_byte_limit_is_refused_in_memory_or_on_disk(tmp_path: Path) -> None:
    table = pa.table({"x": list(range(50_000))})
    for inline in (0, 10**7):
        with pytest.raises(TooLarge):
            spill_batches(
                table.to_reader(max_chunksize=1000),
                tmp_path / "r.arrows",
                max_rows=10**9,
                max_result_bytes=100_000,
                inline_bytes=inline,
            )
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("query_id", ["", "../escape", "a/b", ".hidden", "x" * 200, "q 1"])
def test_query_ids_are_plain_names(engine: DuckDBEngine, query_id: str) -> None:
    with pytest.raises(ParameterError):
        engine.execute("SELECT 1", {}, limits=LIMITS, query_id=query_id)


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
