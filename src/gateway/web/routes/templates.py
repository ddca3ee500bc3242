"""The template library as forms: ``/templates`` and ``/templates/{name}``.

The list shows the templates the signed-in person's level may run. A template's page is a form
built from its parameter declarations (:func:`gateway.templates.form.form_fields`: allowed
values and reference domains as selects, months and dates as their inputs, numbers with their
bounds, defaults resolved for the person) with a purpose picker from their approved purposes.
Posting it runs the template through
:func:`gateway.api.routes.templates.answer_template` — what ``POST /v1/templates/{name}/run``
answers with: the level check, parameter binding, the audited run and disclosure control are
the :class:`~gateway.templates.TemplateRunner`'s, nothing of the page's own. The result is shown
as a table (a suppressed cell as ``*``), with the disclosure control applied and the run's
protective marking; ``template-chart.js`` draws the template's chart from that table (Chart.js,
vendored), so chart and table cannot disagree.

A refused run (unknown parameter, a value not allowed, a purpose not approved …) shows the
form again with the API's message and status (4xx), never a stack trace.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.errors import validation_message
from gateway.api.resources import ResourcesDep
from gateway.api.routes.templates import (
    RunnerDep,
    TemplateRunBody,
    TemplateRunOut,
    answer_template,
)
from gateway.errors import GatewayError, InputError, NotFound
from gateway.templates import Template, TemplateRunner, form_fields
from gateway.templates.format import LEVEL_ORDER
from gateway.web.pages import page, page_marking
from gateway.web.results import result_table
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = [
    "PARAM_PREFIX",
    "chosen_purpose",
    "filled_params",
    "given_params",
    "may_run",
    "router",
]

router = APIRouter(include_in_schema=False)

#: Form fields of template parameters are ``param.<name>`` (never clash with purpose, CSRF).
PARAM_PREFIX = "param."
_NAME = Annotated[str, Path(max_length=80)]


def chosen_purpose(user: WebUser, purpose: str | None) -> str | None:
    """``purpose`` when it is one of the person's approved purposes, else their first."""
    purposes = user.principal.purposes
    return purpose if purpose in purposes else next(iter(purposes), None)


def may_run(template: Template, level: str) -> bool:
    """Whether ``level`` may run ``template`` (the runner checks it again when it runs)."""
    return level in LEVEL_ORDER and LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(template.level)


@router.get("/templates")
def templates(user: PageUserDep, runtime: RuntimeDep, runner: RunnerDep) -> Response:
    level = user.principal.level
    runnable = [t for t in runner.library if may_run(t, level)]
    return page(
        "templates.html",
        title="Template library",
        templates=runnable,
        others=len(runner.library) - len(runnable),
        **common_context(user, runtime),
    )


def _template_page(
    user: WebUser,
    runtime: RuntimeDep,
    runner: TemplateRunner,
    name: str,
    purpose: str | None,
    *,
    given: dict[str, str] | None = None,
    disclosure: str = "policy",
    answer: TemplateRunOut | None = None,
    error: GatewayError | None = None,
) -> Response:
    try:
        template = runner.library.get(name)
    except NotFound as exc:
        return page(
            "error.html", status=exc.status, title="Not found", message=str(exc),
            **common_context(user, runtime),
        )  # fmt: skip
    fields = []
    problem = error
    if purpose is not None:
        try:
            fields = form_fields(template, runner.binding_context(user.principal, purpose), given)
        except GatewayError as exc:
            problem = problem or exc
    result = None
    if answer is not None:
        result = result_table([c.name for c in answer.columns], answer.rows)
    shown = [str(answer.provenance["marking"])] if answer is not None else []
    return page(
        "template.html",
        status=problem.status if problem is not None else 200,
        title=template.title,
        page_marking=page_marking(runtime.service.policy.markings, *shown),
        tpl=template,
        purpose=purpose,
        fields=fields,
        disclosure=disclosure,
        answer=answer,
        result=result,
        error=problem,
        error_query_id=getattr(problem, "query_id", None),
        prefix=PARAM_PREFIX,
        scripts=("vendor/chart.js/chart.umd.min.js", "template-chart.js"),
        **common_context(user, runtime),
    )


@router.get("/templates/{name}")
def template_form(
    user: PageUserDep,
    runtime: RuntimeDep,
    runner: RunnerDep,
    name: _NAME,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return _template_page(user, runtime, runner, name, chosen_purpose(user, purpose))


def given_params(form: dict[str, str]) -> dict[str, str]:
    """The template parameters a form carries, as typed, named without the form's prefix.

    >>> given_params({"param.area": " E06 ", "purpose": "SA-2026"})
    {'area': ' E06 '}
    """
    return {k[len(PARAM_PREFIX) :]: v for k, v in form.items() if k.startswith(PARAM_PREFIX)}


def filled_params(form: dict[str, str]) -> dict[str, str]:
    """The parameters a form fills in, trimmed; an empty field is left out (its default applies).

    >>> filled_params({"param.area": " E06 ", "param.since": " "})
    {'area': 'E06'}
    """
    return {k: v.strip() for k, v in given_params(form).items() if v.strip()}


def run_body(form: dict[str, str]) -> TemplateRunBody:
    """The API's request body from a template form (empty fields: the defaults apply).

    Raises:
        InputError: the form does not make a valid body (400, the API's message).
    """
    params = filled_params(form)
    try:
        return TemplateRunBody.model_validate(
            {
                "purpose": form.get("purpose", ""),
                "params": params,
                "disclosure": form.get("disclosure", "policy"),
            }
        )
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc


@router.post("/templates/{name}")
async def template_run(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    runner: RunnerDep,
    name: _NAME,
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    purpose = chosen_purpose(user, form.get("purpose"))
    given = given_params(form)
    disclosure = form.get("disclosure", "policy")
    context: dict[str, Any] = {"given": given, "disclosure": disclosure}
    try:
        body = run_body(form)
        principal = user.principal
        answer = await run_until_disconnect(
            request,
            lambda cancel: answer_template(
                name, body, principal, runtime, resources, client, runner, cancel
            ),
        )
    except GatewayError as exc:
        return _template_page(user, runtime, runner, name, purpose, error=exc, **context)
    assert isinstance(answer, TemplateRunOut)  # no export, no Arrow asked for
    return _template_page(user, runtime, runner, name, purpose, answer=answer, **context)
