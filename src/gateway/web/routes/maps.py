"""``/maps``: the map exporter's view — preview a result on the base maps, then export it.

    GET  /maps            choose a map-layer template, its parameters, how to show it (points,
                          a choropleth of areas, a hotspot grid) and a base map
    POST /maps            preview: the template run (audited, disclosure-controlled) drawn over
                          the base map, with its attributes, marking and disclosure summary
    POST /maps/export     the same run written in a map format with its marking

Everything goes through the API's own functions: the run is
:func:`gateway.api.routes.templates.template_run`, the export
:func:`~gateway.api.routes.templates.answer_template` with an ``export`` (what
``POST /v1/templates/{name}/run`` does with one: registered in the audit log, its marking and
provenance in the file, held for approval where the release rules say). The preview's layer is
:func:`gateway.exports.preview.preview_layer`, which builds the layer with the export's own
geometry code and the same options the export is given — so what is drawn is what the file
holds: points where the policy put them (snapped to anonymous map points for general access),
areas joined to the base-map polygons, grid cells summing the published counts.

The base map is the layer's reference table read as ``GET /v1/maps/{layer}`` reads it (``SELECT
* FROM ward`` through :func:`gateway.api.querying.run_released`: audited, the policy's view),
kept to the person's areas, with the polygons from ``DIR/basemaps.gpkg``. Both are GeoJSON in
EPSG:4326, drawn by ``map.js`` with Leaflet (vendored): no tile server, nothing fetched from
outside.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from gateway.api.deps import ClientDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.errors import validation_message
from gateway.api.querying import run_released
from gateway.api.resources import ResourcesDep, ServingResources
from gateway.api.routes.exports import ExportOut
from gateway.api.routes.templates import (
    RunnerDep,
    TemplateRunBody,
    answer_template,
    template_run,
)
from gateway.api.runtime import GatewayRuntime
from gateway.engines.base import Cancellation
from gateway.errors import GatewayError, InputError, NotFound
from gateway.exports import FORMATS, list_base_layers
from gateway.exports.basemaps import base_layer
from gateway.exports.preview import feature_collection, preview_layer
from gateway.principal import Principal
from gateway.service import ClientInfo
from gateway.templates import Template, TemplateRun, TemplateRunner, form_fields, map_ready
from gateway.templates.runner import read_result
from gateway.web.pages import page, page_marking
from gateway.web.results import ResultTable, result_table
from gateway.web.routes.console import common_context
from gateway.web.routes.templates import (
    PARAM_PREFIX,
    chosen_purpose,
    filled_params,
    given_params,
    may_run,
)
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = [
    "CELL_SIZES",
    "MapKind",
    "base_map",
    "geometry_options",
    "map_kinds",
    "router",
    "value_column",
]

router = APIRouter(include_in_schema=False)

MapKind = Literal["points", "areas", "grid"]
KIND_LABELS = {
    "points": "Points (where the policy places them)",
    "areas": "Choropleth (counts per area)",
    "grid": "Hotspot grid (counts per square cell)",
}
#: Grid cell sizes offered (metres).
CELL_SIZES = (100, 250, 500, 1000)
#: Attribute rows listed under the map (every feature is drawn).
LISTED = 200
BASE_AREAS = ("local_authority", "neighbourhood", "ward", "lsoa")


def map_kinds(template: Template) -> tuple[MapKind, ...]:
    """How a map-layer template's result can be shown: areas when it has an area code, points
    and a grid when it has coordinates."""
    spec = template.map
    if spec is None:
        return ()
    kinds: list[MapKind] = []
    if spec.area:
        kinds.append("areas")
    if spec.easting and spec.northing:
        kinds += ["points", "grid"]
    return tuple(kinds)


def geometry_options(template: Template, kind: MapKind, cell_size: int) -> dict[str, Any]:
    """The export options that make the layer (the preview and the export take the same).

    Example:
        >>> from gateway.templates import load_library
        >>> geometry_options(load_library().get("hotspot-map-points"), "grid", 250)
        {'geometry': 'grid', 'x': 'easting', 'y': 'northing', 'source_crs': 27700, 'cell_size': 250, 'weight': 'crimes'}
    """
    spec = template.map
    if spec is None or kind not in map_kinds(template):
        raise InputError(f"template {template.name} cannot be shown as {kind}")
    if kind == "areas":
        return {"geometry": "areas"}
    options: dict[str, Any] = {
        "geometry": kind,
        "x": spec.easting,
        "y": spec.northing,
        "source_crs": 27700,
    }
    if kind == "grid":
        options["cell_size"] = cell_size
        counts = template.disclosure.counts if template.disclosure is not None else ()
        if counts:
            options["weight"] = counts[0]
    return options


def value_column(template: Template, kind: str, columns: list[str]) -> str:
    """The column a map colours by: a grid's summed count (else its cell count), otherwise the
    template's chart value for areas, else its first disclosure-controlled count.

    Example:
        >>> from gateway.templates import load_library
        >>> value_column(load_library().get("hotspot-lsoas"), "areas", ["lsoa_code", "crimes"])
        'crimes'
    """
    counts = list(template.disclosure.counts) if template.disclosure is not None else []
    if kind == "grid":
        summed = [c for c in columns if c.startswith("sum_")]
        return summed[0] if summed else "count"
    preferred = [template.chart.y, *counts] if kind == "areas" else [*counts, template.chart.y]
    return next((c for c in preferred if c and c in columns), "")


def _map_templates(runner: TemplateRunner, level: str) -> list[Template]:
    return [t for t in runner.library if map_kinds(t) and may_run(t, level)]


def base_map(
    runtime: GatewayRuntime,
    resources: ServingResources,
    principal: Principal,
    purpose: str,
    layer: str,
    areas: tuple[str, ...],
    client: ClientInfo,
    cancel: Cancellation,
) -> dict[str, Any]:
    """The base layer's areas within ``areas`` as GeoJSON (EPSG:4326): the reference table as
    the person's policy shows it (an audited query, as ``GET /v1/maps/{layer}`` runs), the
    polygons from the deployment's base maps.

    Raises:
        NotFound: not an area layer, or the deployment has no base maps.
    """
    base = base_layer(layer)
    if base.kind != "areas" or not runtime.data_dir.basemaps.is_file():
        raise NotFound(f"no base map {layer!r} in this deployment")
    outcome, claim = run_released(
        runtime, resources, principal, base.query(), purpose, client=client, cancel=cancel
    )
    try:
        table = read_result(outcome.result)
    finally:
        claim.release()
    if "local_authority_code" in table.column_names:
        wanted = pc.is_in(
            table.column("local_authority_code").cast(pa.string()),
            value_set=pa.array(list(areas), pa.string()),
        )
        table = table.filter(wanted)
    options = {"geometry": "areas", "area_column": base.code_column, "all_areas": False}
    return feature_collection(preview_layer(table, options, runtime.data_dir.basemaps))


def _choice(value: str | None, choices: tuple[str, ...] | list[str], default: str) -> str:
    return value if value is not None and value in choices else default


def _cell_size(value: str | None) -> int:
    try:
        size = int(value or 250)
    except ValueError:
        raise InputError("the grid cell size is a whole number of metres") from None
    if size not in CELL_SIZES:
        raise InputError(f"the grid cell size must be one of {', '.join(map(str, CELL_SIZES))}")
    return size


def _map_page(
    user: WebUser,
    runtime: GatewayRuntime,
    resources: ServingResources,
    runner: TemplateRunner,
    client: ClientInfo,
    choice: dict[str, str],
    *,
    given: dict[str, str] | None = None,
    run: TemplateRun | None = None,
    layer: dict[str, Any] | None = None,
    exported: ExportOut | None = None,
    error: GatewayError | None = None,
) -> Response:
    """The map page (blocking: reads the base map)."""
    principal = user.principal
    templates = _map_templates(runner, principal.level)
    context = common_context(user, runtime)
    if not templates:
        message = "No map-layer template is available at your access level."
        return page("error.html", status=403, title="Map", message=message, **context)
    purpose = chosen_purpose(user, choice.get("purpose"))
    name = _choice(choice.get("template"), [t.name for t in templates], templates[0].name)
    template = runner.library.get(name)
    kinds = map_kinds(template)
    kind = _choice(choice.get("kind"), kinds, kinds[0])
    present = [i.name for i in list_base_layers(runtime.data_dir.basemaps)]
    bases = [b for b in BASE_AREAS if b in present]
    base = _choice(choice.get("base"), bases, "ward" if "ward" in bases else "")
    fields: list[Any] = []
    base_geojson: dict[str, Any] | None = None
    problem = error
    if purpose is not None:
        try:
            binding = runner.binding_context(principal, purpose)
            fields = form_fields(template, binding, given)
            if base:
                base_geojson = base_map(
                    runtime,
                    resources,
                    principal,
                    purpose,
                    base,
                    binding.areas,
                    client,
                    Cancellation(),
                )
        except GatewayError as exc:
            problem = problem or exc
    listed: ResultTable | None = None
    value = ""
    if run is not None and layer is not None:
        features = layer["features"][:LISTED]
        columns = list(features[0]["properties"]) if features else []
        value = value_column(template, kind, columns)
        rows = [[f["properties"].get(c) for c in columns] for f in features]
        listed = result_table(columns, rows)
    return page(
        "maps.html",
        status=problem.status if problem is not None else 200,
        title="Map",
        page_marking=page_marking(
            runtime.service.policy.markings, *([run.marking] if run is not None else [])
        ),
        purpose=purpose,
        templates=templates,
        tpl=template,
        kinds=[(k, KIND_LABELS[k]) for k in kinds],
        kind=kind,
        cell_sizes=CELL_SIZES,
        cell_size=choice.get("cell_size", "250"),
        bases=bases,
        base=base,
        fields=fields,
        prefix=PARAM_PREFIX,
        base_geojson=base_geojson,
        run=run,
        layer=layer,
        listed=listed,
        value_column=value,
        formats=[f for f in FORMATS.values() if f.spatial],
        markings=_markings(runtime, run),
        exported=exported,
        error=problem,
        error_query_id=getattr(problem, "query_id", None),
        stylesheets=("vendor/leaflet/leaflet.css",),
        scripts=("vendor/leaflet/leaflet.js", "map.js"),
        **context,
    )


def _markings(runtime: GatewayRuntime, run: TemplateRun | None) -> list[str]:
    """The markings an export of ``run`` may carry: its own (the policy's for what it read) and
    those above it — the export refuses a lower one."""
    markings = runtime.service.policy.markings
    floor = markings.rank(run.marking) if run is not None else None
    return list(markings.scale[floor or 0 :])


async def _render(
    user: WebUser,
    runtime: GatewayRuntime,
    resources: ServingResources,
    runner: TemplateRunner,
    client: ClientInfo,
    choice: dict[str, str],
    **outcome: Any,
) -> Response:
    """:func:`_map_page` in the thread pool (it reads the base map through the service)."""
    render = partial(_map_page, user, runtime, resources, runner, client, choice, **outcome)
    return await anyio.to_thread.run_sync(render)


@router.get("/maps")
async def map_view(
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    runner: RunnerDep,
    client: ClientDep,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
    template: Annotated[str | None, Query(max_length=80)] = None,
    base: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    choice = {k: v for k, v in (("purpose", purpose), ("template", template), ("base", base)) if v}
    return await _render(user, runtime, resources, runner, client, choice)


def _options(form: dict[str, str], template: Template) -> dict[str, Any]:
    """The geometry options the form asks for.

    Raises:
        InputError: a way of showing the template does not offer, or a bad cell size.
    """
    kind = form.get("kind", "")
    for offered in map_kinds(template):
        if kind == offered:
            return geometry_options(template, offered, _cell_size(form.get("cell_size")))
    raise InputError(f"template {template.name} cannot be shown as {kind!r}")


def _run_body(
    form: dict[str, str], template: Template, export: dict[str, Any] | None
) -> TemplateRunBody:
    params = filled_params(form)
    options = _options(form, template)
    body: dict[str, Any] = {"purpose": form.get("purpose", ""), "params": params}
    if export is not None:
        body["export"] = {**export, "options": {**options, **export.get("options", {})}}
    try:
        return TemplateRunBody.model_validate(body)
    except ValidationError as exc:
        raise InputError(validation_message(exc.errors())) from exc


async def _posted(request: Request, user: WebUser) -> dict[str, str]:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    return form


@router.post("/maps")
async def map_preview(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    runner: RunnerDep,
) -> Response:
    form = await _posted(request, user)
    given = given_params(form)
    principal = user.principal

    def preview(cancel: Cancellation) -> tuple[TemplateRun, dict[str, Any]]:
        template = runner.library.get(form.get("template", ""))
        body = _run_body(form, template, None)
        options = _options(form, template)
        run = template_run(
            template.name, body, principal, runtime, resources, client, runner, cancel
        )
        try:
            layer = preview_layer(
                map_ready(run), options, runtime.data_dir.basemaps, principal.areas
            )
        except GatewayError as exc:
            exc.query_id = run.query_id
            raise
        return run, feature_collection(layer)

    try:
        run, layer = await run_until_disconnect(request, preview)
    except GatewayError as exc:
        return await _render(user, runtime, resources, runner, client, form, given=given, error=exc)
    return await _render(
        user, runtime, resources, runner, client, form, given=given, run=run, layer=layer
    )


@router.post("/maps/export")
async def map_export(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    runner: RunnerDep,
) -> Response:
    form = await _posted(request, user)
    given = given_params(form)
    principal = user.principal

    def export(cancel: Cancellation) -> Any:
        template = runner.library.get(form.get("template", ""))
        options: dict[str, Any] = {"crs": form.get("crs", "27700")}
        if form.get("marking"):
            options["marking"] = form["marking"]
        body = _run_body(form, template, {"format": form.get("format", ""), "options": options})
        return answer_template(
            template.name, body, principal, runtime, resources, client, runner, cancel
        )

    try:
        exported = await run_until_disconnect(request, export)
    except GatewayError as exc:
        return await _render(user, runtime, resources, runner, client, form, given=given, error=exc)
    assert isinstance(exported, ExportOut)
    return await _render(
        user, runtime, resources, runner, client, form, given=given, exported=exported
    )
