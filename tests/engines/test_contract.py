"""The Engine contract: what every :class:`gateway.engines.Engine` must do, one suite for all.

Every test takes ``contract_engine``, parametrized over :data:`IMPLEMENTATIONS`, and uses only
the ``Engine`` interface (``execute``, ``verify``, ``stats``, ``close``) and ``QueryResult``.
Answers are compared with the warehouse read by plain DuckDB, so results are identical across
implementations by construction. A new engine (Spark) joins by adding one factory below; what
is particular to one implementation (the worker pool's reuse and replacement of workers, the
hardened connection) is tested in that implementation's own files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from gateway.engines import Cancellation, DuckDBEngine, Engine, Expectation
from gateway.engines.lake import publish_lake
from gateway.errors import (
    Conflict,
    GatewayError,
    ParameterError,
    PolicyCheckFailed,
    QueryCancelled,
    QueryTimeout,
    ResourceLimit,
    StatementNotAllowed,
    TooLarge,
)
from tests.engines.spark_gate import spark_skip_reason

from .conftest import CRIMES, KEY, KEY_NAME, LIMITS, TUNING
from .heavy_queries import HEAVY
from .test_invariant import CRIME, ONE_CRIME
from .test_pool import ENDLESS

#: name → factory(warehouse, results directory) of every Engine implementation.
IMPLEMENTATIONS: dict[str, Callable[[Path, Path], Engine]] = {
    "duckdb": lambda warehouse, results: DuckDBEngine(
        warehouse,
        results,
        workers=2,
        limits=LIMITS,
        session_variables={KEY_NAME: KEY},
        tuning=TUNING,
    ),
    "spark": lambda warehouse, results: _spark_engine(warehouse, results),
}


def _spark_engine(warehouse: Path, results: Path) -> Engine:
    """Spark in local mode over the warehouse published as a lake beside ``results``."""
    from gateway.engines.spark.engine import SparkEngine

    lake = results.with_name(f"{results.name}-lake")
    if not lake.exists():
        publish_lake(warehouse, lake)
    return SparkEngine(lake, results, master="local[2]", limits=LIMITS, pseudonym_key=KEY)


def _available(name: str) -> str | None:
    """Why the engine ``name`` cannot run on this machine (None: it can)."""
    return spark_skip_reason() if name == "spark" else None


@pytest.fixture(scope="module", params=sorted(IMPLEMENTATIONS))
def contract_engine(
    request: pytest.FixtureRequest, warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    factory = IMPLEMENTATIONS[request.param]
    if (missing := _available(request.param)) is not None:
        pytest.skip(missing)
    results = tmp_path_factory.mktemp(f"contract-{request.param}")
    with factory(warehouse, results) as engine:
        _RESULTS[id(engine)] = results
        yield engine
    del _RESULTS[id(engine)]


#: Each engine's results directory (the factory's argument; not part of the interface).
_RESULTS: dict[int, Path] = {}


def _left_behind(engine: Engine, query_id: str) -> list[Path]:
    """Files of ``query_id`` still in ``engine``'s results directory."""
    return sorted(_RESULTS[id(engine)].glob(f"{query_id}*"))


def _expected(warehouse: Path, sql: str) -> list[dict[str, object]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows: list[dict[str, object]] = con.sql(sql).to_arrow_table().to_pylist()
    return rows


def test_result_matches_the_warehouse_and_its_file(
    contract_engine: Engine, warehouse: Path, qid: Callable[[], str]
) -> None:
    sql = "SELECT crime_id, recorded_at, modus_operandi FROM crime ORDER BY crime_id"
    result = contract_engine.execute(sql, {}, limits=LIMITS, query_id=qid())
    assert result.to_table().to_pylist() == _expected(warehouse, sql)
    assert (result.num_rows, result.truncated) == (CRIMES, False)
    assert result.schema.names == ["crime_id", "recorded_at", "modus_operandi"]
    data = result.read_bytes()
    assert result.num_bytes == len(data)
    assert result.fingerprint == hashlib.sha256(data).hexdigest()
    assert b"".join(result.iter_bytes(chunk_size=1000)) == data
    assert result.path.suffix == ".arrows"
    assert result.duration_s > 0
    if result.data is None:  # spilled (a small result may be held in memory instead)
        assert result.path.stat().st_mode & 0o777 == 0o600
    else:
        assert not result.path.exists()


def test_a_verified_statement_runs_and_returns_only_the_policy_rows(
    contract_engine: Engine, warehouse: Path, qid: Callable[[], str]
) -> None:
    sql = f"SELECT local_authority_code, count(*) AS n FROM ({CRIME}) AS c GROUP BY 1"
    assert contract_engine.verify(sql, ONE_CRIME).tables == ("crime",)
    rows = contract_engine.execute(sql, {}, limits=LIMITS, query_id=qid()).to_table().to_pylist()
    assert rows == _expected(warehouse, sql) == [{"local_authority_code": "E06000001", "n": 500}]


def test_a_statement_reading_outside_its_policy_subquery_is_refused(
    contract_engine: Engine,
) -> None:
    with pytest.raises(PolicyCheckFailed):
        contract_engine.verify(f"SELECT * FROM ({CRIME}) AS c, main.crime AS raw", ONE_CRIME)
    with pytest.raises(PolicyCheckFailed):
        contract_engine.verify("SELECT * FROM main.crime", Expectation())


@pytest.mark.parametrize(
    "sql", ["SET memory_limit = '10GB'", "SELECT 1; SELECT 2", "CHECKPOINT", "DROP TABLE crime"]
)
def test_anything_but_one_select_is_refused(
    sql: str, contract_engine: Engine, qid: Callable[[], str]
) -> None:
    with pytest.raises(GatewayError) as err:
        contract_engine.execute(sql, {}, limits=LIMITS, query_id=qid())
    assert err.value.code in ("statement_not_allowed", "parse_error")
    assert err.value.status < 500


def test_rows_beyond_max_rows_are_cut_and_flagged(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    sql = "SELECT crime_id FROM crime ORDER BY crime_id"
    cut = contract_engine.execute(sql, {}, limits=replace(LIMITS, max_rows=10), query_id=qid())
    assert (cut.truncated, cut.num_rows) == (True, 10)
    assert cut.to_table().column("crime_id").to_pylist() == list(range(10))
    exact = contract_engine.execute(
        sql, {}, limits=replace(LIMITS, max_rows=CRIMES), query_id=qid()
    )
    assert (exact.truncated, exact.num_rows) == (False, CRIMES)


def test_a_result_larger_than_max_bytes_is_refused_and_nothing_kept(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    query_id = qid()
    with pytest.raises(TooLarge) as err:
        contract_engine.execute(
            "SELECT * FROM crime",
            {},
            limits=replace(LIMITS, max_result_bytes=4096),
            query_id=query_id,
        )
    assert err.value.code == "too_large"
    assert _left_behind(contract_engine, query_id) == []


def test_an_empty_result_keeps_its_schema(contract_engine: Engine, qid: Callable[[], str]) -> None:
    result = contract_engine.execute(
        "SELECT crime_id, recorded_at FROM crime WHERE crime_id < 0",
        {},
        limits=LIMITS,
        query_id=qid(),
    )
    assert (result.num_rows, result.truncated) == (0, False)
    assert result.to_table().schema == result.schema
    assert str(result.schema.field("recorded_at").type) == "date32[day]"


def test_discard_deletes_the_result(contract_engine: Engine, qid: Callable[[], str]) -> None:
    big = "SELECT a.crime_id AS a, b.crime_id AS b FROM crime a, crime b WHERE b.crime_id < 100"
    limits = replace(LIMITS, max_rows=300_000)
    result = contract_engine.execute(big, {}, limits=limits, query_id=qid())
    assert result.data is None  # megabytes: spilled to a file
    assert result.path.exists()
    result.discard()
    result.discard()
    assert not result.path.exists()


def test_a_query_id_is_used_once(contract_engine: Engine, qid: Callable[[], str]) -> None:
    query_id = qid()
    contract_engine.execute("SELECT 1", {}, limits=LIMITS, query_id=query_id)
    with pytest.raises(Conflict):
        contract_engine.execute("SELECT 2", {}, limits=LIMITS, query_id=query_id)


def test_parameter_types_round_trip(contract_engine: Engine, qid: Callable[[], str]) -> None:
    params = {
        "i": 7,
        "f": 1.5,
        "s": "E06000002",
        "b": True,
        "d": dt.date(2024, 2, 29),
        "t": dt.datetime(2024, 2, 29, 12, 30),
        "m": Decimal("12.50"),
        "l": ["E06000001", "E06000003"],
        "n": None,
    }
    sql = "SELECT " + ", ".join(f"${k} AS {k}" for k in params)
    result = contract_engine.execute(sql, params, limits=LIMITS, query_id=qid())
    assert result.to_table().to_pylist()[0] == params
    areas = contract_engine.execute(
        "SELECT count(*) AS n FROM crime WHERE list_contains($areas, local_authority_code)",
        {"areas": ("E06000001", "E06000003")},
        limits=LIMITS,
        query_id=qid(),
    )
    assert areas.to_table().to_pylist() == [{"n": 1000}]


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT $a AS a", {}),
        ("SELECT 1 AS a", {"a": 1}),
        ("SELECT $a AS a", {"a": 1, "b": 2}),
        ("SELECT $a AS a", {"a": object()}),
        ("SELECT $a AS a", {"a": {"nested": "dict"}}),
        ("SELECT ? AS a", {"1": 1}),
        ("SELECT $a AS a, ? AS b", {"a": 1}),
    ],
)
def test_parameter_mismatches_are_clear_errors(
    sql: str, params: dict[str, object], contract_engine: Engine, qid: Callable[[], str]
) -> None:
    with pytest.raises(ParameterError):
        contract_engine.execute(sql, params, limits=LIMITS, query_id=qid())


def test_a_query_over_its_time_limit_is_stopped_with_422(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    with pytest.raises(QueryTimeout) as err:
        contract_engine.execute(ENDLESS, {}, limits=replace(LIMITS, timeout_s=0.5), query_id=qid())
    assert (err.value.code, err.value.status) == ("timeout", 422)
    assert contract_engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid()).num_rows


def test_a_query_over_its_memory_limit_is_stopped_with_422(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    if not contract_engine.supports_memory_limit:
        pytest.skip(f"{type(contract_engine).__name__} does not bound a query's memory")
    limit_mb = LIMITS.memory_limit_mb
    query_id = qid()
    with pytest.raises(ResourceLimit) as err:
        contract_engine.execute(
            HEAVY["range_list"](2 * limit_mb * 2**20), {}, limits=LIMITS, query_id=query_id
        )
    assert (err.value.code, err.value.status) == ("resource_limit", 422)
    assert _left_behind(contract_engine, query_id) == []
    assert f"{limit_mb} MB" in err.value.message
    assert contract_engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid()).num_rows


def test_a_withdrawn_query_is_cancelled_and_leaves_no_result(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    cancel = Cancellation()
    threading.Timer(0.3, cancel.cancel).start()
    query_id = qid()
    with pytest.raises(QueryCancelled) as err:
        contract_engine.execute(
            ENDLESS, {}, limits=replace(LIMITS, timeout_s=30), query_id=query_id, cancel=cancel
        )
    assert err.value.code == "cancelled"
    assert _left_behind(contract_engine, query_id) == []
    stats = contract_engine.stats()
    assert stats.cancelled >= 1
    assert stats.workers_alive >= 1


def test_a_closed_engine_refuses(warehouse: Path, tmp_path: Path, qid: Callable[[], str]) -> None:
    for name, factory in IMPLEMENTATIONS.items():
        if _available(name) is not None:
            continue
        engine = factory(warehouse, tmp_path / name)
        engine.close()
        engine.close()  # idempotent
        with pytest.raises(GatewayError):
            engine.execute("SELECT 1", {}, limits=LIMITS, query_id=qid())


def test_a_statement_is_refused_before_it_runs_when_not_a_select(
    contract_engine: Engine, qid: Callable[[], str]
) -> None:
    with pytest.raises(StatementNotAllowed):
        contract_engine.execute(
            "INSERT INTO crime SELECT * FROM crime", {}, limits=LIMITS, query_id=qid()
        )
    result = contract_engine.execute(
        "SELECT count(*) AS n FROM crime", {}, limits=LIMITS, query_id=qid()
    )
    assert result.to_table().to_pylist() == [{"n": CRIMES}]
