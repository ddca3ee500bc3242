"""Every governance change is in the audit log, with its actor and subject, and the chain verifies."""

from __future__ import annotations

from collections import Counter

from gateway.audit import AuditLog, verify_data_dir
from gateway.datadir import DataDir
from gateway.governance.settings import GovernanceSettings

from .conftest import World, approve, general_form


def test_every_change_of_the_register_and_workflow_is_audited(
    world: World, audit: AuditLog, data_dir: DataDir
) -> None:
    service = world.service
    request = service.submit("a.khan", general_form())
    approve(service, request.request_id)
    service.set_settings("root", GovernanceSettings.demo(), "demo")
    review = service.open_review("root", "MBC")
    service.confirm_review("p.spoc", review.review_id, "a.khan", keep=True)
    service.suspend("p.spoc", "b.lee", "left a session unlocked")
    service.reinstate("i.sec", "b.lee", "advice given")
    service.revoke("h.intel", "a.khan", "moved post", leaver=True)

    events = [e for e in audit.events() if e.kind.split(".")[0] in {"access", "user", "grant"}]
    assert Counter(e.kind for e in events) == Counter(
        {
            "user.bootstrap_admin": 1,
            "access.organisation_added": 2,
            "access.network_added": 1,
            "user.added": 12,
            "access.memorandum_recorded": 3,
            "access.code_of_connection_declared": 1,
            "access.sharing_agreement_recorded": 1,
            "access.organisation_authorised": 1,
            "user.vetting_recorded": 2,
            "user.declaration_signed": 8,
            "user.training_recorded": 4,
            "access.requested": 1,
            "access.endorsed": 2,
            "access.reviewed": 2,
            "access.authorised": 1,
            "access.settings_changed": 1,
            "access.review_opened": 1,
            "access.review_confirmed": 1,
            "access.suspended": 1,
            "access.reinstated": 1,
            "access.revoked": 1,
        }
    )
    for event in events:
        assert event.actor, event
        assert event.details["subject"], event
    assert all(e.organisation for e in events if e.actor != "root")
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
