"""What policy 198 asks of each person and request, enforced where it is a precondition: the
Official Secrets Act declaration, BPSS vetting, an applicant's own memorandum, telephone numbers
for applicant and endorsers, the "most appropriate method" assessment of an enhanced request,
a designated senior analyst (who then authorises their releases) and a local supervisor."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.errors import InputError, WrongRole
from gateway.governance.preconditions import Declaration, Memorandum, Vetting
from gateway.governance.settings import GovernanceSettings

from .conftest import CHAIN, World, approve, enhanced_form, general_form, person


@pytest.fixture
def granted(world: World) -> World:
    approve(world.service, world.service.submit("a.khan", general_form()).request_id)
    return world


def codes(world: World, username: str) -> list[str]:
    return [s.code for s in world.service.standing(username).shortfalls]


def test_the_official_secrets_act_declaration_is_required(granted: World) -> None:
    service = granted.service
    with service.store.writing() as tx:
        tx.conn.execute(
            "DELETE FROM declaration WHERE username = 'a.khan' AND kind = 'official_secrets_act'"
        )
    refusal = service.standing("a.khan").refusal(granted.clock())
    assert refusal is not None
    assert refusal.code == "precondition_missing"
    assert "official-secrets-act declaration has not been signed" in str(refusal)
    service.record_declaration(
        "a.khan", Declaration("a.khan", "official_secrets_act", granted.clock().date())
    )
    assert service.standing("a.khan").principal.level == "general"


def test_bpss_is_a_vetting_level_a_deployment_can_require(granted: World) -> None:
    service, day = granted.service, granted.clock().date()
    service.add_person("root", person("c.bpss", "MBC", "analyst"))
    service.record_vetting(
        "i.sec", Vetting("c.bpss", "BPSS", day - timedelta(days=5), day + timedelta(days=900))
    )
    with pytest.raises(InputError, match="BPSS, NPPV1, NPPV2, NPPV3"):
        service.record_vetting("i.sec", Vetting("c.bpss", "SC", day, day + timedelta(days=9)))
    # a.khan's NPPV3 covers a BPSS requirement too (levels are ordered, BPSS lowest)
    settings = GovernanceSettings()
    rules = replace(settings.preconditions, vetting_required={"general": "BPSS"})
    service.set_settings("root", replace(settings, preconditions=rules), "BPSS for general")
    assert service.standing("a.khan").principal.level == "general"
    assert GovernanceSettings.from_json(service.settings().to_json()).preconditions == rules


def test_a_partner_applicant_needs_their_own_memorandum(granted: World) -> None:
    service = granted.service
    with service.store.writing() as tx:
        tx.conn.execute("DELETE FROM memorandum WHERE username = 'a.khan'")
    found = service.standing("a.khan").shortfalls
    assert [(s.code, s.item) for s in found] == [("mou_missing", "applicant_memorandum")]
    assert service.standing("a.khan").principal.level == "none"
    with pytest.raises(InputError, match="not HBC"):  # signed for their own organisation
        service.record_memorandum(
            "root", Memorandum("HBC", "MOU-X", granted.clock().date(), username="a.khan")
        )
    service.record_memorandum(
        "root", Memorandum("MBC", "MOU-a.khan-2", granted.clock().date(), username="a.khan")
    )
    assert service.standing("a.khan").principal.level == "general"
    # b.lee's memorandum is theirs alone: it does not count for a.khan
    assert "mou_missing" not in codes(granted, "b.lee")


def test_applicant_and_endorsers_give_telephone_numbers(world: World) -> None:
    service = world.service
    service.update_person("root", "a.khan", phone="")
    with pytest.raises(InputError, match="applicant's telephone number"):
        service.submit("a.khan", general_form())
    service.update_person("root", "a.khan", phone="01642 729111")
    request = service.submit("a.khan", general_form())
    service.update_person("root", "m.jones", phone=" ")
    with pytest.raises(InputError, match="endorser's telephone number"):
        service.endorse("m.jones", request.request_id)
    assert [r.request_id for r in service.pending("line_manager", actor="m.jones")] == [
        request.request_id  # still theirs to take once they give a number
    ]
    service.update_person("root", "m.jones", phone="01642 729222")
    service.endorse("m.jones", request.request_id, "supports the SA")
    history = service.request(request.request_id).history
    assert [(t.role, t.phone) for t in history] == [
        ("applicant", "01642 729111"),
        ("line_manager", "01642 729222"),
    ]


def test_an_enhanced_request_carries_the_most_appropriate_method_assessment(
    world: World,
) -> None:
    service = world.service
    form = enhanced_form()
    assert form.enhanced is not None
    with pytest.raises(InputError, match="most appropriate method"):
        service.submit("a.khan", replace(form, enhanced=replace(form.enhanced, method=" ")))
    request = service.submit("a.khan", form)
    assert request.form.enhanced is not None
    assert "no force product" in request.form.enhanced.method
    for actor, action in CHAIN[:2]:
        service.act(actor, request.request_id, action)
    with pytest.raises(InputError, match="most appropriate method"):
        service.review("a.man", request.request_id)  # the analysis manager's assessment
    service.review("a.man", request.request_id, "direct access is the proportionate route")
    assert service.request(request.request_id).state == "reviewed_analysis_manager"


def test_the_designated_senior_analyst_comes_from_the_register(granted: World) -> None:
    service = granted.service
    service.add_person("root", person("m.hughes", "CLE", "senior_analyst"))
    service.update_person("root", "s.patel", deputies=("m.hughes",))
    principal = service.standing("a.khan").principal
    assert principal.senior_analysts == ("s.patel", "m.hughes")  # who authorise releases

    with pytest.raises(WrongRole, match="senior_analyst role"):
        service.update_person("root", "a.khan", senior_analyst="m.jones")
    with pytest.raises(WrongRole, match="only a senior analyst has deputies"):
        service.update_person("root", "a.khan", deputies=("m.hughes",))
    with pytest.raises(InputError, match="own designated senior analyst"):
        service.update_person("root", "s.patel", senior_analyst="s.patel")

    service.revoke("h.intel", "s.patel", "left the force", leaver=True)
    standing = service.standing("a.khan")
    assert standing.principal.senior_analysts == ()
    assert [s.code for s in standing.shortfalls] == ["senior_analyst_missing"]
    assert standing.principal.level == "none"
    service.update_person("root", "a.khan", senior_analyst="m.hughes")
    assert service.standing("a.khan").principal.senior_analysts == ("m.hughes",)
    assert service.standing("a.khan").principal.level == "general"


def test_a_partner_analyst_needs_a_local_supervisor_of_their_own_organisation(
    granted: World,
) -> None:
    service = granted.service
    service.add_person("root", person("s.cle", "CLE", "local_supervisor"))
    with pytest.raises(WrongRole, match="analyst's own organisation"):
        service.update_person("root", "a.khan", local_supervisor="s.cle")
    with pytest.raises(WrongRole, match="local_supervisor role"):
        service.update_person("root", "a.khan", local_supervisor="p.spoc")
    service.update_person("root", "m.jones", roles=frozenset({"line_manager"}))
    standing = service.standing("a.khan")
    assert [s.code for s in standing.shortfalls] == ["local_supervisor_missing"]
    assert standing.principal.level == "none"
    # their supervisor sees their checklist and may suspend them (see test_lifecycle)
    service.update_person("root", "m.jones", roles=frozenset({"line_manager", "local_supervisor"}))
    assert service.status_as("m.jones", "a.khan").level == "general"
