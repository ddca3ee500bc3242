"""``/products/strategic-assessment``: the strategic assessment pack built from a form.

The form asks what ``POST /v1/products/strategic-assessment`` takes — the local authority (one
of the person's areas), the year, the purpose (one of their approved purposes), the protective
marking (the policy's for record data, or higher: the policy's scale from there up) and whether
to prepare it for publication — and builds the pack through
:func:`gateway.api.routes.products.make_strategic_assessment`, the API's own function: every
section an audited template run under the person's policy, the files written and registered,
and QA decided by the release rules (``[products] qa_sample_rate``). The answer page says where
the pack stands — awaiting QA by the person's designated senior analyst (or a deputy), or
released — and the form lists the person's earlier packs with theirs.
"""

from __future__ import annotations

from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from gateway.api.deps import RuntimeDep
from gateway.api.errors import validation_message
from gateway.api.routes.products import AssessmentBody, make_strategic_assessment
from gateway.api.routes.templates import RunnerDep
from gateway.errors import GatewayError, InputError
from gateway.products.release import ProductRecord, list_products
from gateway.web.pages import page
from gateway.web.routes.console import common_context
from gateway.web.routes.templates import chosen_purpose
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["QA_STATES", "assessment_body", "router"]

router = APIRouter(include_in_schema=False)

PATH = "/products/strategic-assessment"
KIND = "strategic-assessment"
#: A product's QA state in words.
QA_STATES = {
    "not_sampled": "released (not sampled for QA)",
    "pending": "awaiting QA",
    "passed": "released (QA passed)",
    "returned": "returned by QA: not released",
}


def assessment_body(form: dict[str, str]) -> AssessmentBody:
    """The API's request body from the form.

    Raises:
        InputError: the form does not make a valid body (400, the API's message).
    """
    try:
        return AssessmentBody.model_validate(
            {
                "area": form.get("area", ""),
                "year": form.get("year", ""),
                "purpose": form.get("purpose", ""),
                "marking": form.get("marking") or None,
                "publication": form.get("publication") == "yes",
            }
        )
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc


def _markings(runtime: RuntimeDep) -> list[str]:
    """The markings the pack may carry: the policy's for record data and those above it."""
    markings = runtime.service.policy.markings
    floor = markings.rank(markings.record) or 0
    return list(markings.scale[floor:])


def _packs(user: WebUser, runtime: RuntimeDep) -> list[ProductRecord]:
    mine = list_products(runtime.service, user.principal)
    return [r for r in mine if r.owner == user.principal.username and r.product_kind == KIND]


def _page(
    user: WebUser,
    runtime: RuntimeDep,
    purpose: str | None,
    *,
    form: dict[str, str] | None = None,
    made: ProductRecord | None = None,
    error: GatewayError | None = None,
) -> Response:
    form = form or {}
    last_year = runtime.service.today().year - 1
    return page(
        "assessment.html",
        status=error.status if error is not None else 200,
        title="Strategic assessment pack",
        purpose=purpose,
        areas=user.principal.areas,
        area=form.get("area", ""),
        year=form.get("year", str(last_year)),
        markings=_markings(runtime),
        marking=form.get("marking") or runtime.service.policy.markings.record,
        publication=form.get("publication") == "yes",
        made=made,
        error=error,
        packs=_packs(user, runtime)[:20],
        states=QA_STATES,
        **common_context(user, runtime),
    )


@router.get(PATH)
def assessment_form(
    user: PageUserDep,
    runtime: RuntimeDep,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return _page(user, runtime, chosen_purpose(user, purpose))


@router.post(PATH)
async def assessment_build(
    request: Request, user: PageUserDep, runtime: RuntimeDep, runner: RunnerDep
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    purpose = chosen_purpose(user, form.get("purpose"))
    try:
        body = assessment_body(form)
        _, record = await anyio.to_thread.run_sync(
            lambda: make_strategic_assessment(body, user.principal, runtime, runner)
        )
    except GatewayError as exc:
        return _page(user, runtime, purpose, form=form, error=exc)
    return _page(user, runtime, purpose, form=form, made=record)
