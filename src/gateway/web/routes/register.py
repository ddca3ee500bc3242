"""The register for administrators and oversight: people, organisations, access reviews, tokens.

    GET  /admin/users                                 everyone, their state; suspend, reinstate
    POST /admin/users                                 register a person
    POST /admin/users/{username}/suspend|reinstate|revoke   (revoke: grants ended; a leaver's
                                                      account closed)
    GET  /admin/organisations                         areas, networks, ISA, authorisation, stops
    POST /admin/organisations/{code}/suspend|reinstate
    POST /admin/organisations/{code}/networks         register a network range
    POST /admin/organisations/{code}/networks/remove
    GET  /admin/reviews                               access reviews due and done
    POST /admin/reviews                               open one for an organisation
    POST /admin/reviews/{id}/users/{username}         confirm or remove a user
    POST /admin/review-cycle                          the lifecycle run, now
    GET  /admin/tokens                                API tokens; issue (lifetime capped by the
    POST /admin/tokens, /admin/tokens/{id}/revoke     policy's [tokens]) and revoke

Each action calls the function behind its ``/v1`` route (:mod:`gateway.api.routes.access`,
``register``, ``partners``, ``tokens``) with the signed-in person as the actor, so who may do
what (administrator, information security officer, head of intelligence, an organisation's
SPOC; never on oneself) is decided by the governance service and the permission point. A
refusal is shown on the page with its status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from gateway.api.deps import RuntimeDep
from gateway.api.errors import validation_message
from gateway.api.routes import access as access_api
from gateway.api.routes import partners as partners_api
from gateway.api.routes import register as register_api
from gateway.api.routes import tokens as tokens_api
from gateway.api.schemas import TokenIssueBody
from gateway.errors import GatewayError, InputError
from gateway.governance.model import ROLES
from gateway.web.pages import page
from gateway.web.routes.access import refused_page
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_Name = Annotated[str, Path(max_length=200)]


_Model = TypeVar("_Model", bound=BaseModel)


def _body(model: type[_Model], **fields: Any) -> _Model:
    """The API's body model from form fields; its refusal as the API words it."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc


# --- the pages --------------------------------------------------------------------------------


def _users(user: WebUser, runtime: RuntimeDep) -> dict[str, Any]:
    governance = runtime.governance
    people = governance.people_as(user.principal.username)
    organisations = [o.code for o in governance.organisations_as(user.principal.username)]
    return {
        "title": "Users",
        "template": "admin_users.html",
        "people": people,
        "organisations": organisations,
        "roles": ROLES,
    }


def _organisations(user: WebUser, runtime: RuntimeDep) -> dict[str, Any]:
    governance = runtime.governance
    organisations = governance.organisations_as(user.principal.username)
    listing = {entry.organisation.code: entry for entry in governance.partner_list()}
    return {
        "title": "Organisations",
        "template": "admin_organisations.html",
        "organisations": [(o, listing.get(o.code)) for o in organisations],
    }


def _reviews(user: WebUser, runtime: RuntimeDep) -> dict[str, Any]:
    governance = runtime.governance
    reviews = governance.access_reviews_as(user.principal.username)
    try:
        organisations = [o.code for o in governance.organisations_as(user.principal.username)]
    except GatewayError:  # a SPOC sees their own organisation's reviews, not the register
        organisations = []
    return {
        "title": "Access reviews",
        "template": "admin_reviews.html",
        "due": [r for r in reviews if r.closed_at is None],
        "closed": [r for r in reviews if r.closed_at is not None],
        "organisations": organisations,
        "today": governance.clock().date(),
    }


def _tokens(user: WebUser, runtime: RuntimeDep) -> dict[str, Any]:
    tokens = tokens_api.list_tokens(user.principal, runtime)
    return {
        "title": "API tokens",
        "template": "admin_tokens.html",
        "tokens": list(reversed(tokens)),
        "max_days": runtime.service.policy.tokens.max_lifetime.days,
        "usernames": sorted(runtime.directory.usernames()),
    }


_PAGES: dict[str, Callable[[WebUser, RuntimeDep], dict[str, Any]]] = {
    "users": _users,
    "organisations": _organisations,
    "reviews": _reviews,
    "tokens": _tokens,
}


def _show(
    name: str,
    user: WebUser,
    runtime: RuntimeDep,
    *,
    error: str = "",
    done: str = "",
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        context = _PAGES[name](user, runtime)
    except GatewayError as exc:
        return refused_page(user, runtime, exc)
    template = context.pop("template")
    return page(
        template,
        status=status,
        error=error,
        done=done,
        **context,
        **extra,
        **common_context(user, runtime),
    )


@router.get("/admin/users")
def users(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _show("users", user, runtime)


@router.get("/admin/organisations")
def organisations(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _show("organisations", user, runtime)


@router.get("/admin/reviews")
def reviews(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _show("reviews", user, runtime)


@router.get("/admin/tokens")
def tokens(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _show("tokens", user, runtime)


# --- the actions ------------------------------------------------------------------------------


async def _act(
    request: Request,
    user: WebUser,
    runtime: RuntimeDep,
    back: str,
    action: Callable[[dict[str, str]], str],
) -> Response:
    """Check the form's CSRF token, take ``action`` as the signed-in person, then show the
    page again: with what was done, or with the refusal and its status."""
    form = await read_form(request)
    try:
        require_csrf(user.csrf_token, request, form)
        done = action(form)
    except GatewayError as exc:
        return _show(back, user, runtime, error=f"{exc.code}: {exc}", status=exc.status)
    return _show(back, user, runtime, done=done)


@router.post("/admin/users")
async def register_person(request: Request, user: PageUserDep, runtime: RuntimeDep) -> Response:
    def action(form: dict[str, str]) -> str:
        def optional(name: str) -> str | None:
            return form.get(name, "").strip() or None

        body = _body(
            register_api.PersonIn,
            username=form.get("username", "").strip(),
            full_name=form.get("full_name", "").strip(),
            organisation=form.get("organisation", ""),
            role_title=form.get("role_title", "").strip(),
            email=form.get("email", "").strip(),
            phone=form.get("phone", "").strip(),
            roles=sorted(k.removeprefix("role:") for k in form if k.startswith("role:")),
            line_manager=optional("line_manager"),
            senior_analyst=optional("senior_analyst"),
            local_supervisor=optional("local_supervisor"),
        )
        return register_api.add_person(body, user.principal, runtime.governance).detail

    return await _act(request, user, runtime, "users", action)


@router.post("/admin/users/{username}/suspend")
async def suspend_user(
    request: Request, user: PageUserDep, runtime: RuntimeDep, username: _Name
) -> Response:
    def action(form: dict[str, str]) -> str:
        kind = form.get("kind") or "misuse"
        body = _body(access_api.SuspendIn, reason=form.get("reason", ""), kind=kind)
        return access_api.suspend(username, body, user.principal, runtime.governance).detail

    return await _act(request, user, runtime, "users", action)


@router.post("/admin/users/{username}/revoke")
async def revoke_user(
    request: Request, user: PageUserDep, runtime: RuntimeDep, username: _Name
) -> Response:
    def action(form: dict[str, str]) -> str:
        body = _body(
            access_api.RevokeIn, reason=form.get("reason", ""), leaver=form.get("leaver") == "yes"
        )
        return access_api.revoke(username, body, user.principal, runtime.governance).detail

    return await _act(request, user, runtime, "users", action)


@router.post("/admin/users/{username}/reinstate")
async def reinstate_user(
    request: Request, user: PageUserDep, runtime: RuntimeDep, username: _Name
) -> Response:
    def action(form: dict[str, str]) -> str:
        body = _body(access_api.ReinstateIn, comment=form.get("comment", ""))
        return access_api.reinstate(username, body, user.principal, runtime.governance).detail

    return await _act(request, user, runtime, "users", action)


@router.post("/admin/organisations/{code}/{change}")
async def change_organisation(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    code: _Name,
    change: Annotated[str, Path(pattern="^(suspend|reinstate|networks)$")],
) -> Response:
    def action(form: dict[str, str]) -> str:
        governance, principal = runtime.governance, user.principal
        if change == "networks":
            network = _body(
                register_api.NetworkIn,
                cidr=form.get("cidr", ""),
                description=form.get("description", ""),
            )
            return register_api.add_network(code, network, principal, governance).detail
        body = _body(partners_api.ReasonIn, reason=form.get("reason", ""))
        stop = partners_api.suspend if change == "suspend" else partners_api.reinstate
        return stop(code, body, principal, governance).detail

    return await _act(request, user, runtime, "organisations", action)


@router.post("/admin/organisations/{code}/networks/remove")
async def remove_network(
    request: Request, user: PageUserDep, runtime: RuntimeDep, code: _Name
) -> Response:
    def action(form: dict[str, str]) -> str:
        body = _body(
            register_api.NetworkRemoveIn, cidr=form.get("cidr", ""), comment=form.get("comment", "")
        )
        return register_api.remove_network(code, body, user.principal, runtime.governance).detail

    return await _act(request, user, runtime, "organisations", action)


@router.post("/admin/reviews")
async def open_review(request: Request, user: PageUserDep, runtime: RuntimeDep) -> Response:
    def action(form: dict[str, str]) -> str:
        body = _body(register_api.ReviewOpenIn, organisation=form.get("organisation", ""))
        opened = register_api.open_review(body, user.principal, runtime.governance)
        return f"access review {opened.review_id} opened, due {opened.due}"

    return await _act(request, user, runtime, "reviews", action)


@router.post("/admin/reviews/{review_id}/users/{username}")
async def decide_review(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    review_id: _Name,
    username: _Name,
) -> Response:
    def action(form: dict[str, str]) -> str:
        body = _body(
            access_api.ReviewDecisionIn,
            keep=form.get("decision") == "keep",
            comment=form.get("comment", ""),
        )
        return access_api.review_decision(
            review_id, username, body, user.principal, runtime.governance
        ).detail

    return await _act(request, user, runtime, "reviews", action)


@router.post("/admin/review-cycle")
async def review_cycle(request: Request, user: PageUserDep, runtime: RuntimeDep) -> Response:
    def action(form: dict[str, str]) -> str:
        ran = access_api.review_cycle(user.principal, runtime.governance)
        return "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in ran.items())

    return await _act(request, user, runtime, "reviews", action)


@router.post("/admin/tokens")
async def issue_token(request: Request, user: PageUserDep, runtime: RuntimeDep) -> Response:
    form = await read_form(request)
    try:
        require_csrf(user.csrf_token, request, form)
        body = _body(
            TokenIssueBody,
            username=form.get("username", ""),
            label=form.get("label", ""),
            expires_in_days=form.get("days") or None,
        )
        issued = tokens_api.issue(body, user.principal, runtime)
    except GatewayError as exc:
        return _show("tokens", user, runtime, error=f"{exc.code}: {exc}", status=exc.status)
    done = (
        f"token {issued.token_id} issued to {issued.username}, until {issued.expires_at:%Y-%m-%d}"
    )
    return _show("tokens", user, runtime, done=done, secret=issued.token, status=201)


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, user: PageUserDep, runtime: RuntimeDep, token_id: _Name
) -> Response:
    def action(form: dict[str, str]) -> str:
        revoked = tokens_api.revoke(token_id, user.principal, runtime)
        return f"token {revoked.token_id} of {revoked.username} revoked"

    return await _act(request, user, runtime, "tokens", action)
