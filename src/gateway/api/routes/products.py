"""``/v1/products``: assembled products.

    POST /v1/products/strategic-assessment    the strategic assessment pack for an area and
                                              year: a ZIP of the marked HTML report, the
                                              workbook and the manifest

Each section is an audited template run under the caller's policy; the files are kept under
the deployment's ``exports/<product id>/`` and registered in the audit log with their hashes.

Example:
    curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"area": "E06000002", "year": 2025, "purpose": "SA-2026"}' -o sa.zip \\
         http://127.0.0.1:8000/v1/products/strategic-assessment
"""

from __future__ import annotations

import io
import zipfile

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.routes.templates import RunnerDep
from gateway.api.streaming import QUERY_ID_HEADER
from gateway.products import AssessmentRequest, build_strategic_assessment, write_product

__all__ = ["PRODUCT_ID_HEADER", "router"]

router = APIRouter(prefix=f"{API_PREFIX}/products", tags=["products"])

PRODUCT_ID_HEADER = "X-Product-Id"


class AssessmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area: str = Field(max_length=16, description="Local authority code (one of your areas).")
    year: int = Field(ge=2000, le=2100, description="Calendar year assessed.")
    purpose: str = Field(max_length=200, description="One of your approved purpose codes.")
    marking: str | None = Field(
        None, max_length=60, description="Protective marking (default: the policy's)."
    )
    publication: bool = Field(
        False, description="Prepare for publication: the policy's publication disclosure rules."
    )


@router.post(
    "/strategic-assessment",
    response_class=Response,
    responses={
        200: {
            "description": "A ZIP of the HTML report, the XLSX workbook and the manifest.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
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
    """Run the pack's templates for your area and year and return the marked documents."""
    request = AssessmentRequest(
        area=body.area.strip().upper(),
        year=body.year,
        purpose=body.purpose,
        marking=body.marking or runtime.service.policy.exports.marking,
        publication=body.publication,
    )
    with runtime.limits.queries.slot(principal.username):
        product = build_strategic_assessment(runner, principal, request)
    bundle = write_product(
        runtime.service, product, runtime.data_dir.export_folder(product.product_id)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in (*(f.path for f in bundle.files), bundle.manifest):
            archive.write(path, arcname=path.name)
    name = f"{product.kind}-{product.area_code}-{product.year}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={
            PRODUCT_ID_HEADER: product.product_id,
            QUERY_ID_HEADER: product.product_id,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
