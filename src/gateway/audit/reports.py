"""Review reports for senior analysts: pure functions over the audit tables.

Each takes tables from :mod:`gateway.audit.tables` and returns a polars DataFrame (call
``.to_arrow()`` for Arrow). The API and the CLI offer them through one table of names and
parameters, :data:`gateway.audit.reporting.REPORTS`. Periods are half-open, ``since <= started_at < until``, in UTC.

    activity            queries per user and purpose: allowed, denied, incomplete, rows, bytes
    daily_activity      queries per day (UTC): allowed, denied, incomplete, rows, users
    person_lookups      queries whose predicates pin a person identifier/name/address to a literal,
                        and queries whose SQL could not be analysed (flagged, never an error)
    large_extractions   queries returning at least ``min_rows`` rows
    out_of_hours        queries outside working hours (Europe/London by default), weekends, holidays
    denied_attempts     refused queries with their reason
    exports_register    exports, with the purpose of the query they came from, their current
                        approval state, who decided and when, and downloads
    dormant_users       users with access but no query for ``months`` months (review their access)

No report parses stored SQL without bounds or lets an error in it escape: person_lookups uses
the analysis stored with each query when there is one and otherwise
:func:`~gateway.analysis.lookups.analyse_lookups`, which never raises; the other reports read
only typed columns.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, seal
    >>> from gateway.audit.tables import queries_table
    >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    >>> e = seal(1, "E1", t, "query.denied", "a.khan", "MBC",
    ...          {"query_id": "Q1", "user": "a.khan", "purpose": "SA-2026",
    ...           "reason": "table_not_permitted"}, GENESIS_HASH)
    >>> denied_attempts(queries_table([e]))["reason"].to_list()
    ['table_not_permitted']
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import pyarrow as pa

from gateway.analysis.lookups import analyse_lookups
from gateway.analysis.results import LookupAnalysis
from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, InputError

__all__ = [
    "WorkingHours",
    "activity",
    "daily_activity",
    "denied_attempts",
    "dormant_users",
    "exports_register",
    "large_extractions",
    "months_before",
    "out_of_hours",
    "out_of_hours_reason",
    "person_lookups",
    "users_seen",
]


def _period(
    frame: pl.DataFrame, column: str, since: datetime | None, until: datetime | None
) -> pl.DataFrame:
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise InputError("report periods need timezone-aware times")
    if since is not None:
        frame = frame.filter(pl.col(column) >= since.astimezone(UTC))
    if until is not None:
        frame = frame.filter(pl.col(column) < until.astimezone(UTC))
    return frame


def _queries(queries: pa.Table, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    frame = pl.from_arrow(queries)
    assert isinstance(frame, pl.DataFrame)
    return _period(frame, "started_at", since, until)


def activity(
    queries: pa.Table, *, since: datetime | None = None, until: datetime | None = None
) -> pl.DataFrame:
    """Queries per user, organisation and purpose in the period.

    Columns: user, organisation, purpose, queries, allowed, denied, incomplete, rows, bytes,
    first_at, last_at.
    """
    frame = _queries(queries, since, until)
    return (
        frame.group_by("user", "organisation", "purpose")
        .agg(
            pl.len().alias("queries"),
            (pl.col("decision") == "allowed").sum().alias("allowed"),
            (pl.col("decision") == "denied").sum().alias("denied"),
            (~pl.col("complete")).sum().alias("incomplete"),
            pl.col("rows").sum().alias("rows"),
            pl.col("bytes").sum().alias("bytes"),
            pl.col("started_at").min().alias("first_at"),
            pl.col("started_at").max().alias("last_at"),
        )
        .sort("user", "purpose", nulls_last=True)
    )


def daily_activity(
    queries: pa.Table, *, since: datetime | None = None, until: datetime | None = None
) -> pl.DataFrame:
    """Activity over time: queries per day (UTC) in the period, oldest first; days without a
    query are absent.

    Columns: day, queries, allowed, denied, incomplete, rows, users (distinct).

    Example:
        >>> from gateway.audit.chain import GENESIS_HASH, seal
        >>> from gateway.audit.tables import queries_table
        >>> t = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
        >>> e = seal(1, "E1", t, "query.denied", "a.khan", "MBC", {"query_id": "Q1"}, GENESIS_HASH)
        >>> daily_activity(queries_table([e])).row(0)
        (datetime.date(2026, 1, 5), 1, 0, 1, 0, 0, 1)
    """
    frame = _queries(queries, since, until).filter(pl.col("started_at").is_not_null())
    return (
        frame.group_by(pl.col("started_at").dt.convert_time_zone("UTC").dt.date().alias("day"))
        .agg(
            pl.len().alias("queries"),
            (pl.col("decision") == "allowed").sum().alias("allowed"),
            (pl.col("decision") == "denied").sum().alias("denied"),
            (~pl.col("complete")).sum().alias("incomplete"),
            pl.col("rows").fill_null(0).sum().alias("rows"),
            pl.col("user").n_unique().alias("users"),
        )
        .sort("day")
    )


def person_lookups(
    queries: pa.Table,
    catalog: Catalog,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Queries whose submitted SQL pins a person identifier, name or address to a literal,
    and queries whose SQL could not be analysed.

    See :mod:`gateway.analysis.lookups` for what counts. Allowed and denied queries both appear
    (``decision`` tells them apart): an attempt is worth reviewing too. Each query's analysis
    is the one stored when it arrived; records without one (older records) are analysed here,
    within the same bounds. A query that could not be analysed — not SQL, too long, nested
    too deeply, any error — is listed with ``analysis`` saying why and ``pinned`` empty:
    hostile SQL is flagged for review instead of failing the report.

    Columns: query_id, started_at, user, organisation, purpose, decision, outcome, rows,
    pinned (``table.column`` list), predicates (SQL list), analysis (``ok``, ``unparseable``,
    ``too_large``, ``too_deep``, ``failed``), analysis_detail, analysis_source (``stored``:
    made when the query arrived; ``report``: made now), sql_submitted.
    """
    frame = _queries(queries, since, until)
    stored_column = (
        frame["person_lookups"].to_list()
        if "person_lookups" in frame.columns
        else [None] * frame.height
    )
    analysed: dict[str, LookupAnalysis] = {}  # the same SQL is analysed once per report
    analyses: list[LookupAnalysis] = []
    sources: list[str] = []
    for sql, stored in zip(frame["sql_submitted"].to_list(), stored_column, strict=True):
        if stored is not None:
            analyses.append(_stored_analysis(stored))
            sources.append("stored")
        else:
            text = sql or ""
            if text not in analysed:
                analysed[text] = analyse_lookups(text, catalog)
            analyses.append(analysed[text])
            sources.append("report")
    frame = frame.with_columns(
        pl.Series("pinned", [list(a.pinned) for a in analyses], dtype=pl.List(pl.String)),
        pl.Series("predicates", [list(a.predicates) for a in analyses], dtype=pl.List(pl.String)),
        pl.Series("analysis", [a.status for a in analyses], dtype=pl.String),
        pl.Series("analysis_detail", [a.detail for a in analyses], dtype=pl.String),
        pl.Series("analysis_source", sources, dtype=pl.String),
    )
    flagged = (pl.col("pinned").list.len() > 0) | (pl.col("analysis") != "ok")
    return frame.filter(flagged).select(
        "query_id",
        "started_at",
        "user",
        "organisation",
        "purpose",
        "decision",
        "outcome",
        "rows",
        "pinned",
        "predicates",
        "analysis",
        "analysis_detail",
        "analysis_source",
        "sql_submitted",
    )


def _stored_analysis(text: str) -> LookupAnalysis:
    """The analysis a record holds (JSON text from the queries table); malformed = failed."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    return LookupAnalysis.from_details(value)


def large_extractions(
    queries: pa.Table,
    *,
    min_rows: int = 10_000,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Completed queries that returned at least ``min_rows`` rows, largest first."""
    frame = _queries(queries, since, until)
    return (
        frame.filter(pl.col("rows") >= min_rows)
        .sort("rows", descending=True)
        .select(
            "query_id",
            "started_at",
            "user",
            "organisation",
            "purpose",
            "rows",
            "bytes",
            "truncated",
            "tables",
            "sql_submitted",
        )
    )


@dataclass(frozen=True)
class WorkingHours:
    """When use is expected: ``start <= local time < end`` on ``days``, except ``holidays``.

    Attributes:
        start, end: local wall-clock times.
        days: ISO weekdays (1 = Monday … 7 = Sunday).
        timezone: IANA zone the hours are in.
        holidays: local dates that are not working days (bank holidays).
    """

    start: time = time(8, 0)
    end: time = time(18, 0)
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    timezone: str = "Europe/London"
    holidays: frozenset[date] = field(default_factory=frozenset)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"unknown time zone {self.timezone!r}") from exc


def out_of_hours_reason(when: datetime, hours: WorkingHours) -> str | None:
    """Why ``when`` (timezone-aware) is outside working hours, or ``None`` if inside.

    Example:
        >>> from datetime import datetime, timezone
        >>> out_of_hours_reason(datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc), WorkingHours())
        >>> out_of_hours_reason(datetime(2026, 3, 27, 7, 30, tzinfo=timezone.utc), WorkingHours())
        'before 08:00'
    """
    local = when.astimezone(hours.zone())
    if local.isoweekday() not in hours.days:
        return "weekend" if local.isoweekday() in (6, 7) else "non-working day"
    if local.date() in hours.holidays:
        return "holiday"
    if local.time() < hours.start:
        return f"before {hours.start:%H:%M}"
    if local.time() >= hours.end:
        return f"after {hours.end:%H:%M}"
    return None


def out_of_hours(
    queries: pa.Table,
    *,
    hours: WorkingHours | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Queries started outside working hours (local time), with the reason.

    Columns: query_id, started_at, local_time (text, with zone abbreviation), reason, user,
    organisation, purpose, decision, rows.
    """
    hours = hours or WorkingHours()
    zone = hours.zone()
    frame = _queries(queries, since, until).filter(pl.col("started_at").is_not_null())
    starts: list[datetime] = frame["started_at"].to_list()
    reasons = [out_of_hours_reason(t, hours) for t in starts]
    local = [t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for t in starts]
    frame = frame.with_columns(
        pl.Series("local_time", local, dtype=pl.String),
        pl.Series("reason", reasons, dtype=pl.String),
    )
    return frame.filter(pl.col("reason").is_not_null()).select(
        "query_id",
        "started_at",
        "local_time",
        "reason",
        "user",
        "organisation",
        "purpose",
        "decision",
        "rows",
    )


def denied_attempts(
    queries: pa.Table, *, since: datetime | None = None, until: datetime | None = None
) -> pl.DataFrame:
    """Refused queries, newest last. Columns: query_id, started_at, user, organisation,
    purpose, reason, message, sql_submitted."""
    frame = _queries(queries, since, until)
    return frame.filter(pl.col("decision") == "denied").select(
        "query_id",
        "started_at",
        "user",
        "organisation",
        "purpose",
        "reason",
        "message",
        "sql_submitted",
    )


def exports_register(
    exports: pa.Table,
    queries: pa.Table,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """Every export registered in the period with the purpose of the query it came from.

    ``approval`` is the current state (``registered_approval`` the state it was registered
    with); ``decided_by``/``decided_at``/``decision_comment`` the senior analyst's decision, if
    any; ``downloads`` how often the file was handed out; ``deleted_at`` when export
    retention deleted it.
    """
    frame = pl.from_arrow(exports)
    assert isinstance(frame, pl.DataFrame)
    frame = _period(frame, "time", since, until)
    purposes = _queries(queries, None, None).select("query_id", "purpose")
    return frame.join(purposes, on="query_id", how="left").select(
        "time",
        "query_id",
        "user",
        "organisation",
        "purpose",
        "format",
        "file_name",
        "file_sha256",
        "bytes",
        "marking",
        "approval",
        "registered_approval",
        "decided_by",
        "decided_at",
        "decision_comment",
        "downloads",
        "last_downloaded_at",
        "deleted_at",
    )


def months_before(when: datetime, months: int) -> datetime:
    """The same day-of-month ``months`` earlier (clamped to the month's last day).

    Example:
        >>> from datetime import datetime, timezone
        >>> months_before(datetime(2026, 8, 31, tzinfo=timezone.utc), 6).date()
        datetime.date(2026, 2, 28)
    """
    index = when.year * 12 + (when.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last_day))


def dormant_users(
    queries: pa.Table,
    users: Iterable[str],
    *,
    as_of: datetime,
    months: int = 6,
) -> pl.DataFrame:
    """Users with access who ran no query (allowed or denied) in the ``months`` before ``as_of``.

    Columns: user, last_activity (null = never), days_inactive (null = never).
    """
    cutoff = months_before(as_of, months)
    frame = _queries(queries, None, as_of)
    last = dict(frame.group_by("user").agg(pl.col("started_at").max()).iter_rows())
    rows = []
    for user in sorted(set(users)):
        seen: datetime | None = last.get(user)
        if seen is None or seen < cutoff:
            days = (as_of - seen).days if seen is not None else None
            rows.append({"user": user, "last_activity": seen, "days_inactive": days})
    return pl.DataFrame(
        rows,
        schema={
            "user": pl.String,
            "last_activity": pl.Datetime("us", "UTC"),
            "days_inactive": pl.Int64,
        },
    ).sort("last_activity", nulls_last=False)


def users_seen(queries: pa.Table) -> Collection[str]:
    """Every user who appears in the queries table (for :func:`dormant_users` by default)."""
    return sorted({u for u in queries.column("user").to_pylist() if u})
