"""Fair shares of the worker pool, and workers that stop answering.

Real worker processes throughout: heavy users run queries that never end on their own (each
withdrawn through its Cancellation at the end of the test), a light user's small queries are
timed while they hold their share, and workers are frozen with SIGSTOP as a stuck or
suspended process would be.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from gateway.engines import Cancellation, DuckDBEngine, EngineTuning
from gateway.engines.scheduling import FairQueue, per_user_limit
from gateway.errors import ConfigurationError, EngineBusy, EngineUnavailable, GatewayError

from .conftest import CRIMES, LIMITS, TUNING
from .faults import frozen_when_busy

# Four-way self join: 1.6e13 rows, runs until its time limit or its cancellation.
ENDLESS = (
    "SELECT count(*) FROM crime a, crime b, crime c, crime d "
    "WHERE hash(a.crime_id, b.crime_id, c.crime_id, d.crime_id) = 42"
)
HEAVY_LIMITS = replace(LIMITS, timeout_s=30.0)
SMALL = "SELECT count(*) AS n FROM crime"


# -- the scheduling rules (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "share", "limit"), [(1, 0.5, 1), (2, 0.5, 1), (3, 0.5, 1), (4, 0.5, 2), (8, 0.25, 2)]
)
def test_a_users_share_is_a_fraction_of_the_pool_and_at_least_one(
    size: int, share: float, limit: int
) -> None:
    assert per_user_limit(size, share) == limit
    assert FairQueue(size, user_share=share).per_user_limit == limit


def test_the_reserve_leaves_at_least_one_worker_for_anyone() -> None:
    assert FairQueue(1, reserved=1).reserve == 0
    assert FairQueue(4, reserved=3).reserve == 3
    assert FairQueue(4, reserved=9).reserve == 3
    unfair = FairQueue(4, user_share=0.5, reserved=1, fair=False)
    assert (unfair.per_user_limit, unfair.reserve) == (4, 0)
    with pytest.raises(ConfigurationError):
        FairQueue(4, user_share=1.5)


def test_next_worker_goes_to_the_user_holding_fewest_not_the_first_to_arrive() -> None:
    queue = FairQueue(6, user_share=0.5, reserved=1)  # 3 workers per user, 1 reserved
    a1, a2, b1 = queue.enqueue("heavy-a"), queue.enqueue("heavy-a"), queue.enqueue("heavy-b")
    assert queue.grant(free=6) == [a1, b1, a2]  # b held none when a's second was considered
    waiting_a = queue.enqueue("heavy-a")  # first to arrive, but a holds 2
    waiting_b = queue.enqueue("heavy-b")  # b holds 1
    assert queue.grant(free=2) == [waiting_b]  # then 1 free: the reserve, not for a
    assert queue.holding("heavy-a") == 2
    light = queue.enqueue("light")
    assert queue.grant(free=1) == [light]  # holds none: the reserve is for it
    queue.release(a1)
    assert queue.grant(free=2) == [waiting_a]
    assert queue.waiting() == 0
    assert (queue.holding("heavy-a"), queue.holding("heavy-b"), queue.running()) == (2, 2, 5)


def test_a_user_never_holds_more_than_their_share() -> None:
    queue = FairQueue(4, user_share=0.5, reserved=0)
    tickets = [queue.enqueue("a") for _ in range(4)]
    assert queue.grant(free=4) == tickets[:2]
    assert queue.grant(free=2) == []
    queue.withdraw(tickets[3])
    assert queue.waiting_for("a") == 1


def test_plain_fifo_when_fairness_is_off() -> None:
    queue = FairQueue(2, fair=False)
    a1, a2, b = queue.enqueue("a"), queue.enqueue("a"), queue.enqueue("b")
    assert queue.grant(free=2) == [a1, a2]
    queue.release(a1)
    assert queue.grant(free=1) == [b]


# -- real workers ------------------------------------------------------------------------


class HeavyUser:
    """``queries`` endless queries of ``user`` in threads, withdrawn by :meth:`stop`."""

    def __init__(self, engine: DuckDBEngine, user: str, queries: int, qid: Callable[[], str]):
        self.cancel = Cancellation()
        self.errors: list[GatewayError] = []
        self.threads = [
            threading.Thread(target=self._run, args=(engine, user, qid()), daemon=True)
            for _ in range(queries)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, engine: DuckDBEngine, user: str, query_id: str) -> None:
        try:
            engine.execute(
                ENDLESS, {}, limits=HEAVY_LIMITS, query_id=query_id, cancel=self.cancel, user=user
            )
        except GatewayError as exc:
            self.errors.append(exc)

    def stop(self) -> None:
        self.cancel.cancel()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def heavy(
    qid: Callable[[], str],
) -> Iterator[Callable[[DuckDBEngine, str, int], HeavyUser]]:
    started: list[HeavyUser] = []

    def start(engine: DuckDBEngine, user: str, queries: int) -> HeavyUser:
        started.append(HeavyUser(engine, user, queries, qid))
        return started[-1]

    yield start
    for user in started:
        user.stop()


def _eventually(check: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _small(engine: DuckDBEngine, qid: Callable[[], str], user: str | None) -> float:
    """Seconds the small query took (its answer checked)."""
    started = time.monotonic()
    result = engine.execute(SMALL, {}, limits=LIMITS, query_id=qid(), user=user)
    elapsed = time.monotonic() - started
    assert result.to_table().column("n").to_pylist() == [CRIMES]
    result.discard()
    return elapsed


def test_light_user_answers_within_a_second_while_two_heavy_users_hold_their_share(
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
    heavy: Callable[[DuckDBEngine, str, int], HeavyUser],
) -> None:
    engine = make_engine(workers=4)
    first, second = heavy(engine, "heavy-a", 3), heavy(engine, "heavy-b", 3)
    # Each may hold 2 of 4 workers, and the last free one is kept for users holding none:
    # 3 run, the other heavy queries wait in their users' queues.
    _eventually(lambda: engine.stats().running == 3 and engine.stats().queue_depth == 3)
    timings = [_small(engine, qid, "light") for _ in range(10)]
    assert max(timings) < 1.0, timings
    stats = engine.stats()
    assert (stats.running, stats.queue_depth) == (3, 3)  # the heavy users never got more
    assert (stats.per_user_workers, stats.reserved_workers) == (2, 1)
    first.stop()
    second.stop()
    assert {e.code for e in first.errors + second.errors} == {"cancelled"}


def test_without_fairness_two_heavy_users_take_every_worker(
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
    heavy: Callable[[DuckDBEngine, str, int], HeavyUser],
) -> None:
    """The finding this fixes: first come, first served lets two users starve everyone."""
    engine = make_engine(workers=4, tuning=replace(TUNING, fair=False, queue_timeout_s=1.0))
    heavy(engine, "heavy-a", 2)
    heavy(engine, "heavy-b", 2)
    _eventually(lambda: engine.stats().running == 4)
    with pytest.raises(EngineBusy):
        _small(engine, qid, "light")


def test_a_user_over_their_share_waits_bounded_then_gets_busy_with_retry_after(
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
    heavy: Callable[[DuckDBEngine, str, int], HeavyUser],
) -> None:
    engine = make_engine(workers=4, tuning=replace(TUNING, queue_timeout_s=0.5))
    heavy(engine, "heavy-a", 2)
    _eventually(lambda: engine.stats().running == 2)
    # Two workers are free, but "heavy-a" holds its share: its third query waits, bounded.
    started = time.monotonic()
    with pytest.raises(EngineBusy) as err:
        engine.execute(SMALL, {}, limits=LIMITS, query_id=qid(), user="heavy-a")
    waited = time.monotonic() - started
    assert 0.5 <= waited < 1.5
    assert err.value.status == 503
    assert err.value.code == "busy"
    assert err.value.retry_after >= 1.0
    # Anyone else is served at once meanwhile.
    assert _small(engine, qid, "light") < 1.0
    assert engine.stats().queue_depth == 0  # the refused query left the queue


def test_a_users_own_queue_is_bounded_and_refuses_at_once(
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
    heavy: Callable[[DuckDBEngine, str, int], HeavyUser],
) -> None:
    engine = make_engine(workers=4)  # share 2, and up to 2 more of a user's queries may wait
    heavy(engine, "heavy-a", 4)
    _eventually(lambda: engine.stats().running == 2 and engine.stats().queue_depth == 2)
    started = time.monotonic()
    with pytest.raises(EngineBusy) as err:
        engine.execute(SMALL, {}, limits=LIMITS, query_id=qid(), user="heavy-a")
    assert time.monotonic() - started < 0.5  # refused, not queued (queue_timeout_s is 30 s)
    assert "2 queries running and 2 waiting" in err.value.message
    # Its end of the deadline is the soonest a worker of its own can be free.
    assert 1.0 <= err.value.retry_after <= 30.0


def test_a_waiting_query_of_a_user_runs_as_soon_as_one_of_theirs_ends(
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
    heavy: Callable[[DuckDBEngine, str, int], HeavyUser],
) -> None:
    engine = make_engine(workers=2)  # share 1, reserve 1
    running = heavy(engine, "a", 1)
    _eventually(lambda: engine.stats().running == 1)
    answered: list[float] = []
    waiter = threading.Thread(target=lambda: answered.append(_small(engine, qid, "a")))
    waiter.start()
    _eventually(lambda: engine.stats().queue_depth == 1)
    time.sleep(0.3)
    assert not answered  # one free worker, but it is the reserve and "a" holds one
    released = time.monotonic()
    running.stop()
    waiter.join(10)
    assert answered
    assert time.monotonic() - released < 2.0


def test_unattributed_callers_are_not_held_back_by_shares(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=3)
    cancel = Cancellation()
    errors: list[GatewayError] = []

    def endless() -> None:
        try:
            engine.execute(ENDLESS, {}, limits=HEAVY_LIMITS, query_id=qid(), cancel=cancel)
        except GatewayError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=endless) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        _eventually(lambda: engine.stats().running == 3)
    finally:
        cancel.cancel()
        for thread in threads:
            thread.join(10)
    assert [e.code for e in errors] == ["cancelled"] * 3


# -- liveness ----------------------------------------------------------------------------


def _stop(*pids: int) -> None:
    """SIGSTOP the workers and wait until the kernel has stopped them."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    for pid in pids:
        _eventually(functools.partial(_is_stopped, pid), within_s=0.5)


def _is_stopped(pid: int) -> bool:
    return _state(pid) == "T"


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def _resume(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def test_stopped_idle_workers_count_as_not_alive_and_are_replaced(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=2, tuning=replace(TUNING, liveness_deadline_s=1.0))
    pids = engine.worker_pids()
    try:
        _stop(*pids)
        stats = engine.stats()  # read at once, not after the watchdog's next look
        assert (stats.workers_alive, stats.workers_stopped, stats.idle) == (0, 2, 0)
        _eventually(lambda: not set(engine.worker_pids()) & set(pids), within_s=5.0)
        _eventually(lambda: engine.stats().workers_alive == 2, within_s=5.0)
        assert engine.stats().restarts == 2
        assert _small(engine, qid, "light") < 5.0  # a fresh worker opens its connection
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        _resume(pids)


def test_a_worker_resumed_before_the_deadline_is_kept(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=2, tuning=replace(TUNING, liveness_deadline_s=3.0))
    pids = engine.worker_pids()
    try:
        _stop(pids[0])
        stats = engine.stats()
        assert (stats.workers_alive, stats.workers_stopped) == (1, 1)
        time.sleep(1.0)
        os.kill(pids[0], signal.SIGCONT)
        _eventually(lambda: engine.stats().workers_alive == 2, within_s=2.0)
        time.sleep(2.5)  # past the deadline counted from the stop
    finally:
        _resume(pids)
    assert sorted(engine.worker_pids()) == sorted(pids)
    assert engine.stats().restarts == 0
    assert _small(engine, qid, None) < 1.0


def test_a_stopped_worker_is_never_handed_a_query(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1, tuning=replace(TUNING, liveness_deadline_s=60.0))
    (pid,) = engine.worker_pids()
    try:
        _stop(pid)
        # The watchdog would wait a minute; the checkout itself sees the worker is stopped.
        assert _small(engine, qid, "a") < 5.0
    finally:
        _resume([pid])
    assert engine.worker_pids() != [pid]
    assert engine.stats().restarts == 1


def test_a_busy_worker_stopped_too_long_is_killed_and_replaced(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    tuning: EngineTuning = replace(TUNING, frozen_query_s=1.0)
    engine = make_engine(workers=1, tuning=tuning)
    (pid,) = engine.worker_pids()
    with frozen_when_busy(pid) as frozen:
        with pytest.raises(EngineUnavailable) as err:
            engine.execute(ENDLESS, {}, limits=HEAVY_LIMITS, query_id=qid(), user="a")
        ended = time.monotonic()
    assert frozen.at is not None, "the worker never started the query"
    assert ended - frozen.at < tuning.frozen_query_s + 2.0  # its time limit is 30 s
    assert err.value.code == "engine_unavailable"
    assert "stopped responding" in err.value.message
    assert engine.stats().restarts == 1
    assert _small(engine, qid, "a") < 5.0
