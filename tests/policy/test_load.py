"""policy.toml validation: every mistake is reported with its path, before anything runs."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import ConfigurationError
from gateway.policy import load_default_policy, parse_policy
from gateway.policy.disclosure import DisclosureRules, DisclosureSettings
from gateway.policy.exports import ExportSettings

MINIMAL = """
[levels.general]
description = "x"
[levels.general.tables.crime]
row_filter = "local_authority_code IN ($areas)"
columns = { crime_id = "show", outcome = "show" }
"""


def _error(text: str, catalog: Catalog) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text.encode(), catalog)
    return str(caught.value)


def test_default_policy_loads_and_hides_what_design_says(catalog: Catalog) -> None:
    policy = load_default_policy(catalog)
    general = policy.levels["general"]
    assert "intelligence_report" not in general.tables
    person = general.tables["person"].columns
    assert {person[c].kind for c in ("forename", "surname", "pnc_id", "home_location_id")} == {
        "null"
    }
    assert person["person_id"].kind == "pseudonym"
    assert person["date_of_birth"].kind == "age_band"
    assert general.tables["crime"].columns["modus_operandi"].kind == "null"
    assert general.tables["location"].columns["easting"].kind == "map_point"
    assert general.tables["crime"].row_filter
    assert "$areas" in general.tables["crime"].row_filter
    enhanced = policy.levels["enhanced"]
    assert enhanced.tables["intelligence_report"].requires_grant
    assert enhanced.may_unmask("person", "surname")
    assert not enhanced.may_unmask("crime", "recorded_at")


def test_version_is_the_content_hash(catalog: Catalog) -> None:
    data = resources.files("gateway.policy").joinpath("default_policy.toml").read_bytes()
    first = parse_policy(data, catalog)
    assert first.version == parse_policy(data, catalog).version
    assert parse_policy(data + b"\n# changed\n", catalog).version != first.version


def test_minimal_policy_and_unlisted_columns_are_invisible(catalog: Catalog) -> None:
    policy = parse_policy(MINIMAL.encode(), catalog)
    assert list(policy.levels["general"].tables["crime"].columns) == ["crime_id", "outcome"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "[levels.general.tables.nope]\ncolumns = { a = 'show' }",
            "levels.general.tables.nope: no such table",
        ),
        (
            "[levels.general.tables.crime]\ncolumns = { nope = 'show' }",
            "levels.general.tables.crime.columns.nope: no such column",
        ),
        ("[levels.general.tables.crime]\ncolumns = { crime_id = 'blur' }", "unknown mask 'blur'"),
        (
            "[levels.general.tables.crime]\ncolumns = { crime_ref = { mask = 'grid', metres = 100 } }",
            "grid applies to numeric",
        ),
        (
            "[levels.general.tables.location]\ncolumns = { easting = { mask = 'grid', metres = -5 } }",
            "metres: must be a positive",
        ),
        (
            "[levels.general.tables.crime]\ncolumns = { crime_ref = { mask = 'pseudonym' } }",
            "needs option 'domain'",
        ),
        (
            "[levels.general.tables.crime]\ncolumns = { crime_ref = { mask = 'last_n', n = 3, colour = 'red' } }",
            "takes no option 'colour'",
        ),
        (
            "[levels.general.tables.crime]\ncolumns = { crime_id = { mask = 'map_point', field = 'easting' } }",
            "needs a map_point_id column",
        ),
        (
            "[levels.general.tables.person]\ncolumns = { gender = { mask = 'age_band' } }",
            "age_band applies to a date of birth",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'local_authority_code = $areas'\ncolumns = { crime_id = 'show' }",
            "$areas may only be used inside IN",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'local_authority_code IN ($team)'\ncolumns = { crime_id = 'show' }",
            "unknown principal attribute $team",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'colour = 1'\ncolumns = { crime_id = 'show' }",
            "crime has no column 'colour'",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'crime_id IN (SELECT crime_id FROM person)'\ncolumns = { crime_id = 'show' }",
            "refers to 'person', which this level cannot see",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'SELECT 1'\ncolumns = { crime_id = 'show' }",
            "must be a predicate",
        ),
        (
            "[levels.general.tables.crime]\nrow_filter = 'crime_id = ('\ncolumns = { crime_id = 'show' }",
            "not a valid SQL predicate",
        ),
        ("[levels.general]\ncolour = 'red'", "levels.general.colour: unknown key"),
        ("[levels.general.limits]\ntimeout_s = 0", "timeout_s: must be a positive number"),
        (
            "[levels.enhanced]\nextends = 'nobody'",
            "levels.enhanced.extends: unknown level 'nobody'",
        ),
        ("[levels.a]\nextends = 'b'\n[levels.b]\nextends = 'a'", "circular 'extends'"),
        (
            "[levels.general.tables.crime]\ncolumns = { crime_id = 'show' }\n[levels.general]\nunmaskable = ['crime.outcome']",
            "not a visible column",
        ),
        ("[nonsense]\nx = 1", "nonsense: unknown section"),
        ("levels = 'x' = 'y'", "not valid TOML"),
    ],
)
def test_precise_errors(text: str, fragment: str, catalog: Catalog) -> None:
    assert fragment in _error(text, catalog)


def test_row_filter_cycles_are_refused(catalog: Catalog) -> None:
    text = """
[levels.general.tables.crime]
row_filter = "crime_id IN (SELECT crime_id FROM crime_person)"
columns = { crime_id = "show" }
[levels.general.tables.crime_person]
row_filter = "crime_id IN (SELECT crime_id FROM crime)"
columns = { crime_id = "show" }
"""
    assert "cycle: crime -> crime_person -> crime" in _error(text, catalog)


# --- the optional sections other packages read: checked at load, not at first use -----------


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("[exports]\nretention_days = 0", "exports.retention_days: must be a whole number"),
        ("[exports]\nretention_days = '30'", "exports.retention_days: must be a whole number"),
        ("[exports]\nmarking = ''", "exports.marking: must be non-empty text"),
        ("[exports]\nforce_extent = [1, 2, 0, 3]", "exports.force_extent: must be"),
        ("[exports]\ncolour = 'red'", "exports.colour: unknown key"),
        ("[exports]\nrequire_approval_for_record_level = 'yes'", "must be true or false"),
        ("[exports]\napproval_levels = ['genral']", "exports.approval_levels: no such level"),
        ("[disclosure.levels.general]\nmin_count = -1", "disclosure.levels.general.min_count"),
        ("[disclosure.levels.enhanced]\nmin_count = 5", "disclosure.levels.enhanced: no such"),
        ("[disclosure.publication]\nround_to = 'five'", "disclosure.publication.round_to"),
        ("[disclosure]\nthreshold = 10", "disclosure.threshold: unknown key"),
        ("[retention]\naudit_days = 30", "retention.audit_days: must be a whole number"),
        ("[retention]\nexports_days = 30", "retention.exports_days: unknown key"),
        ("[audit]\nincident_report_hours = 0", "audit.incident_report_hours: must be"),
        ("[[audit.plan]]\nname = 'x'\nsample = 's'\nevery_days = 7", "audit.plan[0].by"),
        (
            "[schemas.audit]\nroles = ['auditor']\n[audit]\nlocal_auditor_roles = ['auditor']",
            "audit.local_auditor_roles: auditor may also query the whole audit schema",
        ),
    ],
)
def test_optional_sections_are_checked_when_the_policy_loads(
    section: str, fragment: str, catalog: Catalog
) -> None:
    message = _error(MINIMAL + section, catalog)
    assert message.startswith("policy.toml: ")  # the file, then the key, then the problem
    assert fragment in message


def test_top_level_values_are_checked_too(catalog: Catalog) -> None:
    assert "policy.toml: exports: must be a table" in _error("exports = 'on'\n" + MINIMAL, catalog)
    assert "policy.toml: title: must be text" in _error("title = 3\n" + MINIMAL, catalog)
    policy = parse_policy(("title = 'ok'\n" + MINIMAL).encode(), catalog)
    assert policy.title == "ok"


def test_good_optional_sections_load_as_frozen_typed_objects(catalog: Catalog) -> None:
    text = (
        MINIMAL
        + "[exports]\nretention_days = 14\napproval_levels = ['general']\n"
        + "[disclosure.levels.general]\nmin_count = 5\noptional = true\n"
    )
    policy = parse_policy(text.encode(), catalog)
    assert policy.exports == ExportSettings(retention_days=14, approval_levels=("general",))
    general = policy.disclosure.rules_for("general")
    assert isinstance(general, DisclosureRules)
    assert (general.min_count, general.label) == (5, "general")
    assert policy.disclosure.optional == frozenset({"general"})
    assert policy.title is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.exports.marking = "UNMARKED"  # type: ignore[misc]
    # default approval_levels name "general"; a policy without that level still loads
    other = MINIMAL.replace("levels.general", "levels.partner") + "[exports]\nmarking = 'SECRET'\n"
    assert parse_policy(other.encode(), catalog).exports.marking == "SECRET"
    assert parse_policy(other.encode(), catalog).markings.record == "SECRET"
    # absent sections are the defaults
    bare = parse_policy(MINIMAL.encode(), catalog)
    assert (bare.exports, bare.disclosure) == (ExportSettings(), DisclosureSettings())


def test_a_bad_exports_section_stops_the_service_at_start(catalog: Catalog, tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    data_dir.warehouse.touch()  # never opened: the policy is refused first
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    data_dir.policy.write_text(policy + "\n[exports]\nretention_days = -5\n", "utf-8")
    with pytest.raises(ConfigurationError) as caught:
        Deployment.open(data_dir)
    assert str(caught.value).startswith(f"{data_dir.policy}: exports.retention_days: ")
    assert not data_dir.audit.exists()  # refused before anything was opened
