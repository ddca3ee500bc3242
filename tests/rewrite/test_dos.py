"""Denial of service through the whole service: runaway queries are stopped by limits, the
worker is replaced when needed, the refusal is audited, and other queries keep being answered.
A query its caller withdraws (the HTTP client went away) stops at once and is audited as
cancelled instead of holding a worker until its time limit."""

from __future__ import annotations

import threading
import time

import pytest

from gateway.engines import Cancellation
from gateway.errors import GatewayError, QueryCancelled
from gateway.service import QueryService
from tests.rewrite.conftest import ANALYST

# The crafted deployment's policy sets timeout_s = 4 and memory_limit_mb = 512.
RUNAWAYS = {
    "triple cross join": "SELECT count(*) FROM crime a, crime b, crime c, crime d WHERE a.outcome || b.outcome <> c.outcome || d.outcome",
    "unbounded recursive cte": "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    "huge repeat": "SELECT length(repeat('x', 2000000000))",
    "repeat per row": "SELECT length(string_agg(repeat(outcome, 2000000), '')) FROM crime",
    "quadratic string work": "SELECT sum(levenshtein(repeat(a.outcome, 3000), repeat(b.outcome, 3000))) FROM crime a, crime b",
}
STOPPED = {"timeout", "resource_limit", "query_error", "too_large"}


@pytest.mark.parametrize("name", sorted(RUNAWAYS))
def test_runaway_is_stopped_and_service_keeps_answering(
    name: str, crafted_service: QueryService
) -> None:
    started = time.perf_counter()
    with pytest.raises(GatewayError) as caught:
        crafted_service.run_query(ANALYST, RUNAWAYS[name], "SA")
    elapsed = time.perf_counter() - started
    assert caught.value.code in STOPPED, str(caught.value)
    assert elapsed < 30  # the 4 s budget plus the kill grace and a worker restart
    record = next(q for q in crafted_service.audit.queries() if q.query_id == caught.value.query_id)
    assert record.result.get("outcome") == caught.value.code
    _still_answers(crafted_service)


def test_withdrawn_query_is_stopped_and_audited_as_cancelled(
    crafted_service: QueryService,
) -> None:
    cancel = Cancellation()
    timer = threading.Timer(0.3, cancel.cancel)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(QueryCancelled) as caught:
        crafted_service.run_query(ANALYST, RUNAWAYS["triple cross join"], "SA", cancel=cancel)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0  # the policy's budget is 4 s
    query_id = caught.value.query_id
    assert query_id is not None
    assert caught.value.to_dict()["code"] == "cancelled"
    events = [
        e
        for e in crafted_service.audit.events(kinds=("query.started", "query.completed"))
        if e.details["query_id"] == query_id
    ]
    assert [e.kind for e in events] == ["query.started", "query.completed"]
    assert events[1].details["outcome"] == "cancelled"
    assert events[1].details["rows"] == 0
    (record,) = [q for q in crafted_service.audit.queries() if q.query_id == query_id]
    assert record.status == "completed"
    assert record.result.get("outcome") == "cancelled"
    _still_answers(crafted_service)
    assert crafted_service.engine.stats().cancelled >= 1


def _still_answers(service: QueryService) -> None:
    """The next query is answered and every engine worker is alive."""
    after = service.run_query(ANALYST, "SELECT count(*) AS n FROM crime", "SA")
    try:
        assert after.result.to_table().column("n").to_pylist() == [1000]
    finally:
        after.result.discard()
    stats = service.engine.stats()
    assert stats.workers_alive == stats.workers
