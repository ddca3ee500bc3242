"""Sensitive-victim protection: derived from the catalog's links, on every path, at every level.

These tests are pure (policy text in, row filters out); tests/rewrite/test_sensitive_victims.py
runs the filters on a generated warehouse.
"""

from __future__ import annotations

from importlib import resources

import pytest

from gateway.catalog import Catalog, Column, ForeignKey, Sensitivity, Table, TableKind, link_paths
from gateway.errors import ConfigurationError
from gateway.policy import load_default_policy, parse_policy
from gateway.policy.load import filter_dependencies
from gateway.policy.victims import SOURCE, TARGET, victim_paths

DEFAULT = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")

RULE = """
[levels.general.unlinkable_victims]
sensitive = "domestic_abuse"
linkable_roles = ["suspect", "offender"]
"""
SMALL = """
[levels.general.tables.crime]
row_filter = "local_authority_code IN ($areas)"
columns = { crime_id = "show", domestic_abuse = "show" }
[levels.general.tables.crime_person]
row_filter = "crime_id IN (SELECT crime_id FROM crime)"
columns = { crime_id = "show", person_id = { mask = "pseudonym", domain = "person" }, role = "show" }
"""


def _reachable(catalog: Catalog, start: str, target: str, avoid: str) -> bool:
    """An independent check: can ``start`` reach ``target`` by following foreign keys forward?"""
    seen, todo = {start, avoid}, [start]
    while todo:
        table = todo.pop()
        for column in catalog.table(table).columns:
            ref = column.references
            if ref is None or ref.table in seen:
                continue
            if ref.table == target:
                return True
            seen.add(ref.table)
            todo.append(ref.table)
    return False


def test_every_table_that_ties_a_person_to_a_crime_is_a_path(catalog: Catalog) -> None:
    paths = victim_paths(catalog)
    holders = {
        t.name
        for t in catalog
        if t.name not in (SOURCE, TARGET)
        and any(c.references and c.references.table == SOURCE for c in t.columns)
    }
    assert {p.table for p in paths} == {
        t for t in holders if _reachable(catalog, t, TARGET, avoid=SOURCE)
    }
    # what the schema contract says today (a guard on the derivation, not its source)
    assert {"crime_person", "incident_person", "custody"} <= {p.table for p in paths}
    assert "intelligence_report" in holders  # a person key, but no way to a crime
    assert "intelligence_report" not in {p.table for p in paths}
    for path in paths:  # each hop is a declared foreign key, chained, ending at the crime
        assert path.hops[0].table == path.table
        for hop, after in zip(path.hops, path.hops[1:], strict=False):
            assert hop.references.table == after.table
        for hop in path.hops:
            assert catalog.table(hop.table).column(hop.column).references == hop.references
        assert path.hops[-1].references == ForeignKey(TARGET, "crime_id")
    direct = [p for p in paths if p.direct]
    assert [(p.table, p.capacity_column) for p in direct] == [("crime_person", "role")]


def test_link_paths_are_generic(catalog: Catalog) -> None:
    vehicle = link_paths(catalog, "vehicle", "crime")
    assert [(p.table, len(p.hops), p.direct) for p in vehicle] == [
        ("crime_vehicle", 1, True),
        ("incident_vehicle", 2, False),
    ]


def test_the_default_policy_protects_every_path_at_every_level(catalog: Catalog) -> None:
    policy = load_default_policy(catalog)
    for level in policy.levels.values():
        assert level.unlinkable_victims is not None
        for path in victim_paths(catalog):
            if path.table not in level.tables:
                continue
            table = level.tables[path.table]
            assert table.derived_filter, (level.name, path.table)
            assert table.row_filter
            assert table.effective_filter
            assert table.derived_filter in table.effective_filter
            assert table.row_filter in table.effective_filter
            assert TARGET in filter_dependencies(table)
        assert level.tables["person"].derived_filter is None  # not a path: filtered via links


def test_a_new_link_in_the_catalog_is_covered_without_being_listed(catalog: Catalog) -> None:
    referral = Table(
        name="victim_referral",
        kind=TableKind.RECORD,
        description="Referrals to victim services",
        primary_key=("referral_id",),
        columns=(
            Column("referral_id", "BIGINT", Sensitivity.KEY, ""),
            Column(
                "person_id", "BIGINT", Sensitivity.PERSON_KEY, "", ForeignKey("person", "person_id")
            ),
            Column(
                "incident_id", "BIGINT", Sensitivity.KEY, "", ForeignKey("incident", "incident_id")
            ),
        ),
    )
    wider = Catalog({**catalog.tables, referral.name: referral})
    text = DEFAULT.replace(
        "[levels.general.tables.incident_vehicle]",
        "[levels.general.tables.victim_referral]\n"
        "row_filter = 'incident_id IN (SELECT incident_id FROM incident)'\n"
        "columns = { referral_id = 'show', person_id = { mask = 'pseudonym', domain = 'person' } }\n"
        "[levels.general.tables.incident_vehicle]",
    )
    table = parse_policy(text.encode(), wider).levels["general"].tables["victim_referral"]
    assert table.derived_filter
    assert "domestic_abuse" in table.derived_filter  # the rule's predicate, reached via incident
    assert {"incident", "crime", "crime_person"} <= filter_dependencies(table)


def test_a_level_cannot_drop_the_rule_by_declaring_a_table_again(catalog: Catalog) -> None:
    text = DEFAULT.replace(
        "[levels.enhanced.tables.intelligence_report]",
        "[levels.enhanced.tables.crime_person]\n"
        "row_filter = 'crime_id IN (SELECT crime_id FROM crime)'\n"
        "columns = { crime_id = 'show', person_id = 'show', role = 'show' }\n"
        "[levels.enhanced.tables.intelligence_report]",
    )
    enhanced = parse_policy(text.encode(), catalog).levels["enhanced"]
    assert enhanced.tables["crime_person"].columns["person_id"].kind == "show"
    assert enhanced.tables["crime_person"].derived_filter


def test_a_level_without_the_rule_gets_no_derived_filter(catalog: Catalog) -> None:
    general = parse_policy(SMALL.encode(), catalog).levels["general"]
    assert general.unlinkable_victims is None
    assert general.tables["crime_person"].derived_filter is None
    ruled = parse_policy((SMALL + RULE).encode(), catalog).levels["general"]
    assert ruled.unlinkable_victims is not None
    assert ruled.unlinkable_victims.linkable_roles == ("suspect", "offender")
    derived = ruled.tables["crime_person"].derived_filter
    assert derived is not None
    assert derived.startswith("role IN ('suspect', 'offender') OR")
    assert "(__sv_crime.domestic_abuse) IS FALSE" in derived  # NULL counts as sensitive


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("unlinkable_victims = 'yes'", "levels.general.unlinkable_victims: must be a table"),
        (
            "unlinkable_victims = { sensitive = 'domestic_abuse', colour = 1 }",
            "unlinkable_victims.colour: unknown key",
        ),
        (
            "unlinkable_victims = { linkable_roles = [] }",
            "unlinkable_victims.sensitive: must be an SQL predicate over crime",
        ),
        (
            "unlinkable_victims = { sensitive = 'domestic_abuse', linkable_roles = 'suspect' }",
            "unlinkable_victims.linkable_roles: must be a list",
        ),
        (
            "unlinkable_victims = { sensitive = 'colour = 1' }",
            "unlinkable_victims.sensitive: crime has no column 'colour'",
        ),
        (
            "unlinkable_victims = { sensitive = 'crime_id IN (SELECT crime_id FROM custody)' }",
            "refers to 'custody', which this level cannot see",
        ),
    ],
)
def test_precise_errors(rule: str, fragment: str, catalog: Catalog) -> None:
    text = "[levels.general]\n" + rule + "\n" + SMALL
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text.encode(), catalog)
    assert fragment in str(caught.value)


def test_a_path_through_a_hidden_table_is_refused(catalog: Catalog) -> None:
    text = (
        SMALL
        + """
[levels.general.tables.incident_person]
columns = { incident_id = "show", role = "show" }
"""
        + RULE
    )
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text.encode(), catalog)
    assert "levels.general.unlinkable_victims: the link incident_person.person_id" in str(
        caught.value
    )
    assert "runs through 'incident', which this level cannot see" in str(caught.value)


def test_the_rule_needs_crime(catalog: Catalog) -> None:
    text = """
[levels.general.tables.custody]
columns = { custody_id = "show" }
[levels.general.unlinkable_victims]
sensitive = "true"
"""
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text.encode(), catalog)
    assert "unlinkable_victims" in str(caught.value)
