"""Review reports over the audit tables, from a real log with chosen event times."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
import pytest
from audit_helpers import make_request, make_started

from gateway.analysis.lookups import analyse_lookups
from gateway.analysis.results import LookupAnalysis
from gateway.audit import AuditTables, ExportAction, ExportRegistered, QueryDenied, audit_tables
from gateway.audit.reporting import REPORTS, ReportArguments, ReportSources, run_report
from gateway.audit.reports import (
    WorkingHours,
    activity,
    denied_attempts,
    dormant_users,
    exports_register,
    large_extractions,
    months_before,
    out_of_hours,
    out_of_hours_reason,
    person_lookups,
)
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError, InputError


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Writer:
    """Writes query records at chosen times straight into a real store."""

    def __init__(self, store: SQLiteAuditStore) -> None:
        self.store = store
        self.n = 0

    def query(
        self,
        when: datetime,
        user: str = "a.khan",
        purpose: str = "SA-2026",
        sql: str = "SELECT count(*) FROM crime",
        rows: int | None = 10,
        lookups: LookupAnalysis | None = None,
    ) -> str:
        self.n += 1
        request = make_request(user=user, purpose=purpose, sql=sql)
        request = dataclasses.replace(request, person_lookups=lookups)
        started = make_started(f"Q{self.n}", request)
        self.store.append(
            started.kind, started.actor, started.organisation, started.details(), time=when
        )
        if rows is not None:
            done = started.completed(outcome="ok", rows=rows, bytes=rows * 8, duration_ms=2.0)
            self.store.append(done.kind, done.actor, done.organisation, done.details(), time=when)
        return str(started.query_id)

    def denied(
        self,
        when: datetime,
        user: str,
        reason: str,
        sql: str = "SELECT count(*) FROM crime",
        lookups: LookupAnalysis | None = None,
    ) -> str:
        self.n += 1
        request = dataclasses.replace(make_request(user=user, sql=sql), person_lookups=lookups)
        d = QueryDenied(f"Q{self.n}", request, reason, "refused")
        self.store.append(d.kind, d.actor, d.organisation, d.details(), time=when)
        return str(d.query_id)

    def raw(self, when: datetime, kind: str, details: dict[str, Any]) -> None:
        """A record as a buggy or older writer might have left it (still hash-chained)."""
        self.n += 1
        self.store.append(kind, "a.khan", "MBC", {"query_id": f"Q{self.n}", **details}, time=when)

    def export(self, when: datetime, query_id: str, approval: str = "not_required") -> None:
        e = ExportRegistered(
            query_id, "a.khan", "MBC", "gpkg", "hot.gpkg", "d" * 64, 512, "OFFICIAL-SENSITIVE",
            approval,
        )  # fmt: skip
        self.store.append(e.kind, e.actor, e.organisation, e.details(), time=when)

    def export_action(self, when: datetime, action: str, query_id: str, actor: str) -> None:
        a = ExportAction(action, query_id, actor, "CP", owner="a.khan", file_sha256="d" * 64)
        self.store.append(a.kind, a.actor, a.organisation, a.details(), time=when)


def tables_of(data_dir: DataDir, fill: object) -> AuditTables:
    with SQLiteAuditStore(data_dir.audit) as store:
        fill(Writer(store))  # type: ignore[operator]
        return audit_tables(store.events())


def test_activity_per_user_and_purpose_within_a_period(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        w.query(utc(2026, 1, 5, 10), "a.khan", "SA-2026", rows=5)
        w.query(utc(2026, 1, 6, 10), "a.khan", "SA-2026", rows=7)
        w.query(utc(2026, 1, 6, 11), "a.khan", "JAG-12", rows=None)  # incomplete
        w.denied(utc(2026, 1, 7, 10), "b.lee", "table_not_permitted")
        w.query(utc(2026, 3, 1, 10), "a.khan", "SA-2026", rows=100)  # outside the period

    q = tables_of(data_dir, fill).queries
    report = activity(q, since=utc(2026, 1, 1), until=utc(2026, 2, 1))
    rows = {(r["user"], r["purpose"]): r for r in report.iter_rows(named=True)}
    assert set(rows) == {("a.khan", "SA-2026"), ("a.khan", "JAG-12"), ("b.lee", "SA-2026")}
    sa = rows[("a.khan", "SA-2026")]
    assert (sa["queries"], sa["allowed"], sa["denied"], sa["rows"]) == (2, 2, 0, 12)
    assert sa["first_at"] == utc(2026, 1, 5, 10)
    assert sa["last_at"] == utc(2026, 1, 6, 10)
    assert rows[("a.khan", "JAG-12")]["incomplete"] == 1
    assert rows[("b.lee", "SA-2026")]["denied"] == 1
    assert activity(q)["queries"].sum() == 5


def test_person_lookups_report(data_dir: DataDir, catalog: Catalog) -> None:
    def fill(w: Writer) -> None:
        w.query(utc(2026, 2, 2, 10), sql="SELECT count(*) FROM crime GROUP BY lsoa_code")
        w.query(utc(2026, 2, 2, 11), "c.odu", sql="SELECT * FROM person WHERE surname = 'Reed'")
        w.query(utc(2026, 2, 2, 12), sql="SELECT * FROM location WHERE postcode = 'TS5 6AA'")

    report = person_lookups(tables_of(data_dir, fill).queries, catalog)
    assert report["user"].to_list() == ["c.odu", "a.khan"]
    assert report["pinned"].to_list() == [["person.surname"], ["location.postcode"]]
    assert report["predicates"].to_list()[0] == ["surname = 'Reed'"]


def test_large_extractions(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        for rows in (10, 50_000, 9_999, 120_000):
            w.query(utc(2026, 2, 2, 10), rows=rows)

    report = large_extractions(tables_of(data_dir, fill).queries, min_rows=10_000)
    assert report["rows"].to_list() == [120_000, 50_000]


# Europe/London: BST began 2026-03-29 01:00 UTC and ends 2026-10-25 01:00 UTC.
DST_CASES = [
    (utc(2026, 3, 27, 7, 30), "before 08:00"),  # Fri 07:30 GMT
    (utc(2026, 3, 27, 17, 30), None),  # Fri 17:30 GMT
    (utc(2026, 3, 29, 10, 0), "weekend"),  # Sun, the day the clocks change
    (utc(2026, 3, 30, 7, 30), None),  # Mon 08:30 BST
    (utc(2026, 3, 30, 17, 30), "after 18:00"),  # Mon 18:30 BST
    (utc(2026, 10, 23, 7, 30), None),  # Fri 08:30 BST
    (utc(2026, 10, 23, 17, 15), "after 18:00"),  # Fri 18:15 BST
    (utc(2026, 10, 26, 7, 30), "before 08:00"),  # Mon 07:30 GMT
    (utc(2026, 10, 26, 17, 30), None),  # Mon 17:30 GMT
]


@pytest.mark.parametrize(("when", "reason"), DST_CASES)
def test_working_hours_are_judged_in_london_time_across_dst(
    when: datetime, reason: str | None
) -> None:
    assert out_of_hours_reason(when, WorkingHours()) == reason


def test_out_of_hours_report_across_dst_and_a_bank_holiday(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        for when, _ in DST_CASES:
            w.query(when)
        w.query(utc(2026, 5, 4, 10))  # early May bank holiday, 11:00 BST

    hours = WorkingHours(holidays=frozenset({date(2026, 5, 4)}))
    report = out_of_hours(tables_of(data_dir, fill).queries, hours=hours)
    expected = [r for _, r in DST_CASES if r is not None] + ["holiday"]
    assert report["reason"].to_list() == expected
    assert "2026-03-30 18:30 BST" in report["local_time"].to_list()
    assert "2026-10-26 07:30 GMT" in report["local_time"].to_list()
    # Shorter hours move the boundary.
    early = WorkingHours(start=time(7, 0), end=time(17, 0))
    assert out_of_hours_reason(utc(2026, 10, 26, 7, 30), early) is None


def test_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        out_of_hours_reason(utc(2026, 1, 5, 10), WorkingHours(timezone="Europe/Atlantis"))


def test_naive_period_bounds_are_refused(data_dir: DataDir) -> None:
    q = tables_of(data_dir, lambda w: w.query(utc(2026, 1, 5, 10))).queries
    with pytest.raises(InputError):
        activity(q, since=datetime(2026, 1, 1))


def test_denied_attempts_and_exports_register(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        qid = w.query(utc(2026, 2, 2, 10), purpose="JAG-12")
        w.export(utc(2026, 2, 2, 10, 5), qid)
        w.denied(utc(2026, 2, 3, 10), "b.lee", "purpose_not_approved")

    tables = tables_of(data_dir, fill)
    denied = denied_attempts(tables.queries)
    assert denied.select("user", "reason").rows() == [("b.lee", "purpose_not_approved")]
    exports = exports_register(tables.exports, tables.queries)
    assert exports.select("query_id", "purpose", "format").rows() == [("Q1", "JAG-12", "gpkg")]
    assert exports_register(tables.exports, tables.queries, since=utc(2026, 3, 1)).height == 0


def test_exports_register_shows_the_current_state_of_held_exports(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        qid = w.query(utc(2026, 2, 2, 10), purpose="JAG-12")
        w.export(utc(2026, 2, 2, 10, 5), qid, approval="pending")
        w.export_action(utc(2026, 2, 3, 9), "approved", qid, "s.patel")
        w.export_action(utc(2026, 2, 3, 11), "downloaded", qid, "a.khan")

    tables = tables_of(data_dir, fill)
    row = exports_register(tables.exports, tables.queries).row(0, named=True)
    assert (row["registered_approval"], row["approval"]) == ("pending", "approved")
    assert (row["decided_by"], row["decided_at"]) == ("s.patel", utc(2026, 2, 3, 9))
    assert (row["downloads"], row["last_downloaded_at"]) == (1, utc(2026, 2, 3, 11))
    # The period selects on registration: the later decision does not move the export.
    assert exports_register(tables.exports, tables.queries, since=utc(2026, 2, 3)).height == 0


def test_dormant_users_have_no_query_for_six_months(data_dir: DataDir) -> None:
    def fill(w: Writer) -> None:
        w.query(utc(2026, 3, 1, 10), "a.khan")
        w.query(utc(2026, 6, 1, 10), "b.lee")
        w.denied(utc(2026, 7, 1, 10), "d.pratt", "table_not_permitted")

    q = tables_of(data_dir, fill).queries
    report = dormant_users(q, ["a.khan", "b.lee", "c.new", "d.pratt"], as_of=utc(2026, 11, 1))
    rows = {r["user"]: r for r in report.iter_rows(named=True)}
    assert set(rows) == {"a.khan", "c.new"}
    assert rows["c.new"]["last_activity"] is None
    assert rows["a.khan"]["last_activity"] == utc(2026, 3, 1, 10)
    assert rows["a.khan"]["days_inactive"] == (utc(2026, 11, 1) - utc(2026, 3, 1, 10)).days


@pytest.mark.parametrize(
    ("when", "months", "expected"),
    [
        (utc(2026, 11, 1), 6, utc(2026, 5, 1)),
        (utc(2026, 8, 31), 6, utc(2026, 2, 28)),
        (utc(2026, 3, 15), 6, utc(2025, 9, 15)),
        (utc(2026, 1, 31), 1, utc(2025, 12, 31)),
    ],
)
def test_months_before(when: datetime, months: int, expected: datetime) -> None:
    assert months_before(when, months) == expected


# --- hostile stored SQL never fails a report ---------------------------------------------------

DEEP_BRACKETS = "SELECT " + "(" * 3000 + "1" + ")" * 3000
DEEP_SUBQUERIES = "SELECT * FROM " + "(SELECT * FROM " * 3000 + "person" + ") t" * 3000
LOOKUP = "SELECT * FROM person WHERE surname = 'Reed'"


def _row(report: pl.DataFrame, query_id: str) -> dict[str, Any]:
    [row] = report.filter(pl.col("query_id") == query_id).rows(named=True)
    return row


def test_person_lookups_flag_hostile_sql_and_keep_earlier_lookups(
    data_dir: DataDir, catalog: Catalog
) -> None:
    """Records written before analysis was stored with them: the report analyses them itself,
    within bounds, and flags what it cannot analyse."""
    ids: dict[str, str] = {}

    def fill(w: Writer) -> None:
        ids["lookup"] = w.query(utc(2026, 2, 2, 10), "c.odu", sql=LOOKUP)
        ids["brackets"] = w.denied(utc(2026, 2, 2, 11), "c.odu", "parse_error", DEEP_BRACKETS)
        ids["subqueries"] = w.denied(utc(2026, 2, 2, 12), "c.odu", "parse_error", DEEP_SUBQUERIES)
        ids["typo"] = w.denied(utc(2026, 2, 2, 13), "c.odu", "parse_error", "SELEC * FROM person")
        ids["plain"] = w.query(utc(2026, 2, 2, 14), "c.odu")

    report = person_lookups(tables_of(data_dir, fill).queries, catalog)
    assert report["query_id"].to_list() == [
        ids["lookup"],
        ids["brackets"],
        ids["subqueries"],
        ids["typo"],
    ]
    lookup = _row(report, ids["lookup"])
    assert (lookup["pinned"], lookup["analysis"]) == (["person.surname"], "ok")
    assert lookup["predicates"] == ["surname = 'Reed'"]
    for name in ("brackets", "subqueries"):
        row = _row(report, ids[name])
        assert (row["analysis"], row["pinned"], row["user"]) == ("too_deep", [], "c.odu")
        assert (row["decision"], row["analysis_source"]) == ("denied", "report")
        assert "nested" in row["analysis_detail"]
        assert row["started_at"] == utc(2026, 2, 2, 11 if name == "brackets" else 12)
    assert _row(report, ids["typo"])["analysis"] == "unparseable"
    # A period holding only the hostile record.
    only = person_lookups(
        tables_of(data_dir, lambda w: None).queries,
        catalog,
        since=utc(2026, 2, 2, 11),
        until=utc(2026, 2, 2, 12),
    )
    assert only["query_id"].to_list() == [ids["brackets"]]


def test_person_lookups_use_the_analysis_stored_at_query_time(
    data_dir: DataDir, catalog: Catalog
) -> None:
    ids: dict[str, str] = {}

    def fill(w: Writer) -> None:
        ids["lookup"] = w.query(
            utc(2026, 2, 2, 10), sql=LOOKUP, lookups=analyse_lookups(LOOKUP, catalog)
        )
        ids["hostile"] = w.denied(
            utc(2026, 2, 2, 11),
            "c.odu",
            "parse_error",
            DEEP_BRACKETS,
            lookups=analyse_lookups(DEEP_BRACKETS, catalog),
        )
        ids["plain"] = w.query(
            utc(2026, 2, 2, 12), lookups=analyse_lookups("SELECT count(*) FROM crime", catalog)
        )
        # What the record says wins over the SQL: the report does not parse it again.
        ids["trusted"] = w.query(
            utc(2026, 2, 2, 13),
            sql=DEEP_SUBQUERIES,
            lookups=LookupAnalysis("ok", ("person.pnc_id",), ("pnc_id = '01/2X'",)),
        )

    tables = tables_of(data_dir, fill)
    assert tables.queries.column("person_lookups").null_count == 0
    report = person_lookups(tables.queries, catalog)
    assert report["query_id"].to_list() == [ids["lookup"], ids["hostile"], ids["trusted"]]
    assert set(report["analysis_source"].to_list()) == {"stored"}
    assert _row(report, ids["lookup"])["pinned"] == ["person.surname"]
    assert _row(report, ids["hostile"])["analysis"] == "too_deep"
    assert _row(report, ids["trusted"])["pinned"] == ["person.pnc_id"]


def test_a_malformed_stored_analysis_is_flagged(data_dir: DataDir, catalog: Catalog) -> None:
    def fill(w: Writer) -> None:
        for n, stored in enumerate(["garbage", {"status": "ok", "pinned": [7]}, ["[" * 50]]):
            w.raw(utc(2026, 2, 2, 10, n), "query.denied", {"person_lookups": stored})

    report = person_lookups(tables_of(data_dir, fill).queries, catalog)
    assert report["analysis"].to_list() == ["failed"] * 3
    assert report["analysis_source"].to_list() == ["stored"] * 3


HOSTILE_SQL = [
    DEEP_BRACKETS,
    DEEP_SUBQUERIES,
    "SELECT " + "NOT " * 3000 + "1",
    "SELECT * FROM person WHERE surname = " + "+".join(["1"] * 20_000),
    "SELECT '" + "x" * 200_000 + "'",
    "SELECT 'unterminated",
    "",
]


def _run(report: str, tables: AuditTables, catalog: Catalog) -> pl.DataFrame:
    sources = ReportSources(tables, catalog, lambda: ["a.khan", "c.odu"], utc(2026, 12, 1))
    return run_report(report, sources, ReportArguments(since=utc(2026, 1, 1), min_rows=1))


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_answers_over_hostile_records(
    data_dir: DataDir, catalog: Catalog, report: str
) -> None:
    def fill(w: Writer) -> None:
        w.query(utc(2026, 2, 2, 10), sql=LOOKUP)
        for n, sql in enumerate(HOSTILE_SQL):
            when = utc(2026, 2, 3, 10, n)
            w.denied(when, "c.odu", "parse_error", sql)
            qid = w.query(when, "c.odu", sql=sql, rows=20_000)
            w.export(when, qid)
            w.denied(when, "c.odu", "parse_error", sql, lookups=analyse_lookups(sql, catalog))
        w.raw(utc(2026, 2, 4, 3), "query.denied", {"person_lookups": "garbage", "user": 5})
        w.raw(utc(2026, 2, 4, 4), "query.completed", {"rows": "many", "duration_ms": "slow"})

    frame = _run(report, tables_of(data_dir, fill), catalog)
    assert isinstance(frame, pl.DataFrame)
    if report == "person-lookups":
        assert frame.filter(pl.col("analysis") == "ok")["pinned"].to_list() == [["person.surname"]]
        # Every unanalysable SQL three times (denied and allowed without an analysis, denied
        # with one), and the malformed stored analysis.
        assert frame.filter(pl.col("analysis") != "ok").height == 3 * (len(HOSTILE_SQL) - 1) + 1
