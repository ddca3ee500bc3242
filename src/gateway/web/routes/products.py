"""``/products``: assembled products as the signed-in person may see them, and the QA queue.

An analyst sees their own products and where each stands: a product sampled for QA is held
until the owner's designated senior analyst (or a deputy) passes it; a returned one is never
released, and the page says so instead of offering it. A senior analyst also sees the products
awaiting their QA, and passes or returns each with a comment. Everything is
:mod:`gateway.products.release`, the functions behind ``/v1/products`` (the same permission
checks: nobody passes their own; only the owner's designated senior analyst or a deputy), and
``/products/{id}/file`` hands the ZIP out through :func:`~gateway.products.release.open_product`
as ``GET /v1/products/{id}/file`` does (audited; refused while held or once returned).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import RuntimeDep
from gateway.api.routes.products import product_zip
from gateway.auth.permissions import Action, Permissions
from gateway.errors import GatewayError
from gateway.products.release import (
    PENDING,
    ProductRecord,
    list_products,
    open_product,
    pass_product,
    product_archive,
    return_product,
)
from gateway.web.pages import error_page, page
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_STATES = {
    "not_sampled": "released (not sampled for QA)",
    "pending": "awaiting QA",
    "passed": "released (QA passed)",
    "returned": "returned — not released",
}


def _row(user: WebUser, permissions: Permissions, record: ProductRecord) -> dict[str, Any]:
    principal = user.principal
    return {
        "record": record,
        "state": _STATES.get(record.qa, record.qa),
        "files": ", ".join(name for name, fmt, _, _ in record.files if fmt != "manifest"),
        "decidable": record.qa == PENDING and principal.username in record.authorisers,
        "downloadable": permissions.allows(principal, Action.DOWNLOAD_PRODUCT, record),
    }


def _products_page(
    user: WebUser, runtime: RuntimeDep, *, error: str = "", status: int = 200
) -> Response:
    permissions = Permissions.of(runtime.service.policy)
    records = list_products(runtime.service, user.principal)
    queue = [r for r in records if r.qa == PENDING and user.principal.username in r.authorisers]
    others = [r for r in records if r not in queue]
    return page(
        "products.html",
        status=status,
        title="Products",
        queue=[_row(user, permissions, r) for r in queue],
        others=[_row(user, permissions, r) for r in others[:100]],
        error=error,
        **common_context(user, runtime),
    )


@router.get("/products")
def products(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _products_page(user, runtime)


@router.post("/products/{product_id}/decision")
async def decide(
    request: Request, user: PageUserDep, runtime: RuntimeDep, product_id: str
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    decision = pass_product if form.get("decision") == "pass" else return_product
    try:
        decision(runtime.service, user.principal, product_id[:80], comment=form.get("comment", ""))
    except GatewayError as exc:
        return _products_page(user, runtime, error=str(exc), status=exc.status)
    return RedirectResponse("/products", status_code=303)


@router.get("/products/{product_id}/file")
def download(user: PageUserDep, runtime: RuntimeDep, product_id: str) -> Response:
    try:
        record, paths = open_product(
            runtime.service, runtime.data_dir, user.principal, product_id[:80]
        )
    except GatewayError as exc:
        return error_page(exc.status, exc.message, **common_context(user, runtime))
    return product_zip(record, product_archive(paths), f"{record.product_kind}-{product_id}.zip")
