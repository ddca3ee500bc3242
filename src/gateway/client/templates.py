"""Templates and products from the light client: run library templates, export their results,
fetch the strategic assessment pack.

Needs only pyarrow (the server runs the templates and renders the documents).

    >>> gw.templates()[0]["name"]                                                 # doctest: +SKIP
    'asb-by-type'
    >>> gw.template("crime-rates", {"year": 2025})                                # doctest: +SKIP
    shape: (14, 11) …
    >>> gw.strategic_assessment("E06000002", 2025, "sa-2025")                     # doctest: +SKIP
    [PosixPath('sa-2025/strategic-assessment-E06000002-2025.html'), …]
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from gateway.client.errors import UnexpectedResponse
from gateway.client.exports import ExportResult, download_export

if TYPE_CHECKING:
    from gateway.client.connection import Connection, ParamValue

__all__ = [
    "TemplateResult",
    "export_template",
    "list_templates",
    "run_template",
    "show_template",
    "strategic_assessment",
]

_ARROW = "application/vnd.apache.arrow.stream"
_PROVENANCE = b"gateway.template"


@dataclass(frozen=True)
class TemplateResult:
    """A template run's result and where it came from.

    Attributes:
        table: the rows (disclosure-controlled: suppressed values are null, with a
            ``<column>_suppressed`` flag).
        provenance: template, query id, user, level, purpose, time, policy hash, parameters
            and what disclosure control did.
    """

    table: pa.Table
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def query_id(self) -> str:
        return str(self.provenance.get("query_id", ""))


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _body(
    conn: Connection,
    params: Mapping[str, ParamValue] | None,
    purpose: str | None,
    disclosure: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {"purpose": purpose or conn.purpose or "", "disclosure": disclosure}
    if params:
        body["params"] = {str(k): _plain(v) for k, v in params.items()}
    return body


def list_templates(conn: Connection) -> list[dict[str, Any]]:
    """Every template, with ``available`` telling whether your level may run it."""
    answer: dict[str, Any] = conn._json("GET", "/v1/templates")
    return list(answer["templates"])


def show_template(conn: Connection, name: str) -> dict[str, Any]:
    """One template's description, parameters and SQL."""
    answer: dict[str, Any] = conn._json("GET", f"/v1/templates/{name}")
    return answer


def run_template(
    conn: Connection,
    name: str,
    params: Mapping[str, ParamValue] | None = None,
    *,
    purpose: str | None = None,
    disclosure: str = "policy",
) -> TemplateResult:
    """Run a template on the gateway; the result as an Arrow table with its provenance."""
    body = {**_body(conn, params, purpose, disclosure), "format": "arrow"}
    with conn._request("POST", f"/v1/templates/{name}/run", json=body) as response:
        conn.last_query_id = response.headers.get("x-query-id")
        if response.headers.get("content-type", "").split(";")[0] != _ARROW:
            raise UnexpectedResponse("the template answer is not an Arrow stream")
        data = response.read()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except pa.ArrowInvalid as exc:
        raise UnexpectedResponse(f"the template result is damaged: {exc}") from exc
    raw = (table.schema.metadata or {}).get(_PROVENANCE, b"{}")
    return TemplateResult(table=table, provenance=json.loads(raw))


def export_template(
    conn: Connection,
    name: str,
    *,
    format: str,
    output: str | os.PathLike[str] | None = None,
    params: Mapping[str, ParamValue] | None = None,
    purpose: str | None = None,
    disclosure: str = "policy",
    options: Mapping[str, str | int | float | bool] | None = None,
) -> ExportResult:
    """Run a template and have the gateway write its result as a governed file; download it
    to ``output`` when it is released at once."""
    body = _body(conn, params, purpose, disclosure)
    body["export"] = {"format": format, **({"options": dict(options)} if options else {})}
    answer = conn._json("POST", f"/v1/templates/{name}/run", json=body)
    result = ExportResult.from_answer(answer)
    conn.last_query_id = result.export_id
    if output is not None and result.released:
        path = download_export(conn, result.export_id, output, expected_sha256=result.sha256)
        return ExportResult(**{**result.__dict__, "path": path})
    return result


def strategic_assessment(
    conn: Connection,
    area: str,
    year: int,
    output_dir: str | os.PathLike[str],
    *,
    purpose: str | None = None,
    marking: str | None = None,
    publication: bool = False,
) -> list[Path]:
    """Build the strategic assessment pack on the gateway and save its files in ``output_dir``
    (the HTML report, the workbook and the manifest) — or nothing, when the product is held
    for quality assurance by your senior analyst (``conn.last_product`` then holds its record;
    download it with :func:`download_product` once passed)."""
    body: dict[str, Any] = {
        "area": area,
        "year": int(year),
        "purpose": purpose or conn.purpose or "",
        "publication": publication,
    }
    if marking:
        body["marking"] = marking
    with conn._request("POST", "/v1/products/strategic-assessment", json=body) as response:
        conn.last_query_id = response.headers.get("x-product-id")
        data = response.read()
        held = response.status_code == 202
    if held:
        conn.last_product = _json_object(data)
        return []
    conn.last_product = None
    return _save_zip(data, Path(output_dir))


def download_product(
    conn: Connection, product_id: str, output_dir: str | os.PathLike[str]
) -> list[Path]:
    """Save a released product's files in ``output_dir``."""
    with conn._request("GET", f"/v1/products/{product_id}/file") as response:
        data = response.read()
    return _save_zip(data, Path(output_dir))


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise UnexpectedResponse("the product answer is not JSON") from exc
    if not isinstance(value, dict):
        raise UnexpectedResponse("the product answer is not a JSON object")
    return value


def _save_zip(data: bytes, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                name = Path(member).name  # never a path outside the directory
                if not name or name != member:
                    raise UnexpectedResponse(f"unexpected file {member!r} in the product")
                path = target / name
                path.write_bytes(archive.read(member))
                saved.append(path)
    except zipfile.BadZipFile as exc:
        raise UnexpectedResponse("the product answer is not a ZIP archive") from exc
    return saved
