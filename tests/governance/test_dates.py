"""Signatures, grants and completions are facts of the past: a declaration (e.g. a yearly SyOPs
"signed" in advance for 2027–2030), vetting grant, training or memorandum dated after today is
refused with a clear 400-class error before anything is written; today is accepted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.errors import InputError
from gateway.governance import GovernanceService
from gateway.governance.preconditions import Declaration, Memorandum, Training, Vetting

from .conftest import World


def _future(service: GovernanceService, days: int = 1) -> date:
    return service.clock().date() + timedelta(days=days)


@pytest.mark.parametrize("days", [1, 365 * 3])
def test_a_future_dated_declaration_is_refused(world: World, days: int) -> None:
    service = world.service
    with pytest.raises(InputError, match="in the future"):
        service.record_declaration(
            "a.khan",
            Declaration("a.khan", "security_operating_procedures", _future(service, days)),
        )


def test_future_vetting_training_and_memoranda_are_refused(world: World) -> None:
    service = world.service
    day = _future(service)
    today = service.clock().date()
    with pytest.raises(InputError, match=r"vetting granted .* in the future"):
        service.record_vetting("i.sec", Vetting("a.khan", "NPPV3", day, day + timedelta(days=900)))
    with pytest.raises(InputError, match=r"training completed .* in the future"):
        service.record_training("i.sec", Training("a.khan", "gateway_training", day))
    with pytest.raises(InputError, match=r"memorandum signed .* in the future"):
        service.record_memorandum("root", Memorandum("MBC", "MOU-FUTURE", day))
    # today is fine
    service.record_declaration("a.khan", Declaration("a.khan", "confidentiality", today))
    service.record_training("i.sec", Training("a.khan", "gateway_training", today))
