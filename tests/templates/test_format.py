"""The template file format and the library loader: precise errors for malformed templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, NotFound
from gateway.templates import TemplateLibrary, load_library, parse_template
from gateway.templates.format import split_header

GOOD = """-- title = "Counts"
-- description = \"\"\"
-- Two lines of
-- description.
-- \"\"\"
-- output = "chart"
--
-- [parameters.year]
-- type = "integer"
-- default = 2025
--
-- [chart]
-- kind = "bar"
-- x = "category"
-- y = "n"
--
-- [disclosure]
-- dimensions = ["category"]
-- counts = ["n"]
SELECT police_uk_category AS category, count(*) AS n
FROM crime WHERE year(recorded_at) = $year GROUP BY 1;
"""


def test_parse_a_good_template() -> None:
    template = parse_template("counts", GOOD)
    assert template.title == "Counts"
    assert template.description == "Two lines of description."
    assert template.output == "chart"
    assert template.level == "general"
    assert [p.name for p in template.parameters] == ["year"]
    assert template.parameters[0].default == 2025
    assert template.parameters[0].required is False  # it has a default
    assert template.chart.kind == "bar"
    assert template.disclosure is not None
    assert template.disclosure.counts == ("n",)
    assert template.sql.startswith("SELECT")
    assert not template.sql.endswith(";")
    assert template.to_dict()["parameters"][0] == {
        "name": "year", "type": "integer", "required": False, "default": 2025,
    }  # fmt: skip


def test_split_header_stops_at_the_first_sql_line() -> None:
    header, sql = split_header("-- a = 1\n\n--b = 2\nSELECT 1 -- not header\n-- c = 3\n")
    assert header == "a = 1\n\nb = 2"
    assert sql == "SELECT 1 -- not header\n-- c = 3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "title: required"),
        ('-- title = "x"\n', "no SQL"),
        ('-- title = "x"\n-- title = "y"\nSELECT 1', "not valid TOML"),
        ('-- title = "x"\n-- colour = 1\nSELECT 1', "colour: unknown key"),
        ('-- title = "x"\n-- level = "root"\nSELECT 1', "level: must be one of"),
        ('-- title = "x"\n-- output = "pdf"\nSELECT 1', "output: must be one of"),
        ('-- title = "x"\n-- [parameters.y]\n-- type = "float"\nSELECT $y', "parameters.y.type"),
        ('-- title = "x"\n-- [parameters.Y]\n-- type = "text"\nSELECT $y', "parameters.Y: names"),
        (
            '-- title = "x"\n-- [parameters.y]\n-- type = "category"\nSELECT $y',
            "needs allowed values or a domain",
        ),
        (
            '-- title = "x"\n-- [parameters.y]\n-- type = "text"\n-- colour = 1\nSELECT $y',
            "parameters.y.colour",
        ),
        ('-- title = "x"\n-- [chart]\n-- kind = "pie"\nSELECT 1', "chart.kind"),
        ('-- title = "x"\n-- [chart]\n-- kind = "bar"\nSELECT 1', "needs x and y"),
        (
            '-- title = "x"\n-- [map]\n-- easting = "e"\nSELECT 1',
            "give easting and northing, or area",
        ),
        ('-- title = "x"\n-- [disclosure]\n-- counts = []\nSELECT 1', "at least one column"),
        (
            '-- title = "x"\n-- individuals = true\n-- [disclosure]\n-- counts = ["n"]\nSELECT 1',
            "lists individuals",
        ),
    ],
)
def test_malformed_templates_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_template("bad", text)


def test_names_must_be_plain_words() -> None:
    with pytest.raises(ConfigurationError, match="lower-case words"):
        parse_template("Bad_Name", GOOD)


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / f"{name}.sql").write_text(text, "utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("$year", "$yaer"), r"undeclared parameter\(s\) \$yaer"),
        (GOOD.replace("= $year", "= 2025"), r"not used by the SQL: year"),
        (GOOD.replace("FROM crime", "FROM crime WHERE ((("), "does not parse"),
        (GOOD.replace('default = 2025', 'default = 2025\n-- [parameters.c]\n-- type = "category"\n-- domain = "crime.police_uk_category"')
         .replace("GROUP BY 1", "AND police_uk_category = $c GROUP BY 1"), "not a reference table"),
        (GOOD.replace('default = 2025', 'default = 2025\n-- [parameters.c]\n-- type = "category"\n-- domain = "offence_type.colour"')
         .replace("GROUP BY 1", "AND police_uk_category = $c GROUP BY 1"), "no column offence_type.colour"),
    ],
)  # fmt: skip
def test_library_checks_templates_against_sql_and_catalog(
    tmp_path: Path, catalog: Catalog, text: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_library(write(tmp_path, "counts", text), catalog)


def test_library_lookup(tmp_path: Path, catalog: Catalog) -> None:
    library = load_library(write(tmp_path, "counts", GOOD), catalog)
    assert library.names() == ["counts"]
    assert len(library) == 1
    with pytest.raises(NotFound, match="no template called 'count'"):
        library.get("count")
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_library(tmp_path / "missing", catalog)


def test_the_shipped_library(library: TemplateLibrary) -> None:
    """Every analysis DOMAIN.md lists has a template, and the library is well formed."""
    expected = {
        "crime-rates", "crime-by-month", "crime-by-area", "seasonality", "hour-weekday",
        "hotspot-lsoas", "hotspot-grid", "hotspot-map-points", "repeat-locations",
        "repeat-victims", "repeat-victimisation", "repeat-offenders", "repeat-offending",
        "asb-by-type", "outcome-rates", "flagged-crime-trends", "nte-violence",
        "custody-throughput", "incident-response", "before-after", "intelligence-by-month",
    }  # fmt: skip
    assert expected <= set(library.names())
    for template in library:
        assert template.title
        assert template.description
        assert template.individuals == (template.disclosure is None), template.name
        if template.output == "map_layer":
            assert template.map is not None, template.name
        if template.chart.kind != "none":
            assert template.chart.x
            assert template.chart.y
    assert library.get("repeat-victims").individuals
    assert library.get("intelligence-by-month").level == "enhanced"
