"""``/v1/templates``: the template library over HTTP.

    GET  /v1/templates                 every template, marked available for your level
    GET  /v1/templates/{name}          one template with its SQL and parameters
    POST /v1/templates/{name}/run      run it (audited; disclosure-controlled); JSON or Arrow,
                                       or, with ``export``, a governed export file

Routes only translate HTTP: the level check, parameter binding, the audited run and disclosure
control are :class:`gateway.templates.TemplateRunner`'s; exports are
:func:`gateway.templates.export_run`'s (download them from ``/v1/exports/{id}/file``). Every
answer of a run carries ``X-Query-Id``; a run claims the user's disk quota like a query.

Example:
    curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"purpose": "SA-2026", "params": {"year": 2025}}' \\
         http://127.0.0.1:8000/v1/templates/crime-rates/run
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import ClientDep, PrincipalDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.encode import column_types, table_rows
from gateway.api.resources import ResourcesDep, ServingResources
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.routes.exports import ExportOut, export_out
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import ColumnOut, ParamValue
from gateway.api.streaming import MARKING_HEADER, MEDIA_TYPES, QUERY_ID_HEADER
from gateway.engines.base import Cancellation
from gateway.principal import Principal
from gateway.templates import TemplateRun, TemplateRunner, export_run, load_library
from gateway.templates.format import LEVEL_ORDER

__all__ = [
    "PROVENANCE_METADATA_KEY",
    "RunnerDep",
    "TemplateRunBody",
    "TemplateRunOut",
    "answer_template",
    "router",
    "runner_dependency",
    "template_run",
    "template_runner",
]

router = APIRouter(prefix=f"{API_PREFIX}/templates", tags=["templates"])

#: Arrow schema metadata key holding the run's provenance (JSON) in ``format=arrow`` answers.
PROVENANCE_METADATA_KEY = b"gateway.template"


def template_runner(request: Request, runtime: RuntimeDep) -> TemplateRunner:
    """The app's template runner (made on first use and kept on ``app.state``; two requests
    racing to make it make two, and the last one stays — both are correct)."""
    runner: TemplateRunner | None = getattr(request.app.state, "template_runner", None)
    if runner is None or runner.service is not runtime.service:
        runner = TemplateRunner(runtime.service, load_library(catalog=runtime.service.catalog))
        request.app.state.template_runner = runner
    return runner


def runner_dependency(request: Request, runtime: RuntimeDep) -> TemplateRunner:
    """FastAPI dependency: the app's template runner."""
    return template_runner(request, runtime)


#: The app's template runner, as a route parameter.
RunnerDep = Annotated[TemplateRunner, Depends(runner_dependency)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportRequest(_Strict):
    format: str = Field(max_length=20, description="csv, parquet, xlsx, gpkg, geojson, shp, tab …")
    options: dict[str, str | int | float | bool] | None = Field(
        None, description="Export options (see POST /v1/exports)."
    )


class TemplateRunBody(_Strict):
    purpose: str = Field(max_length=200, description="One of your approved purpose codes.")
    params: dict[str, ParamValue] | None = Field(
        None, description="Parameter values; defaults fill the rest.", examples=[{"year": 2025}]
    )
    disclosure: Literal["policy", "publication", "none"] = Field(
        "policy",
        description="policy: your level's rules; publication: the stricter rules for published "
        "outputs; none: no control (only where the policy lets your level opt out).",
    )
    format: Literal["json", "arrow"] = Field("json", description="json or arrow (IPC stream).")
    export: ExportRequest | None = Field(
        None, description="Write the result as a governed export file instead."
    )


class TemplateParameterOut(BaseModel):
    name: str
    type: str
    required: bool
    description: str | None = None
    default: Any = None
    allowed: list[Any] | None = None
    domain: str | None = None
    extra: list[str] | None = None
    min: float | None = None
    max: float | None = None
    scope: str | None = None


class TemplateOut(BaseModel):
    name: str
    title: str
    description: str
    level: str
    output: str
    tags: list[str]
    individuals: bool
    available: bool = Field(description="Whether your access level may run it.")
    parameters: list[TemplateParameterOut]
    chart: dict[str, Any]
    disclosure: dict[str, Any] | None
    map: dict[str, Any] | None = None
    sql: str | None = None


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class TemplateRunOut(BaseModel):
    query_id: str
    template: str
    columns: list[ColumnOut]
    rows: list[list[Any]]
    row_count: int
    provenance: dict[str, Any]


def _available(template_level: str, principal: Principal) -> bool:
    if principal.level not in LEVEL_ORDER:
        return False
    return LEVEL_ORDER.index(principal.level) >= LEVEL_ORDER.index(template_level)


def _out(runner: TemplateRunner, name: str, principal: Principal, *, sql: bool) -> TemplateOut:
    template = runner.library.get(name)
    return TemplateOut(**template.to_dict(sql=sql), available=_available(template.level, principal))


@router.get("", response_model=TemplateList, responses=errors(), summary="List templates")
def list_templates(principal: PrincipalDep, runner: RunnerDep) -> TemplateList:
    """Every template in the library, with its parameters and whether your level may run it."""
    return TemplateList(
        templates=[_out(runner, n, principal, sql=False) for n in runner.library.names()]
    )


@router.get("/{name}", response_model=TemplateOut, responses=errors(404), summary="Show a template")
def show_template(name: str, principal: PrincipalDep, runner: RunnerDep) -> TemplateOut:
    """One template, with its SQL."""
    return _out(runner, name, principal, sql=True)


def _arrow(run: TemplateRun) -> Response:
    metadata = dict(run.table.schema.metadata or {})
    metadata[PROVENANCE_METADATA_KEY] = json.dumps(run.provenance()).encode()
    table = run.table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(
        sink.getvalue().to_pybytes(),
        media_type=MEDIA_TYPES["arrow"],
        headers={QUERY_ID_HEADER: run.query_id, MARKING_HEADER: run.marking},
    )


def _run(
    runtime: GatewayRuntime,
    runner: TemplateRunner,
    name: str,
    body: TemplateRunBody,
    principal: Principal,
    client: Any,
    cancel: Cancellation,
) -> TemplateRun:
    with runtime.limits.queries.slot(principal.username):
        return runner.run(
            principal,
            name,
            body.params or {},
            purpose=body.purpose,
            disclosure=body.disclosure,
            client=client,
            cancel=cancel,
        )


@router.post(
    "/{name}/run",
    response_model=TemplateRunOut | ExportOut,
    responses={
        200: {
            "description": "The (disclosure-controlled) result, or the export written.",
            "content": {MEDIA_TYPES["arrow"]: {"schema": {"type": "string", "format": "binary"}}},
        },
        **errors(404, 413, 422, 503),
    },
    summary="Run a template",
)
async def run_template(
    name: str,
    body: TemplateRunBody,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    runner: RunnerDep,
    request: Request,
    response: Response,
) -> Any:
    """Run a template for an approved purpose: audited like any query, with your level's
    disclosure rules applied to aggregate results. With ``export`` the result is written as a
    governed file (its download address is in the answer). A client that goes away while the
    query runs withdraws it (audited as ``cancelled``)."""
    answer = await run_until_disconnect(
        request,
        lambda cancel: answer_template(
            name, body, principal, runtime, resources, client, runner, cancel
        ),
    )
    if isinstance(answer, ExportOut | TemplateRunOut):
        response.headers[QUERY_ID_HEADER] = (
            answer.export_id if isinstance(answer, ExportOut) else answer.query_id
        )
        response.headers[MARKING_HEADER] = str(answer.provenance["marking"])
    return answer


@contextmanager
def _quota(
    principal: Principal, runtime: GatewayRuntime, resources: ServingResources
) -> Iterator[None]:
    """The caller's disk quota claimed for a run (released when it ends)."""
    claim = resources.quota.claim(
        principal.username, resources.reservation(runtime.service.policy, principal.level)
    )
    try:
        yield
    finally:
        claim.release()


def template_run(
    name: str,
    body: TemplateRunBody,
    principal: Principal,
    runtime: GatewayRuntime,
    resources: ServingResources,
    client: Any,
    runner: TemplateRunner,
    cancel: Cancellation,
) -> TemplateRun:
    """One run as every run over HTTP makes it (the caller's quota and query slot claimed),
    its table in memory: for pages that draw it (the web map view). Blocking."""
    with _quota(principal, runtime, resources):
        return _run(runtime, runner, name, body, principal, client, cancel)


def answer_template(
    name: str,
    body: TemplateRunBody,
    principal: Principal,
    runtime: GatewayRuntime,
    resources: ServingResources,
    client: Any,
    runner: TemplateRunner,
    cancel: Cancellation,
) -> Any:
    """The blocking part of :func:`run_template` (in the thread pool): the run's JSON or Arrow
    answer, or its export. The web pages answer with it too (one path)."""
    with _quota(principal, runtime, resources):
        run = _run(runtime, runner, name, body, principal, client, cancel)
        return _shaped(run, body, principal, runtime)


def _shaped(
    run: TemplateRun, body: TemplateRunBody, principal: Principal, runtime: GatewayRuntime
) -> Any:
    if body.export is not None:
        exported = export_run(
            runtime.service,
            principal,
            run,
            format=body.export.format,
            options=body.export.options,
            data_dir=runtime.data_dir,
        )
        return export_out(exported)
    if body.format == "arrow":
        return _arrow(run)
    return TemplateRunOut(
        query_id=run.query_id,
        template=run.template.name,
        columns=[ColumnOut(**c) for c in column_types(run.table.schema)],
        rows=table_rows(run.table),
        row_count=run.table.num_rows,
        provenance=run.provenance(),
    )
