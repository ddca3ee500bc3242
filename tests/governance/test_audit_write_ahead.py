"""Issue 13, finding 2, for governance: a suspension recorded is a suspension made, even when
the audit checkpoint file cannot be written (h.lee must not keep querying)."""

from __future__ import annotations

from gateway.audit import AuditLog, SQLiteAuditStore
from gateway.audit.checkpoints import CHECKPOINT_KEY, CheckpointFile
from gateway.datadir import DataDir
from gateway.governance.service import GovernanceService

from .conftest import World


def test_a_suspension_recorded_while_checkpoints_fail_takes_effect(
    world: World, data_dir: DataDir
) -> None:
    path = data_dir.audit_checkpoints
    path.rename(path.with_name("moved-aside.jsonl"))
    path.mkdir()  # checkpoint writes fail from now on
    key = data_dir.secret(CHECKPOINT_KEY)
    log = AuditLog(
        SQLiteAuditStore(data_dir.audit, record_key=key),
        checkpoints=CheckpointFile(path),
        checkpoint_key=key,
        checkpoint_every=1,  # every record is at a checkpoint boundary
    )
    degraded = GovernanceService(world.service.store, log, world.service.policy, world.clock)
    degraded.suspend("i.sec", "a.khan", "investigation INC-9")
    assert log.health().status == "degraded"
    log.close()
    assert world.service.standing("a.khan").principal.suspended
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        last = list(store.events())[-1]
    assert (last.kind, last.details["subject"]) == ("access.suspended", "a.khan")
