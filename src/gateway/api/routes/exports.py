"""``/v1/exports``: governed file exports; ``/v1/publish/police-uk``: the public extract.

    POST /v1/exports                       run a query and write it as a file (JSON answer);
                                           ``?progress=true`` streams NDJSON progress lines
    GET  /v1/exports                       your exports (approvers: everyone's); ?pending=true
    GET  /v1/exports/{id}                  one export's state
    GET  /v1/exports/{id}/file             download it, once released (audited)
    POST /v1/exports/{id}/approve|reject   the owner's designated senior analyst (or a deputy)
                                           decides on a held export, with a comment
    POST /v1/publish/police-uk             administrators: prepare the month's street-level CSV
                                           (sent to check; held for a second person's sign-off)
    POST /v1/publish/police-uk/{id}/sign-off   another administrator signs it off, with a
                                           comment (never the one who prepared it)

Routes only translate HTTP: every decision is made in :mod:`gateway.exports` and
:mod:`gateway.publish`. An export claims its level's ``max_result_bytes`` of the user's disk
quota while it runs (429 ``disk_quota`` when spent); a client that goes away, or the server
stopping, withdraws it — while its query runs (audited ``cancelled``) or while its file is
written (the work folder is removed, nothing is registered). The JSON answer carries
``X-Query-Id`` (the export id).

Example:
    curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"sql": "SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1",
              "purpose": "SA-2026", "format": "gpkg"}' http://127.0.0.1:8000/v1/exports
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, StreamingResponse

from gateway.api.deps import ClientDep, PrincipalDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect, server_shutdown
from gateway.api.resources import ResourcesDep, ServingResources
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import (
    DISCLOSURE_FIELD,
    MAX_SQL_CHARS,
    DisclosureBody,
    ErrorBody,
    ParamValue,
    disclosure_data,
)
from gateway.api.shutdown import Shutdown
from gateway.api.streaming import MARKING_HEADER, QUERY_ID_HEADER
from gateway.engines.base import Cancellation
from gateway.errors import GatewayError, QueryCancelled
from gateway.exports import (
    FORMATS,
    ExportFile,
    ExportProgress,
    ExportRecord,
    ProgressCallback,
    approve_export,
    export_query,
    list_exports,
    open_export,
    reject_export,
    visible_export,
)
from gateway.exports.options import options_markdown
from gateway.principal import Principal
from gateway.publish import publish_police_uk, sign_off_publication
from gateway.service import ClientInfo

__all__ = [
    "EXPORT_SHA256_HEADER",
    "FILE_MEDIA_TYPES",
    "ExportOut",
    "export_out",
    "file_response",
    "router",
    "run_export",
]

router = APIRouter(prefix=API_PREFIX, tags=["exports"])

EXPORT_SHA256_HEADER = "X-Export-Sha256"
NDJSON = "application/x-ndjson"
#: How often the progress stream looks for news of its export (seconds).
_PROGRESS_POLL_S = 0.02
#: Every media type an export file can have (for the OpenAPI document).
FILE_MEDIA_TYPES = sorted({f.media_type for f in FORMATS.values()})
_FILE_CONTENT = {m: {"schema": {"type": "string", "format": "binary"}} for m in FILE_MEDIA_TYPES}

#: 409: the export is not in a state that allows this (decided already; file changed on disk).
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The export is not pending, or its file changed."}
}

#: Export format names (aliases such as ``mapinfo`` or ``shapefile`` are accepted too).
FormatName = Annotated[
    str,
    Field(
        max_length=20,
        description="csv, parquet, xlsx, gpkg, geojson, shp, tab, mif, fgb, geoparquet or kml "
        "(aliases: mapinfo, shapefile, geopackage, flatgeobuf, excel).",
        examples=["gpkg"],
    ),
]
OptionValue = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportBody(_Strict):
    sql: str = Field(max_length=MAX_SQL_CHARS, description="One SELECT statement.")
    purpose: str = Field(max_length=200, description="One of your approved purpose codes.")
    params: dict[str, ParamValue] | None = Field(None, description="Values for $name parameters.")
    format: FormatName
    options: dict[str, OptionValue] | None = Field(
        None,
        description="Export options (each optional; an unknown one or a bad value is a 400 "
        "`bad_request` naming it):\n\n" + options_markdown(),
        examples=[{"geometry": "grid", "cell_size": 500, "crs": 27700}],
    )
    disclosure: Literal["policy", "publication"] | DisclosureBody | None = DISCLOSURE_FIELD


class DecisionBody(_Strict):
    comment: str = Field(
        "",
        max_length=500,
        description="What was checked (recorded; required: 400 `comment_required` without).",
    )


class PublishBody(_Strict):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-03"])


class ExportOut(BaseModel):
    export_id: str = Field(description="The export's id: the audit id of its query.")
    file_name: str
    format: str
    media_type: str
    sha256: str = Field(description="SHA-256 of the file, as registered in the audit log.")
    bytes: int
    features: int = Field(description="Rows (map features) in the file.")
    approval: str = Field(description="not_required, pending, approved or rejected.")
    data_class: str = Field(description="record, aggregate or reference.")
    reason: str
    provenance: dict[str, Any]
    authorisers: list[str] = Field(
        default_factory=list,
        description="A held file: who may authorise its release (your designated senior "
        "analyst, then their deputies).",
    )
    download: str = Field(description="Where to download it once released.")


class ExportRecordOut(BaseModel):
    export_id: str
    owner: str
    organisation: str
    format: str
    file_name: str
    sha256: str
    bytes: int
    marking: str
    approval: str
    registered_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str = ""
    authorisers: list[str] = Field(
        default_factory=list, description="A held file: who may authorise its release."
    )
    download: str


class ExportList(BaseModel):
    exports: list[ExportRecordOut]


#: The state of a police.uk extract: ``awaiting_sign_off`` until a second person signs it off.
PUBLICATION_HEADER = "X-Publication"


def _download(export_id: str) -> str:
    return f"{API_PREFIX}/exports/{export_id}/file"


def export_out(exported: ExportFile) -> ExportOut:
    """The API's answer for a written export (also a template run's ``export``)."""
    return ExportOut(**exported.to_dict(), download=_download(exported.export_id))


def _record_out(record: ExportRecord) -> ExportRecordOut:
    return ExportRecordOut(
        export_id=record.export_id,
        owner=record.owner,
        organisation=record.organisation,
        format=record.format,
        file_name=record.file_name,
        sha256=record.file_sha256,
        bytes=record.bytes,
        marking=record.marking,
        approval=record.approval,
        registered_at=record.registered_at.isoformat(),
        decided_by=record.decided_by,
        decided_at=record.decided_at.isoformat() if record.decided_at else None,
        comment=record.comment,
        authorisers=list(record.authorisers),
        download=_download(record.export_id),
    )


def file_response(exported: ExportFile) -> FileResponse:
    """The export file with its id and registered hash in the headers."""
    return FileResponse(
        exported.path,
        media_type=exported.media_type,
        filename=exported.file_name,
        headers={
            QUERY_ID_HEADER: exported.export_id,
            EXPORT_SHA256_HEADER: exported.sha256,
            MARKING_HEADER: exported.provenance.marking,
        },
    )


def cancellable(report: ProgressCallback | None, cancel: Cancellation) -> ProgressCallback:
    """A progress callback that stops the export's file from being written once ``cancel`` is
    cancelled (the writer calls it as rows go out; the work folder is then removed)."""

    def progress(step: ExportProgress) -> None:
        if step.stage == "write" and cancel.cancelled:
            raise QueryCancelled("the export was withdrawn while its file was being written")
        if report is not None:
            report(step)

    return progress


async def _progress_stream(run: Any, shutdown: Shutdown) -> AsyncIterator[bytes]:
    """Run ``run(progress, cancel)`` in a thread; yield its progress, then its answer, as
    NDJSON. If the stream ends before the answer (the client went away and the server stopped
    the response), or the server is stopping, the export is withdrawn."""
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    cancel = Cancellation()

    def work() -> None:
        try:
            with shutdown.working():
                exported = run(lambda p: events.put({"progress": _progress(p)}), cancel)
            events.put({"export": export_out(exported).model_dump()})
        except GatewayError as exc:
            events.put({"error": exc.to_dict()})
        finally:
            events.put(None)

    threading.Thread(target=work, name="gateway-export", daemon=True).start()
    last_write = -1
    finished = False
    try:
        while True:
            try:
                event = events.get_nowait()
            except queue.Empty:
                if shutdown.started:
                    cancel.cancel()
                await anyio.sleep(_PROGRESS_POLL_S)  # where a disconnect cancels the stream
                continue
            if event is None:
                break
            progress = event.get("progress")
            if progress and progress["stage"] == "write":  # at most ~50 lines for a long write
                step = max(1, progress["total"] // 50)
                if progress["done"] < progress["total"] and progress["done"] - last_write < step:
                    continue
                last_write = progress["done"]
            yield (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        finished = True
    finally:
        if not finished:
            cancel.cancel()


def _progress(p: ExportProgress) -> dict[str, Any]:
    return {"stage": p.stage, "done": p.done, "total": p.total}


def run_export(
    body: ExportBody,
    principal: Principal,
    runtime: GatewayRuntime,
    resources: ServingResources,
    client: ClientInfo,
    report: ProgressCallback | None,
    cancel: Cancellation,
) -> ExportFile:
    """What ``POST /v1/exports`` does once its body is read (the web console's downloads too):
    the user's disk quota claimed and a query slot taken while :func:`gateway.exports.export_query`
    runs the query under the policy, writes the file and registers it (held or released)."""
    claim = resources.quota.claim(
        principal.username, resources.reservation(runtime.service.policy, principal.level)
    )
    try:
        with runtime.limits.queries.slot(principal.username):
            return export_query(
                runtime.service,
                principal,
                body.sql,
                body.purpose,
                format=body.format,
                data_dir=runtime.data_dir,
                options=body.options,
                params=body.params,
                client=client,
                progress=cancellable(report, cancel),
                disclosure=disclosure_data(body.disclosure),
                cancel=cancel,
            )
    finally:
        claim.release()


@router.post(
    "/exports",
    response_model=ExportOut,
    responses={
        200: {
            "description": "The export (JSON), or with progress=true an NDJSON stream of "
            '{"progress": …} lines ending with {"export": …} or {"error": …}.',
            "content": {NDJSON: {"schema": {"type": "string"}}},
        },
        **errors(400, 401, 403, 413, 429, 422, 503),
    },
    summary="Export a query's result as a file",
)
async def create_export(
    body: ExportBody,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    request: Request,
    response: Response,
    progress: Annotated[bool, Query(description="Stream progress as NDJSON lines.")] = False,
) -> Any:
    """Run the query under your policy (audited) and write it in ``format``; record-level data
    may be held for a senior analyst's approval before it can be downloaded. A client that
    goes away while the query runs withdraws it (audited as ``cancelled``)."""

    def run(report: ProgressCallback | None, cancel: Cancellation) -> ExportFile:
        return run_export(body, principal, runtime, resources, client, report, cancel)

    if progress:
        return StreamingResponse(_progress_stream(run, server_shutdown(request)), media_type=NDJSON)
    exported = await run_until_disconnect(request, lambda cancel: run(None, cancel))
    response.headers[QUERY_ID_HEADER] = exported.export_id
    response.headers[MARKING_HEADER] = exported.provenance.marking
    return export_out(exported)


@router.get(
    "/exports",
    response_model=ExportList,
    responses=errors(400, 401, 403, 429),
    summary="List exports",
)
def get_exports(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    pending: Annotated[bool, Query(description="Only exports awaiting approval.")] = False,
) -> ExportList:
    """Your exports, newest first; senior analysts see everyone's (to review held ones)."""
    records = list_exports(runtime.service, principal, pending_only=pending)
    return ExportList(exports=[_record_out(r) for r in records])


@router.get(
    "/exports/{export_id}",
    response_model=ExportRecordOut,
    responses=errors(400, 401, 403, 404, 429),
    summary="One export's state",
)
def get_export(export_id: str, principal: PrincipalDep, runtime: RuntimeDep) -> ExportRecordOut:
    """Its approval state, hash and marking (yours, or any for senior analysts)."""
    return _record_out(visible_export(runtime.service, principal, export_id))


@router.get(
    "/exports/{export_id}/file",
    response_class=FileResponse,
    responses={
        200: {"description": "The file.", "content": _FILE_CONTENT},
        **errors(400, 401, 403, 404, 429),
        **_CONFLICT,
    },
    summary="Download an export",
)
def download_export(export_id: str, principal: PrincipalDep, runtime: RuntimeDep) -> FileResponse:
    """The file, once released (the designated senior analyst and deputies may download a
    held file to review it; its owner never can)."""
    return file_response(open_export(runtime.service, runtime.data_dir, principal, export_id))


def _decision(
    decide: Any, export_id: str, body: DecisionBody, principal: Principal, runtime: GatewayRuntime
) -> ExportRecordOut:
    return _record_out(decide(runtime.service, principal, export_id, comment=body.comment))


@router.post(
    "/exports/{export_id}/approve",
    response_model=ExportRecordOut,
    responses={**errors(400, 401, 403, 404, 429), **_CONFLICT},
    summary="Approve a held export",
)
def approve(
    export_id: str, body: DecisionBody, principal: PrincipalDep, runtime: RuntimeDep
) -> ExportRecordOut:
    """The owner's designated senior analyst or a deputy: release a held export (never your
    own), with a comment saying what was checked."""
    return _decision(approve_export, export_id, body, principal, runtime)


@router.post(
    "/exports/{export_id}/reject",
    response_model=ExportRecordOut,
    responses={**errors(400, 401, 403, 404, 429), **_CONFLICT},
    summary="Reject a held export",
)
def reject(
    export_id: str, body: DecisionBody, principal: PrincipalDep, runtime: RuntimeDep
) -> ExportRecordOut:
    """The owner's designated senior analyst or a deputy: refuse a held export (with a
    comment); it is never released."""
    return _decision(reject_export, export_id, body, principal, runtime)


@router.post(
    "/publish/police-uk",
    response_class=FileResponse,
    responses={
        200: {"description": "The street-level CSV.", "content": {"text/csv": {}}},
        **errors(400, 401, 403, 413, 429, 503),
    },
    tags=["publish"],
    summary="police.uk street-level extract (administrators)",
)
def publish(
    body: PublishBody, principal: PrincipalDep, runtime: RuntimeDep, client: ClientDep
) -> FileResponse:
    """Write the month's police.uk CSV through the service (audited) and send it to be
    checked: it is marked and registered (``X-Protective-Marking``, the policy's publication
    marking) and held until a second administrator signs it off for publication
    (``X-Publication: awaiting_sign_off``; the extract id is ``X-Query-Id``)."""
    with runtime.limits.queries.slot(principal.username):
        extract = publish_police_uk(
            runtime.service, principal, body.month, data_dir=runtime.data_dir, client=client
        )
    return FileResponse(
        extract.path,
        media_type="text/csv",
        filename=extract.path.name,
        headers={
            QUERY_ID_HEADER: extract.query_ids[1],
            EXPORT_SHA256_HEADER: extract.sha256,
            MARKING_HEADER: extract.marking,
            PUBLICATION_HEADER: "awaiting_sign_off",
            "X-Rows": str(extract.rows),
        },
    )


@router.post(
    "/publish/police-uk/{extract_id}/sign-off",
    response_model=ExportRecordOut,
    responses={**errors(400, 401, 403, 404, 429), **_CONFLICT},
    tags=["publish"],
    summary="Sign off a police.uk extract for publication (a second administrator)",
)
def sign_off(
    extract_id: str, body: DecisionBody, principal: PrincipalDep, runtime: RuntimeDep
) -> ExportRecordOut:
    """Another administrator than the one who prepared it: the extract is checked and may be
    published (recorded with your comment; 403 ``self_approval`` for its preparer)."""
    return _record_out(
        sign_off_publication(runtime.service, principal, extract_id, comment=body.comment)
    )
