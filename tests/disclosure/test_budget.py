"""Disclosure control within the query's budget: it stops, and stops costing CPU, as soon as
the query is withdrawn or out of time (issue 14, finding 4)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pyarrow as pa
import pytest

from gateway.disclosure import parse_disclosure_request, parse_disclosure_spec, protect
from gateway.disclosure.budget import Budget
from gateway.disclosure.control import DisclosureControl
from gateway.engines.base import Cancellation
from gateway.errors import QueryCancelled, QueryTimeout
from gateway.policy.disclosure import DisclosureRules, DisclosureSettings
from gateway.service import QueryService
from tests.templates.fixtures import PURPOSE, USERS

#: The slow method (secondary suppression grows faster than the cells), to have something
#: worth stopping.
SUPPRESSION = DisclosureRules(min_count=10, label="general", method="suppression")
CELL_KEY = DisclosureRules(min_count=10, label="general", method="cell_key", max_noise=2)
#: Day × category and flag in every area (s.patel sees all four): ~4,000 cells, seconds of
#: secondary suppression.
DAY_BY_CATEGORY = (
    "SELECT CAST(recorded_at AS DATE) AS day, "
    "lsoa_code || CAST(domestic_abuse AS VARCHAR) AS kind, count(*) AS crimes "
    "FROM crime GROUP BY ALL"
)


def _table(cells: int):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    values = (0, 1, 2, 3, 5, 8, 12, 20, 40)
    return pa.table(
        {
            "day": [f"d{i // 3:05d}" for i in range(cells)],
            "flag": [f"f{i % 3}" for i in range(cells)],
            "n": [values[(i * 7) % len(values)] for i in range(cells)],
        }
    )


SPEC = parse_disclosure_spec({"dimensions": ["day", "flag"], "counts": ["n"]})


def test_the_2181_cell_table_is_protected_well_within_two_seconds() -> None:
    began = time.perf_counter()
    keys = {"n": [(i * 37) % 256 for i in range(2181)]}
    out = protect(_table(2181), SPEC, CELL_KEY, cell_keys=keys, budget=Budget.within(2.0))
    assert out.report.cells == 2181
    assert time.perf_counter() - began < 2.0


def test_withdrawn_protection_stops_within_one_step() -> None:
    """Cell suppression of 10,000 cells takes seconds; withdrawn after 0.2 s, it raises at
    the next step and its thread spends no more CPU."""
    withdrawn = threading.Event()
    outcome: dict[str, float | BaseException] = {}

    def work() -> None:
        try:
            protect(_table(10_000), SPEC, SUPPRESSION, budget=Budget(cancelled=withdrawn.is_set))
        except QueryCancelled as exc:
            outcome["error"] = exc
        outcome["stopped"] = time.perf_counter()
        outcome["cpu"] = time.thread_time()

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.2)
    withdrawn.set()
    cancelled_at = time.perf_counter()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], QueryCancelled)
    assert float(outcome["stopped"]) - cancelled_at < 0.1  # one step, not the rest of the work
    assert float(outcome["cpu"]) < 0.5


def test_out_of_time_protection_stops_at_the_deadline() -> None:
    began = time.perf_counter()
    with pytest.raises(QueryTimeout, match="time budget"):
        protect(_table(10_000), SPEC, SUPPRESSION, budget=Budget.within(0.3))
    assert time.perf_counter() - began < 0.5


class _Observed(DisclosureControl):
    """Disclosure control that says when it starts (the query has run by then)."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.started = threading.Event()

    def apply(self, table: pa.Table, **options: Any) -> tuple[pa.Table, dict[str, Any]]:
        self.started.set()
        return super().apply(table, **options)


def test_a_cancelled_request_stops_costing_cpu_at_once(template_service: QueryService) -> None:
    """Through the service, as the API runs it: the query runs, disclosure control (slow
    suppression, a generous budget) starts, the client goes away; run_query raises
    QueryCancelled at once, the completed record says ``cancelled``, and the process spends
    no CPU on the request afterwards."""
    settings = DisclosureSettings(levels={"general": SUPPRESSION})
    control = _Observed(
        request=parse_disclosure_request("policy"),
        settings=settings,
        catalog=template_service.catalog,
        max_seconds=60.0,
        suppression_max_cells=sys.maxsize,  # slow on purpose: the generous budget allows it
    )
    cancel = Cancellation()
    result: dict[str, BaseException | float] = {}

    def request() -> None:
        try:
            template_service.run_query(
                USERS["s.patel"], DAY_BY_CATEGORY, PURPOSE, control=control, cancel=cancel
            )
        except QueryCancelled as exc:
            result["error"] = exc
        result["returned"] = time.perf_counter()

    thread = threading.Thread(target=request)
    thread.start()
    assert control.started.wait(30)  # the query ran: disclosure control (seconds of it) starts
    time.sleep(0.2)
    cpu_before = time.process_time()
    cancel.cancel()
    cancelled_at = time.perf_counter()
    thread.join(timeout=10)
    assert not thread.is_alive()
    error = result.get("error")
    assert isinstance(error, QueryCancelled), result
    assert "during disclosure control" in str(error)  # stopped in the control, not the query
    assert float(result["returned"]) - cancelled_at < 0.25
    time.sleep(0.5)
    assert time.process_time() - cpu_before < 0.4  # nothing left running for it
    view = {q.query_id: q for q in template_service.audit.queries()}[error.query_id]
    assert view.result["outcome"] == "cancelled"
