"""The policy view: levels, purposes, enhanced grants (additive, per purpose, dated), refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from gateway.catalog import Catalog
from gateway.errors import AccessExpired, AccountSuspended, PurposeNotApproved, PurposeRequired
from gateway.policy import Policy, load_default_policy
from gateway.policy.view import view_for
from gateway.principal import AccessGrant, Principal

DAY = date(2026, 6, 1)
ANALYST = Principal(
    "a", "Middlesbrough Council", "general", areas=("E06000002",), purposes=("SA", "JAG")
)
GRANT = AccessGrant(
    grant_id="G1",
    purposes=("JAG",),
    starts=date(2026, 1, 1),
    ends=date(2026, 12, 31),
    tables=("intelligence_report",),
    unmask=("person.surname", "crime.recorded_at"),
    areas=("E06000001",),
)
ENHANCED = replace(ANALYST, level="enhanced", grants=(GRANT,))


@pytest.fixture(scope="module")
def policy(catalog: Catalog) -> Policy:
    return load_default_policy(catalog)


def test_general_view(policy: Policy, catalog: Catalog) -> None:
    view = view_for(policy, catalog, ANALYST, "SA", DAY)
    assert view.level == "general"
    assert view.areas == ("E06000002",)
    assert "intelligence_report" not in view.tables
    assert view.tables["person"].column("surname").mask.kind == "null"
    assert view.policy_version == policy.version


def test_enhanced_grant_applies_to_its_purpose_only(policy: Policy, catalog: Catalog) -> None:
    granted = view_for(policy, catalog, ENHANCED, "JAG", DAY)
    assert "intelligence_report" in granted.tables
    assert granted.tables["person"].column("surname").mask.kind == "show"
    assert granted.tables["person"].column("forename").mask.kind == "null"  # only what it names
    assert granted.areas == ("E06000002", "E06000001")
    assert granted.grants == ("G1",)
    other = view_for(policy, catalog, ENHANCED, "SA", DAY)
    assert "intelligence_report" not in other.tables
    assert other.tables["person"].column("surname").mask.kind == "null"
    assert other.areas == ("E06000002",)


def test_grant_cannot_unmask_what_the_level_does_not_allow(
    policy: Policy, catalog: Catalog
) -> None:
    view = view_for(policy, catalog, ENHANCED, "JAG", DAY)
    assert "crime.recorded_at" not in policy.levels["enhanced"].unmaskable  # deny beats allow
    assert view.tables["crime"].column("recorded_at").mask.kind == "show"  # it was never masked
    assert view.tables["crime"].column("modus_operandi").mask.kind == "null"


def test_grant_outside_its_dates_does_nothing(policy: Policy, catalog: Catalog) -> None:
    view = view_for(policy, catalog, ENHANCED, "JAG", date(2027, 1, 1))
    assert "intelligence_report" not in view.tables
    assert view.grants == ()


def test_general_level_ignores_grants(policy: Policy, catalog: Catalog) -> None:
    sneaky = replace(ANALYST, grants=(GRANT,))
    assert "intelligence_report" not in view_for(policy, catalog, sneaky, "JAG", DAY).tables


@pytest.mark.parametrize(
    ("principal", "purpose", "error"),
    [
        (ANALYST, "", PurposeRequired),
        (ANALYST, "   ", PurposeRequired),
        (ANALYST, "FISHING", PurposeNotApproved),
        (replace(ANALYST, suspended=True), "SA", AccountSuspended),
        (replace(ANALYST, expires_at=datetime(2026, 5, 31, tzinfo=UTC)), "SA", AccessExpired),
    ],
)
def test_refusals(
    policy: Policy, catalog: Catalog, principal: Principal, purpose: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        view_for(policy, catalog, principal, purpose, DAY, now=datetime(2026, 6, 1, 12, tzinfo=UTC))


def test_oversight_role_without_level_sees_only_its_schema(
    policy: Policy, catalog: Catalog
) -> None:
    auditor = Principal("s", "Force", "none", purposes=("AUDIT",), roles=frozenset({"auditor"}))
    view = view_for(policy, catalog, auditor, "AUDIT", DAY)
    assert view.tables == {}
    assert view.schemas == frozenset({"audit"})
