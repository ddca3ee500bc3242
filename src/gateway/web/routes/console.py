"""The analyst's pages: ``/`` (the SQL console), ``/console/query``, ``/history``.

The console is a server-rendered page: a purpose picker from the person's approved purposes, a
catalog browser (every visible table and column with its description and mask, and the row
filter applied — :func:`gateway.api.routes.catalog.catalog_for`, what ``GET /v1/catalog``
answers), and a SQL form. ``console.js`` sends the form to ``/console/query`` and draws the
result in a paged grid, or the API's error with its position marked under the SQL; without
JavaScript the same form downloads the result as CSV. ``/console/query`` answers through
:func:`gateway.api.routes.query.answer_query`, the same path as ``POST /v1/query`` (policy,
rewrite, audit, limits, release rules — nothing of its own).

History is the person's own queries, read from the audit log
(:meth:`gateway.audit.log.AuditLog.queries`); one query's page is refused to anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.errors import validation_message
from gateway.api.resources import ResourcesDep
from gateway.api.routes.catalog import catalog_for
from gateway.api.routes.query import answer_query
from gateway.api.schemas import QueryBody
from gateway.audit.views import QueryView
from gateway.errors import GatewayError, InputError
from gateway.web.pages import audit_marking, page
from gateway.web.security import read_form, require_csrf
from gateway.web.session import ConsoleUserDep, PageUserDep, WebUser

__all__ = ["HISTORY_PAGE_SIZE", "common_context", "router"]

router = APIRouter(include_in_schema=False)

HISTORY_PAGE_SIZE = 25
_SQL_PREVIEW = 160


def common_context(user: WebUser, runtime: RuntimeDep) -> dict[str, Any]:
    """What every signed-in page's template needs (person, CSRF token, idle interval)."""
    return {
        "user": user.principal,
        "csrf_token": user.csrf_token,
        "idle_seconds": int(runtime.service.policy.login.idle_timeout.total_seconds()),
        "notice": runtime.service.policy.login.monitoring_notice,
    }


@router.get("/")
def console(
    user: PageUserDep,
    runtime: RuntimeDep,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
    rerun: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    principal = user.principal
    sql = "SELECT police_uk_category, count(*) AS crimes\nFROM crime\nGROUP BY 1\nORDER BY 2 DESC"
    if rerun:
        earlier = _own_query(user, runtime, rerun)
        if earlier is not None:
            sql = str(earlier.request.get("sql_submitted") or sql)
            purpose = purpose or str(earlier.request.get("purpose") or "") or None
    chosen = purpose if purpose in principal.purposes else next(iter(principal.purposes), None)
    catalog = None
    if chosen is not None:
        try:
            catalog = catalog_for(runtime, principal, chosen)
        except GatewayError:
            catalog = None
    return page(
        "console.html",
        title="SQL console",
        purpose=chosen,
        catalog=catalog,
        sql=sql,
        script="console.js",
        **common_context(user, runtime),
    )


@router.post("/console/query")
async def console_query(
    request: Request,
    user: ConsoleUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
) -> Response:
    """Run the console's SQL: JSON for the grid (``format=json``) or a CSV download."""
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    answer_format: Literal["json", "csv"] = "csv" if form.get("format") == "csv" else "json"
    try:
        body = QueryBody.model_validate(
            {
                "sql": form.get("sql", ""),
                "purpose": form.get("purpose", ""),
                "format": answer_format,
            }
        )
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc
    principal = user.principal
    response = await run_until_disconnect(
        request,
        lambda cancel: answer_query(body, principal, runtime, resources, client, cancel),
    )
    if answer_format == "csv":
        name = response.headers.get("x-query-id", "result")
        response.headers["content-disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _own_query(user: WebUser, runtime: RuntimeDep, query_id: str) -> QueryView | None:
    for view in runtime.service.audit.queries(actor=user.principal.username):
        if view.query_id == query_id:
            return view
    return None


def _row(view: QueryView) -> dict[str, Any]:
    request = view.request
    outcome = view.completed.details if view.completed is not None else {}
    denied = view.denied.details if view.denied is not None else {}
    first = view.denied or view.started or view.completed
    sql = str(request.get("sql_submitted") or "")
    when: datetime | None = first.time if first is not None else None
    return {
        "query_id": view.query_id,
        "at": when.strftime("%Y-%m-%d %H:%M:%S") if when else "",
        "purpose": request.get("purpose", ""),
        "status": view.status,
        "outcome": outcome.get("outcome") or denied.get("code") or denied.get("reason") or "",
        "rows": outcome.get("rows"),
        "sql": sql,
        "preview": sql if len(sql) <= _SQL_PREVIEW else sql[:_SQL_PREVIEW] + "…",
        "sql_executed": str(request.get("sql_executed") or ""),
        "fingerprint": outcome.get("fingerprint") or "",
        "duration_ms": outcome.get("duration_ms"),
    }


@router.get("/history")
def history(
    user: PageUserDep,
    runtime: RuntimeDep,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1,
) -> Response:
    views = list(reversed(runtime.service.audit.queries(actor=user.principal.username)))
    start = (page_number - 1) * HISTORY_PAGE_SIZE
    rows = [_row(v) for v in views[start : start + HISTORY_PAGE_SIZE]]
    return page(
        "history.html",
        title="Query history",
        page_marking=audit_marking(runtime.service.policy.markings),
        rows=rows,
        page_number=page_number,
        more=len(views) > start + HISTORY_PAGE_SIZE,
        total=len(views),
        **common_context(user, runtime),
    )


@router.get("/history/{query_id}")
def history_item(
    user: PageUserDep,
    runtime: RuntimeDep,
    query_id: Annotated[str, Path(max_length=80)],
) -> Response:
    view = _own_query(user, runtime, query_id)
    if view is None:  # someone else's, or none: the same answer
        return page(
            "error.html",
            status=404,
            title="Not found",
            message="There is no query of yours with that id.",
            **common_context(user, runtime),
        )
    return page(
        "query.html",
        title=f"Query {query_id}",
        q=_row(view),
        page_marking=audit_marking(runtime.service.policy.markings),
        **common_context(user, runtime),
    )
