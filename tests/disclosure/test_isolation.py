"""Costly disclosure control runs in a child process (gateway.disclosure.isolation): the same
answer as in process, errors with their codes, and a withdrawn or timed-out request stops
costing CPU at once — the child stops within one cell's work (or is killed when it does not),
and the caller spent almost no CPU while it waited."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.disclosure.apply import protect
from gateway.disclosure.budget import Budget
from gateway.disclosure.isolation import ProtectionProcesses
from gateway.disclosure.spec import parse_disclosure_spec
from gateway.errors import NotProtectable, QueryCancelled, QueryTimeout
from gateway.policy.disclosure import DisclosureRules

SPEC = parse_disclosure_spec({"dimensions": ["day", "flag"], "counts": ["n"]})
SUPPRESSION = DisclosureRules(min_count=10, label="general", method="suppression")
CELL_KEY = DisclosureRules(min_count=10, label="general", method="cell_key", max_noise=2)
_TICKS = os.sysconf("SC_CLK_TCK")


def day_by_flag(cells: int) -> pa.Table:
    """A sparse day × flag table of small counts (issue 14, finding 4's shape)."""
    rng = random.Random(cells)
    rows = [(d, f) for d in range(cells // 3 + 1) for f in range(3)][:cells]
    return pa.table(
        {
            "day": [f"d{d:05d}" for d, _ in rows],
            "flag": [f"f{f}" for _, f in rows],
            "n": [rng.choice((0, 1, 2, 3, 5, 8, 12, 20, 40)) for _ in rows],
        }
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def idle(pid: int) -> bool:
    """The process is gone, or spends no CPU over a fifth of a second."""
    if gone(pid):
        return True
    before = cpu_seconds(pid)
    time.sleep(0.2)
    return gone(pid) or cpu_seconds(pid) - before < 0.02


@pytest.fixture(scope="module")
def processes() -> Iterator[ProtectionProcesses]:
    with ProtectionProcesses(spares=1) as started:
        yield started


def test_the_child_gives_the_same_answer_as_the_calling_process(
    processes: ProtectionProcesses,
) -> None:
    table = day_by_flag(300)
    keys = {"n": [random.Random(i).randrange(256) for i in range(table.num_rows)]}
    for rules, cell_keys in ((SUPPRESSION, None), (CELL_KEY, keys)):
        here = protect(table, SPEC, rules, cell_keys=cell_keys)
        there = processes.protect(table, SPEC, rules, cell_keys=cell_keys, isolate=True)
        assert there.table.equals(here.table)
        assert there.report == here.report


def test_a_refusal_in_the_child_keeps_its_code(processes: ProtectionProcesses) -> None:
    with pytest.raises(NotProtectable):
        processes.protect(day_by_flag(50), SPEC, CELL_KEY, cell_keys={}, isolate=True)


def test_a_withdrawn_request_kills_the_child_at_once(processes: ProtectionProcesses) -> None:
    """10,000 cells of suppression (seconds of CPU): withdrawn once the child has worked
    for 0.3 s of CPU."""
    children: list[int] = []
    withdrawn_at: list[float] = []

    def withdrawn() -> bool:
        if withdrawn_at:
            return True
        if children and cpu_seconds(children[0]) - cpu_before > 0.3:
            withdrawn_at.append(time.monotonic())
            return True
        return False

    def started(pid: int) -> None:
        nonlocal cpu_before
        cpu_before = cpu_seconds(pid)
        children.append(pid)

    cpu_before = 0.0
    waited_cpu = time.thread_time()
    with pytest.raises(QueryCancelled):
        processes.protect(
            day_by_flag(10_000),
            SPEC,
            SUPPRESSION,
            budget=Budget(cancelled=withdrawn),
            isolate=True,
            started=started,
        )
    stopped = time.monotonic() - withdrawn_at[0]
    waited_cpu = time.thread_time() - waited_cpu
    print(
        f"\nwithdrawn after the child's 0.3 s of CPU: the caller returned {stopped * 1000:.0f} ms "
        f"later; the caller's thread spent {waited_cpu:.3f} s CPU meanwhile"
    )
    assert idle(children[0])  # it stopped working (and stays ready, or was killed)
    assert stopped < 0.3
    assert waited_cpu < 0.25
    # The same child takes the next table.
    again: list[int] = []
    processes.protect(day_by_flag(300), SPEC, SUPPRESSION, isolate=True, started=again.append)
    assert again == children


def test_a_request_out_of_time_kills_the_child(processes: ProtectionProcesses) -> None:
    children: list[int] = []
    began = time.monotonic()
    with pytest.raises(QueryTimeout):
        processes.protect(
            day_by_flag(10_000),
            SPEC,
            SUPPRESSION,
            budget=Budget.within(0.4),
            isolate=True,
            started=children.append,
        )
    assert time.monotonic() - began < 1.0
    assert idle(children[0])


def test_small_or_cheap_tables_stay_in_the_calling_process_others_go_to_a_child(
    processes: ProtectionProcesses,
) -> None:
    children: list[int] = []
    processes.protect(day_by_flag(100), SPEC, SUPPRESSION, started=children.append)
    processes.protect(
        day_by_flag(2181),
        SPEC,
        CELL_KEY,
        cell_keys={"n": [7] * 2181},
        started=children.append,
    )
    assert children == []
    processes.protect(day_by_flag(300), SPEC, SUPPRESSION, started=children.append)
    assert len(children) == 1  # a larger table of suppression goes to a child
