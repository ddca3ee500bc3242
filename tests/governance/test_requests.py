"""Request forms validated against the loaded policy: only what the policy lets be granted."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from importlib import resources

import pytest

from gateway.catalog import Catalog
from gateway.errors import InputError
from gateway.governance.model import Organisation
from gateway.governance.requests import EnhancedScope, Purpose, validate_form
from gateway.policy import Policy, parse_policy

from .conftest import HPOOL, MBRO, enhanced_form, general_form

TODAY = date(2026, 6, 1)
MBC = Organisation("MBC", "Middlesbrough Council", "local_authority", (MBRO,))


def test_general_form_resolves_areas_and_start(policy: Policy) -> None:
    form = validate_form(general_form(), policy, MBC, today=TODAY)
    assert form.areas == (MBRO,)
    assert form.starts == TODAY
    assert form.ends is None


def test_enhanced_form_accepts_grantable_table_and_unmaskable_columns(policy: Policy) -> None:
    form = validate_form(
        enhanced_form(
            tables=("intelligence_report",),
            unmask=("intelligence_report.report_text", "person.surname"),
        ),
        policy,
        MBC,
        today=TODAY,
    )
    assert form.enhanced is not None
    assert form.enhanced.tables == ("intelligence_report",)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (EnhancedScope(tables=("crime",), justification="x"), "cannot be granted"),
        (EnhancedScope(tables=("no_such_table",), justification="x"), "cannot be granted"),
        (EnhancedScope(unmask=("crime.no_such",), justification="x"), "not a visible column"),
        (EnhancedScope(unmask=("modus_operandi",), justification="x"), "table.column"),
        (EnhancedScope(unmask=("crime.outcome",), justification="x"), "already shown"),
        (
            EnhancedScope(unmask=("intelligence_report.report_text",), justification="x"),
            "needs its table",
        ),
        (EnhancedScope(areas=(MBRO,), justification="x"), "already among"),
        (EnhancedScope(justification="x"), "must name the extra"),
        (EnhancedScope(unmask=("crime.modus_operandi",)), "must say why"),
        (
            EnhancedScope(unmask=("crime.modus_operandi",), justification="MO themes"),
            "most appropriate method",
        ),
    ],
)
def test_enhanced_scope_refusals(policy: Policy, scope: EnhancedScope, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_form(replace(enhanced_form(), enhanced=scope), policy, MBC, today=TODAY)


def test_deny_beats_allow_a_column_the_policy_does_not_list_as_unmaskable(
    catalog: Catalog,
) -> None:
    text = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    narrowed = parse_policy(
        text.replace('"crime.crime_ref", "crime.modus_operandi",', '"crime.crime_ref",').encode(),
        catalog,
    )
    with pytest.raises(InputError, match="not unmaskable"):
        validate_form(enhanced_form(), narrowed, MBC, today=TODAY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purposes": ()}, "at least one purpose"),
        ({"purposes": (Purpose("SA", "a"), Purpose("SA", "b"))}, "listed twice"),
        ({"purposes": (Purpose("bad code!", "x"),)}, "purpose code"),
        ({"purposes": (Purpose("SA", " "),)}, "needs a description"),
        ({"areas": (HPOOL,)}, "outside Middlesbrough Council"),
        ({"starts": date(2026, 5, 1)}, "in the past"),
        ({"ends": date(2026, 5, 31)}, "before the start"),
        ({"enhanced": EnhancedScope(unmask=("crime.modus_operandi",), justification="x")},
         "cannot name enhanced"),
        ({"level": "secret"}, "cannot be requested"),
    ],
)  # fmt: skip
def test_general_form_refusals(policy: Policy, change: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate_form(replace(general_form(), **change), policy, MBC, today=TODAY)


def test_business_case_must_be_complete(policy: Policy) -> None:
    form = general_form()
    for case in (
        replace(form.business_case, key_duties=" "),
        replace(form.business_case, products=()),
        replace(form.business_case, dissemination=(" ",)),
    ):
        with pytest.raises(InputError, match="business case"):
            validate_form(replace(form, business_case=case), policy, MBC, today=TODAY)


def test_enhanced_needs_an_end_date_within_the_limit(policy: Policy) -> None:
    with pytest.raises(InputError, match="end date"):
        validate_form(replace(enhanced_form(), ends=None), policy, MBC, today=TODAY)
    with pytest.raises(InputError, match="at most 366 days"):
        validate_form(enhanced_form(ends=date(2027, 12, 31)), policy, MBC, today=TODAY)


def test_enhanced_extra_area_outside_the_organisation_is_allowed(policy: Policy) -> None:
    scope = EnhancedScope(
        areas=(HPOOL,),
        justification="cross-border burglary series",
        method="the series crosses the border; no force product covers both areas",
    )
    form = validate_form(replace(enhanced_form(), enhanced=scope), policy, MBC, today=TODAY)
    assert form.enhanced is not None
    assert form.enhanced.areas == (HPOOL,)
    assert form.areas == (MBRO,)
