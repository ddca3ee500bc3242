"""Precomputed masked projections (gateway.projections): the same answers as the live policy
subqueries, never a projection of another view, and the same walls.

The attack suite and the random-query oracle run again, unchanged, against a service whose
analyst's policy subqueries are materialised: every case must be refused the same way or
return exactly the independent reference view's rows.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from gateway.audit.kinds import EventKind
from gateway.catalog import Catalog
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.deployment import PSEUDONYM_KEY, Deployment
from gateway.disclosure import parse_disclosure_request
from gateway.disclosure.control import DisclosureControl
from gateway.engines.base import Expectation
from gateway.errors import GatewayError, NotAggregate, PolicyCheckFailed
from gateway.policy.disclosure import DisclosureRules, DisclosureSettings
from gateway.policy.projection import PROJECTION_CATALOG, ProjectionSource, projection_name
from gateway.principal import Principal
from gateway.projections import ensure_projections
from gateway.service import QueryService
from tests.rewrite import crafted
from tests.rewrite import test_attacks as attacks
from tests.rewrite import test_property as oracle
from tests.rewrite.conftest import ANALYST

USERS = f"""
[users."{ANALYST.username}"]
organisation = "{ANALYST.organisation}"
level = "general"
areas = {list(ANALYST.areas)!r}
purposes = ["SA"]
roles = ["analyst"]

[users."e.grant"]
organisation = "Middlesbrough Council"
level = "enhanced"
areas = ["{crafted.VISIBLE}"]
purposes = ["SA", "JAG"]
roles = ["analyst"]

[[users."e.grant".grants]]
grant_id = "G-T"
purposes = ["JAG"]
starts = 2020-01-01
ends = 2099-12-31
tables = []
unmask = ["crime.modus_operandi"]
areas = ["{crafted.HIDDEN}"]
reason = "a JAG problem profile"
""".replace("'", '"')

#: Another authority's analyst: not in users.toml, so no projection was built for their view.
STRANGER = Principal(
    username="x.other",
    organisation="Hartlepool Borough Council",
    level="general",
    areas=("E06000001",),
    purposes=("SA",),
    roles=frozenset({"analyst"}),
)


@pytest.fixture(scope="module")
def projected_dir(
    crafted_dir: Path,
    reference: duckdb.DuckDBPyConnection,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The crafted warehouse, policy and pseudonym key, with the analyst as a known user."""
    root = tmp_path_factory.mktemp("projected")
    for name in ("warehouse.duckdb", "policy.toml"):
        shutil.copy2(crafted_dir / name, root / name)
    shutil.copytree(crafted_dir / "secrets", root / "secrets")
    (root / "users.toml").write_text(USERS, "utf-8")
    return root


@pytest.fixture(scope="module")
def projected(projected_dir: Path) -> Iterator[Deployment]:
    with Deployment.open(DataDir(projected_dir), workers=2, projections=True) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def projected_service(projected: Deployment) -> QueryService:
    return projected.service


def _run(
    service: QueryService, who: Principal, sql: str, purpose: str = "SA"
) -> tuple[str, list[tuple[object, ...]]]:
    outcome = service.run_query(who, sql, purpose)
    try:
        rows = sorted((tuple(r.values()) for r in outcome.result.to_table().to_pylist()), key=repr)
    finally:
        outcome.result.discard()
    return outcome.rewrite.sql, rows


@pytest.mark.parametrize("attack", attacks.ATTACKS, ids=[a.id for a in attacks.ATTACKS])
def test_attack_on_projections(
    attack: attacks.Attack,
    projected_service: QueryService,
    reference: duckdb.DuckDBPyConnection,
) -> None:
    attacks.test_attack(attack, projected_service, reference)


def test_random_queries_on_projections_return_only_the_policy_view(
    projected_service: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    oracle.test_random_queries_return_only_the_policy_view(
        crafted_service=projected_service, reference=reference
    )


@pytest.mark.parametrize(
    "table", ["crime", "incident", "custody", "location", "crime_person", "vehicle", "property"]
)
def test_whole_tables_scan_their_projection_and_equal_the_reference(
    table: str, projected_service: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    sql = f"SELECT * FROM {table}"
    ran, got = _run(projected_service, ANALYST, sql)
    assert f"{PROJECTION_CATALOG}.main.p_" in ran
    assert f"main.{table} " not in ran  # the live subquery is gone, not kept beside it
    expected = sorted(
        (tuple(r.values()) for r in reference.sql(sql).to_arrow_table().to_pylist()), key=repr
    )
    assert got == expected


def test_a_mask_that_depends_on_the_date_runs_live(projected_service: QueryService) -> None:
    ran, _ = _run(projected_service, ANALYST, "SELECT date_of_birth FROM person")
    assert PROJECTION_CATALOG not in ran  # age bands change with the date: never materialised


def test_a_view_not_built_runs_live_with_the_same_answer_as_without_projections(
    projected_service: QueryService, crafted_service: QueryService
) -> None:
    sql = "SELECT local_authority_code, count(*) FROM crime GROUP BY 1"
    ran, got = _run(projected_service, STRANGER, sql)
    assert PROJECTION_CATALOG not in ran
    assert got == _run(crafted_service, STRANGER, sql)[1]
    assert {row[0] for row in got} <= set(STRANGER.areas)


def test_the_same_queries_answer_the_same_with_and_without_projections(
    projected_service: QueryService, crafted_service: QueryService
) -> None:
    for sql in (
        "SELECT person_id, count(*) FROM crime_person WHERE role = 'victim' GROUP BY 1",
        "SELECT disposal, count(*) FROM custody GROUP BY 1",
        "SELECT l.map_point_id, l.postcode, count(*) FROM crime c JOIN location l "
        "USING (location_id) GROUP BY ALL",
        "SELECT c.crime_ref, p.person_id FROM crime c JOIN crime_person p USING (crime_id)",
    ):
        ran, got = _run(projected_service, ANALYST, sql)
        assert PROJECTION_CATALOG in ran
        assert got == _run(crafted_service, ANALYST, sql)[1], sql


def test_disclosure_control_reads_an_aggregate_on_projections_as_on_live_subqueries(
    projected_service: QueryService, crafted_service: QueryService
) -> None:
    """Cell suppression (no cell keys, so the statement scans projections): the columns of a
    projection trace to the warehouse as the live subquery's do, so the count per map point is
    the same aggregate with the same cells suppressed, and a record-level query is refused."""
    rules = DisclosureSettings(
        levels={"general": DisclosureRules(min_count=3, label="general", method="suppression")}
    )

    def controlled(service: QueryService, sql: str) -> dict[str, list[object]]:
        control = DisclosureControl(parse_disclosure_request("policy"), rules, service.catalog)
        outcome = service.run_query(ANALYST, sql, "SA", control=control)
        try:
            assert (PROJECTION_CATALOG in outcome.rewrite.sql) == (service is projected_service)
            return outcome.result.to_table().sort_by("map_point_id").to_pydict()
        finally:
            outcome.result.discard()

    per_point = (
        "SELECT l.map_point_id, count(*) AS n FROM crime c JOIN location l USING (location_id) "
        "GROUP BY ALL"
    )
    assert controlled(projected_service, per_point) == controlled(crafted_service, per_point)
    with pytest.raises(NotAggregate):
        controlled(projected_service, "SELECT person_id AS map_point_id FROM crime_person")


def test_the_started_record_writes_each_projection_out_as_its_policy_subquery(
    projected_service: QueryService,
) -> None:
    sql = "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1"
    started = {}
    for who in (ANALYST, STRANGER):  # projected, and live (no projection of that view)
        outcome = projected_service.run_query(who, sql, "SA")
        outcome.result.discard()
        events = projected_service.audit.events(kinds={EventKind.QUERY_STARTED})
        started[who.username] = next(
            e.details for e in events if e.details["query_id"] == outcome.query_id
        )
    projected, live = started[ANALYST.username], started[STRANGER.username]
    assert f"{PROJECTION_CATALOG}.main.p_" in projected["sql_executed"]
    written_out = projected["sql_with_policy"]
    assert f"{PROJECTION_CATALOG}.main.p_" not in written_out
    assert "main.crime" in written_out
    assert ANALYST.areas[0] in written_out
    assert "sql_with_policy" not in live  # nothing to write out: the record is as before
    assert "main.crime" in live["sql_executed"]


def test_the_analyst_cannot_name_a_projection(
    projected: Deployment, projected_service: QueryService
) -> None:
    name = sorted(projected.service.policy_sql.projections.names)[0]  # type: ignore[union-attr]
    for sql in (
        f"SELECT * FROM {PROJECTION_CATALOG}.main.{name}",
        f"SELECT * FROM {name}",
        f'SELECT * FROM "{PROJECTION_CATALOG}"."main"."{name}"',
    ):
        with pytest.raises(GatewayError) as caught:
            projected_service.run_query(ANALYST, sql, "SA")
        assert caught.value.status < 500


def test_the_engine_refuses_a_projection_read_outside_its_policy_subquery(
    projected: Deployment, projected_service: QueryService
) -> None:
    outcome = projected_service.run_query(ANALYST, "SELECT count(*) FROM custody", "SA")
    outcome.result.discard()
    name = sorted(projected.service.policy_sql.projections.names)[0]  # type: ignore[union-attr]
    expected = Expectation(
        policy_subqueries=tuple((r.table, r.sql) for r in outcome.rewrite.policy_subqueries)
    )
    tampered = outcome.rewrite.sql.replace(
        "count(*)", f"(SELECT count(*) FROM {PROJECTION_CATALOG}.main.{name})", 1
    ).replace("COUNT(*)", f"(SELECT COUNT(*) FROM {PROJECTION_CATALOG}.main.{name})", 1)
    assert tampered != outcome.rewrite.sql
    with pytest.raises(PolicyCheckFailed):
        projected_service.engine.verify(tampered, expected)


def test_the_build_is_reused_audited_and_replaced_when_the_policy_changes(
    projected: Deployment, projected_dir: Path, tmp_path: Path, catalog: Catalog
) -> None:
    ready = list(projected.audit.events(kinds={EventKind.POLICY_PROJECTIONS_READY}))
    assert ready, "the build is audited"
    details = ready[-1].details
    assert details["details"]["policy_hash"] == projected.policy.version
    assert details["details"]["projections"] == len(projected.service.policy_sql.projections.names)  # type: ignore[union-attr]
    built = details["subject"]
    data_dir = DataDir(projected_dir)
    files = list(data_dir.projections.glob("*.duckdb"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o077 == 0
    assert data_dir.secret(PSEUDONYM_KEY).hex().encode() not in files[0].read_bytes()
    sql = "SELECT 1 AS x FROM main.crime LIMIT 9223372036854775807"
    source = ProjectionSource("crime", sql, ("x",))
    vault = ("pseudonyms", data_dir.pseudonyms)
    key = data_dir.secret(PSEUDONYM_KEY)
    folder = tmp_path / "projections"
    path, index, took = ensure_projections(folder, data_dir.warehouse, vault, key, "v1", [source])
    assert index.names == {projection_name(sql)}
    assert took > 0
    again, same, took_again = ensure_projections(
        folder, data_dir.warehouse, vault, key, "v1", [source]
    )
    assert (again, same, took_again) == (path, index, 0.0)  # unchanged: reused, not rebuilt
    other, changed, _ = ensure_projections(folder, data_dir.warehouse, vault, key, "v2", [source])
    assert changed.version != index.version
    assert sorted(folder.glob("*.duckdb")) == sorted([path, other])  # the previous one stays
    third, _, _ = ensure_projections(folder, data_dir.warehouse, vault, key, "v3", [source])
    assert sorted(folder.glob("*.duckdb")) == sorted([other, third])  # older ones go
    assert built not in {index.version, changed.version}


def test_a_replaced_warehouse_fails_closed_until_restart(
    projected_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "dir"
    shutil.copytree(projected_dir, root, ignore=shutil.ignore_patterns("tmp", "audit*"))
    sql = "SELECT count(*) AS n FROM custody"
    with Deployment.open(DataDir(root), workers=1, projections=True) as deployment:
        service = deployment.service
        before = _run(service, ANALYST, sql)
        assert PROJECTION_CATALOG in before[0]
        fresh = root / "refresh.duckdb"
        shutil.copy2(root / "warehouse.duckdb", fresh)
        os.replace(fresh, root / "warehouse.duckdb")  # a refresh: a new file in its place
        for pid in service.engine.worker_pids():  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)  # its replacement opens the new file
        with pytest.raises(GatewayError) as caught:
            _run(service, ANALYST, sql)
        assert caught.value.status == 503
    with Deployment.open(DataDir(root), workers=1, projections=True) as restarted:
        assert _run(restarted.service, ANALYST, sql)[1] == before[1]  # rebuilt, answers again


def test_a_grant_gets_its_own_projection_and_the_same_answers_as_live(
    projected: Deployment, crafted_service: QueryService
) -> None:
    who = projected.directory.principal("e.grant", utc_now())
    assert who is not None
    sql = "SELECT local_authority_code, modus_operandi FROM crime"
    runs = {}
    for purpose in ("SA", "JAG"):  # the grant (unmask, another area) applies to JAG only
        ran, got = _run(projected.service, who, sql, purpose)
        assert f"{PROJECTION_CATALOG}.main.p_" in ran
        assert got == _run(crafted_service, who, sql, purpose)[1], purpose
        runs[purpose] = (ran, got)
    assert runs["SA"][0] != runs["JAG"][0]  # another view, another projection
    assert {area for area, _ in runs["SA"][1]} == {crafted.VISIBLE}
    assert {area for area, _ in runs["JAG"][1]} == {crafted.VISIBLE, crafted.HIDDEN}
    assert all(text is None for _, text in runs["SA"][1])
    assert any(text is not None for _, text in runs["JAG"][1])


BACKGROUND_QUERIES = (
    "SELECT count(*) AS n FROM custody",
    "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY ALL",
    "SELECT * FROM crime_person",
)


def test_projections_built_in_background_switch_in_without_a_different_answer(
    projected_dir: Path, tmp_path: Path, crafted_service: QueryService
) -> None:
    # A server serves at once, live, and switches once the build is attached to fresh workers:
    # queries keep running through the switch and every answer is the live one.
    root = tmp_path / "dir"
    shutil.copytree(projected_dir, root, ignore=shutil.ignore_patterns("tmp", "audit*", "proj*"))
    expected = {sql: _run(crafted_service, ANALYST, sql)[1] for sql in BACKGROUND_QUERIES}
    with Deployment.open(
        DataDir(root), workers=2, projections=True, projections_in_background=True
    ) as deployment:
        switch, service = deployment.projections, deployment.service
        assert switch is not None
        before = set(service.engine.worker_pids())  # type: ignore[attr-defined]
        ran: list[str] = []
        while not switch.wait(0):  # through the build, the attach and the switch
            for sql in BACKGROUND_QUERIES:
                text, rows = _run(service, ANALYST, sql)
                assert rows == expected[sql]
                ran.append(text)
        assert switch.state == "ready", switch.reason
        assert all(PROJECTION_CATALOG not in text for text in ran[:3])  # live at first
        after = set(service.engine.worker_pids())  # type: ignore[attr-defined]
        assert not before & after  # every worker replaced by one with the projections
        for sql in BACKGROUND_QUERIES:
            text, rows = _run(service, ANALYST, sql)
            assert f"{PROJECTION_CATALOG}.main.p_" in text
            assert rows == expected[sql]
        ready = list(deployment.audit.events(kinds={EventKind.POLICY_PROJECTIONS_READY}))
        assert len(ready) == 1  # audited as at start


def test_a_failed_background_build_leaves_the_gateway_live(
    projected_dir: Path, tmp_path: Path, crafted_service: QueryService
) -> None:
    root = tmp_path / "dir"
    shutil.copytree(projected_dir, root, ignore=shutil.ignore_patterns("tmp", "audit*", "proj*"))
    (root / "projections").write_text("not a folder", "utf-8")  # the build cannot write
    sql = BACKGROUND_QUERIES[0]
    with Deployment.open(
        DataDir(root), workers=1, projections=True, projections_in_background=True
    ) as deployment:
        switch = deployment.projections
        assert switch is not None
        assert switch.wait(60)
        assert switch.state == "failed"
        assert switch.reason
        text, rows = _run(deployment.service, ANALYST, sql)
        assert PROJECTION_CATALOG not in text
        assert rows == _run(crafted_service, ANALYST, sql)[1]
