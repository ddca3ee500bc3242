"""Disclosure control asked of any aggregate query: the request, the roles of a query's columns
(read from its SQL) and the spec inferred from them."""

from __future__ import annotations

import pytest

from gateway.analysis.classify import output_roles
from gateway.disclosure import DisclosureRequest, infer_spec, parse_disclosure_request
from gateway.errors import NotProtectable, ParameterError
from gateway.policy.disclosure import PUBLICATION_RULES, DisclosureRules

RULES = DisclosureRules(min_count=10, label="general")


def roles(sql: str) -> list[tuple[str | None, str]]:
    return [(c.name, c.role) for c in output_roles(sql)]


def test_requests_are_a_mode_or_an_object() -> None:
    assert parse_disclosure_request(None) is None
    assert parse_disclosure_request("publication") == DisclosureRequest(mode="publication")
    request = parse_disclosure_request(
        {"mode": "policy", "counts": ["n"], "dimensions": ["a"], "totals": {"a": "all"}}
    )
    assert request is not None
    assert (request.counts, request.dimensions, request.strata) == (("n",), ("a",), None)
    assert request.to_dict() == {
        "mode": "policy",
        "counts": ["n"],
        "dimensions": ["a"],
        "totals": {"a": "all"},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("none", r"disclosure\.mode: 'none' is not a mode"),
        ({"mode": "strict"}, "policy or publication"),
        ({"mode": "policy", "cells": 3}, r"disclosure\.cells: unknown key"),
        ({"counts": "n"}, r"disclosure\.counts: must be a list"),
        ({"dimensions": ["a", "b", "c"]}, "at most two"),
        ({"totals": {"a": 1}}, r"disclosure\.totals"),
        (7, "give a mode"),
    ],
)
def test_bad_requests_are_refused_by_name(raw: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_disclosure_request(raw)  # type: ignore[arg-type]


def test_roles_come_from_the_select_list() -> None:
    sql = (
        "SELECT ward_code, date_trunc('month', recorded_at) AS month, count(*) AS crimes, "
        "count(DISTINCT person_id) FILTER (WHERE role = 'victim') AS victims, "
        "count(*)::INTEGER AS again, sum(CASE WHEN hate_crime THEN 1 ELSE 0 END) AS hate, "
        "avg(value_gbp) AS mean_value FROM x GROUP BY ALL"
    )
    assert roles(sql) == [
        ("ward_code", "key"),
        ("month", "key"),
        ("crimes", "count"),
        ("victims", "count"),
        ("again", "count"),
        ("hate", "count"),  # a sum of an indicator is a count
        ("mean_value", "aggregate"),
    ]
    # An unnamed count is still a count (the engine names it).
    assert roles("SELECT ward_code, count(*) FROM x GROUP BY 1") == [
        ("ward_code", "key"),
        (None, "count"),
    ]


def test_roles_pass_through_wrappers_and_set_operations() -> None:
    inner = "SELECT ward_code, count(*) AS n FROM x GROUP BY 1"
    assert roles(f"SELECT * FROM ({inner}) AS t WHERE ward_code <> 'x'") == [
        ("ward_code", "key"),
        ("n", "count"),
    ]
    with pytest.raises(NotProtectable, match="filters rows by their exact counts"):
        output_roles(f"SELECT * FROM ({inner}) AS t WHERE n > 3")
    assert roles(f"SELECT ward_code AS ward, n AS crimes FROM ({inner}) AS t") == [
        ("ward", "key"),
        ("crimes", "count"),
    ]
    union = f"{inner} UNION ALL SELECT 'all', count(*) FROM x"
    assert roles(union) == [("ward_code", "key"), ("n", "count")]
    with pytest.raises(ParameterError, match="grouping column in one branch"):
        output_roles(f"{inner} UNION ALL SELECT ward_code, 1 FROM x GROUP BY 1")
    with pytest.raises(NotProtectable, match="a count in one branch only"):
        output_roles(f"{inner} UNION ALL SELECT ward_code, sum(v) FROM x GROUP BY 1")


WEAPONS = "police_uk_category = 'possession-of-weapons'"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # finding 2: every count-like measure is a count, so it is protected
        (
            f"SELECT ward_code, count(*) AS n_all, count(*) FILTER (WHERE NOT {WEAPONS}) AS n_other "
            "FROM crime GROUP BY 1",
            [("ward_code", "key"), ("n_all", "count"), ("n_other", "count")],
        ),
        (
            f"SELECT ward_code, sum(CASE WHEN {WEAPONS} THEN 1 ELSE 0 END) AS w FROM crime GROUP BY 1",
            [("ward_code", "key"), ("w", "count")],
        ),
        (
            f"SELECT ward_code, sum(IF({WEAPONS}, 1, NULL)) AS w, sum(({WEAPONS})::INT) AS v, "
            f"count_if({WEAPONS}) AS c FROM crime GROUP BY 1",
            [("ward_code", "key"), ("w", "count"), ("v", "count"), ("c", "count")],
        ),
        # a sum of counts computed in a subquery or CTE is a count
        (
            "WITH t AS (SELECT ward_code, lsoa_code, count(*) AS n FROM crime GROUP BY 1, 2) "
            "SELECT ward_code, sum(n) AS crimes FROM t GROUP BY 1",
            [("ward_code", "key"), ("crimes", "count")],
        ),
        # an indicator computed in a subquery, summed outside
        (
            f"SELECT ward_code, sum(f) AS w FROM (SELECT ward_code, CASE WHEN {WEAPONS} THEN 1 "
            "ELSE 0 END AS f FROM crime) AS t GROUP BY 1",
            [("ward_code", "key"), ("w", "count")],
        ),
    ],
)
def test_every_count_like_column_is_a_count(sql: str, expected: list[tuple[str, str]]) -> None:
    assert roles(sql) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        # finding 1: counts surfaced as grouping keys
        (
            "SELECT x.lsoa_code, x.n, count(*) AS c FROM (SELECT lsoa_code, count(*) AS n FROM "
            f"crime WHERE {WEAPONS} GROUP BY 1) AS x GROUP BY ALL",
            "n is a grouping column computed from counts",
        ),
        (
            "WITH t AS (SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1) "
            "SELECT n + 0 AS k, count(*) AS c FROM t GROUP BY 1",
            "k is a grouping column computed from counts",
        ),
        (
            "SELECT n, count(*) AS c FROM (SELECT lsoa_code, count(*) OVER (PARTITION BY "
            "lsoa_code) AS n FROM crime) AS t GROUP BY 1",
            "n is a grouping column computed from counts",
        ),
        (
            "SELECT ward_code, count(*) AS c FROM (SELECT ward_code, lsoa_code, count(*) AS n "
            "FROM crime GROUP BY 1, 2) AS t WHERE n = 3 GROUP BY 1",
            "filters, joins or groups by counts",
        ),
        (
            "SELECT lsoa_code, count(*) AS c FROM crime WHERE lsoa_code IN (SELECT lsoa_code "
            "FROM crime GROUP BY 1 HAVING count(*) = 3) GROUP BY 1",
            "HAVING",
        ),
        ("SELECT lsoa_code, count(*) AS c FROM crime GROUP BY 1 HAVING count(*) > 2", "HAVING"),
        ("SELECT lsoa_code, count(*) AS c FROM crime GROUP BY 1 ORDER BY c LIMIT 5", "LIMIT"),
        # scaled, combined or averaged counts
        (
            f"SELECT ward_code, sum(CASE WHEN {WEAPONS} THEN 7 ELSE 0 END) AS w FROM crime "
            "GROUP BY 1",
            "w is computed from counts in a way that is not a count",
        ),
        (
            f"SELECT ward_code, avg(CASE WHEN {WEAPONS} THEN 1 ELSE 0 END) AS p FROM crime "
            "GROUP BY 1",
            "p is computed from counts",
        ),
        ("SELECT ward_code, count(*) * 3 AS t FROM crime GROUP BY 1", "t combines counts"),
        (
            f"SELECT ward_code, count(*) - count(*) FILTER (WHERE NOT {WEAPONS}) AS d FROM crime "
            "GROUP BY 1",
            "d combines counts",
        ),
        (
            "WITH t AS (SELECT ward_code, lsoa_code, count(*) AS n FROM crime GROUP BY 1, 2) "
            "SELECT ward_code, max(n) AS top FROM t GROUP BY 1",
            "top is computed from counts",
        ),
    ],
)
def test_counts_that_cannot_be_protected_are_refused(sql: str, message: str) -> None:
    with pytest.raises(NotProtectable, match=message):
        output_roles(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT ward_code, count(*) AS n, lag(count(*)) OVER (ORDER BY ward_code) AS p "
            "FROM x GROUP BY 1",
            "p uses a window function",
        ),
        (
            "SELECT ward_code, count(*) AS n, (SELECT count(*) FROM y) AS m FROM x GROUP BY 1",
            "m is a subquery",
        ),
    ],
)
def test_columns_that_could_carry_other_counts_are_refused(sql: str, message: str) -> None:
    with pytest.raises(NotProtectable, match=message):
        output_roles(sql)


def test_spec_counts_every_count_and_infers_dimensions_and_strata() -> None:
    request = DisclosureRequest()
    spec = infer_spec(
        request,
        ["year", "ward", "month", "crimes", "victims", "mean_value"],
        ["key", "key", "key", "count", "count", "aggregate"],
        RULES,
    )
    assert spec.counts == ("crimes", "victims")
    assert (spec.strata, spec.dimensions) == (("year",), ("ward", "month"))
    (measure,) = spec.derived
    assert (measure.name, measure.kind, measure.sources) == ("mean_value", "measure", ("crimes",))
    # Named: a sum of flags is a count too; the dimensions and strata as asked.
    named = DisclosureRequest(counts=("hate",), dimensions=("ward",), strata=("year", "month"))
    spec = infer_spec(
        named, ["year", "ward", "month", "hate", "n"], ["key", "key", "key", "aggregate", "count"],
        RULES,
    )  # fmt: skip
    assert (spec.counts, spec.dimensions, spec.strata) == (
        ("hate", "n"),
        ("ward",),
        ("year", "month"),
    )


@pytest.mark.parametrize(
    ("request_", "columns", "column_roles", "rules", "message"),
    [
        (DisclosureRequest(), ["a", "m"], ["key", "aggregate"], RULES, "no count column"),
        (
            DisclosureRequest(counts=("a",)),
            ["a", "n"],
            ["key", "count"],
            RULES,
            "'a' is a grouping column, not a count",
        ),
        (
            DisclosureRequest(counts=("nope",)),
            ["a", "n"],
            ["key", "count"],
            RULES,
            "no column 'nope'",
        ),
        (
            DisclosureRequest(dimensions=("n",)),
            ["a", "n"],
            ["key", "count"],
            RULES,
            "'n' is an aggregate, not a grouping column",
        ),
        (
            DisclosureRequest(dimensions=("a",), strata=()),
            ["a", "b", "n"],
            ["key", "key", "count"],
            RULES,
            "'b' must be one of the dimensions or strata",
        ),
        (
            DisclosureRequest(mode="publication"),
            ["a", "n", "rate"],
            ["key", "count", "aggregate"],
            PUBLICATION_RULES,
            "'rate' is computed from the exact counts",
        ),
        (
            DisclosureRequest(totals={"n": "all"}),
            ["a", "n"],
            ["key", "count"],
            RULES,
            r"totals\.n: not one of the dimensions",
        ),
    ],
)
def test_requests_that_do_not_fit_the_result_are_refused(
    request_: DisclosureRequest,
    columns: list[str],
    column_roles: list[str],
    rules: DisclosureRules,
    message: str,
) -> None:
    with pytest.raises(ParameterError, match=message):
        infer_spec(request_, columns, column_roles, rules)  # type: ignore[arg-type]
