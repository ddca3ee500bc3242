"""``/v1/products``: assembled products, quality-assured before release (policy 198 3.2).

    POST /v1/products/strategic-assessment    build the strategic assessment pack for an area
                                              and year: 200 with the ZIP (HTML report,
                                              workbook, manifest) when not sampled for QA; 202
                                              with its record when held for QA
    GET  /v1/products                         your products (approvers: everyone's);
                                              ?pending=true: the QA queue
    GET  /v1/products/{id}                    one product's record and QA state
    GET  /v1/products/{id}/file               the ZIP, once released (audited)
    POST /v1/products/{id}/pass|return        the owner's designated senior analyst (or a
                                              deputy): QA decision, with a comment

Each section is an audited template run under the caller's policy; the files are kept under
the deployment's ``exports/<product id>/`` and registered in the audit log with their hashes
(:func:`gateway.products.release.register_product`, which decides the QA by sampling).

Example:
    curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"area": "E06000002", "year": 2025, "purpose": "SA-2026"}' \\
         http://127.0.0.1:8000/v1/products/strategic-assessment
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import JSONResponse, Response

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.routes.templates import RunnerDep
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import ErrorBody
from gateway.api.streaming import MARKING_HEADER, QUERY_ID_HEADER
from gateway.principal import Principal
from gateway.products import AssessmentRequest, build_strategic_assessment, write_product
from gateway.products.model import Product
from gateway.products.release import (
    ProductRecord,
    list_products,
    open_product,
    pass_product,
    product_archive,
    register_product,
    return_product,
    visible_product,
)
from gateway.templates import TemplateRunner

__all__ = [
    "PRODUCT_ID_HEADER",
    "PRODUCT_QA_HEADER",
    "AssessmentBody",
    "ProductOut",
    "make_strategic_assessment",
    "product_zip",
    "router",
]

router = APIRouter(prefix=f"{API_PREFIX}/products", tags=["products"])


class ProductIdConvertor(Convertor[str]):
    """A product id in a path (``p20260105T100000Z-0123456789abcdef``), so that
    ``/v1/products/{id}`` never matches ``/v1/products/strategic-assessment``."""

    regex = r"p[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("product_id", ProductIdConvertor())
ProductId = Annotated[
    str,
    PathParam(pattern=f"^{ProductIdConvertor.regex}$", description="The product's id."),
]

PRODUCT_ID_HEADER = "X-Product-Id"
#: The product's QA state on a ZIP answer (``not_sampled`` or ``passed``).
PRODUCT_QA_HEADER = "X-Product-QA"
_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Not awaiting QA, or its files changed."}
}


class AssessmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field(max_length=16, description="Local authority code (one of your areas).")
    year: int = Field(ge=2000, le=2100, description="Calendar year assessed.")
    purpose: str = Field(max_length=200, description="One of your approved purpose codes.")
    marking: str | None = Field(
        None,
        max_length=60,
        description="Protective marking: default the policy's for record data; you may raise "
        "it, never lower or remove it (400 marking_lowered).",
    )
    publication: bool = Field(
        False, description="Prepare for publication: the policy's publication disclosure rules."
    )


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(
        "",
        max_length=500,
        description="What was checked (recorded; required: 400 `comment_required` without).",
    )


class ProductOut(BaseModel):
    product_id: str
    owner: str
    organisation: str
    product_kind: str
    marking: str
    qa: str = Field(description="not_sampled, pending, passed or returned.")
    qa_sample: float = Field(description="The product's sample value (from its id's hash).")
    qa_sample_rate: float = Field(description="[products] qa_sample_rate it was compared with.")
    authorisers: list[str] = Field(description="Who may QA it: designated, then deputies.")
    files: list[dict[str, Any]]
    manifest_sha256: str
    registered_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str = ""
    download: str


class ProductList(BaseModel):
    products: list[ProductOut]


def _out(record: ProductRecord) -> ProductOut:
    return ProductOut(
        product_id=record.product_id,
        owner=record.owner,
        organisation=record.organisation,
        product_kind=record.product_kind,
        marking=record.marking,
        qa=record.qa,
        qa_sample=record.qa_sample,
        qa_sample_rate=record.qa_sample_rate,
        authorisers=list(record.authorisers),
        files=[
            {"file_name": n, "format": f, "sha256": h, "bytes": b} for n, f, h, b in record.files
        ],
        manifest_sha256=record.manifest_sha256,
        registered_at=record.registered_at.isoformat(),
        decided_by=record.decided_by,
        decided_at=record.decided_at.isoformat() if record.decided_at else None,
        comment=record.comment,
        download=f"{API_PREFIX}/products/{record.product_id}/file",
    )


def product_zip(record: ProductRecord, archive: bytes, name: str) -> Response:
    """The product's ZIP as a download, with its id, QA state and marking in headers."""
    return Response(
        archive,
        media_type="application/zip",
        headers={
            PRODUCT_ID_HEADER: record.product_id,
            QUERY_ID_HEADER: record.product_id,
            PRODUCT_QA_HEADER: record.qa,
            MARKING_HEADER: record.marking,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def make_strategic_assessment(
    body: AssessmentBody, principal: Principal, runtime: GatewayRuntime, runner: TemplateRunner
) -> tuple[Product, ProductRecord]:
    """Build, write and register the pack (held for QA or released, as the release rules
    decide): what ``POST /v1/products/strategic-assessment`` and the web form both do.

    Raises:
        GatewayError: a marking lowered, an area not yours, a section refused …
    """
    markings = runtime.service.policy.markings
    request = AssessmentRequest(
        area=body.area.strip().upper(),
        year=body.year,
        purpose=body.purpose,
        marking=markings.resolve(body.marking, floor=markings.record),
        publication=body.publication,
    )
    with runtime.limits.queries.slot(principal.username):
        product = build_strategic_assessment(runner, principal, request)
    bundle = write_product(
        runtime.service, product, runtime.data_dir.export_folder(product.product_id)
    )
    return product, register_product(runtime.service, principal, bundle, runtime.data_dir)


@router.post(
    "/strategic-assessment",
    response_class=Response,
    responses={
        200: {
            "description": "Not sampled for QA: a ZIP of the HTML report, the XLSX workbook "
            "and the manifest.",
            "content": _ZIP,
        },
        202: {"model": ProductOut, "description": "Held for QA by your senior analyst."},
        **errors(404, 422, 503),
    },
    summary="Build the strategic assessment pack",
)
def strategic_assessment(
    body: AssessmentBody,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    runner: RunnerDep,
) -> Response:
    """Run the pack's templates for your area and year; the marked documents come back at
    once when the product is not sampled for QA, else once your senior analyst passes it.

    ``marking`` may raise the policy's marking for record data, never lower or remove it
    (400 ``marking_lowered``, audited)."""
    product, record = make_strategic_assessment(body, principal, runtime, runner)
    if not record.released:
        return JSONResponse(
            _out(record).model_dump(),
            status_code=202,
            headers={
                PRODUCT_ID_HEADER: record.product_id,
                QUERY_ID_HEADER: record.product_id,
                MARKING_HEADER: record.marking,
            },
        )
    _, paths = open_product(runtime.service, runtime.data_dir, principal, record.product_id)
    name = f"{product.kind}-{product.area_code}-{product.year}.zip"
    return product_zip(record, product_archive(paths), name)


@router.get(
    "",
    response_model=ProductList,
    responses=errors(401, 429),
    summary="List products (the QA queue with pending=true)",
)
def products(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    pending: Annotated[bool, Query(description="Only products awaiting QA.")] = False,
) -> ProductList:
    """Your products (senior analysts: everyone's), newest first."""
    found = list_products(runtime.service, principal, pending_only=pending)
    return ProductList(products=[_out(r) for r in found])


@router.get(
    "/{product_id:product_id}",
    response_model=ProductOut,
    responses=errors(401, 404, 429),
    summary="One product's record",
)
def product(product_id: ProductId, principal: PrincipalDep, runtime: RuntimeDep) -> ProductOut:
    """Its QA state, files and hashes (yours; senior analysts: any)."""
    return _out(visible_product(runtime.service, principal, product_id))


@router.get(
    "/{product_id:product_id}/file",
    response_class=Response,
    responses={
        200: {"description": "The product's files as a ZIP.", "content": _ZIP},
        **errors(401, 403, 404, 429),
        **_CONFLICT,
    },
    summary="Download a product",
)
def download_product(
    product_id: ProductId, principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    """The ZIP, once released (QA passed, or not sampled); the designated senior analyst and
    deputies may download a held product to QA it; its owner never can before release."""
    record, paths = open_product(runtime.service, runtime.data_dir, principal, product_id)
    return product_zip(record, product_archive(paths), f"{record.product_kind}-{product_id}.zip")


@router.post(
    "/{product_id:product_id}/pass",
    response_model=ProductOut,
    responses={**errors(400, 401, 403, 404, 429), **_CONFLICT},
    summary="QA passed: release a product",
)
def pass_(
    product_id: ProductId, body: DecisionBody, principal: PrincipalDep, runtime: RuntimeDep
) -> ProductOut:
    """The owner's designated senior analyst or a deputy: the product is released."""
    return _out(pass_product(runtime.service, principal, product_id, comment=body.comment))


@router.post(
    "/{product_id:product_id}/return",
    response_model=ProductOut,
    responses={**errors(400, 401, 403, 404, 429), **_CONFLICT},
    summary="QA returned: the product is not released",
)
def return_(
    product_id: ProductId, body: DecisionBody, principal: PrincipalDep, runtime: RuntimeDep
) -> ProductOut:
    """The owner's designated senior analyst or a deputy: returned with comments."""
    return _out(return_product(runtime.service, principal, product_id, comment=body.comment))
