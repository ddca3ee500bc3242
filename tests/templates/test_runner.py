"""Running templates through the service: audited like any query, level checks, pseudonyms
with no names or identifiers visible, and disclosure control on template outputs."""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pytest

from gateway.disclosure import METADATA_KEY, parse_disclosure_request
from gateway.disclosure.control import DisclosureControl
from gateway.errors import AccessDenied, NotFound, ParameterError, PurposeNotApproved
from gateway.principal import Principal
from gateway.service import QueryService
from gateway.templates import TemplateLibrary, TemplateRunner
from tests.disclosure.guarantee import check_column
from tests.templates.fixtures import ANALYSTS, PURPOSE, USERS, Raw

PERIOD = {"start_month": "2025-11", "end_month": "2026-10"}
analysts = pytest.mark.parametrize("user", ANALYSTS, ids=lambda u: u.username)


def params_for(name: str, user: Principal, raw: Raw) -> dict[str, Any]:
    """Parameters that make every template produce rows for ``user``."""
    if name == "before-after":
        wards = raw.frame(
            "SELECT ward_code FROM ward WHERE local_authority_code = $a ORDER BY 1", a=user.areas[0]
        )["ward_code"]
        return {"intervention": wards[0], "comparison": wards[1], "start": "2026-04-01"}
    if name in ("crime-by-month", "flagged-crime-trends"):
        return {"end_month": "2026-10"}
    if name == "crime-rates":
        return {"year": 2025}
    if name == "seasonality":
        return {"start_month": "2024-11", "end_month": "2026-10"}
    return dict(PERIOD)


def test_runs_are_audited_like_any_query(
    runner: TemplateRunner, template_service: QueryService
) -> None:
    user = USERS["a.khan"]
    run = runner.run(user, "crime-rates", {"year": "2025"}, purpose=PURPOSE)
    view = {q.query_id: q for q in template_service.audit.queries(actor=user.username)}[
        run.query_id
    ]
    assert view.status == "completed"
    request = view.request
    assert request["template"] == "crime-rates"
    assert request["params"] == {"area": "E06000002", "year": 2025}
    assert request["purpose"] == PURPOSE
    assert run.provenance()["query_id"] == run.query_id
    assert run.provenance()["policy_version"] == template_service.policy.version


def test_refusals_are_audited_as_denials(
    runner: TemplateRunner, template_service: QueryService
) -> None:
    user = USERS["a.khan"]
    with pytest.raises(PurposeNotApproved):
        runner.run(user, "crime-rates", {}, purpose="NOT-MINE")
    denied = [
        q for q in template_service.audit.queries(actor=user.username) if q.status == "denied"
    ]
    assert denied
    assert denied[-1].request["purpose"] == "NOT-MINE"


def test_template_level_is_enforced(runner: TemplateRunner) -> None:
    with pytest.raises(AccessDenied, match="for enhanced-level analysts; your level is general"):
        runner.run(USERS["a.khan"], "intelligence-by-month", PERIOD, purpose=PURPOSE)


def test_enhanced_template_still_needs_the_grant_purpose(runner: TemplateRunner) -> None:
    """Without the purpose its grant covers, the enhanced analyst has no intelligence table."""
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any refusal, audited by the service
        runner.run(USERS["e.okafor"], "intelligence-by-month", PERIOD, purpose=PURPOSE)
    assert caught.value.__class__.__name__ in {"TableNotPermitted", "TableNotFound"}


def test_unknown_template_and_unknown_parameter(runner: TemplateRunner) -> None:
    with pytest.raises(NotFound, match="no template called 'crime-rate'"):
        runner.run(USERS["a.khan"], "crime-rate", {}, purpose=PURPOSE)
    with pytest.raises(ParameterError, match="unknown parameter 'yaer'"):
        runner.run(USERS["a.khan"], "crime-rates", {"yaer": 2025}, purpose=PURPOSE)


def test_lists_of_individuals_cannot_be_prepared_for_publication(runner: TemplateRunner) -> None:
    with pytest.raises(ParameterError, match="lists individuals"):
        runner.run(
            USERS["a.khan"], "repeat-victims", PERIOD, purpose=PURPOSE, disclosure="publication"
        )


def test_senior_analyst_with_several_areas_must_choose(runner: TemplateRunner) -> None:
    senior = USERS["s.patel"]
    with pytest.raises(ParameterError, match="you have several areas"):
        runner.run(senior, "crime-rates", {"year": 2025}, purpose=PURPOSE)
    run = runner.run(senior, "crime-rates", {"year": 2025, "area": "E06000003"}, purpose=PURPOSE)
    assert run.table.num_rows > 1


# --- people appear only as pseudonyms --------------------------------------------------------

PSEUDONYM = re.compile(r"^P[0-9a-f]{16}$")


@pytest.fixture(scope="module")
def identifiers(raw: Raw) -> set[str]:
    """Every name, PNC id and raw person id in the warehouse, as text."""
    people = raw.frame("SELECT person_id, forename, surname, pnc_id, date_of_birth FROM person")
    values: set[str] = set()
    for column in ("person_id", "forename", "surname", "pnc_id", "date_of_birth"):
        values |= {str(v) for v in people[column].to_list() if v is not None}
    return values


@pytest.mark.parametrize("name", ["repeat-victims", "repeat-offenders"])
@pytest.mark.parametrize(
    ("who", "purpose"),
    [*((u.username, PURPOSE) for u in ANALYSTS), ("e.okafor", "JAG-2026-07")],
)
def test_people_only_as_pseudonyms(
    runner: TemplateRunner, identifiers: set[str], name: str, who: str, purpose: str
) -> None:
    """Even the enhanced analyst, whose JAG grant unmasks surnames, sees no name here."""
    run = runner.run(USERS[who], name, {**PERIOD, "min_crimes": 2}, purpose=purpose)
    frame = pl.from_arrow(run.table)
    assert isinstance(frame, pl.DataFrame)
    assert frame.height > 0
    person = "victim" if name == "repeat-victims" else "offender"
    assert all(PSEUDONYM.match(v) for v in frame[person].to_list())
    assert not {"forename", "surname", "pnc_id", "person_id", "date_of_birth"} & set(frame.columns)
    for row in frame.iter_rows():
        for value in row:
            assert value is None or str(value) not in identifiers or isinstance(value, int | float)
    if name == "repeat-victims":
        assert set(frame["age_band"].drop_nulls()) <= {
            "0-9", "10-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+",
        }  # fmt: skip
    assert run.disclosure is None  # lists of individuals are not disclosure-controlled


def test_same_person_same_pseudonym_across_templates(runner: TemplateRunner) -> None:
    user = USERS["a.khan"]
    victims = runner.run(user, "repeat-victims", {**PERIOD, "min_crimes": 2}, purpose=PURPOSE)
    again = runner.run(user, "repeat-victims", {**PERIOD, "min_crimes": 3}, purpose=PURPOSE)
    first = dict(
        zip(victims.table["victim"].to_pylist(), victims.table["crimes"].to_pylist(), strict=True)
    )
    for victim, crimes in zip(
        again.table["victim"].to_pylist(), again.table["crimes"].to_pylist(), strict=True
    ):
        assert first[victim] == crimes


# --- disclosure control on template outputs -----------------------------------------------------


def aggregate_names(library: TemplateLibrary) -> list[str]:
    return [t.name for t in library if t.disclosure is not None and t.level == "general"]


@analysts
def test_every_aggregate_template_is_protected(
    runner: TemplateRunner, library: TemplateLibrary, raw: Raw, user: Principal
) -> None:
    """With the level's rules (through the runner) and the publication rules (also rounded
    to 5), both the cell key method: every count is within ±max_noise of the unprotected value
    (plus the rounding), zeros stay zero, every perturbed value from 1 to 9 is suppressed and
    marked, never dropped; derived values are withheld with their counts."""
    by_level = runner.rules(user.level, "policy")
    publication = runner.rules(user.level, "publication")
    for name in aggregate_names(library):
        spec = library.get(name).disclosure
        assert spec is not None
        params = params_for(name, user, raw)
        plain = runner.run(user, name, params, purpose=PURPOSE, disclosure="none")
        by_policy = runner.run(user, name, params, purpose=PURPOSE).table
        published = runner.run(user, name, params, purpose=PURPOSE, disclosure="publication").table
        for rules, table in ((by_level, by_policy), (publication, published)):
            assert table.num_rows == plain.table.num_rows, name
            assert json.loads(table.schema.metadata[METADATA_KEY])["method"] == "cell_key"
            for column in spec.protected_columns:
                check_column(
                    plain.table[column].to_pylist(),
                    table[column].to_pylist(),
                    table[f"{column}_suppressed"].to_pylist(),
                    rules,
                )
            for derived in spec.derived:
                flags = table[f"{derived.name}_suppressed"].to_pylist()
                values = table[derived.name].to_pylist()
                assert all(v is None for v, f in zip(values, flags, strict=True) if f), name


def test_the_same_cell_gets_the_same_value_in_every_run(runner: TemplateRunner) -> None:
    """Asking again gives nothing new to average: two runs, the same published table."""
    user = USERS["a.khan"]
    first = runner.run(user, "asb-by-type", PERIOD, purpose=PURPOSE)
    again = runner.run(user, "asb-by-type", PERIOD, purpose=PURPOSE)
    assert first.table.equals(again.table)


def test_small_counts_are_really_suppressed_somewhere(runner: TemplateRunner) -> None:
    """The small warehouse has small cells: the protection is not vacuous."""
    run = runner.run(USERS["a.khan"], "asb-by-type", PERIOD, purpose=PURPOSE)
    assert run.disclosure is not None
    assert run.disclosure.primary > 0
    assert run.disclosure.perturbed > 0
    assert run.disclosure.secondary == 0  # the cell key method needs no secondary suppression
    assert "suppressed" in run.disclosure.summary()
    assert "perturbed" in run.disclosure.summary()


def _completed(service: QueryService, query_id: str) -> dict[str, Any]:
    view = {q.query_id: q for q in service.audit.queries()}[query_id]
    assert view.status == "completed"
    return view.result


#: What an ad-hoc query's completed record says about disclosure control (service + control).
ADHOC_DISCLOSURE_KEYS = {
    "mode", "rules", "min_count", "round_to", "secondary", "description", "counts",
    "dimensions", "strata", "totals", "measures", "cells", "primary", "secondary_suppressed",
    "withheld", "source_fingerprint", "method", "max_noise", "modulus", "perturbed",
    "cell_keys", "budget",
}  # fmt: skip


def test_template_runs_record_their_disclosure_control_like_ad_hoc_queries(
    runner: TemplateRunner, template_service: QueryService
) -> None:
    """The completed record of a template run holds the mode and rules applied and describes
    the released (protected) result, as an ad-hoc query with ``disclosure`` does."""
    user = USERS["a.khan"]
    adhoc = template_service.run_query(
        user,
        "SELECT police_uk_category, count(*) AS crimes FROM crime GROUP BY ALL",
        PURPOSE,
        control=DisclosureControl.for_service(template_service, parse_disclosure_request("policy")),
    )
    adhoc.result.discard()
    assert set(_completed(template_service, adhoc.query_id)["disclosure"]) == (
        ADHOC_DISCLOSURE_KEYS
    )

    run = runner.run(user, "asb-by-type", PERIOD, purpose=PURPOSE)
    assert run.disclosure is not None
    assert run.disclosure.primary > 0  # cells really were suppressed
    record = _completed(template_service, run.query_id)
    applied = record["disclosure"]
    assert set(applied) >= ADHOC_DISCLOSURE_KEYS
    assert (applied["mode"], applied["rules"], applied["min_count"], applied["round_to"]) == (
        "policy",
        "general",
        10,
        0,
    )
    assert applied["spec"] == "template"
    assert applied["budget"]["limit"] == template_service.policy.disclosure.budget.overlapping
    assert (applied["method"], applied["max_noise"], applied["modulus"]) == ("cell_key", 2, 256)
    assert applied["perturbed"] == run.disclosure.perturbed > 0
    assert (applied["primary"], applied["secondary_suppressed"]) == (
        run.disclosure.primary,
        run.disclosure.secondary,
    )
    assert applied["description"] == run.disclosure.summary()
    # rows and fingerprint are those of the table the analyst got, not of the raw result
    assert (record["rows"], record["fingerprint"]) == (run.table.num_rows, run.fingerprint)
    assert applied["source_fingerprint"] != run.fingerprint


@pytest.mark.parametrize(
    ("mode", "rules", "min_count", "round_to"),
    [("publication", "publication", 10, 5), ("none", "none", 0, 0)],
)
def test_template_runs_record_publication_and_switched_off_control(
    runner: TemplateRunner,
    template_service: QueryService,
    mode: str,
    rules: str,
    min_count: int,
    round_to: int,
) -> None:
    run = runner.run(USERS["a.khan"], "asb-by-type", PERIOD, purpose=PURPOSE, disclosure=mode)
    applied = _completed(template_service, run.query_id)["disclosure"]
    assert (applied["mode"], applied["rules"]) == (mode, rules)
    assert (applied["min_count"], applied["round_to"]) == (min_count, round_to)


def test_templates_listing_individuals_record_no_disclosure_control(
    runner: TemplateRunner, template_service: QueryService
) -> None:
    run = runner.run(USERS["a.khan"], "repeat-victims", PERIOD, purpose=PURPOSE)
    assert run.disclosure is None
    record = _completed(template_service, run.query_id)
    assert "disclosure" not in record  # as an ad-hoc query run without disclosure control
    assert (record["rows"], record["fingerprint"]) == (run.table.num_rows, run.fingerprint)


def test_the_seasonal_index_is_worked_out_from_the_published_counts(runner: TemplateRunner) -> None:
    """Issue 14: seasonality's ``expected`` (years × the exact mean month) gave the exact total
    of every protected count away. Now no column carries it, and the index is the published
    month's mean over the mean of the published months."""
    params = {"start_month": "2024-11", "end_month": "2026-10"}
    run = runner.run(USERS["a.khan"], "seasonality", params, purpose=PURPOSE)
    assert "expected" not in run.table.column_names
    rows = [r for r in run.table.to_pylist() if r["crimes"] is not None]
    mean = sum(r["crimes"] for r in rows) / sum(r["years"] for r in rows)
    assert rows
    for row in rows:
        index = row["crimes"] / row["years"] / mean * 100
        assert row["seasonal_index"] == pytest.approx(index, abs=0.051)
    for row in run.table.to_pylist():
        assert (row["crimes"] is None) == row["seasonal_index_suppressed"]
