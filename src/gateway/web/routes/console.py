"""The analyst's pages: ``/`` (the SQL console), ``/console/query``, ``/console/cancel``,
``/console/export``, ``/history``.

The console is a server-rendered page: a purpose picker from the person's approved purposes, a
catalog browser (every visible table and column with its description and mask, and the row
filter applied — :func:`gateway.api.routes.catalog.catalog_for`, what ``GET /v1/catalog``
answers), and a SQL form. ``console.js`` turns the textarea into a CodeMirror 5 editor (SQL
highlighting; Ctrl-Space completes the table and column names of that same catalog, so never a
name the person cannot see; Tab leaves the editor; Ctrl-Enter runs), sends the form to
``/console/query`` and draws the result in a paged grid, or the API's error with its position
marked under the SQL. ``/console/query`` answers through
:func:`gateway.api.routes.query.answer_query`, the same path as ``POST /v1/query`` (policy,
rewrite, audit, limits, release rules — nothing of its own). A running query can be cancelled
(``/console/cancel`` with the page's run id, :mod:`gateway.web.running`; and the page drops its
request, which withdraws the query as a disconnect would): audited ``cancelled``.

Downloads (CSV, XLSX, Parquet, GeoPackage) are exports: ``/console/export`` calls
:func:`gateway.api.routes.exports.run_export`, what ``POST /v1/exports`` runs, so each file is
written by the export writers with its marking and registered with its hash; a released file is
then downloaded from ``/exports/{id}/file`` (:mod:`gateway.web.routes.exports`, audited), and a
held one (record-level data, for the person's designated senior analyst) is shown as held with
a link to its state. Without JavaScript the form works as it is: Run downloads CSV.

History is the person's own queries, read from the audit log
(:meth:`gateway.audit.log.AuditLog.queries`); one query's page is refused to anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.errors import validation_message
from gateway.api.resources import ResourcesDep
from gateway.api.routes.catalog import catalog_for
from gateway.api.routes.exports import ExportBody, run_export
from gateway.api.routes.query import answer_query
from gateway.api.schemas import CatalogOut, QueryBody
from gateway.audit.views import QueryView
from gateway.engines.base import Cancellation
from gateway.errors import GatewayError, InputError, NotFound
from gateway.web.pages import audit_marking, page
from gateway.web.running import RunningQueries, running_queries, valid_run_id
from gateway.web.security import read_form, require_csrf
from gateway.web.session import ConsoleUserDep, PageUserDep, WebUser

__all__ = ["DOWNLOAD_FORMATS", "HISTORY_PAGE_SIZE", "common_context", "completion", "router"]

#: The console's download buttons: export format → label.
DOWNLOAD_FORMATS = {
    "csv": "CSV",
    "xlsx": "Excel (XLSX)",
    "parquet": "Parquet",
    "gpkg": "GeoPackage (results with coordinates)",
}
RunsDep = Annotated[RunningQueries, Depends(running_queries)]

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


def completion(catalog: CatalogOut | None) -> dict[str, list[str]]:
    """The editor's completion words: each table the catalog shows, with its columns (the
    person's view for the chosen purpose, nothing else).

    Example:
        >>> completion(None)
        {}
    """
    if catalog is None:
        return {}
    return {t.name: [c.name for c in t.columns] for t in catalog.tables}


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
        completion=completion(catalog),
        downloads=DOWNLOAD_FORMATS,
        sql=sql,
        stylesheets=("vendor/codemirror/codemirror.css", "vendor/codemirror/show-hint.css"),
        scripts=(
            "vendor/codemirror/codemirror.js",
            "vendor/codemirror/sql.js",
            "vendor/codemirror/show-hint.js",
            "vendor/codemirror/sql-hint.js",
            "console.js",
        ),
        **common_context(user, runtime),
    )


@router.post("/console/query")
async def console_query(
    request: Request,
    user: ConsoleUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    runs: RunsDep,
) -> Response:
    """Run the console's SQL: JSON for the grid (``format=json``) or a CSV answer (the form
    without JavaScript); with a ``run_id``, cancellable by ``/console/cancel``."""
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
    run_id = form.get("run_id", "")
    if run_id and not valid_run_id(run_id):
        raise InputError("run_id: 8 to 64 letters, digits, '-' or '_'")

    def work(cancel: Cancellation) -> Response:
        if not run_id:
            return answer_query(body, principal, runtime, resources, client, cancel)
        with runs.running(principal.username, run_id, cancel):
            return answer_query(body, principal, runtime, resources, client, cancel)

    response = await run_until_disconnect(request, work)
    if answer_format == "csv":
        name = response.headers.get("x-query-id", "result")
        response.headers["content-disposition"] = f'attachment; filename="{name}.csv"'
    return response


@router.post("/console/cancel")
async def console_cancel(request: Request, user: ConsoleUserDep, runs: RunsDep) -> Response:
    """Withdraw one of the person's running console queries (by the page's run id)."""
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    run_id = form.get("run_id", "")
    if not valid_run_id(run_id) or not runs.cancel(user.principal.username, run_id):
        raise NotFound("no query of yours is running with that id (it may have finished)")
    return JSONResponse({"cancelled": True, "run_id": run_id})


@router.post("/console/export")
async def console_export(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
) -> Response:
    """The console's SQL as a file, by the API's export path: a released file is downloaded
    at once (redirect), a held one is shown as held with a link to its state."""
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    chosen = form.get("export_format", "")
    context = common_context(user, runtime)
    try:
        if chosen not in DOWNLOAD_FORMATS:
            raise InputError(f"export_format: one of {', '.join(DOWNLOAD_FORMATS)}")
        try:
            body = ExportBody.model_validate(
                {"sql": form.get("sql", ""), "purpose": form.get("purpose", ""), "format": chosen}
            )
        except ValidationError as exc:
            raise InputError(validation_message(exc.errors())) from exc
        principal = user.principal
        exported = await run_until_disconnect(
            request,
            lambda cancel: run_export(body, principal, runtime, resources, client, None, cancel),
        )
    except GatewayError as exc:
        return page(
            "export_result.html",
            status=exc.status,
            title="Download refused",
            error=exc,
            exported=None,
            **context,
        )
    if exported.approval in ("not_required", "approved"):
        return RedirectResponse(f"/exports/{exported.export_id}/file", status_code=303)
    return page(
        "export_result.html",
        title="Download held for release",
        error=None,
        exported=exported,
        label=DOWNLOAD_FORMATS[chosen],
        **context,
    )


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
        "sql_with_policy": str(request.get("sql_with_policy") or ""),
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
