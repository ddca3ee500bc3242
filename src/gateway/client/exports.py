"""Exports from the light client: ask the gateway for a file, follow its progress, download it.

Needs no GIS libraries on the analyst's machine: the server writes the file.

    >>> result = gw.export("SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1",
    ...                    format="tab", output="crime_by_lsoa.tab")        # doctest: +SKIP
    >>> result.approval, result.path                                         # doctest: +SKIP
    ('not_required', PosixPath('crime_by_lsoa.tab'))

A record-level export may be held for a senior analyst's approval (``approval == "pending"``):
nothing is downloaded then; call :meth:`Connection.download_export` once it is approved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.client.deliver import save_delivered
from gateway.client.errors import UnexpectedResponse, error_from_answer

if TYPE_CHECKING:
    from gateway.client.connection import Connection, Disclosure, ParamValue

__all__ = [
    "ExportResult",
    "ProgressEvent",
    "download_export",
    "download_layer",
    "list_layers",
    "publish_police_uk",
    "run_export",
]

_NDJSON = "application/x-ndjson"
#: A file stem the server takes as a layer name (its ``name`` option).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


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
        authorisers: a held file's authorisers: your designated senior analyst, then deputies.
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
    authorisers: tuple[str, ...] = ()

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
                authorisers=tuple(str(v) for v in body.get("authorisers") or ()),
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


def _layer_name(output: str | os.PathLike[str] | None) -> str | None:
    """The output's stem when it makes a plain layer name (``crime_by_lsoa.tab`` → the
    layer ``crime_by_lsoa``); otherwise the server's default is kept."""
    if output is None:
        return None
    stem = Path(output).stem
    return stem if _PLAIN_NAME.fullmatch(stem) else None


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
    """Ask for an export; save it at ``output`` when it is released straight away (files and
    layer named after ``output``, see :mod:`gateway.client.deliver`)."""
    body = conn._query_body(sql, purpose, params, "arrow", disclosure)
    body["format"] = format
    chosen = dict(options or {})
    name = _layer_name(output)
    if name is not None and "name" not in chosen:
        chosen["name"] = name
    if chosen:
        body["options"] = chosen
    if progress is not None:
        answer = _stream(conn, body, progress)
    else:
        answer = conn._json("POST", "/v1/exports", json=body)
    result = ExportResult.from_answer(answer)
    conn.last_query_id = result.export_id
    if output is not None and result.released:
        got = _fetch(conn, f"/v1/exports/{result.export_id}/file", output, expected=result.sha256)
        path = save_delivered(
            got.partial,
            result.file_name,
            output,
            format=result.format,
            provenance=result.provenance,
        )
        result = replace(result, path=path)
    return result


@dataclass(frozen=True)
class _Download:
    partial: Path
    name: str | None
    headers: Mapping[str, str]


def _fetch(
    conn: Connection,
    path: str,
    output: str | os.PathLike[str],
    *,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | None = None,
    expected: str | None = None,
) -> _Download:
    """Download ``path`` beside ``output`` (a hidden ``.part`` file) and check it against the
    registered SHA-256 (``X-Export-Sha256``, and ``expected`` when given); return it with the
    server's file name (``Content-Disposition``).

    Raises:
        UnexpectedResponse: the bytes do not match (nothing is kept).
    """
    target = Path(output)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    with conn._request(method, path, params=params, json=body) as response:
        headers = dict(response.headers)
        registered = response.headers.get("x-export-sha256")
        conn.last_query_id = response.headers.get("x-query-id") or conn.last_query_id
        delivered = _attachment_name(response.headers.get("content-disposition", ""))
        with partial.open("wb") as fh:
            for chunk in response.iter_bytes():
                digest.update(chunk)
                fh.write(chunk)
    wanted = expected or registered
    if wanted is None or digest.hexdigest() != wanted or (registered and registered != wanted):
        partial.unlink(missing_ok=True)
        raise UnexpectedResponse(
            f"{path} does not match its registered SHA-256 (damaged in transit)"
        )
    return _Download(partial, delivered, headers)


def _attachment_name(disposition: str) -> str | None:
    """The file name a ``Content-Disposition`` header gives (RFC 6266, as Starlette writes it)."""
    encoded = re.search(r"filename\*=utf-8''([^;]+)", disposition, re.IGNORECASE)
    if encoded:
        return urllib.parse.unquote(encoded.group(1))
    plain = re.search(r'filename="([^"]*)"', disposition)
    return Path(plain.group(1)).name if plain else None


def download_export(
    conn: Connection,
    export_id: str,
    output: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
) -> Path:
    """Save a released export at ``output``, checked against its registered SHA-256 (files
    named after ``output``, see :mod:`gateway.client.deliver`).

    Raises:
        AccessDenied: held for approval or rejected; NotFound: not yours.
        UnexpectedResponse: the bytes do not match the registered hash (nothing is kept).
        InputError: ``output``'s extension does not fit the file (nothing is kept).
    """
    record: dict[str, Any] = conn._json("GET", f"/v1/exports/{export_id}")
    got = _fetch(conn, f"/v1/exports/{export_id}/file", output, expected=expected_sha256)
    return save_delivered(
        got.partial,
        str(record["file_name"]),
        output,
        format=str(record["format"]),
        provenance=record,
    )


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
    crs: int | None = None,
    purpose: str | None = None,
) -> Path:
    """Save a base-map layer in ``format`` (audited on the server as a query and an export);
    ``crs`` defaults to the format's (EPSG:4326 for GeoJSON and KML, else EPSG:27700)."""
    params = {"purpose": purpose or conn.purpose or "", "format": format}
    if crs is not None:
        params["crs"] = str(crs)
    got = _fetch(conn, f"/v1/maps/{layer}", output, params=params)
    return save_delivered(got.partial, got.name or f"{layer}.{format}", output, format=format)


def publish_police_uk(
    conn: Connection, month: str, output: str | os.PathLike[str] | None = None
) -> tuple[Path, int]:
    """Administrators: have the gateway write ``month``'s police.uk street-level CSV
    (``POST /v1/publish/police-uk``, audited there) and save it — by default under police.uk's
    archive name (``2026-03-cleveland-street.csv``) in the current folder.

    Returns:
        The saved file and its number of lines (crimes and anti-social behaviour).

    Raises:
        WrongRole: not an administrator; NotFound: nothing recorded in ``month``.
    """
    got = _fetch(
        conn,
        "/v1/publish/police-uk",
        output or f"police-uk-{month}.csv",
        method="POST",
        body={"month": month},
    )
    target = Path(output) if output is not None else Path(got.name or f"{month}-street.csv")
    got.partial.replace(target)
    return target, int(got.headers.get("x-rows", "0"))
