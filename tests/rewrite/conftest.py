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


# --- the crafted warehouse behind a real service ------------------------------------------

from collections.abc import Iterator  # noqa: E402
from importlib import resources  # noqa: E402

import duckdb  # noqa: E402

from gateway.datadir import DataDir  # noqa: E402
from gateway.deployment import PSEUDONYM_KEY, Deployment  # noqa: E402
from gateway.service import QueryService  # noqa: E402
from tests.rewrite import crafted  # noqa: E402
from tests.rewrite.reference import reference_connection  # noqa: E402

ANALYST = Principal(
    username="m.analyst",
    organisation="Middlesbrough Council",
    level="general",
    areas=(crafted.VISIBLE,),
    purposes=("SA",),
    roles=frozenset({"analyst"}),
)

#: Tight limits so denial-of-service cases end in seconds.
TEST_LIMITS = {
    "timeout_s = 60": "timeout_s = 4",
    "memory_limit_mb = 2048": "memory_limit_mb = 512",
    "timeout_s = 120": "timeout_s = 4",
    "memory_limit_mb = 3072": "memory_limit_mb = 512",
}


@pytest.fixture(scope="session")
def crafted_dir(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Path:
    root = tmp_path_factory.mktemp("crafted")
    crafted.build(root / "warehouse.duckdb", catalog)
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    for old, new in TEST_LIMITS.items():
        policy = policy.replace(old, new)
    (root / "policy.toml").write_text(policy, "utf-8")
    return root


@pytest.fixture(scope="session")
def crafted_service(crafted_dir: Path) -> Iterator[QueryService]:
    with Deployment.open(DataDir(crafted_dir), workers=2) as deployment:
        yield deployment.service


@pytest.fixture(scope="session")
def reference(crafted_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    key = DataDir(crafted_dir).secret(PSEUDONYM_KEY)
    con = reference_connection(crafted_dir / "warehouse.duckdb", key, ANALYST.areas)
    yield con
    con.close()
