"""The averaging attack over real HTTP (issue 14): under the cell key method different record
sets get independent noise, so free SQL that builds many different sets all containing one
small target cell — ``count(*) FILTER (WHERE crime_id % 40 = i OR <target>)`` minus the same
without the target — averages the noise away. In a disclosure-controlled statement cells are
defined by published attributes compared with constants only (gateway.rewrite.cells): every
partition below is refused before anything runs (400 ``not_protectable``, audited as denied),
while template-style controlled queries still pass.
"""

from __future__ import annotations

import pytest

from tests.api.test_disclosure import _completed, _query

TARGET = "(lsoa_code = '{lsoa}' AND police_uk_category = 'possession-of-weapons')"

#: Ways to cut the records into many different sets that all contain the target cell, each
#: with the target OR'ed in (``{i}``: the partition's number, ``{t}``: the target).
PARTITIONS = {
    "record id modulo": "count(*) FILTER (WHERE crime_id % 40 = {i} OR {t})",
    "location id modulo": "count(*) FILTER (WHERE location_id % 40 = {i} OR {t})",
    "record id range": "count(*) FILTER (WHERE crime_id BETWEEN {i} * 1000 AND {i} * 1000 + 999 OR {t})",
    "date arithmetic": "count(*) FILTER (WHERE day(recorded_at) = {i} OR {t})",
    "epoch arithmetic": "count(*) FILTER (WHERE epoch(recorded_at) % 40 = {i} OR {t})",
    "day-level date range": (
        "count(*) FILTER (WHERE recorded_at >= DATE '2025-01-01' + {i} "
        "AND recorded_at < DATE '2025-03-01' OR {t})"
    ),
    "string function": "count(*) FILTER (WHERE right(crime_ref, 1) = '{i}' OR {t})",
    "hash": "count(*) FILTER (WHERE hash(crime_ref) % 40 = {i} OR {t})",
    "free text": "count(*) FILTER (WHERE modus_operandi LIKE '%{i}%' OR {t})",
    "CASE partition": ("sum(CASE WHEN crime_id % 40 = {i} THEN 1 WHEN {t} THEN 1 ELSE 0 END)"),
    "CASE over two attributes": (
        "sum(CASE WHEN ward_code = 'W{i}' THEN 1 WHEN {t} THEN 1 ELSE 0 END)"
    ),
    "OR of two attributes": "count(*) FILTER (WHERE police_uk_category = 'c{i}' OR {t})",
    "condition in arithmetic": (
        "sum(greatest(CAST(ward_code = 'W{i}' AS INTEGER), CAST({t} AS INTEGER)))"
    ),
}


def _lsoa(live_gateway) -> str:  # type: ignore[no-untyped-def]
    answer = _query(live_gateway, {"sql": "SELECT min(lsoa_code) AS l FROM crime"})
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["rows"][0][0]
    return value


@pytest.mark.parametrize("name", sorted(PARTITIONS))
def test_a_partition_around_a_target_cell_is_refused(live_gateway, name: str) -> None:  # type: ignore[no-untyped-def]
    """Each way of cutting many different record sets around the target is refused before
    anything runs, in both modes, and the denial is audited."""
    target = TARGET.format(lsoa=_lsoa(live_gateway))
    column = PARTITIONS[name].format(i=3, t=target)
    sql = f"SELECT {column} AS with_target FROM crime"
    for mode in ("policy", "publication"):
        answer = _query(live_gateway, {"sql": sql, "disclosure": mode})
        assert answer.status_code == 400, (name, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "not_protectable", (name, error)
        assert "cells" in error["message"]
        denied = _completed(live_gateway, error["query_id"], kind="query.denied")
        assert denied["reason"] == "not_protectable"


REFUSED_SHAPES = {
    "a subquery's derived partition": (
        "SELECT count(*) AS n FROM (SELECT crime_id % 40 AS part, lsoa_code FROM crime) s "
        "WHERE s.part = 3"
    ),
    "grouping by a record id": "SELECT crime_id, count(*) AS n FROM crime GROUP BY 1",
    "grouping by a minute": "SELECT minute(recorded_at) AS m, count(*) AS n FROM crime GROUP BY 1",
    "a day range": (
        "SELECT count(*) AS n FROM crime WHERE CAST(recorded_at AS DATE) "
        "BETWEEN DATE '2025-01-03' AND DATE '2025-01-20'"
    ),
    "grouping by a string function": (
        "SELECT substr(lsoa_code, 1, 8) AS prefix, count(*) AS n FROM crime GROUP BY 1"
    ),
    "a threshold on a count": (
        "SELECT k.lsoa_code, k.n FROM (SELECT lsoa_code, count(*) AS n FROM crime "
        "GROUP BY 1) k WHERE k.n >= 3"
    ),
    "HAVING on a count": (
        "SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1 HAVING count(*) >= 3"
    ),
    "a record id compared with a constant": (
        "SELECT count(*) AS n FROM crime WHERE crime_id <> 12"
    ),
    "the first records by id": (
        "SELECT count(*) AS n FROM (SELECT lsoa_code FROM crime ORDER BY crime_id LIMIT 500) s"
    ),
    "NOT over two columns": (
        "SELECT count(*) AS n FROM crime WHERE NOT (ward_code = 'x' AND domestic_abuse)"
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED_SHAPES))
def test_cells_finer_than_published_attributes_are_refused(live_gateway, name: str) -> None:  # type: ignore[no-untyped-def]
    code = "not_aggregate" if name == "grouping by a record id" else "not_protectable"
    answer = _query(live_gateway, {"sql": REFUSED_SHAPES[name], "disclosure": "policy"})
    assert answer.status_code == 400, (name, answer.text)
    assert answer.json()["error"]["code"] == code, (name, answer.text)


ALLOWED = {
    "by area and month": (
        "SELECT ward_code, strftime(date_trunc('month', recorded_at), '%Y-%m') AS month, "
        "count(*) AS crimes FROM crime WHERE police_uk_category IN ('burglary', 'robbery') "
        "AND recorded_at >= DATE '2024-01-01' AND recorded_at < DATE '2025-01-01' "
        "GROUP BY 1, 2"
    ),
    "flags and outcomes as FILTERs": (
        "SELECT police_uk_category, count(*) AS crimes, "
        "count(*) FILTER (WHERE domestic_abuse) AS domestic, "
        "count(*) FILTER (WHERE NOT hate_crime) AS not_hate, "
        "sum(CASE WHEN outcome IN ('charged', 'cautioned') THEN 1 ELSE 0 END) AS charged "
        "FROM crime GROUP BY 1"
    ),
    "a category choice as in the templates": (
        "SELECT year(recorded_at) AS year, count(*) AS crimes FROM crime "
        "WHERE ('all' = 'all' OR police_uk_category = 'drugs') "
        "AND recorded_at >= TIMESTAMP '2024-01-01' + INTERVAL 1 MONTH GROUP BY 1"
    ),
    "a join on keys and a recoding CASE": (
        "SELECT l.location_type, CASE WHEN c.police_uk_category IN ('burglary', 'robbery') "
        "THEN 'acquisitive' ELSE 'other' END AS family, count(*) AS crimes "
        "FROM crime c JOIN location l ON l.location_id = c.location_id GROUP BY 1, 2"
    ),
    "by day and flag (finding 4's shape)": (
        "SELECT CAST(recorded_at AS DATE) AS day, domestic_abuse AS flag, count(*) AS crimes "
        "FROM crime WHERE recorded_at >= DATE '2025-01-01' AND recorded_at < DATE '2025-02-01' "
        "GROUP BY ALL"
    ),
    "by hour of the day": (
        "SELECT hour(recorded_at) AS hour, count(*) AS crimes FROM crime GROUP BY 1"
    ),
    "people counted by their key": (
        "SELECT cp.role, count(DISTINCT cp.person_id) AS people FROM crime_person cp "
        "JOIN crime c ON c.crime_id = cp.crime_id WHERE c.police_uk_category = 'burglary' "
        "GROUP BY 1"
    ),
    "counts from a subquery by area": (
        "WITH k AS (SELECT lsoa_code, count(*) AS n FROM crime "
        "WHERE police_uk_category = 'drugs' GROUP BY 1) "
        "SELECT l.ward_code, sum(k.n) AS crimes FROM k JOIN lsoa l ON l.lsoa_code = k.lsoa_code "
        "GROUP BY 1"
    ),
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_template_style_controlled_queries_still_pass(live_gateway, name: str) -> None:  # type: ignore[no-untyped-def]
    answer = _query(live_gateway, {"sql": ALLOWED[name], "disclosure": "policy"})
    assert answer.status_code == 200, (name, answer.text)
    body = answer.json()
    assert body["disclosure"]["method"] == "cell_key"
    assert body["disclosure"]["cells"] > 0
