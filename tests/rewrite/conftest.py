"""Principals and views shared by the rewrite tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gateway.catalog import Catalog
from gateway.policy import Policy, load_policy
from gateway.policy.view import PolicyView, view_for
from gateway.principal import AccessGrant, Principal

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date(2026, 5, 1)

PRINCIPALS = {
    "general": Principal(
        username="a.khan",
        organisation="Middlesbrough Council",
        level="general",
        areas=("E06000002",),
        purposes=("SA",),
        roles=frozenset({"analyst"}),
    ),
    "other_area": Principal(
        username="h.lee",
        organisation="Hartlepool Borough Council",
        level="general",
        areas=("E06000001",),
        purposes=("SA",),
        roles=frozenset({"analyst"}),
    ),
    "enhanced": Principal(
        username="e.okafor",
        organisation="Stockton-on-Tees Borough Council",
        level="enhanced",
        areas=("E06000004",),
        purposes=("SA", "JAG"),
        roles=frozenset({"analyst"}),
        grants=(
            AccessGrant(
                grant_id="G-1",
                purposes=("JAG",),
                starts=date(2026, 1, 1),
                ends=date(2026, 12, 31),
                tables=("intelligence_report",),
                unmask=("crime.modus_operandi",),
                areas=("E06000003",),
            ),
        ),
    ),
    "senior": Principal(
        username="s.patel",
        organisation="Cleveland Police",
        level="general",
        areas=("E06000001", "E06000002", "E06000003", "E06000004"),
        purposes=("SA", "AUDIT"),
        roles=frozenset({"senior_analyst"}),
    ),
}


@pytest.fixture(scope="session")
def fixture_policy(catalog: Catalog) -> Policy:
    return load_policy(FIXTURES / "policy.toml", catalog)


def fixture_view(policy: Policy, catalog: Catalog, who: str, purpose: str = "SA") -> PolicyView:
    return view_for(policy, catalog, PRINCIPALS[who], purpose, TODAY)
