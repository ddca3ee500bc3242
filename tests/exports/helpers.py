"""Principals, queries and data-directory set-up shared by the export and publish tests."""

from __future__ import annotations

import shutil
from datetime import date
from importlib import resources
from pathlib import Path

from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.policy import load_default_policy
from gateway.policy.projection import (
    PROJECTION_CATALOG,
    ProjectionIndex,
    materialisable,
    projection_name,
)
from gateway.policy.view import view_for
from gateway.principal import AccessGrant, Principal
from gateway.rewrite import PolicySql, RewriteResult, rewrite

MIDDLESBROUGH = "E06000002"
ALL_AREAS = ("E06000001", "E06000002", "E06000003", "E06000004")

EXPORTS_SECTION = """
[exports]
marking = "OFFICIAL-SENSITIVE"
require_approval_for_record_level = true
"""

#: Designations (policy 198: each analyst's designated senior analyst, and a deputy):
#: a.khan and e.okafor → s.patel (deputy m.hughes); s.patel → r.jones. d.brown is a senior
#: analyst designated for no one here.
ANALYST = Principal(
    username="a.khan",
    organisation="Middlesbrough Council",
    level="general",
    areas=(MIDDLESBROUGH,),
    purposes=("SA-2026",),
    roles=frozenset({"analyst"}),
    senior_analysts=("s.patel", "m.hughes"),
)
SENIOR = Principal(
    username="s.patel",
    organisation="Cleveland Police",
    level="general",
    areas=ALL_AREAS,
    purposes=("SA-2026",),
    roles=frozenset({"analyst", "senior_analyst"}),
    senior_analysts=("r.jones",),
)
OTHER_SENIOR = Principal(
    username="r.jones",
    organisation="Cleveland Police",
    level="general",
    areas=ALL_AREAS,
    purposes=("SA-2026",),
    roles=frozenset({"senior_analyst"}),
)
DEPUTY = Principal(
    username="m.hughes",
    organisation="Cleveland Police",
    level="general",
    areas=ALL_AREAS,
    purposes=("SA-2026",),
    roles=frozenset({"senior_analyst"}),
)
UNDESIGNATED_SENIOR = Principal(
    username="d.brown",
    organisation="Cleveland Police",
    level="general",
    areas=ALL_AREAS,
    purposes=("SA-2026",),
    roles=frozenset({"senior_analyst"}),
)
ENHANCED = Principal(
    username="e.okafor",
    organisation="Stockton-on-Tees Borough Council",
    level="enhanced",
    areas=(MIDDLESBROUGH,),
    purposes=("JAG-2026",),
    roles=frozenset({"analyst"}),
    senior_analysts=("s.patel", "m.hughes"),
    grants=(
        AccessGrant(
            grant_id="G-1",
            purposes=("JAG-2026",),
            starts=date(2020, 1, 1),
            unmask=("location.easting", "location.northing"),
        ),
    ),
)
ADMIN = Principal(
    username="sys.admin",
    organisation="Cleveland Police",
    level="none",
    roles=frozenset({"admin"}),
)

#: A record-level point query: crimes with their (policy-visible) location coordinates.
POINTS_SQL = (
    "SELECT c.crime_id, c.recorded_at, c.police_uk_category, c.domestic_abuse, "
    "l.easting, l.northing FROM crime AS c JOIN location AS l USING (location_id)"
)
#: An aggregate: crimes per LSOA.
PER_LSOA_SQL = "SELECT lsoa_code, count(*) AS crimes FROM crime GROUP BY ALL"


#: How a server rewrites: policy subqueries live, or scans of masked projections (the default).
REWRITE_MODES = ("live", "projections")


def rewritten(
    sql: str,
    catalog: Catalog,
    principal: Principal = ANALYST,
    purpose: str = "SA-2026",
    *,
    mode: str = "live",
) -> RewriteResult:
    """``sql`` rewritten for ``principal`` on 1 May 2026 under the default policy, as a server
    in ``mode`` rewrites it: ``projections`` with every materialisable policy subquery of the
    view projected (an index only: rewriting is pure, nothing is scanned)."""
    view = view_for(load_default_policy(catalog), catalog, principal, purpose, date(2026, 5, 1))
    policy_sql = PolicySql()
    if mode == "projections":
        texts = (policy_sql.full_sql(table_view, view) for table_view in view.tables.values())
        names = frozenset(projection_name(text) for text in texts if materialisable(text))
        policy_sql = PolicySql(projections=ProjectionIndex("test", names))
    result = rewrite(sql, view, catalog, max_rows=1000, policy_sql=policy_sql)
    if mode == "projections":  # the mode is what is tested: it scans projections
        assert f"{PROJECTION_CATALOG}.main.p_" in result.sql, result.sql
    return result


def make_data_dir(source: Path, target: Path, extra_policy: str = EXPORTS_SECTION) -> DataDir:
    target.mkdir(parents=True)
    for name in ("warehouse.duckdb", "basemaps.gpkg"):
        shutil.copy2(source / name, target / name)
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    (target / "policy.toml").write_text(policy + extra_policy, "utf-8")
    return DataDir(target)
