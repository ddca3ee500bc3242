"""``/exports``: the export register as the signed-in person may see it, and the approval inbox.

An analyst sees their own exports and where each stands; a senior analyst also sees the held
record-level exports they may decide — what is in each (the requester, the SQL as submitted,
the purpose, the rows and the columns touched, from the audit log) — and approves or rejects
it with a comment. Decisions are :func:`gateway.exports.approve_export` /
:func:`~gateway.exports.reject_export`, the functions behind ``POST /v1/exports/{id}/approve|
reject``, taken by the signed-in person (nobody decides their own; only the owner's designated
senior analyst or a deputy).

``/exports/{id}`` is one export; its approvers may ask there for a **sample** of its rows: the
export's SQL run again, capped at :data:`SAMPLE_ROWS` rows, as the *approver's own* query —
under the approver's policy view and a purpose of theirs, audited as theirs, through the same
path as ``POST /v1/query`` (:func:`gateway.api.querying.run_released`) — so an approver sees
only what they are entitled to see, never what the requester's grant shows. ``/exports/{id}/
file`` hands the file out as ``GET /v1/exports/{id}/file`` does (audited; refused while held).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.api.querying import run_released
from gateway.api.resources import ResourcesDep
from gateway.api.routes.exports import file_response
from gateway.audit.views import QueryView
from gateway.auth.permissions import Action, Permissions
from gateway.engines.base import Cancellation
from gateway.errors import GatewayError, InputError
from gateway.exports import approve_export, list_exports, reject_export
from gateway.exports.approval import ExportRecord
from gateway.exports.release import open_export, visible_export
from gateway.service import query_record_window
from gateway.web.pages import audit_marking, error_page, page, page_marking
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["SAMPLE_ROWS", "router"]

router = APIRouter(include_in_schema=False)

#: Rows in an approver's sample of a held export.
SAMPLE_ROWS = 10


def _queries(
    runtime: RuntimeDep, user: WebUser, records: list[ExportRecord]
) -> dict[str, QueryView]:
    """The queries the exports came from, by id, in one read of the log: from the oldest
    one's start on (an export's id is its query's), and only the person's own records when
    every export shown is theirs."""
    own = all(r.owner == user.principal.username for r in records)
    windows = [query_record_window(r.export_id) for r in records]
    since = None if None in windows or not windows else min(w[0] for w in windows if w)
    views = runtime.service.audit.queries(
        actor=user.principal.username if own else None, since=since
    )
    wanted = {r.export_id for r in records}
    return {v.query_id: v for v in views if v.query_id in wanted}


def _contents(view: QueryView | None) -> dict[str, Any]:
    """What the audit log says the export holds (its query)."""
    if view is None:
        return {"sql": "", "purpose": "", "rows": None, "columns": "", "params": {}}
    started = view.started.details if view.started is not None else {}
    params = view.request.get("params")
    return {
        "sql": str(view.request.get("sql_submitted") or ""),
        "purpose": str(view.request.get("purpose") or ""),
        "rows": view.result.get("rows"),
        "columns": ", ".join(str(c) for c in started.get("columns") or []),
        "params": dict(params) if isinstance(params, dict) else {},
    }


def _row(
    user: WebUser, runtime: RuntimeDep, record: ExportRecord, view: QueryView | None
) -> dict[str, Any]:
    authoriser = user.principal.username in record.authorisers
    permissions = Permissions.of(runtime.service.policy)
    return {
        "record": record,
        "contents": _contents(view),
        "decidable": record.approval == "pending" and authoriser,
        "may_sample": authoriser,
        "downloadable": record.deleted_at is None
        and permissions.allows(user.principal, Action.DOWNLOAD_EXPORT, record),
    }


def _exports_page(
    user: WebUser, runtime: RuntimeDep, *, error: str = "", status: int = 200
) -> Response:
    records = list_exports(runtime.service, user.principal)[:100]
    views = _queries(runtime, user, records)
    rows = [_row(user, runtime, r, views.get(r.export_id)) for r in records]
    markings = runtime.service.policy.markings
    return page(
        "exports.html",
        status=status,
        title="Exports",
        page_marking=audit_marking(markings),  # the register of exports
        rows=rows,
        error=error,
        **common_context(user, runtime),
    )


def _export_page(
    user: WebUser,
    runtime: RuntimeDep,
    export_id: str,
    *,
    sample: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    context = common_context(user, runtime)
    try:
        record = visible_export(runtime.service, user.principal, export_id[:80])
    except GatewayError as exc:
        return error_page(exc.status, exc.message, **context)
    row = _row(user, runtime, record, _queries(runtime, user, [record]).get(record.export_id))
    purposes = list(user.principal.purposes)
    chosen = row["contents"]["purpose"] if row["contents"]["purpose"] in purposes else None
    markings = runtime.service.policy.markings
    shown = [markings.audit, *([sample["marking"]] if sample and sample.get("marking") else [])]
    return page(
        "export.html",
        status=status,
        title=f"Export {record.file_name}",
        page_marking=page_marking(markings, *shown),  # the register, and any sample's rows
        row=row,
        purposes=purposes,
        chosen=chosen or (purposes[0] if purposes else ""),
        sample=sample,
        sample_rows=SAMPLE_ROWS,
        error=error,
        **context,
    )


@router.get("/exports")
def exports(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _exports_page(user, runtime)


@router.get("/exports/{export_id}")
def export(user: PageUserDep, runtime: RuntimeDep, export_id: str) -> Response:
    return _export_page(user, runtime, export_id)


@router.post("/exports/{export_id}/sample")
async def export_sample(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    export_id: str,
) -> Response:
    """Run the export's SQL as the approver's own query (their policy view, their purpose),
    at most :data:`SAMPLE_ROWS` rows."""
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    context = common_context(user, runtime)
    principal = user.principal
    try:
        record = visible_export(runtime.service, principal, export_id[:80])
        if principal.username not in record.authorisers:
            return error_page(
                403,
                "Only the export's designated senior analyst or a deputy samples it.",
                **context,
            )
        view = _queries(runtime, user, [record]).get(record.export_id)
        contents = _contents(view)
        if not contents["sql"]:
            raise InputError(f"the audit log holds no query for export {record.export_id}")
        outcome, claim = run_released(
            runtime,
            resources,
            principal,
            contents["sql"],
            form.get("purpose", ""),
            contents["params"] or None,
            client=client,
            cancel=Cancellation(),
            max_rows=SAMPLE_ROWS,
        )
    except GatewayError as exc:
        refused: dict[str, Any] = {"error": f"{exc.code}: {exc.message}", "rows": []}
        return _export_page(user, runtime, export_id, sample=refused, status=exc.status)
    try:
        table = outcome.result.to_table()
        sample: dict[str, Any] = {
            "error": "",
            "query_id": outcome.result.query_id,
            "marking": outcome.marking,
            "purpose": form.get("purpose", ""),
            "columns": table.column_names,
            "rows": [
                ["" if v is None else str(v) for v in row.values()] for row in table.to_pylist()
            ],
        }
    finally:
        outcome.result.discard()
        claim.release()
    return _export_page(user, runtime, export_id, sample=sample)


@router.get("/exports/{export_id}/file")
def export_file(user: PageUserDep, runtime: RuntimeDep, export_id: str) -> Response:
    try:
        exported = open_export(runtime.service, runtime.data_dir, user.principal, export_id[:80])
    except GatewayError as exc:
        return error_page(exc.status, exc.message, **common_context(user, runtime))
    return file_response(exported)


@router.post("/exports/{export_id}/decision")
async def decide(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    export_id: str,
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    decision = approve_export if form.get("decision") == "approve" else reject_export
    try:
        decision(runtime.service, user.principal, export_id[:80], comment=form.get("comment", ""))
    except GatewayError as exc:
        return _exports_page(user, runtime, error=str(exc), status=exc.status)
    return RedirectResponse("/exports", status_code=303)
