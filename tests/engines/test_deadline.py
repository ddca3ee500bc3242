"""The worker's per-query time limit (gateway.engines.deadline): one watch thread, armed per
query, that interrupts exactly the query whose time is spent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gateway.engines.deadline import QueryDeadline


def _wait_until(condition: Callable[[], object], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def test_a_query_past_its_limit_is_interrupted_once() -> None:
    calls: list[float] = []
    deadline = QueryDeadline()
    began = time.monotonic()
    with deadline.armed(0.1, lambda: calls.append(time.monotonic() - began)) as watch:
        assert _wait_until(lambda: calls)
        time.sleep(0.2)
    assert watch.fired
    assert len(calls) == 1
    assert 0.1 <= calls[0] < 1.0


def test_a_query_that_ends_in_time_is_never_interrupted() -> None:
    calls: list[str] = []
    deadline = QueryDeadline()
    with deadline.armed(0.1, lambda: calls.append("late")) as watch:
        pass
    time.sleep(0.3)  # past the deadline the ended query had
    assert calls == []
    assert not watch.fired


def test_a_shorter_limit_after_a_long_one_still_fires_on_time() -> None:
    # The thread sleeps towards the long query's deadline; arming the short one must wake it.
    calls: list[str] = []
    deadline = QueryDeadline(idle_wake_s=600.0)
    with deadline.armed(600.0, lambda: calls.append("long")):
        time.sleep(0.05)
    began = time.monotonic()
    with deadline.armed(0.1, lambda: calls.append("short")) as watch:
        assert _wait_until(lambda: calls, timeout_s=2.0)
    assert calls == ["short"]
    assert watch.fired
    assert time.monotonic() - began < 1.5


def test_the_interrupt_reaches_only_the_query_it_was_armed_for() -> None:
    calls: list[str] = []
    deadline = QueryDeadline()
    with deadline.armed(0.2, lambda: calls.append("first")):
        pass
    with deadline.armed(0.05, lambda: calls.append("second")) as second:
        assert _wait_until(lambda: calls)
    time.sleep(0.3)
    assert calls == ["second"]
    assert second.fired


def test_many_queries_share_one_thread() -> None:
    deadline = QueryDeadline()
    with deadline.armed(30.0, lambda: None):
        pass
    before = threading.active_count()
    for _ in range(200):
        with deadline.armed(30.0, lambda: None) as watch:
            assert threading.active_count() == before  # no thread started for this query
        assert not watch.fired
    assert threading.active_count() == before
