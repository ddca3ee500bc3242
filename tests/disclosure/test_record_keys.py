"""Cell keys from records, not labels (issue 14): attacks on the cell key method's keys.

Through the real service and engine (the template fixtures' warehouse): the same records give
the same published value whatever the query calls them or however it reaches them; a count
whose records cannot be told (a join that can repeat a record) is refused before it runs; and
nothing the analyst can write reads a record key — by name, through a star or a whole row.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.disclosure import parse_disclosure_request
from gateway.disclosure.control import DisclosureControl
from gateway.errors import ColumnNotFound, GatewayError, NotProtectable
from gateway.rewrite import rewrite
from gateway.service import QueryService
from tests.templates.fixtures import PURPOSE, USERS, Raw

USER = USERS["a.khan"]
AREA = USER.areas[0]
WEAPONS = "police_uk_category = 'possession-of-weapons'"


def _run(service: QueryService, sql: str, mode: str = "policy") -> dict[str, list[Any]]:
    control = DisclosureControl.for_service(service, parse_disclosure_request(mode))
    outcome = service.run_query(USER, sql, PURPOSE, control=control)
    try:
        return outcome.result.to_table().to_pydict()
    finally:
        outcome.result.discard()


def _refused(service: QueryService, sql: str) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        _run(service, sql)
    denied = {q.query_id: q for q in service.audit.queries()}[caught.value.query_id]
    assert denied.status == "denied"  # refused before anything ran, and audited
    return caught.value


def test_the_same_records_give_the_same_value_however_the_query_reaches_them(
    template_service: QueryService, raw: Raw
) -> None:
    """One set of records (the authority's weapons crimes), counted six ways under thirty
    labels: one published value, within the noise of the truth."""
    true = raw.frame(
        f"SELECT count(*) AS n FROM crime WHERE local_authority_code = $a AND {WEAPONS}", a=AREA
    ).item()
    shapes = [
        "SELECT {label} AS label, count(*) AS n FROM crime WHERE " + WEAPONS,
        "SELECT {label} AS label, count(DISTINCT crime_id) AS n FROM crime WHERE " + WEAPONS,
        "SELECT {label} AS label, count(c.crime_id) AS n FROM crime c "
        "JOIN location l ON l.location_id = c.location_id "
        "JOIN offence_type o ON o.ho_offence_code = c.ho_offence_code WHERE c." + WEAPONS,
        "SELECT {label} AS label, sum(CASE WHEN " + WEAPONS + " THEN 1 ELSE 0 END) AS n FROM crime",
        "WITH k AS (SELECT count(*) AS n FROM crime WHERE " + WEAPONS + ") "
        "SELECT {label} AS label, sum(k.n) AS n FROM k",
        "SELECT {label} AS label, count(*) AS n FROM (SELECT crime_id, recorded_at FROM crime "
        "WHERE " + WEAPONS + ") AS w",
    ]
    published = set()
    for number, shape in enumerate(shapes):
        for label in range(5):
            sql = shape.format(label=f"'label {number * 5 + label}'")
            published.add(_run(template_service, sql)["n"][0])
    assert len(published) == 1, published
    (value,) = published
    assert value is not None
    assert abs(value - true) <= 2


def test_a_join_on_a_grouped_subquerys_key_keeps_one_row_per_record(
    template_service: QueryService,
) -> None:
    """Joined to a subquery grouped by the join column, each crime is counted once: the
    same published values as the plain count."""
    plain = _run(template_service, "SELECT ward_code, count(*) AS n FROM crime GROUP BY 1")
    joined = _run(
        template_service,
        "SELECT c.ward_code, count(*) AS n FROM crime c JOIN (SELECT ward_code FROM crime "
        "GROUP BY ward_code) g ON g.ward_code = c.ward_code GROUP BY 1",
    )
    assert dict(zip(plain["ward_code"], plain["n"], strict=True)) == dict(
        zip(joined["ward_code"], joined["n"], strict=True)
    )


def test_a_person_has_one_key_in_every_table(template_service: QueryService) -> None:
    """Distinct people counted from the custody records and again through the same records
    under another label: the same published value."""
    sql = (
        "SELECT {label} AS label, count(DISTINCT person_id) AS people FROM custody "
        "WHERE disposal = 'charged'"
    )
    values = {_run(template_service, sql.format(label=f"'{k}'"))["people"][0] for k in "abcdef"}
    assert len(values) == 1, values


@pytest.mark.parametrize(
    "sql",
    [
        # multiply a count, divide the noise away
        "SELECT ward_code, count(*) AS n FROM crime, (VALUES (1), (2), (3)) AS v(x) GROUP BY 1",
        "SELECT a.ward_code, count(*) AS n FROM crime a JOIN crime b "
        "ON a.ward_code = b.ward_code GROUP BY 1",
        "SELECT c.ward_code, count(*) AS n FROM crime c JOIN "
        "(SELECT 'x' AS t UNION ALL SELECT 'x') AS d ON true GROUP BY 1",
        # grouping sets repeat a key value: joining on it repeats records
        "SELECT c.ward_code, count(*) AS n FROM crime c JOIN (SELECT ward_code, "
        "police_uk_category FROM crime GROUP BY ward_code, ROLLUP (police_uk_category)) AS g "
        "ON g.ward_code = c.ward_code GROUP BY 1",
        # a key equated to a generalised value names many rows
        "SELECT c.ward_code, count(*) AS n FROM crime c JOIN location l "
        "ON l.postcode = c.lsoa_code GROUP BY 1",
        # a count over groups (rows that are not records)
        "SELECT count(*) AS n FROM (SELECT ward_code FROM crime GROUP BY 1) AS g",
        # distinct values that are not records
        "SELECT ward_code, count(DISTINCT recorded_at) AS n FROM crime GROUP BY 1",
    ],
)
def test_a_count_whose_records_cannot_be_told_is_refused(
    template_service: QueryService, sql: str
) -> None:
    error = _refused(template_service, sql)
    assert isinstance(error, NotProtectable), error
    assert "cannot tell which records" in str(error)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ward_code, count(*) AS n FROM (SELECT * FROM crime) t GROUP BY 1", "columns"),
        (
            "SELECT ward_code, count(*) AS n, max(t) AS m FROM crime t GROUP BY 1",
            "whole row",
        ),
        (
            "SELECT ward_code, count(*) AS n, max(t) AS m "
            "FROM (SELECT ward_code FROM crime) t GROUP BY 1",
            "whole row",
        ),
        ("SELECT ward_code, count(*) AS __gw_cell_key_1 FROM crime GROUP BY 1", "reserved"),
        (
            "SELECT ward_code AS __gw_record_key, count(*) AS n FROM crime GROUP BY 1",
            "reserved",
        ),
    ],
)
def test_nothing_can_read_a_record_key(
    template_service: QueryService, sql: str, expected: str
) -> None:
    error = _refused(template_service, sql)
    assert isinstance(error, NotProtectable)
    assert expected in str(error)


@pytest.mark.parametrize("column", ["__gw_record_key", "__gw_key_crime_id", "__gw_row_key"])
def test_a_record_key_column_cannot_be_named(template_service: QueryService, column: str) -> None:
    for sql in (
        f"SELECT ward_code, count(*) AS n, max(c.{column}) AS k FROM crime c GROUP BY 1",
        f"SELECT ward_code, sum({column}) AS n FROM crime GROUP BY 1",
    ):
        with pytest.raises((ColumnNotFound, NotProtectable)):
            _run(template_service, sql)
    with pytest.raises(ColumnNotFound):  # nor without disclosure control
        template_service.run_query(USER, f"SELECT max({column}) FROM crime", PURPOSE)


def test_the_keys_are_computed_by_the_engine_and_never_released(
    template_service: QueryService,
) -> None:
    """The result has only the analyst's columns; the executed SQL (in the audit record)
    computes the keys with the trusted macro inside the policy subquery — no secret in it."""
    sql = "SELECT ward_code, count(*) AS n FROM crime WHERE " + WEAPONS + " GROUP BY 1"
    control = DisclosureControl.for_service(template_service, parse_disclosure_request("policy"))
    outcome = template_service.run_query(USER, sql, PURPOSE, control=control)
    names = outcome.result.to_table().column_names
    outcome.result.discard()
    assert names == ["ward_code", "n", "n_suppressed"]
    record = {q.query_id: q for q in template_service.audit.queries()}[outcome.query_id]
    executed = str(record.request["sql_executed"])
    assert "GW_HMAC_SHA256('#cell-key:crime:'" in executed
    assert "__gw_cell_key_1" in executed
    assert record.result["disclosure"]["method"] == "cell_key"


def test_only_a_short_list_of_literal_rows_may_repeat_the_records_across_cells(
    template_service: QueryService,
) -> None:
    """A template may join the counted records to a few literal rows (before-after's
    intervention and comparison areas): each record once per row, in that row's cell. A long
    list would put the same records in many differently perturbed cells of one query."""
    view = template_service.view(USER, PURPOSE)

    def keyed(rows: int) -> bool:
        literals = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(rows))
        sql = f"SELECT r.k, count(*) AS n FROM crime c, ({literals}) AS r GROUP BY r.k"
        result = rewrite(sql, view, template_service.catalog, cell_keys=True)
        return bool(result.cell_keys)

    assert keyed(2)
    assert keyed(4)
    assert not keyed(5)
