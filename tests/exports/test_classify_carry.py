"""Exports classified by what they carry (issue 12, item 3).

A record-level export waits for a senior analyst; the same records packed into one cell per
group (``string_agg``, ``list``, a struct, ``histogram``, ``first(crime_id)`` …) must wait too.
The rule: every output column is a grouping key or a statistic from an allow-list
(:mod:`gateway.analysis.classify`, rule 5). Unit tests classify the SQL the rewrite produces for
a general analyst; the HTTP tests export through a real ``gateway serve`` with approval on.
"""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from gateway.analysis.classify import (
    AGGREGATE_NAMES,
    SCALAR_NAMES,
    aggregate_kind,
    classify_rewrite,
    classify_sql,
    output_roles,
)
from gateway.catalog import Catalog
from tests.exports.helpers import REWRITE_MODES, rewritten
from tests.gateway_server import LiveGateway

#: The same crimes, packed per LSOA: each must be held like the record-level export it is.
#: (id, SQL, a word the reason must contain)
PACKED = [
    (
        "string_agg",
        "SELECT lsoa_code, string_agg(crime_id || '|' || recorded_at || '|' || "
        "offence_description, ';') AS records FROM crime GROUP BY lsoa_code",
        "group_concat",
    ),
    ("list", "SELECT lsoa_code, list(crime_id) AS ids FROM crime GROUP BY lsoa_code", "array_agg"),
    (
        "array_agg",
        "SELECT lsoa_code, array_agg(crime_ref) AS refs FROM crime GROUP BY lsoa_code",
        "array_agg",
    ),
    (
        "group_concat",
        "SELECT lsoa_code, group_concat(crime_ref, ',') AS refs FROM crime GROUP BY lsoa_code",
        "group_concat",
    ),
    (
        "listagg",
        "SELECT lsoa_code, listagg(crime_ref, ',') AS refs FROM crime GROUP BY lsoa_code",
        "group_concat",
    ),
    (
        "list_of_struct_literals",
        "SELECT lsoa_code, list({'id': crime_id, 'at': recorded_at}) AS recs FROM crime "
        "GROUP BY lsoa_code",
        "array_agg",
    ),
    (
        "struct_pack",
        "SELECT lsoa_code, struct_pack(id := first(crime_id), at := first(recorded_at)) AS rec "
        "FROM crime GROUP BY lsoa_code",
        "struct",
    ),
    (
        "struct_literal",
        "SELECT lsoa_code, {'id': max(crime_id)} AS rec FROM crime GROUP BY lsoa_code",
        "struct",
    ),
    (
        "histogram",
        "SELECT lsoa_code, histogram(crime_id) AS h FROM crime GROUP BY lsoa_code",
        "histogram",
    ),
    (
        "arg_max_person",
        "SELECT c.lsoa_code, arg_max(cp.person_id, c.recorded_at) AS latest "
        "FROM crime AS c JOIN crime_person AS cp USING (crime_id) GROUP BY 1",
        "person_id",
    ),
    (
        "first_crime_id",
        "SELECT lsoa_code, first(crime_id) AS one FROM crime GROUP BY lsoa_code",
        "crime_id",
    ),
    (
        "max_crime_ref",
        "SELECT lsoa_code, max(crime_ref) AS ref FROM crime GROUP BY lsoa_code",
        "crime_ref",
    ),
    (
        "any_value_ref",
        "SELECT lsoa_code, any_value(crime_ref) AS ref FROM crime GROUP BY lsoa_code",
        "crime_ref",
    ),
    (
        "mode_crime_id",
        "SELECT lsoa_code, mode(crime_id) AS m FROM crime GROUP BY lsoa_code",
        "crime_id",
    ),
    (
        "arg_min_text",
        "SELECT lsoa_code, arg_min(offence_description, recorded_at) AS d FROM crime "
        "GROUP BY lsoa_code",
        "not a number",
    ),
    (
        "max_text",
        "SELECT lsoa_code, max(offence_description) AS d FROM crime GROUP BY lsoa_code",
        "not a number",
    ),
    (
        "list_distinct",
        "SELECT lsoa_code, list_distinct(list(crime_id)) AS ids FROM crime GROUP BY lsoa_code",
        "array_distinct",
    ),
    (
        "list_element",
        "SELECT lsoa_code, list(crime_id)[1] AS id FROM crime GROUP BY lsoa_code",
        "bracket",
    ),
    (
        "json_cast",
        "SELECT lsoa_code, CAST(list(crime_id) AS JSON) AS ids FROM crime GROUP BY lsoa_code",
        "array_agg",
    ),
    (
        "group_by_all",
        "SELECT lsoa_code, histogram(offence_description) AS h FROM crime GROUP BY ALL",
        "histogram",
    ),
    (
        "key_from_packed_cte",
        "WITH p AS (SELECT lsoa_code, string_agg(offence_description, ',') AS s FROM crime "
        "GROUP BY 1) SELECT s, count(*) AS n FROM p GROUP BY 1",
        "packs",
    ),
    (
        "max_over_packed_subquery",
        "SELECT max(s) AS s FROM (SELECT string_agg(crime_ref, ',') AS s FROM crime)",
        "packs",
    ),
    (
        "window_over_packer",
        "SELECT lsoa_code, count(*) AS n, first_value(string_agg(offence_description, ',')) "
        "OVER (ORDER BY lsoa_code) AS s FROM crime GROUP BY 1",
        "group_concat",
    ),
    (
        "scalar_subquery",
        "SELECT lsoa_code, count(*) AS n, (SELECT max(crime_ref) FROM crime) AS r FROM crime "
        "GROUP BY 1",
        "subquery",
    ),
]
#: Packing the guard refuses today (map, flatten, to_json): classified from executed-style SQL,
#: and over HTTP refused or held — never released.
PACKED_RAW = [
    ("map", "SELECT lsoa_code, map(list(crime_id), list(recorded_at)) AS m FROM main.crime "
     "GROUP BY lsoa_code"),
    ("map_literal", "SELECT lsoa_code, MAP {'n': max(crime_id)} AS m FROM main.crime GROUP BY 1"),
    ("flatten", "SELECT lsoa_code, flatten(list([crime_id])) AS ids FROM main.crime GROUP BY 1"),
    ("to_json", "SELECT lsoa_code, to_json(list(crime_id)) AS ids FROM main.crime GROUP BY 1"),
    ("to_json_count", "SELECT lsoa_code, to_json(count(*)) AS n FROM main.crime GROUP BY 1"),
    ("list_concat", "SELECT lsoa_code, list_concat(list(crime_id), list(crime_ref)) AS ids "
     "FROM main.crime GROUP BY 1"),
    ("approx_top_k", "SELECT lsoa_code, approx_top_k(crime_ref, 5) AS t FROM main.crime GROUP BY 1"),
    ("bit_or", "SELECT lsoa_code, bit_or(crime_id) AS b FROM main.crime GROUP BY 1"),
    ("unknown_udf", "SELECT lsoa_code, my_aggregate(crime_id) AS x FROM main.crime GROUP BY 1"),
    ("fill_window", "SELECT lsoa_code, fill(count(*)) OVER () AS x FROM main.crime GROUP BY 1"),
    ("min_date_of_birth", "SELECT gender, min(date_of_birth) AS d FROM main.person GROUP BY 1"),
    ("sum_crime_id", "SELECT lsoa_code, sum(crime_id) AS s FROM main.crime GROUP BY 1"),
    ("unnest_key", "SELECT u, count(*) AS n FROM (SELECT unnest(ids) AS u FROM (SELECT "
     "list(offence_description) AS ids FROM main.crime)) GROUP BY 1"),
    ("window_over_packer_all", "SELECT lsoa_code, count(*) AS n, first_value(string_agg("
     "offence_description, ',')) OVER (ORDER BY lsoa_code) AS s FROM main.crime GROUP BY ALL"),
    ("lateral_alias_of_list", "SELECT lsoa_code, list(crime_id) AS l, len(l) AS k "
     "FROM main.crime GROUP BY 1"),
    ("ungrouped_column", "SELECT lsoa_code, crime_ref || count(*) AS x FROM main.crime "
     "GROUP BY lsoa_code"),
]  # fmt: skip
#: Real aggregates: no approval.
STATISTICS = [
    ("count", "SELECT lsoa_code, count(*) AS crimes FROM crime GROUP BY lsoa_code"),
    (
        "sum_avg_value",
        "SELECT p.property_type, sum(p.value_gbp) AS total, avg(p.value_gbp) AS mean, "
        "max(p.value_gbp) AS largest FROM property AS p GROUP BY 1",
    ),
    (
        "count_distinct_person",
        "SELECT c.lsoa_code, count(DISTINCT cp.person_id) AS people "
        "FROM crime AS c JOIN crime_person AS cp USING (crime_id) GROUP BY 1",
    ),
    (
        "min_max_recorded_at",
        "SELECT lsoa_code, min(recorded_at) AS first_at, max(recorded_at) AS last_at "
        "FROM crime GROUP BY lsoa_code",
    ),
    (
        "median_stddev",
        "SELECT ward_code, median(hour(recorded_at)) AS h, stddev(hour(recorded_at)) AS sd, "
        "quantile_cont(hour(recorded_at), 0.9) AS p90 FROM crime GROUP BY 1",
    ),
    (
        "windows_over_groups",
        "SELECT lsoa_code, count(*) AS n, sum(count(*)) OVER () AS total, "
        "rank() OVER (ORDER BY count(*) DESC) AS r, lag(count(*)) OVER (ORDER BY lsoa_code) "
        "AS previous FROM crime GROUP BY lsoa_code",
    ),
    (
        "conditions_carry_no_value",
        "SELECT c.ward_code, sum(CASE WHEN cp.person_id IS NULL THEN 0 ELSE 1 END) AS linked, "
        "count(*) FILTER (WHERE c.crime_ref LIKE '%1') AS ones "
        "FROM crime AS c JOIN crime_person AS cp USING (crime_id) GROUP BY 1",
    ),
    (
        "scalars_of_statistics",
        "SELECT date_trunc('month', recorded_at) AS month, round(avg(hour(recorded_at)), 1) AS h,"
        " count(*) * 100.0 / sum(count(*)) OVER () AS pct FROM crime GROUP BY 1",
    ),
    ("overall", "SELECT count(*) AS n, min(recorded_at) AS since FROM crime"),
    (
        "statistic_subquery",
        "SELECT lsoa_code, count(*) AS n, (SELECT count(*) FROM crime) AS total "
        "FROM crime GROUP BY 1",
    ),
]


#: Statistics written as the engine runs them (constructs the rewrite may not accept as typed).
STATISTICS_RAW = [
    ("lateral_alias", "SELECT lsoa_code, count(*) AS n, n * 2 AS twice FROM main.crime GROUP BY 1"),
    ("percentile_within_group", "SELECT lsoa_code, percentile_cont(0.5) WITHIN GROUP "
     "(ORDER BY hour(recorded_at)) AS h FROM main.crime GROUP BY 1"),
    ("anonymous_moment", "SELECT lsoa_code, fsum(hour(recorded_at)) AS h, "
     "entropy(police_uk_category) AS e FROM main.crime GROUP BY 1"),
    ("known_scalar", "SELECT lsoa_code, round_even(avg(hour(recorded_at)), 1) AS h "
     "FROM main.crime GROUP BY 1"),
    ("grouping_sets", "SELECT lsoa_code, ward_code, grouping(lsoa_code) AS g, count(*) AS n "
     "FROM main.crime GROUP BY ROLLUP (ward_code, lsoa_code)"),
]  # fmt: skip


# --- classify_sql on the executed SQL -------------------------------------------------------


@pytest.mark.parametrize("mode", REWRITE_MODES)
@pytest.mark.parametrize(("sql", "word"), [p[1:] for p in PACKED], ids=[p[0] for p in PACKED])
def test_packed_records_are_record_level(catalog: Catalog, sql: str, word: str, mode: str) -> None:
    verdict = classify_rewrite(rewritten(sql, catalog, mode=mode), catalog)
    assert verdict.data_class == "record", verdict.reason
    assert word in verdict.reason


@pytest.mark.parametrize("sql", [p[1] for p in PACKED_RAW], ids=[p[0] for p in PACKED_RAW])
def test_packing_the_guard_refuses_is_record_level_too(catalog: Catalog, sql: str) -> None:
    verdict = classify_sql(sql, catalog)
    assert verdict.data_class == "record", verdict.reason


@pytest.mark.parametrize("mode", REWRITE_MODES)
@pytest.mark.parametrize("sql", [s[1] for s in STATISTICS], ids=[s[0] for s in STATISTICS])
def test_statistics_stay_aggregate(catalog: Catalog, sql: str, mode: str) -> None:
    verdict = classify_rewrite(rewritten(sql, catalog, mode=mode), catalog)
    assert verdict.data_class == "aggregate", verdict.reason


@pytest.mark.parametrize("sql", [s[1] for s in STATISTICS_RAW], ids=[s[0] for s in STATISTICS_RAW])
def test_statistics_as_executed_stay_aggregate(catalog: Catalog, sql: str) -> None:
    verdict = classify_sql(sql, catalog)
    assert verdict.data_class == "aggregate", verdict.reason


def test_reason_names_the_column_and_the_function(catalog: Catalog) -> None:
    verdict = classify_sql(rewritten(PACKED[0][1], catalog).sql, catalog)
    assert verdict.reason == (
        "column 2 (records): group_concat() packs the records of each group into one value"
    )
    verdict = classify_sql(rewritten(PACKED[9][1], catalog).sql, catalog)
    assert verdict.reason == "column 2 (latest): arg_max() of crime_person.person_id (person_key)"


# --- the allow-list against DuckDB's own function list --------------------------------------


def _duckdb_functions(kind: str) -> set[str]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = ?",
            [kind],
        ).fetchall()
    finally:
        con.close()
    return {name for (name,) in rows}


def _call(name: str, args: str) -> exp.Expr:
    try:
        select = sqlglot.parse_one(f"SELECT {name}({args})", read="duckdb")
    except SqlglotError:
        select = sqlglot.parse_one(f"SELECT {name}({args}, {args})", read="duckdb")
    call: exp.Expr = select.expressions[0]
    return call


def test_no_scalar_on_the_allow_list_is_a_duckdb_aggregate_or_window() -> None:
    assert not SCALAR_NAMES & (_duckdb_functions("aggregate") | _duckdb_functions("window"))
    unknown = SCALAR_NAMES - _duckdb_functions("scalar") - _duckdb_functions("macro")
    assert not unknown


def test_every_duckdb_aggregate_is_recognised() -> None:
    """sqlglot leaves some aggregates anonymous: each must still be known as an aggregate (so
    GROUP BY ALL does not take it for a key, and disclosure control for a grouping column)."""
    for name in sorted(_duckdb_functions("aggregate")):
        node = _call(name, "x")
        while isinstance(node, exp.IgnoreNulls | exp.RespectNulls):
            node = node.this
        assert aggregate_kind(node) is not None, name
        if isinstance(node, exp.Anonymous):
            assert name in AGGREGATE_NAMES


@pytest.mark.parametrize("column", ["crime_ref", "crime_id", "modus_operandi"])
def test_every_duckdb_aggregate_of_an_identifier_is_record_level_unless_it_counts(
    catalog: Catalog, column: str
) -> None:
    for name in sorted(_duckdb_functions("aggregate")):
        call = _call(name, column).sql("duckdb")
        verdict = classify_sql(f"SELECT lsoa_code, {call} AS v FROM main.crime GROUP BY 1", catalog)
        counts = name.startswith(("count", "approx_count", "regr_count"))
        assert verdict.data_class == ("aggregate" if counts else "record"), (name, verdict)


def test_disclosure_roles_know_anonymous_aggregates() -> None:
    roles = output_roles("SELECT ward_code, count(*) AS n, fsum(value_gbp) AS v FROM p GROUP BY 1")
    assert [(c.name, c.role) for c in roles] == [
        ("ward_code", "key"),
        ("n", "count"),
        ("v", "aggregate"),
    ]


# --- over real HTTP: held for approval, or not --------------------------------------------


def _analyst(gateway: LiveGateway) -> tuple[str, str]:
    demo = gateway.tokens
    name = next(n for n, t in demo.items() if t["level"] == "general" and "analyst" in t["roles"])
    return name, demo[name]["purposes"][0]


# The headline variants of the finding: each is refused outright by the guard or held.
HTTP_PACKED = [p for p in PACKED if p[0] not in {"max_over_packed_subquery", "key_from_packed_cte"}]


def test_packed_exports_wait_for_a_senior_analyst(export_gateway: LiveGateway) -> None:
    name, purpose = _analyst(export_gateway)
    held: list[str] = []
    with export_gateway.client(name) as http:
        for variant, sql, _ in HTTP_PACKED:
            answer = http.post(
                "/v1/exports", json={"sql": sql, "purpose": purpose, "format": "csv"}
            )
            assert answer.status_code == 200, (variant, answer.text)
            body = answer.json()
            assert (body["data_class"], body["approval"]) == ("record", "pending"), variant
            download = http.get(body["download"])
            assert download.status_code == 403, variant
            assert "awaiting" in download.json()["error"]["message"]
            held.append(body["export_id"])
    with export_gateway.client("s.patel") as senior:
        pending = senior.get("/v1/exports", params={"pending": "true"}).json()["exports"]
        assert set(held) <= {e["export_id"] for e in pending}


def test_packing_the_guard_refuses_is_never_released(export_gateway: LiveGateway) -> None:
    name, purpose = _analyst(export_gateway)
    raw = [(v, sql.replace("main.", "")) for v, sql in PACKED_RAW if v != "unknown_udf"]
    with export_gateway.client(name) as http:
        for variant, sql in raw:
            answer = http.post(
                "/v1/exports", json={"sql": sql, "purpose": purpose, "format": "csv"}
            )
            body = answer.json()
            if answer.status_code == 200:
                assert (body["data_class"], body["approval"]) == ("record", "pending"), variant
            else:
                assert 400 <= answer.status_code < 500, (variant, answer.text)
                assert "error" in body


def test_statistics_download_at_once(export_gateway: LiveGateway) -> None:
    name, purpose = _analyst(export_gateway)
    with export_gateway.client(name) as http:
        for variant, sql in STATISTICS:
            answer = http.post(
                "/v1/exports", json={"sql": sql, "purpose": purpose, "format": "csv"}
            )
            assert answer.status_code == 200, (variant, answer.text)
            body = answer.json()
            assert (body["data_class"], body["approval"]) == ("aggregate", "not_required"), variant
            assert http.get(body["download"]).status_code == 200, variant


@pytest.mark.parametrize("variant", ["string_agg", "list", "first_crime_id", "struct_literal"])
def test_disclosure_control_refuses_packed_records(
    export_gateway: LiveGateway, variant: str
) -> None:
    sql = next(p[1] for p in PACKED if p[0] == variant)
    name, purpose = _analyst(export_gateway)
    with export_gateway.client(name) as http:
        for path, extra in (("/v1/query", {}), ("/v1/exports", {"format": "csv"})):
            answer = http.post(
                path, json={"sql": sql, "purpose": purpose, "disclosure": "policy", **extra}
            )
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error"]["code"] == "not_aggregate"
        counted = http.post(
            "/v1/query",
            json={
                "sql": "SELECT lsoa_code, count(*) AS crimes FROM crime GROUP BY 1",
                "purpose": purpose,
                "disclosure": "policy",
            },
        )
        assert counted.status_code == 200, counted.text
