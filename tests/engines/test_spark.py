"""The Spark engine behind the query service: same answers as DuckDB, the invariant on Spark's
parse under attack, and stopped queries audited as such.

One Spark application (local mode) for the test session; skipped with the reason when pyspark
or Java is missing. The DuckDB side is the template tests' service on the same generated
warehouse with the same pseudonym key; the Spark side publishes that warehouse as a lake.

Every template of the library gives DuckDB's rows on Spark for every demo user (or the same
refusal), disclosure control's cell-key perturbation included: the record keys are computed
alike (:mod:`gateway.engines.spark.translate`).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.engines import Cancellation, Expectation, QueryLimits
from gateway.engines.lake import publish_lake
from gateway.engines.spark.translate import to_spark
from gateway.errors import (
    GatewayError,
    PolicyCheckFailed,
    QueryCancelled,
    QueryTimeout,
    SqlParseError,
    StatementNotAllowed,
)
from gateway.principal import Principal
from gateway.service import QueryService
from gateway.templates import TemplateLibrary, TemplateRunner, load_library
from tests.engines.spark_gate import opt_in, spark_unavailable
from tests.templates.fixtures import NOW, PURPOSE, USERS, Raw
from tests.templates.test_runner import params_for

from .test_invariant import CRIME, ONE_CRIME

pytestmark = pytest.mark.skipif(spark_unavailable() is not None, reason=str(spark_unavailable()))
#: Templates of the default run (cell keys and grouping sets; a named window); the rest of the
#: library is opt-in (:mod:`tests.engines.spark_gate`).
FAST_TEMPLATES = ("asb-by-type", "crime-by-month")

#: A statement that runs for minutes on the small warehouse (a four-way cross join).
ENDLESS = (
    "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d "
    "WHERE hash(a.crime_id, b.crime_id, c.crime_id, d.crime_id) = 42"
)


@pytest.fixture(scope="module")
def spark_service(
    template_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QueryService]:
    root = tmp_path_factory.mktemp("spark-data")
    shutil.copy2(template_data_dir / "warehouse.duckdb", root / "warehouse.duckdb")
    shutil.copytree(DataDir(template_data_dir).secrets_dir, DataDir(root).secrets_dir)
    publish_lake(root / "warehouse.duckdb", root / "lake")
    with Deployment.open(DataDir(root), spark="local[2]") as deployment:
        deployment.service.clock = lambda: NOW
        yield deployment.service


def _same_or_refused(duck: Callable[[], pa.Table], spark: Callable[[], pa.Table]) -> str:
    """Spark gives DuckDB's rows or refuses with a 4xx (never a different answer)."""
    expected = duck()
    refused: GatewayError | None = None
    try:
        got = spark()
    except GatewayError as exc:
        refused = exc
    if refused is not None:
        assert refused.status < 500, refused
        return refused.code
    assert got.column_names == expected.column_names
    assert got.to_pylist() == expected.to_pylist()
    return "same"


def _template_params(name: str, user: Principal, raw: Raw) -> dict[str, object]:
    """The template tests' parameters; a user of several areas names the first."""
    params = params_for(name, user, raw) if user.areas else {}
    if len(user.areas) > 1:
        params.setdefault("area", user.areas[0])
    return params


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [n if n in FAST_TEMPLATES else pytest.param(n, marks=opt_in) for n in load_library().names()],
)
def test_every_template_gives_duckdbs_rows_on_spark_for_every_demo_user(
    name: str,
    spark_service: QueryService,
    runner: TemplateRunner,
    library: TemplateLibrary,
    raw: Raw,
) -> None:
    """Same rows, same values (cell-key perturbation included: record keys are computed
    alike), or the same refusal on both engines."""
    on_spark = TemplateRunner(spark_service, library)
    for user in USERS.values():
        params = _template_params(name, user, raw)
        try:
            expected = runner.run(user, name, params, purpose=PURPOSE).table
        except GatewayError as refused:
            with pytest.raises(type(refused)):
                on_spark.run(user, name, params, purpose=PURPOSE)
            continue
        got = on_spark.run(user, name, params, purpose=PURPOSE).table
        assert got.column_names == expected.column_names, user.username
        assert got.to_pylist() == expected.to_pylist(), user.username


@pytest.mark.parametrize(
    ("sql", "outcome"),
    [
        pytest.param(
            "SELECT person_id, count(*) AS n FROM crime_person GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
            "same",
            marks=opt_in,
        ),
        ("SELECT postcode, easting, northing FROM location ORDER BY location_id LIMIT 50", "same"),
        ("SELECT crime_id, recorded_at FROM crime ORDER BY crime_id LIMIT 50", "same"),
        pytest.param(
            "SELECT date_of_birth, forename FROM person ORDER BY person_id LIMIT 50",
            "same",
            marks=opt_in,
        ),
    ],
)
def test_masked_columns_have_the_same_values_on_spark(
    sql: str, outcome: str, spark_service: QueryService, template_service: QueryService
) -> None:
    """Pseudonyms (HMAC), postcode sectors, generalised grid references, area filters."""
    user = USERS["a.khan"]
    found = _same_or_refused(
        lambda: template_service.run_query(user, sql, PURPOSE).result.to_table(),
        lambda: spark_service.run_query(user, sql, PURPOSE).result.to_table(),
    )
    assert found == outcome


def _engine(service: QueryService):  # type: ignore[no-untyped-def]
    return service.engine


@pytest.mark.parametrize(
    ("spark_sql", "error"),
    [
        ("SELECT * FROM crime", PolicyCheckFailed),
        ("SELECT * FROM ({policy}) AS c, crime AS raw", PolicyCheckFailed),
        (
            "SELECT * FROM ({policy}) AS c WHERE c.crime_id IN (SELECT crime_id FROM crime)",
            PolicyCheckFailed,
        ),
        ("SELECT (SELECT max(crime_id) FROM crime) AS m FROM ({policy}) AS c", PolicyCheckFailed),
        ("SELECT /*+ BROADCAST(c) */ * FROM ({policy}) AS c", PolicyCheckFailed),
        ("SELECT * FROM ({policy}) AS c, range(3)", PolicyCheckFailed),
        ("SELECT * FROM parquet.`/etc`", PolicyCheckFailed),
        ("SELECT * FROM IDENTIFIER('crime')", PolicyCheckFailed),
        ("WITH crime AS (SELECT 1 AS x) SELECT * FROM crime", PolicyCheckFailed),
        ("SELECT reflect('java.lang.System', 'getenv', 'HOME')", PolicyCheckFailed),
        ("SELECT gw_hmac_sha256('person:1')", PolicyCheckFailed),
        ("SELECT default.f(1)", PolicyCheckFailed),
        ("SELECT * FROM ({policy}) AS c LATERAL VIEW explode(array(1)) t AS x", PolicyCheckFailed),
        ("SELECT * FROM ({policy_altered}) AS c", PolicyCheckFailed),
        (
            "SELECT * FROM ({policy}) AS c UNION ALL SELECT * FROM ({policy}) AS d",
            PolicyCheckFailed,
        ),
        ("SET spark.sql.ansi.enabled=true", StatementNotAllowed),
        ("SHOW TABLES", PolicyCheckFailed),
        ("CACHE TABLE x AS SELECT * FROM crime", PolicyCheckFailed),
        ("SELECT * FROM ({policy}) AS c TABLESAMPLE (10 PERCENT)", SqlParseError),
    ],
)
def test_crafted_statements_are_refused_on_sparks_parse(
    spark_sql: str, error: type[Exception], spark_service: QueryService
) -> None:
    """Statements as Spark would run them, built to break the invariant the rewrite meant."""
    policy = to_spark(CRIME).sql
    altered = policy.replace("'E06000001'", "'E06000002'")
    text = spark_sql.format(policy=policy, policy_altered=altered)
    with pytest.raises(error):
        _engine(spark_service).check(text, ONE_CRIME)


def test_the_policy_subquery_itself_and_a_cte_over_it_pass(spark_service: QueryService) -> None:
    policy = to_spark(CRIME).sql
    engine = _engine(spark_service)
    assert engine.check(f"SELECT count(*) FROM ({policy}) AS c", ONE_CRIME).tables == ("crime",)
    cte = f"WITH q AS (SELECT * FROM ({policy}) AS c) SELECT count(*) FROM q"
    assert engine.check(cte, ONE_CRIME).tables == ("crime",)
    with pytest.raises(PolicyCheckFailed):  # expected once, present never
        engine.check("SELECT 1", ONE_CRIME)
    with pytest.raises(PolicyCheckFailed):  # expected nothing, reads through a policy anyway
        engine.check(f"SELECT count(*) FROM ({policy}) AS c", Expectation())


def test_a_timed_out_and_a_cancelled_spark_query_are_audited_as_such(
    spark_service: QueryService,
) -> None:
    user = USERS["a.khan"]
    cancel = Cancellation()
    threading.Timer(1.0, cancel.cancel).start()
    with pytest.raises(QueryCancelled) as cancelled:
        spark_service.run_query(user, ENDLESS, PURPOSE, cancel=cancel)
    original = spark_service.policy
    level = original.levels[user.level]
    short = replace(level, limits=replace(level.limits, timeout_s=1.0))
    spark_service.policy = replace(original, levels={**original.levels, user.level: short})
    try:
        with pytest.raises(QueryTimeout) as timed_out:
            spark_service.run_query(user, ENDLESS, PURPOSE)
    finally:
        spark_service.policy = original
    records = {q.query_id: q for q in spark_service.audit.queries(actor=user.username)}
    for error, outcome in ((cancelled.value, "cancelled"), (timed_out.value, "timeout")):
        completed = records[error.query_id].completed
        assert completed is not None
        assert completed.details["outcome"] == outcome


@opt_in
def test_a_query_that_outlives_its_cancellation_restarts_spark_and_the_next_is_not_starved(
    spark_service: QueryService,
) -> None:
    """With no grace, a timed-out query's jobs are never given time to end: the engine stops
    it harder (a new Spark application); it is still reported as timed out, and the next
    query answers on the new application."""
    engine = _engine(spark_service)
    before = engine.stats().restarts
    engine.grace_s = 0.0
    limits = QueryLimits(timeout_s=1.0, max_rows=10, max_result_bytes=2**20)
    began = time.monotonic()
    try:
        with pytest.raises(QueryTimeout):
            engine.execute(ENDLESS, {}, limits=limits, query_id=f"outlives-{time.time_ns()}")
    finally:
        engine.grace_s = 10.0
    assert engine.stats().restarts == before + 1
    assert engine.stats().running == 0
    stopped_after = time.monotonic() - began
    next_query = engine.execute(
        "SELECT count(*) AS n FROM crime",
        {},
        limits=QueryLimits(timeout_s=60.0),
        query_id=f"after-{time.time_ns()}",
    )
    assert next_query.to_table().column("n").to_pylist()[0] > 0
    assert stopped_after < 120  # the restart itself (a new application) takes most of it


def test_the_serving_engine_is_chosen_by_setting() -> None:
    from gateway.api.settings import GatewaySettings
    from gateway.errors import ConfigurationError

    env = {"GATEWAY_ENGINE": "spark:spark://spark-master:7077"}
    assert GatewaySettings.from_env(env).spark_master == "spark://spark-master:7077"
    assert GatewaySettings.from_env({}, engine="spark").spark_master == "local[2]"
    for bad in ("oracle", "spark:", "sparkly"):
        with pytest.raises(ConfigurationError):
            GatewaySettings(engine=bad)
