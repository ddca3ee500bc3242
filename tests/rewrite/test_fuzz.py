"""Differential fuzzing of the policy wall: hostile SQL from a grammar (fuzz_grammar.py), run
through the real service as a general analyst. Each statement must either

- be refused with a 4xx error that echoes no hidden value, audited; or
- have passed the engine's invariant check (run_query verifies every statement) and return
  exactly what the same SQL returns over the independent reference view
  (tests/rewrite/reference.py), with no hidden marker in it.

``GATEWAY_FUZZ_EXAMPLES`` sets the number of cases (default 2,000, about a minute here);
``python benchmarks/fuzz_enforcement.py`` runs the long mode and prints the figures.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings

from gateway.errors import GatewayError
from gateway.service import QueryOutcome, QueryService
from tests.rewrite import crafted
from tests.rewrite.conftest import ANALYST
from tests.rewrite.fuzz_grammar import statement

EXAMPLES = int(os.environ.get("GATEWAY_FUZZ_EXAMPLES", "2000"))
TALLY: Counter[str] = Counter()


def run_or_refusal(
    service: QueryService, sql: str
) -> tuple[QueryOutcome | None, GatewayError | None]:
    """The analyst's query run through the service: its outcome, or the refusal."""
    try:
        return service.run_query(ANALYST, sql, "SA"), None
    except GatewayError as refused:
        return None, refused


def _rows(table: object) -> list[str]:
    return sorted(repr(tuple(r.values())) for r in table.to_pylist())  # type: ignore[attr-defined]


def _reference_rows(
    reference: duckdb.DuckDBPyConnection, sql: str, *, optimise: bool = True
) -> list[str] | None:
    """The statement over the reference view: as written, else as the gateway's parser read
    it (sqlglot maps some spellings DuckDB rejects, e.g. a quoted date part)."""
    if not optimise:
        reference.execute("PRAGMA disable_optimizer")
    try:
        for spelling in (sql, sqlglot.transpile(sql, read="duckdb", write="duckdb")[0]):
            try:
                return _rows(reference.sql(spelling).to_arrow_table())
            except duckdb.Error:
                continue
        return None
    finally:
        reference.execute("PRAGMA enable_optimizer")


@pytest.fixture(scope="module", autouse=True)
def _report() -> object:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    print(
        f"\nfuzz: {sum(TALLY.values())} cases in {elapsed:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in TALLY.most_common())
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("GATEWAY_FUZZ_RANDOM") is None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(sql=statement())
def test_every_statement_is_refused_or_exactly_the_policy_view(
    sql: str, crafted_service: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    outcome, refused = run_or_refusal(crafted_service, sql)
    if refused is not None:
        assert refused.status < 500, f"{refused.code}: {refused} for {sql!r}"
        assert crafted.SECRET not in str(refused)
        assert refused.query_id
        TALLY[f"refused:{refused.code}"] += 1
        return
    assert outcome is not None
    try:
        got = _rows(outcome.result.to_table())
    finally:
        outcome.result.discard()
    expected = _reference_rows(reference, sql)
    if expected is None:
        # Neither spelling runs on the reference; the engine verified the statement (every
        # table read through its policy subquery), which is all that can be said here.
        TALLY["answered:unchecked"] += 1
        return
    outcome_kind = "answered:equal"
    if got != expected:
        # DuckDB's optimiser has bugs of its own (seen: EXISTS over GROUP BY ALL with a
        # constant LEFT JOIN condition gives FALSE optimised, TRUE not). The reference
        # without the optimiser is the tie-breaker: the gateway must match one of them.
        expected = _reference_rows(reference, sql, optimise=False)
        outcome_kind = "answered:equal-to-unoptimised-reference"
    assert got == expected, sql
    assert crafted.SECRET not in repr(got) or crafted.SECRET in repr(expected), sql
    TALLY[outcome_kind] += 1
