"""``/access``: access requests in the browser — the forms, each role's inbox, one request.

    GET  /access                          your requests and what is missing before you can start
    GET  /access/new?level=general|enhanced   the request form (policy 198, appendix 3)
    POST /access/new                      submit it
    GET  /access/inbox                    what awaits you (endorse, review, authorise), each
                                          with the applicant's precondition checklist; for
                                          administrators and SPOCs, access reviews still open
    GET  /access/requests/{id}            one request: every field, its history, the checklist
    POST /access/requests/{id}/{action}   endorse | review | authorise | refuse | withdraw

Every action is taken by the signed-in person and goes through the functions behind
``/v1/access`` (:mod:`gateway.api.routes.access`): the same body model, the same
:class:`~gateway.governance.service.GovernanceService` call, so roles, separation of duties
(nobody endorses their own request or acts twice in one chain), required comments and the
audit record are decided there, never here. A refusal is shown on the page with its status
(403 for someone acting on a request that is not theirs, or a form without its CSRF token —
checked before anything runs), never a stack trace.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import RuntimeDep
from gateway.api.errors import validation_message
from gateway.api.routes import access as access_api
from gateway.errors import AccessDenied, GatewayError, InputError
from gateway.governance.checklist import ChecklistItem
from gateway.governance.lifecycle import AccessReview
from gateway.governance.workflow import ACTIONS, Action, next_step
from gateway.policy import Policy
from gateway.web.pages import page
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["request_body", "router"]

router = APIRouter(include_in_schema=False)

_RequestId = Annotated[str, Path(max_length=80)]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _codes(text: str) -> list[str]:
    return [code.strip() for code in text.replace(",", " ").split() if code.strip()]


def request_body(form: dict[str, str]) -> access_api.RequestIn:
    """The API's request body from the web form's fields.

    Purposes are one per line, ``CODE: description``; products and dissemination one per
    line; areas as codes separated by spaces or commas; enhanced tables and unmasked columns
    as checkboxes named ``table:NAME`` and ``unmask:TABLE.COLUMN``.

    Raises:
        InputError: a purpose line without its description, or a field the API refuses.

    Example:
        >>> body = request_body({"level": "general", "purposes": "SA-2026: the assessment",
        ...     "key_duties": "analysis", "products": "SA", "dissemination": "CSP board"})
        >>> body.purposes[0].code, body.areas
        ('SA-2026', [])
    """
    purposes = []
    for line in _lines(form.get("purposes", "")):
        code, colon, description = line.partition(":")
        if not colon or not description.strip():
            raise InputError(
                f"purpose {code.strip()!r}: write each purpose on its own line as CODE: description"
            )
        purposes.append({"code": code.strip(), "description": description.strip()})
    enhanced = form.get("level") == "enhanced"
    fields: dict[str, Any] = {
        "level": form.get("level", ""),
        "purposes": purposes,
        "key_duties": form.get("key_duties", ""),
        "products": _lines(form.get("products", "")),
        "dissemination": _lines(form.get("dissemination", "")),
        "areas": _codes(form.get("areas", "")),
        "starts": form.get("starts") or None,
        "ends": form.get("ends") or None,
        "deputy_for": form.get("deputy_for", "").strip() or None,
    }
    if enhanced:
        fields |= {
            "tables": sorted(k.removeprefix("table:") for k in form if k.startswith("table:")),
            "unmask": sorted(k.removeprefix("unmask:") for k in form if k.startswith("unmask:")),
            "extra_areas": _codes(form.get("extra_areas", "")),
            "justification": form.get("justification", ""),
            "method": form.get("method", ""),
        }
    try:
        return access_api.RequestIn(**fields)
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc


def _grantable(policy: Policy) -> tuple[list[str], list[str]]:
    """The tables an enhanced request may add and the columns it may unmask (the policy's)."""
    level = policy.level("enhanced")
    if level is None:
        return [], []
    tables = sorted(name for name, t in level.tables.items() if t.requires_grant)
    unmask = sorted(
        f"{name}.{column}"
        for name, table in level.tables.items()
        for column, mask in table.columns.items()
        if mask.kind != "show" and level.may_unmask(name, column)
    )
    return tables, unmask


def _form_page(
    user: WebUser,
    runtime: RuntimeDep,
    level: str,
    *,
    values: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    governance = runtime.governance
    me = governance.own_record(user.principal.username)
    tables, unmask = _grantable(runtime.service.policy)
    return page(
        "access_form.html",
        status=status,
        title=f"Request {level} access",
        level=level,
        me=me,
        organisation=user.principal.organisation,
        default_areas=" ".join(user.principal.areas),
        tables=tables,
        unmask=unmask,
        enhanced_max_days=governance.settings().enhanced_max_days,
        values=values or {},
        error=error,
        **common_context(user, runtime),
    )


def refused_page(user: WebUser, runtime: RuntimeDep, exc: GatewayError) -> Response:
    """The page for a refusal with nothing else to show: what was refused and why."""
    return page(
        "error.html",
        status=exc.status,
        title="Not permitted" if exc.status == 403 else "Not possible",
        message=f"{exc.code}: {exc}",
        **common_context(user, runtime),
    )


@router.get("/access")
def my_access(user: PageUserDep, runtime: RuntimeDep) -> Response:
    governance, me = runtime.governance, user.principal.username
    try:
        status = governance.status_as(me, me)
        requests = governance.requests_as(me, applicant=me)
    except GatewayError as exc:
        return refused_page(user, runtime, exc)
    return page(
        "access.html",
        title="Access requests",
        status_of=status,
        requests=[access_api.RequestOut.of(r) for r in reversed(requests)],
        **common_context(user, runtime),
    )


@router.get("/access/new")
def new_request(
    user: PageUserDep,
    runtime: RuntimeDep,
    level: Annotated[str, Query(pattern="^(general|enhanced)$")] = "general",
) -> Response:
    try:
        return _form_page(user, runtime, level)
    except GatewayError as exc:
        return refused_page(user, runtime, exc)


@router.post("/access/new")
async def submit_request(request: Request, user: PageUserDep, runtime: RuntimeDep) -> Response:
    form = await read_form(request)
    level = "enhanced" if form.get("level") == "enhanced" else "general"
    try:
        require_csrf(user.csrf_token, request, form)
        body = request_body(form)
        done = access_api.submit(body, user.principal, runtime.governance)
    except GatewayError as exc:
        return _form_page(
            user, runtime, level, values=form, error=f"{exc.code}: {exc}", status=exc.status
        )
    return RedirectResponse(f"/access/requests/{done.request_id}?submitted=1", status_code=303)


def _item(runtime: RuntimeDep, user: WebUser, request_id: str, mine: set[str]) -> dict[str, Any]:
    """One request as the pages show it: every field, the checklist, what the viewer may do."""
    governance, me = runtime.governance, user.principal.username
    shown = access_api.show_request(request_id, user.principal, governance)
    step = next_step(shown.state)  # type: ignore[arg-type]
    actions: list[str] = []
    if request_id in mine and step is not None:
        actions = [step.action, "refuse"]
    if shown.applicant["username"] == me and step is not None:
        actions.append("withdraw")
    needs_comment = {"refuse"}
    if step is not None and step.role == "analysis_manager" and shown.level == "enhanced":
        needs_comment.add(step.action)
    try:
        checklist: tuple[ChecklistItem, ...] | None = governance.checklist_as(me, request_id)
    except AccessDenied:  # may see the request, not the applicant's records
        checklist = None
    return {
        "request": shown,
        "checklist": checklist,
        "actions": actions,
        "needs_comment": needs_comment,
        "step_role": step.role if step else "",
    }


def _request_page(
    user: WebUser,
    runtime: RuntimeDep,
    request_id: str,
    *,
    error: str = "",
    comment: str = "",
    notice_text: str = "",
    status: int = 200,
) -> Response:
    governance = runtime.governance
    mine = {r.request_id for r in governance.waiting_for(user.principal.username)}
    item = _item(runtime, user, request_id, mine)
    return page(
        "access_request.html",
        status=status,
        title=f"Access request {request_id}",
        item=item,
        error=error,
        comment=comment,
        done=notice_text,
        **common_context(user, runtime),
    )


@router.get("/access/requests/{request_id}")
def show_request(
    user: PageUserDep,
    runtime: RuntimeDep,
    request_id: _RequestId,
    submitted: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    try:
        notice_text = "Submitted: it now waits for the first endorsement." if submitted else ""
        return _request_page(user, runtime, request_id, notice_text=notice_text)
    except GatewayError as exc:
        return refused_page(user, runtime, exc)


def _reviews_awaiting(runtime: RuntimeDep, user: WebUser) -> list[tuple[AccessReview, int]]:
    """Open access reviews the person may see (administrators: all; a SPOC: their
    organisation's) and how many of their accounts still await a decision (not their own)."""
    me = user.principal.username
    try:
        reviews = runtime.governance.access_reviews_as(me)
    except GatewayError:  # not a reviewer: nothing awaits them here
        return []
    return [
        (r, sum(1 for e in r.entries if e.decision is None and e.username != me))
        for r in reviews
        if r.closed_at is None
    ]


@router.get("/access/inbox")
def inbox(user: PageUserDep, runtime: RuntimeDep) -> Response:
    governance = runtime.governance
    try:
        waiting = governance.waiting_for(user.principal.username)
        mine = {r.request_id for r in waiting}
        items = [_item(runtime, user, r.request_id, mine) for r in waiting]
    except GatewayError as exc:
        return refused_page(user, runtime, exc)
    return page(
        "access_inbox.html",
        title="Access inbox",
        items=items,
        reviews=_reviews_awaiting(runtime, user),
        **common_context(user, runtime),
    )


@router.post("/access/requests/{request_id}/{action}")
async def act(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    request_id: _RequestId,
    action: Annotated[str, Path(max_length=20)],
) -> Response:
    form = await read_form(request)
    comment = form.get("comment", "")
    try:
        require_csrf(user.csrf_token, request, form)
        if action not in ACTIONS:
            raise InputError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        try:
            body = access_api.CommentIn(comment=comment)
        except ValidationError as exc:
            raise InputError(validation_message(exc.errors())) from exc
        chosen: Action = action  # type: ignore[assignment]
        access_api.act(request_id, chosen, body, user.principal, runtime.governance)
    except GatewayError as exc:
        try:
            return _request_page(
                user, runtime, request_id, error=f"{exc.code}: {exc}", comment=comment,
                status=exc.status,
            )  # fmt: skip
        except GatewayError:  # not theirs even to see: say what was refused, nothing more
            return refused_page(user, runtime, exc)
    back = "/access/inbox" if form.get("back") == "inbox" else f"/access/requests/{request_id}"
    return RedirectResponse(back, status_code=303)
