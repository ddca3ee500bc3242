"""``/audit``: the audit dashboard for senior analysts and auditors, and one query's record.

The dashboard shows the review reports of :data:`gateway.audit.reporting.REPORTS` — activity
over time, activity by user, person look-ups, out-of-hours use, large extractions, refusals
and exports — filtered by user, period and organisation, a page at a time. Every read goes
through :class:`gateway.api.review.AuditReview`, what ``GET /v1/audit/reports/{name}`` calls:
the same permission (a reviewer role, else 403), the same organisation scope (a local auditor
sees their own organisation's records only, read by the audit store's own filter), and each
read is itself recorded (``access.audit_reviewed``).

``/audit/queries/{id}`` is one query as the log holds it: who, when, from where, the purpose,
the SQL as submitted and as executed, the tables, columns, masks and row filters applied,
rows, bytes, the result fingerprint, the disclosure method, the marking and the outcome.
Another organisation's query, for a local auditor, is "not found", as is one that does not
exist.

Without a start date it shows the last :data:`DEFAULT_DAYS` days (an empty start: from the
beginning), so its first view reads only that part of the log.

Example:
    GET /audit?report=denied&user=h.lee&since=2026-12-01&until=2026-12-04&page=2
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from gateway.api.deps import RuntimeDep
from gateway.audit.reporting import ReportArguments
from gateway.audit.views import QueryView
from gateway.auth.permissions import Permissions
from gateway.errors import GatewayError, InputError
from gateway.web.pages import audit_marking, error_page, page
from gateway.web.routes.console import common_context
from gateway.web.session import PageUserDep

__all__ = ["DASHBOARD", "DEFAULT_DAYS", "PAGE_SIZE", "DashboardFilters", "router"]

router = APIRouter(include_in_schema=False)

#: Rows of a report on one page.
PAGE_SIZE = 50
_SQL_PREVIEW = 120


@dataclass(frozen=True)
class DashboardTab:
    """One tab of the dashboard: the report it shows and the columns shown of it."""

    report: str
    label: str
    columns: tuple[str, ...]


#: The dashboard's tabs, in order (the first is shown by default).
DASHBOARD = (
    DashboardTab(
        "daily-activity",
        "Activity over time",
        ("day", "queries", "allowed", "denied", "incomplete", "rows", "users"),
    ),
    DashboardTab(
        "activity",
        "Activity by user",
        (
            "user",
            "organisation",
            "purpose",
            "queries",
            "allowed",
            "denied",
            "incomplete",
            "rows",
            "first_at",
            "last_at",
        ),
    ),
    DashboardTab(
        "person-lookups",
        "Person look-ups",
        (
            "started_at",
            "user",
            "organisation",
            "purpose",
            "decision",
            "pinned",
            "analysis",
            "sql_submitted",
            "query_id",
        ),
    ),
    DashboardTab(
        "out-of-hours",
        "Out of hours",
        (
            "local_time",
            "reason",
            "user",
            "organisation",
            "purpose",
            "decision",
            "rows",
            "query_id",
        ),
    ),
    DashboardTab(
        "large-extractions",
        "Large extractions",
        (
            "started_at",
            "user",
            "organisation",
            "purpose",
            "rows",
            "truncated",
            "tables",
            "sql_submitted",
            "query_id",
        ),
    ),
    DashboardTab(
        "denied",
        "Refusals",
        ("started_at", "user", "organisation", "purpose", "reason", "message", "query_id"),
    ),
    DashboardTab(
        "exports",
        "Exports",
        (
            "time",
            "user",
            "organisation",
            "purpose",
            "format",
            "file_name",
            "marking",
            "approval",
            "decided_by",
            "decision_comment",
            "downloads",
            "query_id",
        ),
    ),
)
_TABS = {tab.report: tab for tab in DASHBOARD}


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: {text[:40]!r} is not a date (e.g. 2026-04-01)") from None


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's filters as typed in: a user, a period of whole UTC days (``until``
    included), an organisation, the large-extraction threshold and the page.

    Example:
        >>> f = DashboardFilters.parse(since="2026-04-01", until="2026-04-30")
        >>> f.arguments().until.isoformat()
        '2026-05-01T00:00:00+00:00'

    Raises:
        InputError: a date that is not one, a period back to front, a bad number.
    """

    user: str = ""
    since: date | None = None
    until: date | None = None
    organisation: str = ""
    min_rows: int = 10_000
    page: int = 1

    @classmethod
    def parse(
        cls,
        *,
        user: str = "",
        since: str = "",
        until: str = "",
        organisation: str = "",
        min_rows: str = "",
        page: str = "",
    ) -> DashboardFilters:
        first, last = _day(since.strip(), "From"), _day(until.strip(), "To")
        if first is not None and last is not None and last < first:
            raise InputError(f"the period ends ({last}) before it starts ({first})")
        return cls(
            user=user.strip(),
            since=first,
            until=last,
            organisation=organisation.strip(),
            min_rows=_number(min_rows, "Rows at least", 10_000, 1, 2**62),
            page=_number(page, "page", 1, 1, 100_000),
        )

    def arguments(self) -> ReportArguments:
        """The report's arguments: from the start of ``since`` to the end of ``until``."""
        start = datetime.combine(self.since, time(), UTC) if self.since else None
        end = datetime.combine(self.until, time(), UTC) + timedelta(days=1) if self.until else None
        return ReportArguments(
            since=start,
            until=end,
            min_rows=self.min_rows,
            users=(self.user,) if self.user else (),
        )

    def query(self, report: str, page: int | None = None) -> str:
        """This filter (at ``page``) as a query string for ``report``."""
        pairs = {
            "report": report,
            "user": self.user,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "organisation": self.organisation,
            "min_rows": str(self.min_rows) if report == "large-extractions" else "",
            "page": str(page) if page and page > 1 else "",
        }
        # "since" stays even when empty: an empty start is "from the beginning", none at all
        # is the default period
        return urlencode({k: v for k, v in pairs.items() if v or k == "since"})


#: The period the dashboard shows until another is asked for: the last 30 days.
DEFAULT_DAYS = 30


def _default_start() -> str:
    return (datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS - 1)).isoformat()


def _number(text: str, name: str, default: int, low: int, high: int) -> int:
    text = text.strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InputError(f"{name}: {text[:40]!r} is not a whole number from {low} to {high}")
    return int(text)


def _cell(column: str, value: Any) -> str:
    """One report cell as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if column == "sql_submitted" and len(text) > _SQL_PREVIEW:
        return text[:_SQL_PREVIEW] + "…"
    return text


def _field(value: str | None, name: str, limit: int) -> str:
    """A filter as typed (none: empty).

    Raises:
        InputError: longer than ``limit``.
    """
    if value is not None and len(value) > limit:
        raise InputError(f"{name} is too long (at most {limit} characters)")
    return value or ""


@router.get("/audit")
def dashboard(
    user: PageUserDep,
    runtime: RuntimeDep,
    report: str = DASHBOARD[0].report,
    user_filter: Annotated[str | None, Query(alias="user")] = None,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    organisation: Annotated[str | None, Query()] = None,
    min_rows: Annotated[str | None, Query()] = None,
    page_number: Annotated[str | None, Query(alias="page")] = None,
) -> Response:
    context = common_context(user, runtime)
    try:
        scope = Permissions.of(runtime.service.policy).audit_scope(user.principal)
    except GatewayError:
        return error_page(
            403, "The audit dashboard is for senior analysts and auditors.", **context
        )
    tab = _TABS.get(report)
    if tab is None:
        names = ", ".join(_TABS)
        return error_page(404, f"There is no report {report[:40]!r} (reports: {names}).", **context)
    try:
        filters = DashboardFilters.parse(
            user=_field(user_filter, "user", 200),
            since=_field(since, "From", 40) if since is not None else _default_start(),
            until=_field(until, "To", 40),
            organisation=_field(organisation, "organisation", 200),
            min_rows=_field(min_rows, "Rows at least", 20),
            page=_field(page_number, "page", 10),
        )
        table = runtime.review.report(
            user.principal,
            tab.report,
            filters.arguments(),
            organisation=filters.organisation or None,
        )
    except GatewayError as exc:
        return error_page(exc.status, exc.message, **context)
    records = table.to_pylist()
    start = (filters.page - 1) * PAGE_SIZE
    shown = records[start : start + PAGE_SIZE]
    rows = [
        {
            "cells": [_cell(c, r.get(c)) for c in tab.columns if c != "query_id"],
            "query_id": r.get("query_id") or "",
        }
        for r in shown
    ]
    peak = max((int(r.get("queries") or 0) for r in records), default=0)
    return page(
        "audit.html",
        title="Audit dashboard",
        page_marking=audit_marking(runtime.service.policy.markings),
        tabs=DASHBOARD,
        tab=tab,
        headings=[c.replace("_", " ") for c in tab.columns if c != "query_id"],
        drill="query_id" in tab.columns,
        rows=rows,
        meters=[int(r.get("queries") or 0) for r in shown]
        if tab.report == "daily-activity"
        else [],
        peak=peak,
        total=len(records),
        first=start + 1,
        filters=filters,
        scope=scope,
        organisations=_organisations(runtime) if scope is None else [],
        newer=filters.query(tab.report, filters.page - 1) if filters.page > 1 else "",
        older=filters.query(tab.report, filters.page + 1)
        if start + PAGE_SIZE < len(records)
        else "",
        link=filters.query,
        **context,
    )


def _organisations(runtime: RuntimeDep) -> list[str]:
    """The organisations of the people in the directory (the organisation filter's choices)."""
    directory = runtime.review.directory
    now = datetime.now(UTC)
    found = {p.organisation for u in directory.usernames() if (p := directory.principal(u, now))}
    return sorted(o for o in found if o)


def _query_facts(view: QueryView) -> dict[str, Any]:
    """What the drill-down shows of one query."""
    request = view.request
    started = dict(view.started.details) if view.started is not None else {}
    result = view.result
    denied = dict(view.denied.details) if view.denied is not None else {}
    first = view.denied or view.started or view.completed
    disclosure = result.get("disclosure")
    return {
        "query_id": view.query_id,
        "at": first.time.strftime("%Y-%m-%d %H:%M:%S") if first is not None else "",
        "finished": view.completed.time.strftime("%Y-%m-%d %H:%M:%S") if view.completed else "",
        "user": request.get("user") or (first.actor if first else ""),
        "organisation": request.get("organisation") or (first.organisation if first else ""),
        "level": request.get("level", ""),
        "purpose": request.get("purpose", ""),
        "client": request.get("client_address", ""),
        "template": request.get("template") or "",
        "status": view.status,
        "outcome": result.get("outcome") or denied.get("reason") or "",
        "message": denied.get("message") or result.get("message") or "",
        "rows": result.get("rows"),
        "bytes": result.get("bytes"),
        "duration_ms": result.get("duration_ms"),
        "truncated": result.get("truncated"),
        "fingerprint": result.get("fingerprint") or "",
        "disclosure": _disclosure(disclosure),
        "marking": result.get("marking") or started.get("marking") or "",
        "policy_hash": started.get("policy_hash") or denied.get("policy_hash") or "",
        "tables": ", ".join(map(str, started.get("tables") or [])),
        "columns": ", ".join(map(str, started.get("columns") or [])),
        "masks": list(map(str, started.get("masks") or [])),
        "row_filters": list(map(str, started.get("row_filters") or [])),
        "params": json.dumps(request.get("params")) if request.get("params") else "",
        "sql": str(request.get("sql_submitted") or ""),
        "sql_executed": str(started.get("sql_executed") or ""),
        "sql_with_policy": str(started.get("sql_with_policy") or ""),
    }


def _disclosure(value: object) -> str:
    """The disclosure control applied, as ``key: value`` pairs (none: empty)."""
    if not isinstance(value, Mapping):
        return ""
    return "; ".join(
        f"{k}: {json.dumps(v) if not isinstance(v, str) else v}" for k, v in value.items()
    )


@router.get("/audit/queries/{query_id}")
def query_record(
    user: PageUserDep,
    runtime: RuntimeDep,
    query_id: str,
) -> Response:
    context = common_context(user, runtime)
    try:
        view = runtime.review.query(user.principal, query_id)
    except GatewayError as exc:
        if exc.status == 403:
            return error_page(403, "Query records are for senior analysts and auditors.", **context)
        return error_page(exc.status, exc.message, **context)
    return page(
        "audit_query.html",
        title=f"Query {query_id}",
        page_marking=audit_marking(runtime.service.policy.markings),
        q=_query_facts(view),
        **context,
    )
