"""``POST /v1/query``: run one SELECT under the caller's policy, stream the result.

The route is ``async`` only to watch the connection: the query itself runs in the thread
pool as before (:func:`~gateway.api.disconnect.run_until_disconnect`), and is cancelled,
audited as ``cancelled`` and releases its slot if the client disconnects before the answer.

Before it runs, the query claims its level's ``max_result_bytes`` of the user's disk quota
(429 ``disk_quota`` when that is spent); the finished result then holds its real size until its
response ends. A result that cannot be sent in the format asked for (JSON over its limit, a
CSV/JSON row too big to encode) is refused inside the service, so its completed audit record
says ``too_large``, not ``ok``. So is a record-level result larger than ``[exports]
query_record_max_rows`` / ``query_record_max_bytes`` (403 ``export_required``): that is a
release, which must be requested as an export and authorised by the analyst's designated senior
analyst (:func:`gateway.exports.approval.query_release_check`).

Example:
    curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}' \\
         http://127.0.0.1:8000/v1/query
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from gateway.api.deps import ClientDep, PrincipalDep, RuntimeDep
from gateway.api.disconnect import run_until_disconnect
from gateway.api.querying import run_released
from gateway.api.resources import ResourcesDep, ServingResources
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.runtime import GatewayRuntime
from gateway.api.schemas import QueryBody, QueryJSON, disclosure_data
from gateway.api.streaming import MEDIA_TYPES, delivery_check, result_response
from gateway.disclosure import parse_disclosure_request
from gateway.disclosure.control import DisclosureControl
from gateway.engines.base import Cancellation
from gateway.principal import Principal
from gateway.service import ClientInfo

__all__ = ["answer_query", "router"]

router = APIRouter(prefix=API_PREFIX, tags=["query"])

_CONTENT = {
    "application/json": {"schema": {"$ref": "#/components/schemas/QueryJSON"}},
    **{
        MEDIA_TYPES[f]: {"schema": {"type": "string", "format": "binary"}}
        for f in ("arrow", "csv", "parquet")
    },
}


@router.post(
    "/query",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "description": "The result; the X-Query-Id header names its audit record.",
            "content": _CONTENT,
            "model": QueryJSON,
        },
        **errors(400, 401, 403, 413, 429, 422, 503),
    },
    summary="Run a query",
)
async def run_query(
    body: QueryBody,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    resources: ResourcesDep,
    client: ClientDep,
    request: Request,
) -> Response:
    """Run one SELECT for an approved purpose; the result streams in the format asked for.

    With ``disclosure`` an aggregate result is disclosure-controlled before it leaves (small
    counts null with ``<column>_suppressed`` flags; what was applied is in the audit record,
    the ``X-Disclosure`` header and, for JSON, the ``disclosure`` member)."""
    return await run_until_disconnect(
        request, lambda cancel: answer_query(body, principal, runtime, resources, client, cancel)
    )


def answer_query(
    body: QueryBody,
    principal: Principal,
    runtime: GatewayRuntime,
    resources: ServingResources,
    client: ClientInfo,
    cancel: Cancellation,
) -> Response:
    """The blocking part (in the thread pool): quota, slot, service, response. The web
    application's console answers through this too (one path to the service for both)."""
    disclosure = parse_disclosure_request(disclosure_data(body.disclosure))
    control = (
        None if disclosure is None else DisclosureControl.for_service(runtime.service, disclosure)
    )
    settings = runtime.settings
    csv_marking = runtime.service.policy.markings.csv_marking
    sendable = delivery_check(
        body.format,
        max_json_bytes=settings.max_json_result_bytes,
        max_row_bytes=settings.max_text_row_bytes,
        csv_marking=csv_marking,
    )
    outcome, claim = run_released(
        runtime,
        resources,
        principal,
        body.sql,
        body.purpose,
        body.params,
        client=client,
        cancel=cancel,
        control=control,
        sendable=sendable,
    )
    try:
        return result_response(
            outcome,
            body.format,
            send_timeout_s=settings.send_timeout_s,
            formula_guard=body.formula_guard,
            csv_marking=csv_marking,
            encoders=resources.encoders,
            on_close=claim.release,
        )
    except BaseException:
        outcome.result.discard()  # audited, but it will not be sent: do not keep it
        claim.release()
        raise
