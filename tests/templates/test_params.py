"""Parameter validation: clear errors naming the template and the parameter, defaults resolved,
values typed for binding."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gateway.errors import ParameterError
from gateway.templates import (
    BindingContext,
    TemplateLibrary,
    bind_parameters,
    parse_assignments,
    parse_template,
)

TEMPLATE = parse_template(
    "sample",
    """-- title = "Sample"
-- [parameters.area]
-- type = "area_code"
-- default = "@my_area"
-- [parameters.place]
-- type = "area_code"
-- scope = "any"
-- required = false
-- [parameters.year]
-- type = "integer"
-- default = "@year-1"
-- min = 2000
-- max = 2100
-- [parameters.share]
-- type = "number"
-- default = 0.5
-- [parameters.since]
-- type = "date"
-- default = "@today"
-- [parameters.month]
-- type = "month"
-- default = "@month-1"
-- [parameters.category]
-- type = "category"
-- domain = "offence_type.police_uk_category"
-- extra = ["all"]
-- default = "all"
-- [parameters.size]
-- type = "integer"
-- allowed = [100, 250]
-- default = 250
-- [parameters.flag]
-- type = "boolean"
-- default = false
-- [parameters.note]
-- type = "text"
-- default = "x"
SELECT 1""",
)

CATEGORIES = frozenset({"burglary", "robbery"})
AREAS = {"E01000001": "E06000002", "E05000001": "E06000001", "E06000002": "E06000002"}
CONTEXT = BindingContext(
    today=date(2026, 11, 22),
    areas=("E06000002",),
    domain=lambda name: CATEGORIES,
    area_codes=lambda: AREAS,
)


def bind(**given: Any) -> dict[str, Any]:
    return bind_parameters(TEMPLATE, given, CONTEXT)


def test_defaults_resolve_relative_to_the_service_date_and_the_caller() -> None:
    assert bind() == {
        "area": "E06000002",
        "year": 2025,
        "share": 0.5,
        "since": date(2026, 11, 22),
        "month": date(2026, 10, 1),
        "category": "all",
        "size": 250,
        "flag": False,
        "note": "x",
    }


def test_text_values_from_a_command_line_are_typed() -> None:
    bound = bind(
        area="e06000002", place="E01000001", year="2024", share="0.25", since="2025-04-01",
        month="2025-04", category="burglary", size="100", flag="yes", note=" hello ",
    )  # fmt: skip
    assert bound == {
        "area": "E06000002", "place": "E01000001", "year": 2024, "share": 0.25,
        "since": date(2025, 4, 1), "month": date(2025, 4, 1), "category": "burglary",
        "size": 100, "flag": True, "note": "hello",
    }  # fmt: skip


def test_a_month_may_be_given_as_its_first_day() -> None:
    assert bind(month="2025-04-01")["month"] == date(2025, 4, 1)


def test_json_values_from_the_api_are_accepted() -> None:
    bound = bind(year=2024, share=1, since=date(2025, 1, 2), flag=True, size=100)
    assert (bound["year"], bound["share"], bound["flag"], bound["size"]) == (2024, 1.0, True, 100)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"colour": "red"}, "template sample: unknown parameter 'colour' (parameters: area, category"),
        ({"year": "twenty"}, "parameter 'year': expected a whole number, got 'twenty'"),
        ({"year": 2024.5}, "parameter 'year': expected a whole number"),
        ({"year": True}, "parameter 'year': expected a whole number"),
        ({"year": "1999"}, "parameter 'year': must be at least 2000, got 1999"),
        ({"year": 2101}, "parameter 'year': must be at most 2100"),
        ({"share": "lots"}, "parameter 'share': expected a number"),
        ({"share": "nan"}, "parameter 'share': expected a finite number"),
        ({"since": "01/04/2025"}, "parameter 'since': expected a date like 2025-04-01"),
        ({"month": "2025-13"}, "parameter 'month': expected a month like 2025-04"),
        ({"month": "April"}, "parameter 'month': expected a month like 2025-04"),
        ({"month": "2025-04-15"}, "parameter 'month': expected a month like 2025-04"),
        ({"category": "arson"}, "parameter 'category': 'arson' is not allowed; choose one of: all, burglary, robbery"),
        ({"size": 300}, "parameter 'size': 300 is not allowed; choose one of: 100, 250"),
        ({"flag": "maybe"}, "parameter 'flag': expected true or false"),
        ({"note": 5}, "parameter 'note': expected text"),
        ({"note": "x" * 201}, "parameter 'note': at most 200 characters"),
        ({"area": "E06000001"}, "parameter 'area': E06000001 is not one of your areas (E06000002)"),
        ({"area": "Middlesbrough!"}, "parameter 'area': expected an area code"),
        ({"place": "E05000001"}, "parameter 'place': E05000001 is outside your areas (E06000002)"),
        ({"place": "E01999999"}, "parameter 'place': E01999999 is not an LSOA, ward, neighbourhood or authority code"),
        ({"year": None}, "parameter 'year': a value is required"),
    ],
)  # fmt: skip
def test_errors_name_the_parameter_and_the_problem(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        bind(**given)
    assert message in str(caught.value)


def test_missing_required_parameter() -> None:
    template = parse_template(
        "req", '-- title = "R"\n-- [parameters.start]\n-- type = "date"\nSELECT $start'
    )
    with pytest.raises(ParameterError, match="template req: parameter 'start': required"):
        bind_parameters(template, {}, CONTEXT)


def test_my_area_needs_a_choice_when_the_caller_has_several() -> None:
    context = BindingContext(today=date(2026, 11, 22), areas=("E06000001", "E06000002"))
    with pytest.raises(ParameterError, match=r"you have several areas \(E06000001, E06000002\)"):
        bind_parameters(TEMPLATE, {}, context)


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParameterError, match="write it as name=value"):
        parse_assignments(["year"])
    with pytest.raises(ParameterError, match="given twice"):
        parse_assignments(["a=1", "a=2"])


def test_every_shipped_template_binds_its_defaults(library: TemplateLibrary) -> None:
    for template in library:
        given = {}
        if template.name == "before-after":
            given = {"intervention": "E01000001", "comparison": "E06000002", "start": "2026-04-01"}
        bound = bind_parameters(template, given, CONTEXT)
        assert set(bound) == {p.name for p in template.parameters}, template.name
