"""A template's parameters as form fields: the input each gets, its choices from the
declaration, the reference domain or the caller's areas, and its default resolved — and that a
form's values bind as the API's do."""

from __future__ import annotations

from datetime import date

from gateway.templates import BindingContext, bind_parameters, form_fields, parse_template

TEMPLATE = parse_template(
    "sample",
    """-- title = "Sample"
-- [parameters.area]
-- type = "area_code"
-- description = "Local authority"
-- default = "@my_area"
-- [parameters.place]
-- type = "area_code"
-- scope = "any"
-- [parameters.start_month]
-- type = "month"
-- default = "@month-12"
-- [parameters.since]
-- type = "date"
-- default = "@today"
-- [parameters.top]
-- type = "integer"
-- default = 20
-- min = 1
-- max = 500
-- [parameters.share]
-- type = "number"
-- required = false
-- [parameters.cell]
-- type = "integer"
-- allowed = [100, 250]
-- default = 250
-- [parameters.category]
-- type = "category"
-- domain = "offence_type.police_uk_category"
-- extra = ["all"]
-- default = "all"
-- [parameters.flagged]
-- type = "boolean"
-- default = false
SELECT 1 AS one""",
)

DOMAIN = frozenset({"burglary", "drugs", "robbery"})


def context(areas: tuple[str, ...] = ("E06000002",)) -> BindingContext:
    return BindingContext(
        today=date(2026, 11, 22),
        areas=areas,
        domain=lambda name: DOMAIN if name == "offence_type.police_uk_category" else frozenset(),
        area_codes=lambda: {"E01000001": "E06000002"},
        data_month=lambda: date(2026, 11, 1),
    )


def test_each_parameter_gets_the_input_its_declaration_asks_for() -> None:
    fields = {f.name: f for f in form_fields(TEMPLATE, context())}
    assert {n: f.input for n, f in fields.items()} == {
        "area": "select",
        "place": "text",
        "start_month": "month",
        "since": "date",
        "top": "number",
        "share": "number",
        "cell": "select",
        "category": "select",
        "flagged": "select",
    }
    assert fields["area"].label == "Local authority"
    assert fields["start_month"].label == "start month"  # no description: the name in words


def test_choices_come_from_the_declaration_the_domain_and_the_callers_areas() -> None:
    fields = {f.name: f for f in form_fields(TEMPLATE, context(("E06000001", "E06000002")))}
    assert fields["cell"].choices == ("100", "250")
    assert fields["category"].choices == ("all", "burglary", "drugs", "robbery")
    assert fields["area"].choices == ("E06000001", "E06000002")
    assert fields["flagged"].choices == ("yes", "no")
    assert fields["place"].choices == ()


def test_defaults_are_resolved_and_bounds_kept() -> None:
    fields = {f.name: f for f in form_fields(TEMPLATE, context())}
    assert fields["area"].value == "E06000002"
    assert fields["start_month"].value == "2025-11"
    assert fields["since"].value == "2026-11-22"
    assert (fields["top"].value, fields["top"].minimum, fields["top"].maximum) == ("20", 1, 500)
    assert (fields["top"].step, fields["share"].step) == ("1", "any")
    assert (fields["cell"].value, fields["category"].value, fields["flagged"].value) == (
        "250",
        "all",
        "no",
    )
    assert fields["place"].required
    assert not fields["share"].required
    assert not fields["top"].required  # it has a default


def test_a_person_with_several_areas_chooses_one() -> None:
    fields = {f.name: f for f in form_fields(TEMPLATE, context(("E06000001", "E06000002")))}
    assert fields["area"].value == ""


def test_submitted_values_are_shown_over_the_defaults() -> None:
    fields = {f.name: f for f in form_fields(TEMPLATE, context(), {"top": "7", "cell": "100"})}
    assert (fields["top"].value, fields["cell"].value) == ("7", "100")


def test_the_defaults_shown_bind_to_what_the_api_binds_without_them() -> None:
    ctx = context()
    shown = {f.name: f.value for f in form_fields(TEMPLATE, ctx) if f.value}
    shown["place"] = "E01000001"
    assert bind_parameters(TEMPLATE, shown, ctx) == bind_parameters(
        TEMPLATE, {"place": "E01000001"}, ctx
    )
