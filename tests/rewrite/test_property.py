"""Property: random queries over the catalog, run as a general analyst, never return a value
outside that analyst's policy view — they return exactly what the same query returns over the
independent, hand-written view (tests/rewrite/reference.py), and never the hidden marker."""

from __future__ import annotations

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.service import QueryService
from tests.rewrite import crafted
from tests.rewrite.conftest import ANALYST

TABLES = {
    "crime": [
        "crime_id",
        "crime_ref",
        "ho_offence_code",
        "local_authority_code",
        "lsoa_code",
        "domestic_abuse",
        "hate_crime",
        "modus_operandi",
        "outcome",
        "location_id",
    ],
    "crime_person": ["crime_id", "person_id", "role"],
    "person": [
        "person_id",
        "forename",
        "surname",
        "date_of_birth",
        "gender",
        "pnc_id",
        "home_location_id",
    ],
    "location": [
        "location_id",
        "location_type",
        "address",
        "postcode",
        "easting",
        "northing",
        "map_point_id",
    ],
    "custody": [
        "custody_id",
        "custody_ref",
        "person_id",
        "disposal",
        "local_authority_code",
        "crime_id",
    ],
    "incident": [
        "incident_id",
        "incident_ref",
        "grade",
        "asb_type",
        "narrative",
        "local_authority_code",
    ],
    "vehicle": ["vehicle_id", "vrm", "make"],
    "property": ["property_id", "crime_id", "description", "value_gbp"],
}
JOINS = [
    ("crime", "crime_person", "crime_id", "crime_id"),
    ("crime", "location", "location_id", "location_id"),
    ("crime", "property", "crime_id", "crime_id"),
    ("crime_person", "person", "person_id", "person_id"),
    ("custody", "person", "person_id", "person_id"),
]
LITERALS = st.sampled_from(
    [
        "1",
        "2",
        "0",
        "'E06000001'",
        "'E06000002'",
        "'victim'",
        f"'{crafted.SECRET}'",
        "'dwelling'",
        "NULL",
        "449002",
        "'8N'",
        "'19C'",
        "'male'",
    ]
)
OPERATORS = st.sampled_from(["=", "<>", "<", ">=", "LIKE", "IS NOT DISTINCT FROM"])


@st.composite
def queries(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        left, right, lkey, rkey = draw(st.sampled_from(JOINS))
        sources = f"{left} AS a JOIN {right} AS b ON a.{lkey} = b.{rkey}"
        columns = [f"a.{c}" for c in TABLES[left]] + [f"b.{c}" for c in TABLES[right]]
    else:
        table = draw(st.sampled_from(sorted(TABLES)))
        sources = f"{table} AS a"
        columns = [f"a.{c}" for c in TABLES[table]]
    picked = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=3, unique=True))
    where = ""
    if draw(st.booleans()):
        column = draw(st.sampled_from(columns))
        operator = draw(OPERATORS)
        literal = draw(LITERALS)
        where = f" WHERE CAST({column} AS VARCHAR) {operator} CAST({literal} AS VARCHAR)"
    if draw(st.booleans()):
        aggregate = draw(
            st.sampled_from(
                [
                    "count(*)",
                    "min({c})",
                    "max({c})",
                    "count(DISTINCT {c})",
                    "string_agg(CAST({c} AS VARCHAR), ',' ORDER BY {c})",
                ]
            )
        )
        target = draw(st.sampled_from(columns))
        agg = aggregate.format(c=target)
        return f"SELECT {picked[0]}, {agg} FROM {sources}{where} GROUP BY {picked[0]}"
    return f"SELECT {', '.join(picked)} FROM {sources}{where}"


def _rows(table: object) -> list[tuple[object, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)  # type: ignore[attr-defined]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sql=queries())
def test_random_queries_return_only_the_policy_view(
    sql: str, crafted_service: QueryService, reference: duckdb.DuckDBPyConnection
) -> None:
    try:
        outcome = crafted_service.run_query(ANALYST, sql, "SA")
    except GatewayError as exc:  # refused or failed: must fail the same way on the reference
        message = str(exc)
        try:
            reference.sql(sql).fetchall()
        except duckdb.Error:
            assert crafted.SECRET not in message
            return
        raise AssertionError(
            f"gateway refused a query the policy view answers: {exc.code}: {exc}"
        ) from exc
    try:
        got = _rows(outcome.result.to_table())
    finally:
        outcome.result.discard()
    assert got == _rows(reference.sql(sql).to_arrow_table())
