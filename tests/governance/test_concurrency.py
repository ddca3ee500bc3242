"""Two approvers acting on one request at once: exactly one succeeds; no change without audit."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditLog, SQLiteAuditStore
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable, Conflict, GatewayError
from gateway.governance.service import GovernanceService
from gateway.governance.store import GovernanceStore
from gateway.governance.workflow import decide

from .conftest import World, general_form

ROUNDS = 12


def _endorsed_by_line_manager(world: World) -> str:
    request = world.service.submit("a.khan", general_form())
    world.service.endorse("m.jones", request.request_id)
    return request.request_id


def _superintendent_steps(world: World, request_id: str) -> list[str]:
    history = world.service.request(request_id).history
    return [t.actor for t in history if t.role == "superintendent"]


def assert_one_winner(outcomes: dict[str, str]) -> None:
    """One "ok"; the other a 409 (conflict, or step_out_of_order if it read after the commit)."""
    assert len(outcomes) == 2
    assert sorted(o for o in outcomes.values() if o == "ok") == ["ok"], outcomes
    [loser] = [o for o in outcomes.values() if o != "ok"]
    assert loser in {"conflict:409", "step_out_of_order:409"}, outcomes


def test_two_approvers_in_threads_exactly_one_succeeds(world: World, audit: AuditLog) -> None:
    for _ in range(ROUNDS):
        request_id = _endorsed_by_line_manager(world)
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def endorse(actor: str, request_id: str = request_id, barrier: threading.Barrier = barrier,
                    outcomes: dict[str, str] = outcomes) -> None:  # fmt: skip
            barrier.wait()
            try:
                world.service.endorse(actor, request_id, "supported")
                outcomes[actor] = "ok"
            except GatewayError as exc:
                outcomes[actor] = f"{exc.code}:{exc.status}"

        threads = [threading.Thread(target=endorse, args=(who,)) for who in ("s.super", "s.super2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert_one_winner(outcomes)
        winner = next(who for who, out in outcomes.items() if out == "ok")
        assert _superintendent_steps(world, request_id) == [winner]
        endorsements = [
            e
            for e in audit.events(kinds=("access.endorsed",))
            if e.details["subject"] == request_id
        ]
        assert [e.actor for e in endorsements] == ["m.jones", winner]


def endorse_in_process(root: str, actor: str, request_id: str, barrier: Any, results: Any) -> None:
    """Child process: open the deployment's stores afresh, wait for the other, then act."""
    from gateway.catalog import load_catalog
    from gateway.policy import load_default_policy

    data_dir = DataDir(Path(root))
    with AuditLog.open(data_dir) as log:
        service = GovernanceService(
            GovernanceStore(data_dir.governance), log, load_default_policy(load_catalog())
        )
        barrier.wait(timeout=30)
        try:
            service.endorse(actor, request_id, "from another process")
            results.put((actor, "ok"))
        except GatewayError as exc:
            results.put((actor, f"{exc.code}:{exc.status}"))


def test_two_approvers_in_processes_exactly_one_succeeds(world: World, data_dir: DataDir) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    request_id = _endorsed_by_line_manager(world)
    procs = [
        ctx.Process(target=endorse_in_process,
                    args=(str(data_dir.root), who, request_id, barrier, results))
        for who in ("s.super", "s.super2")
    ]  # fmt: skip
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert_one_winner(outcomes)
    winner = next(who for who, out in outcomes.items() if out == "ok")
    assert _superintendent_steps(world, request_id) == [winner]


def test_a_decision_on_a_stale_read_is_a_conflict(world: World) -> None:
    """The optimistic check itself: decide on version N, someone else writes N+1 first."""
    service = world.service
    request_id = _endorsed_by_line_manager(world)
    with service.store.reading() as r:
        stale = r.require_request(request_id)
        actor = r.require_person("s.super2")
        applicant = r.require_person("a.khan")
        org = r.require_organisation("MBC")
    service.endorse("s.super", request_id)
    decided = decide(
        stale, "endorse", actor, applicant=applicant, organisation=org, at=world.clock()
    )
    with pytest.raises(Conflict) as exc, service.store.writing() as tx:
        tx.update_request(decided, expected_version=stale.version)
    assert (exc.value.code, exc.value.status) == ("conflict", 409)
    assert _superintendent_steps(world, request_id) == ["s.super"]


def test_no_change_without_its_audit_record(world: World, data_dir: DataDir) -> None:
    """Fail closed: with the audit log unwritable, the approval is rolled back."""
    request_id = _endorsed_by_line_manager(world)
    read_only = AuditLog(SQLiteAuditStore(data_dir.audit, read_only=True))
    blind = GovernanceService(world.service.store, read_only, world.service.policy, world.clock)
    with pytest.raises(AuditUnavailable):
        blind.endorse("s.super", request_id, "should not stick")
    with pytest.raises(AuditUnavailable):
        blind.suspend("i.sec", "a.khan", "should not stick")
    read_only.close()
    request = world.service.request(request_id)
    assert request.state == "endorsed_line_manager"
    assert request.version == 2
    assert not world.service.standing("a.khan").principal.suspended
    # With the log back, the same step succeeds.
    assert world.service.endorse("s.super", request_id).state == "endorsed_superintendent"


def test_authorisation_and_grant_roll_back_together(world: World, data_dir: DataDir) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    for actor, action in (("m.jones", "endorse"), ("s.super", "endorse"), ("a.man", "review"),
                          ("i.sec", "review")):  # fmt: skip
        service.act(actor, request.request_id, action)  # type: ignore[arg-type]
    read_only = AuditLog(SQLiteAuditStore(data_dir.audit, read_only=True))
    blind = GovernanceService(service.store, read_only, service.policy, world.clock)
    with pytest.raises(AuditUnavailable):
        blind.authorise("h.intel", request.request_id)
    read_only.close()
    assert service.request(request.request_id).state == "reviewed_iso"
    assert service.standing("a.khan").grants == ()
