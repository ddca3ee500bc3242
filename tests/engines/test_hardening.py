"""The hardened connection: every setting holds against SQL that tries to undo or get around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from gateway.engines import DuckDBEngine
from gateway.engines.hardening import EXPECTED_SETTINGS, open_hardened, verify_hardening
from gateway.engines.messages import QueryFailed, RunQuery, WorkerConfig
from gateway.engines.worker import WorkerSession, run_query
from gateway.errors import ConfigurationError, GatewayError, StatementNotAllowed

from .conftest import KEY, KEY_NAME, LIMITS, SECRET


@pytest.fixture
def config(warehouse: Path) -> WorkerConfig:
    return WorkerConfig(
        warehouse=str(warehouse),
        catalog="warehouse",
        memory_limit_mb=128,
        session_variables=((KEY_NAME, KEY),),
        extra_schemas=("audit",),
        os_memory_guard=False,  # sessions here run in the test process itself
    )


@pytest.fixture
def con(config: WorkerConfig) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_hardened(config)
    yield connection
    connection.close()


def _outside(tmp: Path) -> dict[str, str]:
    csv = tmp / "outside.csv"
    csv.write_text("a,b\n1,SECRETFILE\n")
    parquet = tmp / "outside.parquet"
    duckdb.connect().sql("SELECT 1 AS a").write_parquet(str(parquet))
    return {"csv": str(csv), "parquet": str(parquet), "db": str(tmp / "other.duckdb")}


# Statements that must fail on the locked connection (each is run on its own).
ATTACKS = [
    "SET max_temp_directory_size = '100GB'",
    "SET threads = 8",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET allowed_configs = ['threads']",
    "SET allowed_directories = ['/']",
    "SET allowed_paths = ['/etc/passwd']",
    "SET autoload_known_extensions = true",
    "SET autoinstall_known_extensions = true",
    "SET allow_community_extensions = true",
    "SET allow_unsigned_extensions = true",
    "SET python_enable_replacements = true",
    "SET disabled_filesystems = ''",
    "SET temp_directory = '/tmp'",
    "SET enable_profiling = 'json'",
    "SET profiling_output = '/tmp/profile.json'",
    "SET log_query_path = '/tmp/queries.log'",
    "SET errors_as_json = true",
    "RESET threads",
    "RESET lock_configuration",
    "RESET enable_external_access",
    "PRAGMA threads = 8",
    "PRAGMA enable_profiling",
    "ATTACH '{db}' AS other",
    "COPY crime TO '{csv}.out'",
    "COPY crime FROM '{csv}'",
    "EXPORT DATABASE '{csv}.dir'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '/tmp/evil.duckdb_extension'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('{csv}')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_json('/etc/passwd')",
    "SELECT * FROM read_parquet('{parquet}')",
    "SELECT * FROM parquet_metadata('{parquet}')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "FROM '/etc/passwd'",
    "FROM '{csv}'",
    "FROM '{parquet}'",
    'FROM "{parquet}"',
    "SELECT * FROM 'https://example.org/data.csv'",
    "CREATE TABLE crime_copy AS SELECT * FROM crime",
    "INSERT INTO crime (crime_id) VALUES (-1)",
    "UPDATE crime SET modus_operandi = 'x'",
    "DELETE FROM crime",
    "DROP TABLE crime",
    "ALTER TABLE crime ADD COLUMN x INTEGER",
    "SELECT getenv('HOME')",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CREATE PERSISTENT SECRET p (TYPE s3, KEY_ID 'a', SECRET 'b')",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_fails_and_settings_still_hold(
    attack: str, con: duckdb.DuckDBPyConnection, config: WorkerConfig, tmp_path: Path
) -> None:
    sql = attack.format(**_outside(tmp_path))
    with pytest.raises(duckdb.Error):
        con.sql(sql).fetchall()
    verify_hardening(con, config)  # raises if any security setting moved
    assert con.sql(f"SELECT getvariable('{KEY_NAME}')").fetchall() == [(KEY,)]
    assert con.sql("SELECT count(*) FROM crime WHERE crime_id >= 0").fetchall()[0][0] > 0
    assert not list(tmp_path.glob("*.out"))
    assert not list(tmp_path.glob("*.dir"))


def test_memory_limit_is_the_only_setting_left_open(con: duckdb.DuckDBPyConnection) -> None:
    # By design: the worker sets each query's memory limit itself. SQL never can, because
    # the worker runs nothing but a single SELECT (see test_worker_runs_only_single_selects).
    con.execute("SET memory_limit = '64MB'")
    assert con.sql("SELECT current_setting('memory_limit')").fetchall() == [("61.0 MiB",)]
    allowed = con.sql("SELECT value FROM duckdb_settings() WHERE name = 'allowed_configs'")
    assert allowed.fetchall() == [("[max_memory]",)]


def test_settings_are_read_back_as_expected(con: duckdb.DuckDBPyConnection) -> None:
    rows = dict(con.sql("SELECT name, value FROM duckdb_settings()").fetchall())
    for name, expected in EXPECTED_SETTINGS.items():
        assert str(rows[name]).lower() in (
            str(expected).lower(),
            str(expected).lower().replace("'", ""),
        )
    assert rows["memory_limit"].startswith("122")  # 128 MB shown as MiB
    assert rows["threads"] == "1"
    assert con.sql(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = 'warehouse'"
    ).fetchall() == [(True,)]


def test_python_variables_are_not_scanned(con: duckdb.DuckDBPyConnection) -> None:
    secret_tbl = pa.table({"s": [SECRET]})  # noqa: F841 - a replacement scan would find it
    with pytest.raises(duckdb.CatalogException):
        con.sql("SELECT * FROM secret_tbl").fetchall()


def test_the_warehouse_cannot_be_written(con: duckdb.DuckDBPyConnection) -> None:
    before = con.sql("SELECT count(*) FROM crime").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("INSERT INTO warehouse.main.crime (crime_id) VALUES (-1)")
    assert con.sql("SELECT count(*) FROM crime").fetchall() == before


def test_missing_warehouse_is_a_configuration_error(tmp_path: Path) -> None:
    config = WorkerConfig(
        warehouse=str(tmp_path / "nope.duckdb"), catalog="nope", memory_limit_mb=64
    )
    with pytest.raises(ConfigurationError):
        open_hardened(config)
    assert not (tmp_path / "nope.duckdb").exists()  # read-only attach never creates a file


def test_bad_session_variable_name_is_refused(warehouse: Path) -> None:
    config = WorkerConfig(
        warehouse=str(warehouse),
        catalog="warehouse",
        memory_limit_mb=64,
        session_variables=(("x; DROP TABLE crime", 1),),
    )
    with pytest.raises(ConfigurationError):
        open_hardened(config)


# --- the worker's own statement check (independent of what the parent checked) ----------

SMUGGLED = [
    f"SELECT 1; SET VARIABLE {KEY_NAME} = 'overwritten'",
    f"SET VARIABLE {KEY_NAME} = 'overwritten'",
    "SELECT 1; SET lock_configuration = false",
    "SELECT 1; CHECKPOINT",
    "CHECKPOINT",
    "PRAGMA version",
    "CALL pragma_version()",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CREATE TEMP MACRO m(x) AS x",
    "ATTACH ':memory:' AS m2",
    "DETACH audit",
    "USE audit",
    "INSERT INTO audit.records VALUES (9, 'x')",
    "PREPARE p AS SELECT 1",
    "BEGIN TRANSACTION",
    "VACUUM",
    "EXPLAIN SELECT 1",
    "PIVOT crime ON local_authority_code",
    "",
]


@pytest.mark.parametrize("sql", SMUGGLED)
def test_worker_runs_only_single_selects(
    sql: str, con: duckdb.DuckDBPyConnection, config: WorkerConfig, tmp_path: Path
) -> None:
    session = WorkerSession(con, config)
    reply = run_query(session, RunQuery("w1", sql, (), LIMITS, str(tmp_path / "w1.arrows")))
    assert isinstance(reply, QueryFailed)
    assert reply.error == StatementNotAllowed.__name__
    assert con.sql(f"SELECT getvariable('{KEY_NAME}')").fetchall() == [(KEY,)]
    assert con.sql("SELECT count(*) FROM duckdb_databases()").fetchall() == [(5,)]
    assert con.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


def test_a_worker_remembers_only_the_statements_that_passed(
    con: duckdb.DuckDBPyConnection, config: WorkerConfig, tmp_path: Path
) -> None:
    # The single-SELECT check is remembered per text that passed; a refused text is checked
    # (and refused) every time, however often a good one ran before it.
    session = WorkerSession(con, config)
    good, bad = "SELECT 1 AS x", "SELECT 1 AS x; SET memory_limit = '10GB'"
    for i in range(3):
        for sql, refused in ((good, False), (bad, True)):
            path = tmp_path / f"w{i}{refused}.arrows"
            reply = run_query(session, RunQuery(f"w{i}{refused}", sql, (), LIMITS, str(path)))
            assert isinstance(reply, QueryFailed) is refused
            if refused:
                assert isinstance(reply, QueryFailed)
                assert reply.error == StatementNotAllowed.__name__
    assert session.known_single_select(good)
    assert not session.known_single_select(bad)


# --- the same through the engine ----------------------------------------------------------


ENGINE_ATTACKS = [
    "SET memory_limit = '10GB'",
    "RESET memory_limit",
    "PRAGMA memory_limit = '10GB'",
    "SELECT 1; SET memory_limit = '10GB'",
]


@pytest.mark.parametrize("sql", [s for s in SMUGGLED if s] + ATTACKS[:20] + ENGINE_ATTACKS)
def test_engine_refuses_non_select_statements(
    sql: str, engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    for _ in range(2):  # and again: only texts that passed the checks are remembered
        with pytest.raises(GatewayError) as err:
            engine.execute(sql, {}, limits=LIMITS, query_id=qid())
        assert err.value.code in ("statement_not_allowed", "parse_error", "invalid_parameter")


def test_engine_worker_connection_is_locked(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    sql = (
        "SELECT current_setting('lock_configuration') AS locked, "
        "current_setting('enable_external_access') AS external, "
        "current_setting('memory_limit') AS memory"
    )
    row = engine.execute(sql, {}, limits=LIMITS, query_id=qid()).to_table().to_pylist()[0]
    assert row["locked"] is True
    assert row["external"] is False
    assert row["memory"].endswith(" MiB")  # DuckDB's share of the query's limit
    assert float(row["memory"].split()[0]) < LIMITS.memory_limit_mb / 2
