"""Look-up analysis beyond its fixture file (``fixtures/lookups.sql``): hostile SQL is bounded
and never raises, wherever the analysis runs; what a record keeps is capped."""

from __future__ import annotations

import sys
import threading

import pytest
import sqlglot

from gateway.analysis.lookups import (
    MAX_ANALYSED_CHARS,
    MAX_PREDICATE_CHARS,
    MAX_PREDICATES,
    analyse_lookups,
    pinned_predicates,
)
from gateway.analysis.results import LookupAnalysis
from gateway.catalog import Catalog
from gateway.errors import SqlParseError

# --- hostile SQL: analysis is bounded and never raises --------------------------------------

DEEP = 3000
HOSTILE = [
    # (title, sql, the status the analysis ends with)
    ("3,000 nested brackets", "SELECT " + "(" * DEEP + "1" + ")" * DEEP, "too_deep"),
    (
        "3,000 nested subqueries around a look-up",
        "SELECT * FROM " + "(SELECT * FROM " * DEEP + "person WHERE surname = 'X'" + ") t" * DEEP,
        "too_deep",
    ),
    ("3,000 nested array brackets", "SELECT " + "[" * DEEP + "1" + "]" * DEEP, "too_deep"),
    ("NOT 3,000 times (no brackets at all)", "SELECT " + "NOT " * DEEP + "1", "too_deep"),
    (
        "a look-up compared with a 20,000-term sum (a tree 20,000 deep)",
        "SELECT * FROM person WHERE surname = " + "+".join(["1"] * 20_000),
        "too_deep",
    ),
    (
        "longer than the gateway would ever parse",
        "SELECT * FROM person WHERE surname = '" + "x" * MAX_ANALYSED_CHARS + "'",
        "too_large",
    ),
    ("not SQL at all", "please show me everything about Mr Hartley", "unparseable"),
    ("an unterminated string", "SELECT * FROM person WHERE surname = 'Hart", "unparseable"),
]


@pytest.mark.parametrize(("title", "sql", "status"), HOSTILE, ids=[t for t, _, _ in HOSTILE])
def test_sql_that_cannot_be_analysed_says_why_and_never_raises(
    catalog: Catalog, title: str, sql: str, status: str
) -> None:
    analysis = analyse_lookups(sql, catalog)
    assert (analysis.status, analysis.pinned, analysis.predicates) == (status, (), ()), title
    assert analysis.detail
    assert not analysis.complete
    with pytest.raises(SqlParseError, match="cannot analyse"):
        pinned_predicates(sql, catalog)


def _stack_depth() -> int:
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_analysis_deep_in_the_call_stack_still_never_raises(catalog: Catalog) -> None:
    """Reports run under a web framework's frames: whatever stack is left, the answer is an
    analysis (found, or too deep), never an exception."""
    sql = "SELECT * FROM person WHERE surname = " + "(" * 10 + "'X'" + ")" * 10
    results: list[LookupAnalysis] = []

    def descend(frames: int) -> None:
        if frames:
            descend(frames - 1)
        else:
            results.append(analyse_lookups(sql, catalog))

    for headroom in (800, 400, 200, 100, 50, 20):
        descend(sys.getrecursionlimit() - _stack_depth() - headroom)
    assert {r.status for r in results} <= {"ok", "too_deep"}
    assert results[0].pinned == ("person.surname",)  # with room to spare it is analysed
    assert results[-1].status == "too_deep"


def test_analysis_in_another_thread(catalog: Catalog) -> None:
    results: list[LookupAnalysis] = []
    sql = "SELECT " + "(" * DEEP + "1" + ")" * DEEP
    worker = threading.Thread(target=lambda: results.append(analyse_lookups(sql, catalog)))
    worker.start()
    worker.join()
    assert [r.status for r in results] == ["too_deep"]


def test_analysis_of_a_look_up(catalog: Catalog) -> None:
    analysis = analyse_lookups(
        "SELECT * FROM person p WHERE p.surname = 'Reed' AND p.pnc_id IN ($a, $b)", catalog
    )
    assert analysis == LookupAnalysis(
        "ok",
        pinned=("person.surname", "person.pnc_id"),
        predicates=("p.surname = 'Reed'", "p.pnc_id IN ($a, $b)"),
    )
    assert analyse_lookups("SELECT count(*) FROM crime", catalog) == LookupAnalysis("ok")
    assert analyse_lookups("", catalog) == LookupAnalysis("ok")


def test_a_parsed_statement_is_analysed_like_its_text(catalog: Catalog) -> None:
    sql = "SELECT * FROM location l WHERE l.postcode = 'TS1 3BA'"
    tree = sqlglot.parse_one(sql, read="duckdb")
    before = tree.sql()
    assert analyse_lookups(tree, catalog) == analyse_lookups(sql, catalog)
    assert tree.sql() == before  # not modified


def test_kept_predicates_are_capped_in_number_and_length(catalog: Catalog) -> None:
    many = " OR ".join(f"surname = 'name{i}'" for i in range(MAX_PREDICATES * 3))
    analysis = analyse_lookups(f"SELECT * FROM person WHERE {many}", catalog)
    assert analysis.pinned == ("person.surname",)
    assert len(analysis.predicates) == MAX_PREDICATES
    long_name = "x" * (MAX_PREDICATE_CHARS * 4)
    [cut] = analyse_lookups(
        f"SELECT * FROM person WHERE surname = '{long_name}'", catalog
    ).predicates
    assert len(cut) == MAX_PREDICATE_CHARS
    assert cut.startswith("surname = 'xxx")
    assert cut.endswith("…")
