"""Victims of sensitive offences are not linkable by a general analyst — on any path at all.

The paths are not listed here: they are enumerated from the catalog
(:func:`gateway.policy.victims.victim_paths`), and for each one the test builds the join from
the person to the crime, runs it on the raw warehouse (the ground truth) and through the
gateway as a general analyst of all four authorities, and compares.

The warehouse is the session's generated one, copied, with a few planted records so that every
path has something to hide and something to keep: victims detained for the very crime they
reported (counter-allegations, on sensitive and on ordinary crimes), and ordinary crimes whose
domestic-abuse flag is unknown (NULL counts as sensitive). A second service runs the same
warehouse under the policy without its ``unlinkable_victims`` rule, to show every check here
would fail if the protection went away.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pytest

from gateway.catalog import Catalog, LinkPath, load_catalog
from gateway.datadir import DataDir
from gateway.deployment import PSEUDONYM_KEY, Deployment
from gateway.policy.masks import pseudonym_python
from gateway.policy.victims import victim_paths
from gateway.principal import Principal
from gateway.service import QueryService

AREAS = ("E06000001", "E06000002", "E06000003", "E06000004")
GENERAL = Principal(
    username="g.analyst",
    organisation="Cleveland partnership",
    level="general",
    areas=AREAS,
    purposes=("SA",),
    roles=frozenset({"analyst"}),
)
MIDDLESBROUGH = Principal(
    username="m.analyst",
    organisation="Middlesbrough Council",
    level="general",
    areas=("E06000002",),
    purposes=("SA",),
    roles=frozenset({"analyst"}),
)

#: What the policy statement calls a sensitive offence — written independently of the policy
#: file, over the raw warehouse: sexual offences and domestic abuse; unknown counts as sensitive.
SENSITIVE = """
    coalesce(c.domestic_abuse, true)
    OR coalesce((SELECT o.sensitive FROM offence_type o WHERE o.ho_offence_code = c.ho_offence_code), true)
"""

#: The finding (issue 12, item 2): victims linked to sensitive crimes through incidents.
ATTACK = """
SELECT count(*) AS links, count(DISTINCT ip.person_id) AS victims
FROM incident
JOIN incident_person AS ip ON ip.incident_id = incident.incident_id
JOIN crime ON crime.crime_id = incident.crime_id
WHERE ip.role = 'victim'
  AND (crime.domestic_abuse
       OR crime.ho_offence_code IN (SELECT ho_offence_code FROM offence_type WHERE sensitive))
"""
#: The same through the caller, who is often the victim.
ATTACK_BY_CALLER = ATTACK.replace("ip.role = 'victim'", "ip.role = 'caller'")

PLANTED = 5


def _plant(warehouse: Path) -> None:
    """Counter-allegations and unknown flags, so that every path has something to test."""
    con = duckdb.connect(str(warehouse))
    try:
        for sensitive in (True, False):
            con.execute(
                f"""
                INSERT INTO custody BY NAME
                SELECT (SELECT max(custody_id) FROM custody) + row_number() OVER () AS custody_id,
                       'CA/' || c.crime_id AS custody_ref, cp.person_id,
                       c.recorded_at + INTERVAL 1 DAY AS arrested_at,
                       c.recorded_at + INTERVAL 25 HOUR AS arrived_at,
                       NULL AS detention_authorised_at,
                       c.recorded_at + INTERVAL 30 HOUR AS released_at,
                       c.ho_offence_code AS arrest_offence_code, 'Middlesbrough' AS custody_suite,
                       'no_further_action' AS disposal, c.crime_id,
                       c.location_id AS arrest_location_id, c.local_authority_code
                FROM crime c JOIN crime_person cp ON cp.crime_id = c.crime_id AND cp.role = 'victim'
                WHERE ({SENSITIVE}) = {sensitive}
                ORDER BY c.crime_id, cp.person_id
                LIMIT {PLANTED}
                """
            )
        con.execute(
            f"""
            UPDATE crime SET domestic_abuse = NULL WHERE crime_id IN (
                SELECT c.crime_id FROM crime c
                JOIN incident i ON i.crime_id = c.crime_id
                JOIN incident_person ip ON ip.incident_id = i.incident_id AND ip.role = 'victim'
                WHERE NOT ({SENSITIVE})
                ORDER BY c.crime_id LIMIT {PLANTED})
            """
        )
    finally:
        con.close()


def _data_dir(source: Path, root: Path, *, protected: bool) -> DataDir:
    root.mkdir(parents=True)
    shutil.copy2(source / "warehouse.duckdb", root / "warehouse.duckdb")
    _plant(root / "warehouse.duckdb")
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    if not protected:
        head, rule = policy.split("[levels.general.unlinkable_victims]")
        policy = head + rule[rule.index("\n[") :]
        assert "unlinkable_victims" not in policy
    (root / "policy.toml").write_text(policy, "utf-8")
    return DataDir(root)


@dataclass(frozen=True)
class Gateway:
    """A running service over the planted warehouse, and its pseudonym key."""

    service: QueryService
    key: bytes

    def links(self, who: Principal, sql: str) -> set[tuple[str, int]]:
        """(pseudonym, crime) pairs the query returns for ``who``."""
        return {(r["person_id"], r["crime_id"]) for r in self.rows(who, sql)}

    def rows(self, who: Principal, sql: str) -> list[dict[str, Any]]:
        outcome = self.service.run_query(who, sql, "SA")
        try:
            return outcome.result.to_table().to_pylist()
        finally:
            outcome.result.discard()

    def pseudonymised(self, pairs: set[tuple[int, int]]) -> set[tuple[str, int]]:
        return {(pseudonym_python(self.key, "person", p), c) for p, c in pairs}


def _gateway(data_dir: DataDir) -> Iterator[Gateway]:
    with Deployment.open(data_dir, workers=2) as deployment:
        yield Gateway(deployment.service, data_dir.secret(PSEUDONYM_KEY))


@pytest.fixture(scope="module")
def protected_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    return _data_dir(small_data_dir, tmp_path_factory.mktemp("victims") / "gw", protected=True)


@pytest.fixture(scope="module")
def gateway(protected_dir: DataDir) -> Iterator[Gateway]:
    yield from _gateway(protected_dir)


@pytest.fixture(scope="module")
def unprotected(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The same warehouse under the default policy without its unlinkable_victims rule."""
    root = tmp_path_factory.mktemp("victims") / "gw"
    yield from _gateway(_data_dir(small_data_dir, root, protected=False))


@pytest.fixture(scope="module")
def raw(protected_dir: DataDir) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(protected_dir.warehouse), read_only=True)
    yield con
    con.close()


#: Enumerated from the catalog when the tests are collected (one test per path).
PATHS = victim_paths(load_catalog())


def _path_sql(path: LinkPath) -> str:
    """``person_id, crime_id[, role]`` for every row of ``path.table`` that reaches a crime."""
    joins = [f"FROM {path.table} AS t0"]
    for depth, hop in enumerate(path.hops, start=1):
        joins.append(
            f"JOIN {hop.references.table} AS t{depth}"
            f" ON t{depth}.{hop.references.column} = t{depth - 1}.{hop.column}"
        )
    role = f", t0.{path.capacity_column} AS role" if path.capacity_column else ""
    crime = f"t{len(path.hops)}"
    return f"SELECT t0.{path.source_column} AS person_id, {crime}.crime_id{role} " + " ".join(joins)


def _pairs(raw: duckdb.DuckDBPyConnection, sql: str) -> set[tuple[int, int]]:
    return {(p, c) for p, c in raw.sql(f"SELECT person_id, crime_id FROM ({sql})").fetchall()}


@pytest.fixture(scope="module")
def sensitive(raw: duckdb.DuckDBPyConnection) -> set[int]:
    """Ids of the sensitive crimes (ground truth)."""
    return {r[0] for r in raw.sql(f"SELECT c.crime_id FROM crime c WHERE {SENSITIVE}").fetchall()}


@pytest.fixture(scope="module")
def victims(raw: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    """(person, crime) for every person recorded as the crime's victim, on any path."""
    found = _pairs(raw, "SELECT * FROM crime_person WHERE role = 'victim'")
    for path in PATHS:
        if path.capacity_column:
            found |= _pairs(raw, f"SELECT * FROM ({_path_sql(path)}) WHERE role = 'victim'")
    return found


@pytest.fixture(scope="module")
def linkable(raw: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    """(person, crime) for every suspect, offender and witness the crime records."""
    return _pairs(
        raw, "SELECT * FROM crime_person WHERE role IN ('suspect', 'offender', 'witness')"
    )


def test_the_paths_come_from_the_catalog(catalog: Catalog) -> None:
    assert victim_paths(catalog) == PATHS
    assert {"crime_person", "incident_person", "custody"} <= {p.table for p in PATHS}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.table)
def test_no_path_links_a_victim_to_a_sensitive_crime(
    path: LinkPath,
    gateway: Gateway,
    unprotected: Gateway,
    raw: duckdb.DuckDBPyConnection,
    sensitive: set[int],
    victims: set[tuple[int, int]],
    linkable: set[tuple[int, int]],
) -> None:
    hidden = {(p, c) for p, c in victims if c in sensitive}
    on_path = _pairs(raw, _path_sql(path))
    assert on_path & hidden, f"the warehouse has no sensitive victim on {path}: the test is dead"

    got = gateway.links(GENERAL, _path_sql(path))
    leaked = got & gateway.pseudonymised(hidden)
    assert not leaked, f"{len(leaked)} victims of sensitive crimes linked via {path}"

    # the check can fail: without the rule, the same query links every one of them
    before = unprotected.links(GENERAL, _path_sql(path))
    assert before & unprotected.pseudonymised(hidden) == unprotected.pseudonymised(on_path & hidden)

    # nothing changes on ordinary crimes: every link there is still visible, victims included
    ordinary = {(p, c) for p, c in on_path if c not in sensitive}
    assert {(p, c) for p, c in got if c not in sensitive} == gateway.pseudonymised(ordinary)
    assert ordinary & victims, f"no ordinary victim links via {path}"

    # on sensitive crimes, only people the crime records as suspect, offender or witness
    kept = {(p, c) for p, c in got if c in sensitive}
    assert kept
    assert kept <= gateway.pseudonymised(linkable)


@pytest.mark.parametrize("sql", [ATTACK, ATTACK_BY_CALLER], ids=["victim", "caller"])
@pytest.mark.parametrize("who", [MIDDLESBROUGH, GENERAL], ids=lambda p: p.username)
def test_the_finding_returns_no_victim_links(
    sql: str, who: Principal, gateway: Gateway, unprotected: Gateway
) -> None:
    assert gateway.rows(who, sql) == [{"links": 0, "victims": 0}]
    (before,) = unprotected.rows(who, sql)
    assert before["links"] > 0
    assert before["victims"] > 0


def test_ordinary_victims_still_link_through_incidents(gateway: Gateway) -> None:
    sql = ATTACK.replace("AND (crime.domestic_abuse", "AND NOT (crime.domestic_abuse")
    (row,) = gateway.rows(MIDDLESBROUGH, sql)
    assert row["links"] > 0
    assert row["victims"] > 0
