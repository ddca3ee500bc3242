"""The enforcement walls on the Spark engine: the attack suite and the random-query property
test of the DuckDB engine, run against the same crafted warehouse published as a lake.

An attack DuckDB refuses must be refused on Spark too (any 4xx, never the hidden marker); an
attack DuckDB answers must give the reference's rows on Spark, or be refused (a DuckDB-only
construct Spark cannot compute alike) — never a different answer. The property test holds
Spark to exactly what it holds DuckDB to: the rows of the independent policy view.

Opt-in like every Spark test (``GATEWAY_TEST_SPARK=1``, :mod:`tests.engines.spark_gate`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings

from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.engines.lake import publish_lake
from gateway.errors import GatewayError
from gateway.service import QueryOutcome, QueryService
from tests.engines.spark_gate import spark_skip_reason
from tests.rewrite import crafted
from tests.rewrite.conftest import ANALYST
from tests.rewrite.test_attacks import ATTACKS, Attack
from tests.rewrite.test_property import queries

pytestmark = pytest.mark.skipif(spark_skip_reason() is not None, reason=str(spark_skip_reason()))


@pytest.fixture(scope="module")
def spark_crafted(
    crafted_dir: Path, crafted_service: QueryService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QueryService]:
    """The crafted warehouse, policy and keys (the DuckDB service made them) on Spark."""
    root = tmp_path_factory.mktemp("crafted-spark")
    for name in ("warehouse.duckdb", "policy.toml"):
        shutil.copy2(crafted_dir / name, root / name)
    shutil.copytree(DataDir(crafted_dir).secrets_dir, DataDir(root).secrets_dir)
    publish_lake(root / "warehouse.duckdb", root / "lake")
    with Deployment.open(DataDir(root), spark="local[2]") as deployment:
        yield deployment.service


def _run(
    service: QueryService, sql: str, params: dict[str, object] | None = None
) -> tuple[QueryOutcome | None, GatewayError | None]:
    try:
        return service.run_query(ANALYST, sql, "SA", params), None
    except GatewayError as refused:
        return None, refused


def _rows(table: object) -> list[tuple[object, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)  # type: ignore[attr-defined]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_on_spark(
    attack: Attack, spark_crafted: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    outcome, refused = _run(spark_crafted, attack.sql, attack.params)
    if refused is not None:
        assert refused.status < 500, f"{refused.code}: {refused}"
        assert crafted.SECRET not in str(refused)
        assert refused.query_id
        return
    assert outcome is not None
    try:
        got = _rows(outcome.result.to_table())
    finally:
        outcome.result.discard()
    assert not attack.refuse, f"Spark answered an attack DuckDB refuses: {got[:3]}"
    expected = _rows(reference.sql(attack.reference_sql or attack.sql).to_arrow_table())
    assert got == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sql=queries())
def test_random_queries_on_spark_return_only_the_policy_view(
    sql: str, spark_crafted: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    outcome, refused = _run(spark_crafted, sql)
    if refused is not None:
        assert refused.status < 500, f"{refused.code}: {refused}"
        assert crafted.SECRET not in str(refused)
        try:
            reference.sql(sql).fetchall()
        except duckdb.Error:
            return
        raise AssertionError(f"Spark refused a query the policy view answers: {refused.code}")
    assert outcome is not None
    try:
        got = _rows(outcome.result.to_table())
    finally:
        outcome.result.discard()
    assert got == _rows(reference.sql(sql).to_arrow_table())
