"""``/v1/maps``: the base-map layers, listed and downloadable in every export format.

    GET /v1/maps                                     the layers in DIR/basemaps.gpkg
    GET /v1/maps/{layer}?purpose=…&format=gpkg       one layer as a file (audited)

A layer's attributes come from the warehouse reference table through your policy, so point
layers carry only what your level may see (anonymous map points); the download is audited as
a query and an export, like any other.

Example:
    curl -s -H "Authorization: Bearer $TOKEN" \\
         "http://127.0.0.1:8000/v1/maps/lsoa?purpose=SA-2026&format=tab" -o lsoa.zip
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import FileResponse

from gateway.api.deps import ClientDep, PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.routes.exports import _FILE_CONTENT, file_response
from gateway.exports import export_base_layer, list_base_layers, open_export

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["maps"])

LayerName = Literal["local_authority", "neighbourhood", "ward", "lsoa", "map_point"]


class LayerOut(BaseModel):
    name: str
    title: str
    kind: str = Field(description="areas (polygons) or points.")
    geometry_type: str
    features: int
    fields: list[str]
    crs: str


class LayerList(BaseModel):
    layers: list[LayerOut]


@router.get(
    "/maps", response_model=LayerList, responses=errors(401, 403, 429), summary="Base-map layers"
)
def get_maps(principal: PrincipalDep, runtime: RuntimeDep) -> LayerList:
    """The base layers this deployment offers (areas and anonymous map points)."""
    del principal  # authenticated: the list is for users of the gateway only
    return LayerList(
        layers=[LayerOut(**info.to_dict()) for info in list_base_layers(runtime.data_dir.basemaps)]
    )


@router.get(
    "/maps/{layer}",
    response_class=FileResponse,
    responses={
        200: {"description": "The layer as a file.", "content": _FILE_CONTENT},
        **errors(400, 401, 403, 404, 429, 503),
    },
    summary="Download a base-map layer",
)
def get_map(
    layer: LayerName,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    client: ClientDep,
    purpose: Annotated[
        str, Query(max_length=200, description="One of your approved purpose codes.")
    ],
    format: Annotated[str, Query(max_length=20, description="Export format.")] = "gpkg",
    crs: Annotated[
        int | None,
        Query(
            description="Output CRS: 27700 or 4326. Default 27700; GeoJSON 4326 (RFC 7946); "
            "KML is always 4326."
        ),
    ] = None,
) -> FileResponse:
    """The layer in ``format``; its attributes as your policy shows them."""
    with runtime.limits.queries.slot(principal.username):
        exported = export_base_layer(
            runtime.service,
            principal,
            layer,
            purpose,
            format=format,
            data_dir=runtime.data_dir,
            crs=crs,
            client=client,
        )
    return file_response(
        open_export(runtime.service, runtime.data_dir, principal, exported.export_id)
    )
