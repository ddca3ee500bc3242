"""The review reports as one table: name → what it shows, its parameters, how it is made.

The API (``GET /v1/audit/reports/{name}``) and the command line (``gateway audit report NAME``)
both offer exactly the reports of :data:`REPORTS`, with the parameters listed here, and run them
with :func:`run_report`; neither has a dispatch of its own. A report reads
:class:`ReportSources` — the audit tables, the catalog, who holds access, the time now — and
takes :class:`ReportArguments` (every parameter typed, with its default).

    activity            queries per user and purpose
    daily-activity      queries per day (UTC): allowed, denied, incomplete, rows, users
    person-lookups      queries pinning a person to a literal, and SQL that could not be analysed
    large-extractions   queries returning at least ``min_rows`` rows
    out-of-hours        queries outside working hours (``work_start``–``work_end`` in ``timezone``)
    denied              refused queries with their reason
    exports             the export register
    dormant             ``users`` (default: everyone with access) with no query for ``months``

Every report but ``dormant`` keeps only the rows of ``users`` when any are named (``dormant``
checks exactly them).

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, seal
    >>> from gateway.audit.tables import audit_tables
    >>> from gateway.catalog import load_catalog
    >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    >>> e = seal(1, "E1", t, "query.denied", "a.khan", "MBC",
    ...          {"query_id": "Q1", "user": "a.khan", "reason": "parse_error"}, GENESIS_HASH)
    >>> now = datetime(2026, 1, 6, tzinfo=timezone.utc)
    >>> sources = ReportSources(audit_tables([e]), load_catalog(), lambda: ["a.khan", "b.lee"], now)
    >>> run_report("denied", sources, ReportArguments())["reason"].to_list()
    ['parse_error']
    >>> run_report("dormant", sources, ReportArguments(months=1))["user"].to_list()
    ['b.lee']
    >>> [p.name for p in REPORTS["large-extractions"].parameters]
    ['since', 'until', 'min_rows', 'users']
    >>> run_report("denied", sources, ReportArguments(users=("b.lee",))).height
    0
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from types import MappingProxyType
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from gateway.audit.reports import (
    WorkingHours,
    activity,
    daily_activity,
    denied_attempts,
    dormant_users,
    exports_register,
    large_extractions,
    out_of_hours,
    person_lookups,
)
from gateway.audit.tables import AuditTables
from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, InputError, NotFound

__all__ = [
    "REPORTS",
    "REPORT_PARAMETERS",
    "ReportArguments",
    "ReportName",
    "ReportParameter",
    "ReportSources",
    "ReportSpec",
    "parse_clock",
    "report_zone",
    "run_report",
]

ReportName = Literal[
    "activity",
    "daily-activity",
    "person-lookups",
    "large-extractions",
    "out-of-hours",
    "denied",
    "exports",
    "dormant",
]


@dataclass(frozen=True)
class ReportParameter:
    """One parameter a report takes (the API's query parameter, the CLI's option).

    Attributes:
        name: as the API and :class:`ReportArguments` spell it (the CLI: ``--min-rows``).
        type: the value's type once parsed.
        default: the value when not given.
        help: one line for ``--help`` and the API's description.
        minimum, maximum: bounds of a number (inclusive).
    """

    name: str
    type: type
    default: object
    help: str
    minimum: int | None = None
    maximum: int | None = None


SINCE = ReportParameter("since", datetime, None, "Start (inclusive), ISO date or date-time.")
UNTIL = ReportParameter("until", datetime, None, "End (exclusive), ISO date or date-time.")
MIN_ROWS = ReportParameter(
    "min_rows", int, 10_000, "large-extractions: row threshold.", minimum=1, maximum=2**62
)
WORK_START = ReportParameter("work_start", time, "08:00", "out-of-hours: the working day starts.")
WORK_END = ReportParameter("work_end", time, "18:00", "out-of-hours: the working day ends.")
TIMEZONE = ReportParameter("timezone", str, "Europe/London", "out-of-hours: zone of working hours.")
MONTHS = ReportParameter(
    "months", int, 6, "dormant: inactivity period in months.", minimum=1, maximum=120
)
USERS = ReportParameter(
    "users",
    list,
    (),
    "Only this user's rows (repeatable); dormant: a user to check (default: everyone with access).",
)
#: Every parameter any report takes, by name.
REPORT_PARAMETERS: Mapping[str, ReportParameter] = MappingProxyType(
    {p.name: p for p in (SINCE, UNTIL, MIN_ROWS, WORK_START, WORK_END, TIMEZONE, MONTHS, USERS)}
)


def parse_clock(text: str) -> time:
    """A time of day such as ``08:00``.

    Raises:
        InputError: not a time of day.
    """
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{text!r} is not a time of day (e.g. 08:00)") from exc


def report_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (working hours; the CLI's dates without a zone).

    Raises:
        InputError: no such zone.
    """
    try:
        return WorkingHours(timezone=name).zone()
    except ConfigurationError as exc:
        raise InputError(exc.message) from None


def _bounded(parameter: ReportParameter, value: int) -> None:
    low, high = parameter.minimum, parameter.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{parameter.name} must be between {low} and {high}, not {value}")


@dataclass(frozen=True)
class ReportArguments:
    """The parameters of a report run, typed (a report reads the ones it takes).

    Raises:
        InputError: a number out of bounds, a naive time, an unknown time zone.
    """

    since: datetime | None = None
    until: datetime | None = None
    min_rows: int = 10_000
    work_start: time = time(8, 0)
    work_end: time = time(18, 0)
    timezone: str = "Europe/London"
    months: int = 6
    users: tuple[str, ...] = ()
    hours: WorkingHours = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for bound in (self.since, self.until):
            if bound is not None and bound.tzinfo is None:
                raise InputError("report periods need timezone-aware times")
        _bounded(MIN_ROWS, self.min_rows)
        _bounded(MONTHS, self.months)
        report_zone(self.timezone)
        hours = WorkingHours(start=self.work_start, end=self.work_end, timezone=self.timezone)
        object.__setattr__(self, "hours", hours)


@dataclass(frozen=True)
class ReportSources:
    """What reports read.

    Attributes:
        tables: the audit log as tables (:func:`gateway.audit.tables.audit_tables`).
        catalog: the warehouse catalog (person-lookups: which columns identify a person).
        users_with_access: everyone with access (dormant, when no ``users`` are given).
        now: the time of the run (dormant: the end of the period when ``until`` is not given).
    """

    tables: AuditTables
    catalog: Catalog
    users_with_access: Callable[[], Collection[str]]
    now: datetime


Producer = Callable[[ReportSources, ReportArguments], pl.DataFrame]


@dataclass(frozen=True)
class ReportSpec:
    """One report: its name, what it shows, its parameters and the function making it."""

    name: ReportName
    description: str
    parameters: tuple[ReportParameter, ...]
    produce: Producer


def _dormant(s: ReportSources, a: ReportArguments) -> pl.DataFrame:
    users = a.users or tuple(s.users_with_access())
    return dormant_users(s.tables.queries, users, as_of=a.until or s.now, months=a.months)


_SPECS = (
    ReportSpec(
        "activity",
        "Queries per user, organisation and purpose: allowed, denied, incomplete, rows, bytes.",
        (SINCE, UNTIL, USERS),
        lambda s, a: activity(s.tables.queries, since=a.since, until=a.until),
    ),
    ReportSpec(
        "daily-activity",
        "Queries per day (UTC): allowed, denied, incomplete, rows and how many users.",
        (SINCE, UNTIL, USERS),
        lambda s, a: daily_activity(
            _of_users(s.tables.queries, a.users), since=a.since, until=a.until
        ),
    ),
    ReportSpec(
        "person-lookups",
        "Queries whose SQL pins a person identifier, name or address to a literal, and "
        "queries whose SQL could not be analysed.",
        (SINCE, UNTIL, USERS),
        lambda s, a: person_lookups(s.tables.queries, s.catalog, since=a.since, until=a.until),
    ),
    ReportSpec(
        "large-extractions",
        "Queries that returned at least min_rows rows, largest first.",
        (SINCE, UNTIL, MIN_ROWS, USERS),
        lambda s, a: large_extractions(
            s.tables.queries, min_rows=a.min_rows, since=a.since, until=a.until
        ),
    ),
    ReportSpec(
        "out-of-hours",
        "Queries started outside working hours, at weekends or on holidays, with the reason.",
        (SINCE, UNTIL, WORK_START, WORK_END, TIMEZONE, USERS),
        lambda s, a: out_of_hours(s.tables.queries, hours=a.hours, since=a.since, until=a.until),
    ),
    ReportSpec(
        "denied",
        "Refused queries with their reason.",
        (SINCE, UNTIL, USERS),
        lambda s, a: denied_attempts(s.tables.queries, since=a.since, until=a.until),
    ),
    ReportSpec(
        "exports",
        "Exports with their purpose, approval state, decision and downloads.",
        (SINCE, UNTIL, USERS),
        lambda s, a: exports_register(
            s.tables.exports, s.tables.queries, since=a.since, until=a.until
        ),
    ),
    ReportSpec(
        "dormant",
        "Users with access who ran no query in the months before until (default: now).",
        (UNTIL, MONTHS, USERS),
        _dormant,
    ),
)
#: The reports, by name, in the order they are listed.
REPORTS: Mapping[str, ReportSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
if tuple(REPORTS) != get_args(ReportName):  # pragma: no cover - a table edited by hand
    raise AssertionError("REPORTS and ReportName disagree")


def run_report(name: str, sources: ReportSources, arguments: ReportArguments) -> pl.DataFrame:
    """Make the report ``name``.

    Raises:
        NotFound: no report of that name.
    """
    spec = REPORTS.get(name)
    if spec is None:
        raise NotFound(f"there is no report {name!r}; reports: {', '.join(REPORTS)}")
    frame = spec.produce(sources, arguments)
    if arguments.users and "user" in frame.columns:
        frame = frame.filter(pl.col("user").is_in(list(arguments.users)))
    return frame


def _of_users(queries: pa.Table, users: tuple[str, ...]) -> pa.Table:
    """The queries of ``users`` (all when none are named)."""
    if not users:
        return queries
    return queries.filter(pc.is_in(queries.column("user"), value_set=pa.array(users, pa.string())))
