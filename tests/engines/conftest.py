"""Fixtures for the engine tests: a small real DuckDB warehouse with planted secrets."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from gateway.engines import DuckDBEngine, EngineTuning, QueryLimits

#: A value stored in the warehouse that must never appear in an error message. The "("
#: makes it an invalid regular expression, so pattern errors would quote it.
SECRET = "ZZ-SECRET-4711("
#: The session variable the engine holds (a stand-in for the pseudonym key).
KEY_NAME = "gw_key"
KEY = b"KEY-SECRET-0042"
CRIMES = 2000
LIMITS = QueryLimits(
    timeout_s=5.0, memory_limit_mb=256, max_rows=10_000, max_result_bytes=10 * 2**20
)
TUNING = EngineTuning(grace_s=0.5, start_timeout_s=30.0)


def build_warehouse(path: Path) -> Path:
    """A warehouse shaped like the real one, in miniature."""
    con = duckdb.connect(str(path))
    con.execute(
        """
        CREATE TABLE crime AS
        SELECT i AS crime_id,
               'E0600000' || (i % 4 + 1) AS local_authority_code,
               DATE '2024-01-01' + (i % 365)::INTEGER AS recorded_at,
               CASE WHEN i % 100 = 7 THEN $secret ELSE 'mo ' || i END AS modus_operandi
        FROM range($n) t(i)
        """,
        {"secret": SECRET, "n": CRIMES},
    )
    con.execute(
        "CREATE TABLE person AS SELECT i AS person_id, $secret || i AS surname, "
        "DATE '1980-01-01' + i::INTEGER AS date_of_birth FROM range(200) t(i)",
        {"secret": SECRET},
    )
    con.execute(
        "CREATE TABLE intelligence_report AS SELECT 1 AS report_id, $secret AS report_text",
        {"secret": SECRET},
    )
    con.close()
    return path


def audit_records(n: int) -> pa.Table:
    return pa.table({"record_id": list(range(n)), "username": [f"user{i}" for i in range(n)]})


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def engine(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEngine]:
    """A shared two-worker engine; tests that count restarts start their own."""
    with DuckDBEngine(
        warehouse,
        tmp_path_factory.mktemp("results"),
        workers=2,
        limits=LIMITS,
        session_variables={KEY_NAME: KEY},
        extra_tables={"audit": {"records": audit_records(3)}},
        tuning=TUNING,
    ) as eng:
        yield eng


@pytest.fixture
def make_engine(warehouse: Path, tmp_path: Path) -> Iterator[Callable[..., DuckDBEngine]]:
    """Start a dedicated engine (closed at the end of the test)."""
    started: list[DuckDBEngine] = []

    def make(
        *,
        workers: int = 1,
        tuning: EngineTuning = TUNING,
        extra_tables: Mapping[str, Mapping[str, pa.Table]] | None = None,
    ) -> DuckDBEngine:
        eng = DuckDBEngine(
            warehouse,
            tmp_path / f"results{len(started)}",
            workers=workers,
            limits=LIMITS,
            session_variables={KEY_NAME: KEY},
            extra_tables=extra_tables,
            tuning=tuning,
        )
        started.append(eng)
        return eng

    yield make
    for eng in started:
        eng.close()


_ids = itertools.count()


@pytest.fixture
def qid() -> Callable[[], str]:
    """Fresh query ids."""
    return lambda: f"t{next(_ids)}"
