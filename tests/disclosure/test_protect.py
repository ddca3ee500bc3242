"""protect(): disclosure control over Arrow tables — suppression marked not dropped, rounding
applied consistently, derived columns recomputed or withheld, totals rows protected."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.disclosure import METADATA_KEY, parse_disclosure_spec, protect, round_count
from gateway.errors import InputError
from gateway.policy.disclosure import DisclosureRules
from tests.disclosure.solver import lp_range

RULES = DisclosureRules(min_count=10, label="test")
PUBLISH = DisclosureRules(min_count=10, round_to=5, label="publication")


def category_by_month() -> pa.Table:
    rows = [
        ("burglary", "2025-01", 3, 1000),
        ("burglary", "2025-02", 14, 1000),
        ("burglary", "2025-03", 22, 1000),
        ("robbery", "2025-01", 12, 1000),
        ("robbery", "2025-02", 2, 1000),
        ("robbery", "2025-03", 31, 1000),
        ("shoplifting", "2025-01", 40, 1000),
        ("shoplifting", "2025-02", 41, 1000),
        ("shoplifting", "2025-03", 43, 1000),
    ]
    return pa.table(
        {
            "category": [r[0] for r in rows],
            "month": [r[1] for r in rows],
            "crimes": pa.array([r[2] for r in rows], pa.int64()),
            "population": pa.array([r[3] for r in rows], pa.int32()),
            "rate": [round(r[2] / r[3] * 1000, 2) for r in rows],
        }
    )


SPEC = parse_disclosure_spec(
    {
        "dimensions": ["category", "month"],
        "counts": ["crimes"],
        "derived": {
            "rate": {"kind": "rate", "count": "crimes", "per": "population", "scale": 1000}
        },
    }
)


def test_suppressed_cells_are_marked_not_dropped() -> None:
    table = category_by_month()
    out = protect(table, SPEC, RULES).table
    assert out.num_rows == table.num_rows
    assert out.column_names == [
        "category",
        "month",
        "crimes",
        "crimes_suppressed",
        "population",
        "rate",
        "rate_suppressed",
    ]
    rows = out.to_pylist()
    for row, raw in zip(rows, table.to_pylist(), strict=True):
        assert (row["crimes"] is None) == row["crimes_suppressed"]
        assert (row["rate"] is None) == row["rate_suppressed"] == row["crimes_suppressed"]
        if not row["crimes_suppressed"]:
            assert row["crimes"] == raw["crimes"]
            assert row["rate"] == raw["rate"]
    hidden = {(r["category"], r["month"]) for r in rows if r["crimes_suppressed"]}
    assert {("burglary", "2025-01"), ("robbery", "2025-02")} <= hidden


def test_no_published_cell_below_threshold_and_none_recoverable() -> None:
    table = category_by_month()
    out = protect(table, SPEC, RULES).table.to_pylist()
    values = {(r["category"], r["month"]): r["crimes"] for r in table.to_pylist()}
    hidden = {(r["category"], r["month"]) for r in out if r["crimes_suppressed"]}
    assert all(v is None or v == 0 or v >= 10 for v in (r["crimes"] for r in out))
    for cell, (low, high) in lp_range(values, hidden).items():
        assert low < high, cell


def test_report_counts_and_metadata() -> None:
    result = protect(category_by_month(), SPEC, RULES)
    report = result.report
    assert report.cells == 9
    assert report.primary == 2
    assert report.secondary >= 2
    assert report.unprotected == 0
    assert report.withheld == report.primary + report.secondary  # one rate per hidden count
    stored = json.loads(result.table.schema.metadata[METADATA_KEY])
    assert stored["primary"] == 2
    assert stored["min_count"] == 10
    assert "suppressed" in report.summary()


def test_rounding_is_consistent_and_rates_follow_the_rounded_counts() -> None:
    table = category_by_month()
    out = protect(table, SPEC, PUBLISH).table.to_pylist()
    for row, raw in zip(out, table.to_pylist(), strict=True):
        if row["crimes"] is None:
            continue
        assert row["crimes"] % 5 == 0
        assert abs(row["crimes"] - raw["crimes"]) <= 2
        assert row["crimes"] == round_count(raw["crimes"], 5)
        assert row["rate"] == round(row["crimes"] / 1000 * 1000, 2)


def test_rules_that_do_nothing_leave_values_alone_but_keep_the_schema() -> None:
    table = category_by_month()
    out = protect(table, SPEC, DisclosureRules()).table
    assert out.column("crimes").to_pylist() == table.column("crimes").to_pylist()
    assert out.column("rate").to_pylist() == table.column("rate").to_pylist()
    assert not any(out.column("crimes_suppressed").to_pylist())


def test_totals_rows_are_protected_as_margins() -> None:
    table = pa.table(
        {
            "category": ["a", "b", "c", "all"],
            "crimes": pa.array([4, 30, 51, 85], pa.int64()),
        }
    )
    spec = parse_disclosure_spec(
        {"dimensions": ["category"], "counts": ["crimes"], "totals": {"category": "all"}}
    )
    out = protect(table, spec, RULES).table.to_pylist()
    assert [r["crimes"] for r in out] == [None, None, 51, 85]


def test_margins_of_a_two_way_table_are_protected_too() -> None:
    rows = [("a", "x", 20), ("a", "y", 30), ("b", "x", 25), ("b", "y", 35),
            ("a", "all", 50), ("b", "all", 60), ("all", "x", 45), ("all", "y", 65),
            ("all", "all", 110)]  # fmt: skip
    table = pa.table(
        {
            "k1": [r[0] for r in rows],
            "k2": [r[1] for r in rows],
            "n": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    spec = parse_disclosure_spec(
        {"dimensions": ["k1", "k2"], "counts": ["n"], "totals": {"k1": "all", "k2": "all"}}
    )
    assert not any(protect(table, spec, RULES).table.column("n_suppressed").to_pylist())
    small = table.set_column(
        2, "n", pa.array([r[2] if r[:2] != ("a", "all") else 5 for r in rows], pa.int64())
    )
    flags = protect(small, spec, RULES).table.column("n_suppressed").to_pylist()
    assert flags[4]
    assert flags[5]


def test_strata_are_separate_tables() -> None:
    table = pa.table(
        {
            "area": ["A", "A", "B", "B"],
            "kind": ["x", "y", "x", "y"],
            "n": pa.array([3, 50, 40, 50], pa.int64()),
        }
    )
    spec = parse_disclosure_spec({"strata": ["area"], "dimensions": ["kind"], "counts": ["n"]})
    out = protect(table, spec, RULES).table.column("n").to_pylist()
    assert out == [None, None, 40, 50]


def test_people_counts_and_ratio_and_change_and_measure() -> None:
    table = pa.table(
        {
            "group": ["a", "b", "c"],
            "crimes": pa.array([40, 60, 80], pa.int64()),
            "last_year": pa.array([30, 4, 70], pa.int64()),
            "victims": pa.array([12, 5, 33], pa.int64()),
            "charged": pa.array([10, 20, 30], pa.int64()),
            "charge_rate": [25.0, 33.3, 37.5],
            "change": [33.3, 1400.0, 14.3],
            "mean_age": [30.5, 41.0, 28.0],
        }
    )
    spec = parse_disclosure_spec(
        {
            "dimensions": ["group"],
            "counts": ["crimes", "last_year", "charged"],
            "people": ["victims"],
            "derived": {
                "charge_rate": {"kind": "ratio", "numerator": "charged", "denominator": "crimes"},
                "change": {"kind": "change", "current": "crimes", "previous": "last_year"},
                "mean_age": {"kind": "measure", "count": "victims"},
            },
        }
    )
    out = protect(table, spec, RULES).table.to_pylist()
    assert [r["victims"] for r in out] == [None, None, 33]
    assert [r["mean_age"] for r in out] == [None, None, 28.0]
    assert [r["change"] for r in out][1] is None  # last year's 4 is suppressed
    assert [r["charge_rate"] for r in out] == [25.0, 33.3, 37.5]  # unchanged counts, kept


def test_rolling_sums_withheld_over_suppressed_months() -> None:
    months = [f"2025-{m:02d}" for m in range(1, 7)]
    crimes = [20, 30, 4, 25, 30, 35]
    rolling = [sum(crimes[max(0, i - 2) : i + 1]) for i in range(6)]
    table = pa.table(
        {"month": months, "crimes": pa.array(crimes, pa.int64()), "rolling_3m": rolling}
    )
    spec = parse_disclosure_spec(
        {
            "dimensions": ["month"],
            "counts": ["crimes"],
            "derived": {
                "rolling_3m": {"kind": "rolling", "count": "crimes", "window": 3, "order": "month"}
            },
        }
    )
    out = protect(table, spec, RULES).table.to_pylist()
    hidden = [i for i, r in enumerate(out) if r["crimes_suppressed"]]
    for i, row in enumerate(out):
        touches = any(j in hidden for j in range(max(0, i - 2), i + 1))
        assert (row["rolling_3m"] is None) == touches
    rounded = protect(table, spec, PUBLISH).table.to_pylist()
    assert all(r["rolling_3m"] is None or r["rolling_3m"] % 5 == 0 for r in rounded)


def test_null_counts_stay_null_and_are_not_cells() -> None:
    table = pa.table({"k": ["a", "b", "c"], "n": pa.array([None, 40, 50], pa.int64())})
    spec = parse_disclosure_spec({"dimensions": ["k"], "counts": ["n"]})
    out = protect(table, spec, RULES)
    assert out.table.column("n").to_pylist() == [None, 40, 50]
    assert out.table.column("n_suppressed").to_pylist() == [False, False, False]
    assert out.report.cells == 2


@pytest.mark.parametrize(
    ("spec", "table", "message"),
    [
        (
            {"dimensions": ["k"], "counts": ["missing"]},
            {"k": ["a"], "n": [1]},
            "'missing' is not in",
        ),
        ({"dimensions": ["k"], "counts": ["n"]}, {"k": ["a"], "n": [1.5]}, "not whole-number"),
        ({"dimensions": ["k"], "counts": ["n"]}, {"k": ["a", "a"], "n": [1, 2]}, "same cell"),
        (
            {"dimensions": ["k"], "counts": ["n"]},
            {"k": ["a"], "n": [1], "n_suppressed": [True]},
            "already has",
        ),
    ],
)
def test_bad_specs_for_a_table_are_clear(spec: dict, table: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        protect(pa.table(table), parse_disclosure_spec(spec), RULES)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"counts": ["n"], "dimensions": ["a", "b", "c"]}, "at most two"),
        ({"counts": []}, "at least one"),
        ({"counts": ["n"], "colour": 1}, "unknown key"),
        (
            {"counts": ["n"], "dimensions": ["k"], "totals": {"x": "all"}},
            "not one of the dimensions",
        ),
        ({"counts": ["n"], "derived": {"r": {"kind": "rate", "count": "n"}}}, "needs per"),
        ({"counts": ["n"], "derived": {"r": {"kind": "magic"}}}, "kind"),
        (
            {"counts": ["n"], "derived": {"r": {"kind": "measure", "count": "m"}}},
            "not one of the counts",
        ),
        ({"counts": ["n"], "dimensions": ["n"]}, "both a key and a value"),
    ],
)
def test_spec_validation_names_the_problem(raw: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_disclosure_spec(raw)


# --- random long tables -------------------------------------------------------------------


@st.composite
def long_tables(draw: st.DrawFn) -> pa.Table:
    n_rows, n_cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    rows = []
    for i in range(n_rows):
        for j in range(n_cols):
            if draw(st.integers(0, 5)) == 0:
                continue  # absent cell
            rows.append(
                (f"r{i}", f"c{j}", draw(st.one_of(st.integers(0, 12), st.integers(0, 200))))
            )
    return pa.table(
        {
            "r": pa.array([x[0] for x in rows], pa.string()),
            "c": pa.array([x[1] for x in rows], pa.string()),
            "n": pa.array([x[2] for x in rows], pa.int64()),
        }
    )


TWO_WAY = parse_disclosure_spec({"dimensions": ["r", "c"], "counts": ["n"]})


@settings(max_examples=100, deadline=None)
@given(long_tables(), st.sampled_from([RULES, PUBLISH]))
def test_random_long_tables(table: pa.Table, rules: DisclosureRules) -> None:
    result = protect(table, TWO_WAY, rules)
    out = result.table.to_pylist()
    raw = table.to_pylist()
    values = {(r["r"], r["c"]): r["n"] for r in raw}
    hidden = set()
    for row, before in zip(out, raw, strict=True):
        if row["n_suppressed"]:
            assert row["n"] is None
            hidden.add((row["r"], row["c"]))
            continue
        assert before["n"] == 0 or before["n"] >= rules.min_count
        assert row["n"] == round_count(before["n"], rules.round_to)
    if result.report.unprotected:
        assert hidden == set(values)
        return
    for cell, (low, high) in lp_range(values, hidden).items():
        if values[cell] > 0:
            assert low < high, cell
