"""Break-glass on the host: bootstrap and recovery only, each step audited with the operating
system user, uid and reason; never an approval in anyone's name."""

from __future__ import annotations

import pytest

from gateway.audit import AuditLog
from gateway.audit.kinds import EventKind
from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import Action
from gateway.errors import BreakGlassRefused, Conflict, InputError, NotFound
from gateway.governance.model import Organisation

from .conftest import HOST, World, general_form, person

INCIDENT = HostOperator("ops", 1000, "INC-42: every administrator locked out")


def _break_glass(audit: AuditLog, kind: EventKind) -> dict[str, object]:
    [event] = [e for e in audit.events(kinds=(kind,)) if e.actor == "host:ops"][-1:]
    glass: dict[str, object] = event.details["details"]["break_glass"]
    return glass


def test_bootstrap_runs_once_and_is_recorded_as_break_glass(world: World, audit: AuditLog) -> None:
    assert _break_glass(audit, EventKind.USER_BOOTSTRAP_ADMIN) == HOST.record()
    with pytest.raises(Conflict, match="bootstrap runs only once"):
        world.service.bootstrap(
            person("root2", "CLE"), Organisation("CLE", "Cleveland Police", "force"), by=INCIDENT
        )


def test_a_new_administrator_holds_the_admin_role_only(world: World, audit: AuditLog) -> None:
    added = world.service.add_administrator(
        INCIDENT, person("r.admin", "CLE", "admin", "head_of_intelligence", "senior_analyst")
    )
    assert added.roles == frozenset({"admin"})
    assert _break_glass(audit, EventKind.USER_ADDED) == {
        "os_user": "ops",
        "os_uid": 1000,
        "reason": "INC-42: every administrator locked out",
    }
    with pytest.raises(Conflict):  # an existing person is never given the role on the host
        world.service.add_administrator(INCIDENT, person("h.intel", "CLE"))


def test_unlock_lifts_an_administrators_suspension_only(world: World, audit: AuditLog) -> None:
    world.service.suspend("root", "h.intel", "misuse")
    world.service.suspend("i.sec", "root", "administrative", kind="administrative")
    assert world.service.unlock(INCIDENT, "root") == 1
    assert world.service.standing("root").suspension is None
    assert _break_glass(audit, EventKind.ACCESS_REINSTATED)["reason"] == INCIDENT.reason
    with pytest.raises(BreakGlassRefused, match="administrator-only accounts"):
        world.service.unlock(INCIDENT, "h.intel")
    assert world.service.standing("h.intel").suspension is not None
    with pytest.raises(NotFound, match="not suspended"):
        world.service.unlock(INCIDENT, "root")


def test_break_glass_cannot_approve_and_the_attempt_is_recorded(
    world: World, audit: AuditLog
) -> None:
    request = world.service.submit("a.khan", general_form())
    with pytest.raises(BreakGlassRefused, match="approval step"):
        world.service.attempt(INCIDENT, Action.TAKE_APPROVAL_STEP)
    [denied] = [e for e in audit.events(kinds=(EventKind.ACCESS_DENIED,)) if e.actor == "host:ops"]
    assert denied.details["details"]["reason"] == "break_glass_refused"
    assert denied.details["details"]["break_glass"]["os_user"] == "ops"
    for refused in (Action.DECIDE_EXPORT, Action.QA_PRODUCT, Action.PUBLISH, Action.SUSPEND):
        with pytest.raises(BreakGlassRefused):
            world.service.attempt(INCIDENT, refused)
    assert world.service.request(request.request_id).state == "submitted"
    world.service.set_settings(INCIDENT, world.service.settings().with_origin(enforce=True))
    with pytest.raises(BreakGlassRefused):  # an ordinary operation checks the same way
        world.service.add_organisation(INCIDENT, Organisation("X", "X", "other"))  # type: ignore[arg-type]


def test_no_reason_no_break_glass() -> None:
    with pytest.raises(InputError, match="needs --reason"):
        HostOperator("ops", 1000, "   ")
