"""``/exports``: the export register as the signed-in person may see it, and the approval inbox.

An analyst sees their own exports and where each stands; a senior analyst also sees the held
record-level exports they may decide — what is in each (the SQL as submitted, the purpose, the
rows and the columns touched, from the audit log) — and approves or rejects it with a comment.
Decisions are :func:`gateway.exports.approve_export` / :func:`~gateway.exports.reject_export`,
the functions behind ``POST /v1/exports/{id}/approve|reject``, taken by the signed-in person
(nobody decides their own; only the owner's designated senior analyst or a deputy).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import RuntimeDep
from gateway.errors import GatewayError
from gateway.exports import approve_export, list_exports, reject_export
from gateway.exports.approval import ExportRecord
from gateway.web.pages import page
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _contents(runtime: RuntimeDep, record: ExportRecord) -> dict[str, Any]:
    """What the audit log says the export holds (its query)."""
    for view in runtime.service.audit.queries(actor=record.owner):
        if view.query_id == record.export_id:
            started = view.started.details if view.started is not None else {}
            completed = view.completed.details if view.completed is not None else {}
            return {
                "sql": str(view.request.get("sql_submitted") or ""),
                "purpose": str(view.request.get("purpose") or ""),
                "rows": completed.get("rows"),
                "columns": ", ".join(str(c) for c in started.get("columns") or []),
            }
    return {"sql": "", "purpose": "", "rows": None, "columns": ""}


def _exports_page(
    user: WebUser, runtime: RuntimeDep, *, error: str = "", status: int = 200
) -> Response:
    records = list_exports(runtime.service, user.principal)
    rows = [
        {
            "record": r,
            "contents": _contents(runtime, r),
            "decidable": r.approval == "pending" and user.principal.username in r.authorisers,
        }
        for r in records[:100]
    ]
    return page(
        "exports.html",
        status=status,
        title="Exports",
        rows=rows,
        error=error,
        **common_context(user, runtime),
    )


@router.get("/exports")
def exports(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _exports_page(user, runtime)


@router.post("/exports/{export_id}/decision")
async def decide(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    export_id: Annotated[str, Path(max_length=80)],
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    decision = approve_export if form.get("decision") == "approve" else reject_export
    try:
        decision(runtime.service, user.principal, export_id, comment=form.get("comment", ""))
    except GatewayError as exc:
        return _exports_page(user, runtime, error=str(exc), status=exc.status)
    return RedirectResponse("/exports", status_code=303)
