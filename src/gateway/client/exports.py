"""Exports from the light client: ask the gateway for a file, follow its progress, download it.

Needs only httpx (no GIS libraries on the analyst's machine: the server writes the file).

    >>> result = gw.export("SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1",
    ...                    format="tab", output="crime_by_lsoa.zip")        # doctest: +SKIP
    >>> result.approval, result.path                                         # doctest: +SKIP
    ('not_required', PosixPath('crime_by_lsoa.zip'))

A record-level export may be held for a senior analyst's approval (``approval == "pending"``):
nothing is downloaded then; call :meth:`Connection.download_export` once it is approved.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.client.errors import UnexpectedResponse, error_from_answer

if TYPE_CHECKING:
    from gateway.client.connection import Connection, Disclosure, ParamValue

__all__ = [
    "ExportResult",
    "ProgressEvent",
    "download_export",
    "download_layer",
    "list_layers",
    "run_export",
]

_NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: ``stage`` (query, layer, write, register, done) and, while
    writing, rows ``done`` of ``total``."""

    stage: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class ExportResult:
    """An export as the gateway registered it.

    Attributes:
        export_id: its id (the audit id of its query).
        file_name, format, media_type, sha256, bytes, features: the registered file.
        approval: ``not_required``, ``pending``, ``approved`` or ``rejected``.
        data_class: ``record``, ``aggregate`` or ``reference``.
        provenance: what the file says about itself (marking, user, policy hash …).
        path: where it was saved, when it was downloaded.
    """

    export_id: str
    file_name: str
    format: str
    media_type: str
    sha256: str
    bytes: int
    features: int
    approval: str
    data_class: str
    provenance: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def released(self) -> bool:
        return self.approval in ("not_required", "approved")

    @classmethod
    def from_answer(cls, body: Mapping[str, Any]) -> ExportResult:
        try:
            return cls(
                export_id=str(body["export_id"]),
                file_name=str(body["file_name"]),
                format=str(body["format"]),
                media_type=str(body["media_type"]),
                sha256=str(body["sha256"]),
                bytes=int(body["bytes"]),
                features=int(body["features"]),
                approval=str(body["approval"]),
                data_class=str(body["data_class"]),
                provenance=dict(body.get("provenance") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnexpectedResponse(f"the export answer is incomplete: {exc}") from exc


def _stream(
    conn: Connection, body: dict[str, Any], progress: Callable[[ProgressEvent], None]
) -> dict[str, Any]:
    with conn._request("POST", "/v1/exports", params={"progress": "true"}, json=body) as response:
        if response.headers.get("content-type", "").split(";")[0] != _NDJSON:
            raise UnexpectedResponse("the export answer is not a progress stream")
        for line in response.iter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            if "progress" in event:
                p = event["progress"]
                progress(ProgressEvent(str(p["stage"]), int(p["done"]), int(p["total"])))
            elif "error" in event:
                exc = error_from_answer(0, event)
                conn.last_query_id = exc.query_id or conn.last_query_id
                raise exc
            elif "export" in event:
                answer: dict[str, Any] = event["export"]
                return answer
    raise UnexpectedResponse("the export stream ended without an answer")


def run_export(
    conn: Connection,
    sql: str,
    *,
    format: str,
    output: str | os.PathLike[str] | None = None,
    purpose: str | None = None,
    params: Mapping[str, ParamValue] | None = None,
    options: Mapping[str, str | int | float | bool] | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    disclosure: Disclosure = None,
) -> ExportResult:
    """Ask for an export; download it to ``output`` when it is released straight away."""
    body = conn._query_body(sql, purpose, params, "arrow", disclosure)
    body["format"] = format
    if options:
        body["options"] = dict(options)
    if progress is not None:
        answer = _stream(conn, body, progress)
    else:
        answer = conn._json("POST", "/v1/exports", json=body)
    result = ExportResult.from_answer(answer)
    conn.last_query_id = result.export_id
    if output is not None and result.released:
        path = download_export(conn, result.export_id, output, expected_sha256=result.sha256)
        result = replace(result, path=path)
    return result


def download_export(
    conn: Connection,
    export_id: str,
    output: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
) -> Path:
    """Save a released export to ``output``, checking it against its registered SHA-256.

    Raises:
        AccessDenied: held for approval or rejected; NotFound: not yours.
        UnexpectedResponse: the bytes do not match the registered hash (nothing is kept).
    """
    target = Path(output)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    with conn._request("GET", f"/v1/exports/{export_id}/file") as response:
        registered = response.headers.get("x-export-sha256")
        with partial.open("wb") as fh:
            for chunk in response.iter_bytes():
                digest.update(chunk)
                fh.write(chunk)
    expected = expected_sha256 or registered
    if (
        expected is None
        or digest.hexdigest() != expected
        or (registered and registered != expected)
    ):
        partial.unlink(missing_ok=True)
        raise UnexpectedResponse(
            f"export {export_id} does not match its registered SHA-256 (damaged in transit)"
        )
    partial.replace(target)
    return target


def list_layers(conn: Connection) -> list[dict[str, Any]]:
    """The base-map layers the gateway offers (``GET /v1/maps``)."""
    answer: dict[str, Any] = conn._json("GET", "/v1/maps")
    return list(answer["layers"])


def download_layer(
    conn: Connection,
    layer: str,
    output: str | os.PathLike[str],
    *,
    format: str = "gpkg",
    crs: int = 27700,
    purpose: str | None = None,
) -> Path:
    """Save a base-map layer in ``format`` (audited on the server as a query and an export)."""
    params = {"purpose": purpose or conn.purpose or "", "format": format, "crs": str(crs)}
    target = Path(output)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    with conn._request("GET", f"/v1/maps/{layer}", params=params) as response:
        registered = response.headers.get("x-export-sha256")
        conn.last_query_id = response.headers.get("x-query-id")
        with partial.open("wb") as fh:
            for chunk in response.iter_bytes():
                digest.update(chunk)
                fh.write(chunk)
    if registered != digest.hexdigest():
        partial.unlink(missing_ok=True)
        raise UnexpectedResponse(f"layer {layer} does not match its registered SHA-256")
    partial.replace(target)
    return target
