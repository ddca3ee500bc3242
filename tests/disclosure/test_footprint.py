"""The footprint of a release (gateway.disclosure.footprint): which constants its cells are
selected by, custom or standard, and when two selections overlap."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.disclosure.footprint import Selection, statement_footprint, template_footprint

AREAS = frozenset({"lsoa_code", "ward_code", "neighbourhood_code", "local_authority_code"})


def _read(sql: str, **params: object) -> list[str]:
    return [s.describe() for s in sorted(statement_footprint(sql, params, AREAS))]


STANDARD = {
    "one area": "SELECT count(*) AS n FROM crime WHERE lsoa_code = 'E01'",
    "grouped by area": "SELECT ward_code, count(*) AS n FROM crime GROUP BY 1",
    "one calendar month": (
        "SELECT count(*) AS n FROM crime WHERE recorded_at >= DATE '2025-03-01' "
        "AND recorded_at < DATE '2025-04-01'"
    ),
    "one quarter, bounds either way round": (
        "SELECT count(*) AS n FROM crime WHERE DATE '2025-07-01' > recorded_at "
        "AND recorded_at >= DATE '2025-04-01'"
    ),
    "one calendar year by parameters": (
        "SELECT count(*) AS n FROM crime WHERE recorded_at >= $y "
        "AND recorded_at < $y + INTERVAL 12 MONTH"
    ),
    "one year by function": "SELECT count(*) AS n FROM crime WHERE year(recorded_at) = 2025",
    "a flag and a category": (
        "SELECT count(*) FILTER (WHERE domestic_abuse) AS n FROM crime "
        "WHERE police_uk_category = 'drugs'"
    ),
    "a template-style category choice": (
        "SELECT count(*) AS n FROM crime WHERE ('all' = 'all' OR police_uk_category = 'drugs')"
    ),
    "a join on keys": (
        "SELECT count(*) AS n FROM crime c JOIN lsoa l ON l.lsoa_code = c.lsoa_code "
        "WHERE l.ward_code = 'W1'"
    ),
}


@pytest.mark.parametrize("name", sorted(STANDARD))
def test_published_cells_have_no_custom_selection(name: str) -> None:
    assert _read(STANDARD[name], y=date(2025, 1, 1)) == [], name


def test_custom_selections_are_read_wherever_they_define_cells() -> None:
    sql = (
        "SELECT sum(CASE WHEN ward_code IN ('W1', 'W2') THEN 1 ELSE 0 END) AS a, "
        "count(*) FILTER (WHERE police_uk_category <> 'drugs') AS b FROM crime c "
        "JOIN lsoa l ON l.lsoa_code = c.lsoa_code AND l.neighbourhood_code IN ($hoods) "
        "WHERE (c.lsoa_code = 'T' OR c.lsoa_code = 'A') AND year(recorded_at) IN (2024, 2025) "
        "AND recorded_at BETWEEN DATE '2024-02-01' AND DATE '2025-02-01'"
    )
    assert _read(sql, hoods=["N1", "N2"]) == [
        "area in {lsoa_code=A, lsoa_code=T}",
        "area in {neighbourhood_code=N1, neighbourhood_code=N2}",
        "area in {ward_code=W1, ward_code=W2}",
        "police_uk_category not in {drugs}",
        "recorded_at from 2024-02-01 to 2025-02-01",
        "year(recorded_at) in {2024, 2025}",
    ]


def test_half_open_and_numeric_ranges_are_custom() -> None:
    sql = (
        "SELECT count(*) FILTER (WHERE recorded_at >= DATE '2025-01-01') AS since, "
        "count(*) FILTER (WHERE hour(committed_from) >= 20) AS late FROM crime"
    )
    assert _read(sql) == ["hour(committed_from) from 20 to …", "recorded_at from 2025-01-01 to …"]


def test_selections_overlap_when_a_record_could_be_in_both() -> None:
    def area(*codes: str) -> Selection:
        return Selection("area", "values", tuple(sorted(f"lsoa_code={c}" for c in codes)))

    assert area("T", "A").overlaps(area("T", "B"))
    assert not area("T", "A").overlaps(area("B", "C"))
    ward = Selection("area", "values", ("ward_code=W1", "ward_code=W2"))
    assert area("B", "C").overlaps(ward)  # nesting not worked out: taken to overlap
    assert Selection("area", "except", ("lsoa_code=A",)).overlaps(area("T", "A"))
    assert not Selection("area", "except", ("lsoa_code=A", "lsoa_code=T")).overlaps(area("T"))
    first = Selection("m", "range", ("2025-01-01", "2025-04-01"))
    assert first.overlaps(Selection("m", "range", ("2025-03-01", "")))
    assert not first.overlaps(Selection("m", "range", ("2025-05-01", "2025-07-01")))
    assert not first.overlaps(Selection("other", "range", ("2025-03-01", "")))
    assert Selection("$size", "any", ("250",)).overlaps(Selection("$size", "any", ("300",)))
    assert Selection.from_json(first.to_json()) == first


def test_a_template_run_is_read_from_its_typed_parameters() -> None:
    types = {
        "area": "area_code",
        "start_month": "month",
        "end_month": "month",
        "category": "category",
        "cell_size": "integer",
        "geography": "text",
    }
    run = {
        "area": "E06000001",
        "start_month": date(2025, 2, 1),
        "end_month": date(2026, 1, 1),
        "category": "drugs",
        "cell_size": 250,
        "geography": "lsoa",
    }
    assert [s.describe() for s in sorted(template_footprint("grid", types, run))] == [
        "grid.$cell_size = 250",
        "period from 2025-02-01 to 2026-02-01",
    ]
    month = {**run, "start_month": date(2025, 5, 1), "end_month": date(2025, 5, 1)}
    assert [s.describe() for s in template_footprint("grid", types, month)] == [
        "grid.$cell_size = 250"
    ]


def test_an_or_of_two_granularities_of_one_column_is_custom() -> None:
    """``month = M OR day = d`` is a different record set around month M for every day d
    outside it: each is a custom selection on the column, overlapping every other."""
    sqls = [
        "SELECT count(*) AS n FROM crime WHERE lsoa_code = 'E01' AND "
        f"(date_trunc('month', recorded_at) = DATE '2025-03-01' "
        f"OR CAST(recorded_at AS DATE) = DATE '2025-05-{d:02d}')"
        for d in (1, 2)
    ]
    first, second = (statement_footprint(s, {}, AREAS) for s in sqls)
    assert [s.attribute for s in first] == ["recorded_at"]
    assert first != second
    assert next(iter(first)).overlaps(next(iter(second)))


def test_one_column_read_at_two_granularities_overlaps() -> None:
    days = Selection("CAST(recorded_at AS DATE)", "values", ("2025-03-04", "2025-03-05"))
    months = Selection("recorded_at", "range", ("2025-03-01", "2025-05-01"))
    hours = Selection("hour(recorded_at)", "values", ("1", "2"))
    assert days.overlaps(months)
    assert months.overlaps(days)
    assert hours.overlaps(days)
    assert not days.overlaps(Selection("police_uk_category", "values", ("a", "b")))
