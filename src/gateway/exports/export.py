"""Run a query through the service and deliver its result as a governed file.

One export, step by step (the same policy and audit path as any query)::

    options   checked before anything runs (bad format/option → InputError, nothing audited)
    query     QueryService.run_query: policy view, rewrite, audit started/completed, execute;
              with ``disclosure`` the service refuses a record-level query and protects the
              aggregate result before its completed record (gateway.disclosure.control)
    classify  record-level, aggregate or reference (gateway.analysis.classify)
    layer     points / areas / grid geometry (gateway.exports.geometry); a hotspot grid holds
              counts per cell, so it is an aggregate whatever the query
    approval  held ("pending") when the [exports] rules say so, else "not_required"
    write     the format's writer, with marking and provenance (gateway.exports.writers)
    register  SHA-256 of the file → audit ``export.registered``; if that fails the file is
              deleted (no unregistered file is ever served)

Files live in ``DIR/exports/<export id>/`` (the export id is the query id) with an
``export.json`` manifest; :mod:`gateway.exports.release` serves them once released.

Example:
    >>> exported = export_query(service, analyst, "SELECT lsoa_code, count(*) AS n "
    ...     "FROM crime GROUP BY ALL", "SA-2026", format="gpkg", data_dir=DataDir(root))
    ...                                                                 # doctest: +SKIP
    >>> exported.approval, exported.path.name                           # doctest: +SKIP
    ('not_required', 'export_<query id>.gpkg')
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from gateway.analysis.classify import classify_rewrite
from gateway.audit.facts import ExportRegistered
from gateway.datadir import DataDir
from gateway.disclosure import DisclosureRequest, parse_disclosure_request
from gateway.disclosure.control import DisclosureControl
from gateway.engines.base import Cancellation
from gateway.errors import GatewayError, NotFound
from gateway.exports.approval import NOT_REQUIRED, PENDING, needs_approval
from gateway.exports.basemaps import base_layer, force_extent
from gateway.exports.geometry import build_layer
from gateway.exports.options import ExportOptions, parse_options
from gateway.exports.provenance import Provenance
from gateway.exports.writers import prepare, sha256_file, write
from gateway.principal import Principal
from gateway.service import ClientInfo, QueryService

__all__ = [
    "MANIFEST",
    "AuditedResult",
    "ExportFile",
    "ExportProgress",
    "ProgressCallback",
    "export_base_layer",
    "export_query",
    "export_result",
    "read_manifest",
    "sweep_export_workdirs",
]

MANIFEST = "export.json"
#: An export is written in ``DIR/exports/.tmp-<export id>/`` and moved into place when done.
WORKDIR_PREFIX = ".tmp-"
Stage = Literal["query", "layer", "write", "register", "done"]


@dataclass(frozen=True)
class ExportProgress:
    """Where an export has got to: ``stage``, and rows written of ``total`` while writing."""

    stage: Stage
    done: int = 0
    total: int = 0


ProgressCallback = Callable[[ExportProgress], None]


@dataclass(frozen=True)
class ExportFile:
    """A written, registered export.

    Attributes:
        export_id: its id (the id of the query it was made from).
        path: the file (``DIR/exports/<id>/<name>``).
        file_name: the file's name.
        format: export format name.
        media_type: HTTP content type.
        sha256: SHA-256 of the file, as registered in the audit log.
        bytes: file size.
        features: data rows / map features in the file.
        approval: ``not_required`` or ``pending`` (see :mod:`gateway.exports.approval`).
        data_class, reason: ``record``/``aggregate``/``reference`` and why.
        provenance: what the file says about itself.
        authorisers: for a held file, who may authorise its release (the owner's designated
            senior analyst, then their deputies).
    """

    export_id: str
    path: Path
    file_name: str
    format: str
    media_type: str
    sha256: str
    bytes: int
    features: int
    approval: str
    data_class: str
    reason: str
    provenance: Provenance
    authorisers: tuple[str, ...] = ()

    @property
    def query_id(self) -> str:
        return self.export_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no local path)."""
        return {
            "export_id": self.export_id,
            "file_name": self.file_name,
            "format": self.format,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "features": self.features,
            "approval": self.approval,
            "data_class": self.data_class,
            "reason": self.reason,
            "provenance": self.provenance.to_dict(),
            "authorisers": list(self.authorisers),
        }


def _stem(name: str | None, template: str | None, query_id: str) -> str:
    """The file and layer name: the ``name`` option, else the template's name, else
    ``export_<query id>`` (so the layer says which audited query it came from)."""
    if name:
        return name
    if template:
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in template)
        return safe[:64] or "export"
    safe_id = "".join(c for c in query_id if c.isalnum() or c in "_-")[:40]
    return f"export_{safe_id}" if safe_id else "export"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=False)


@dataclass(frozen=True)
class AuditedResult:
    """A query result that already went through the service (policy and audit), to export.

    Attributes:
        query_id: its audit id (becomes the export id).
        table: the rows.
        level, purpose: the policy level applied and the purpose named.
        data_class, reason: ``record`` / ``aggregate`` / ``reference`` and why
            (see :mod:`gateway.analysis.classify`).
        marking: the policy's protective marking for what it was read from (the floor of
            the file's marking; see :meth:`gateway.service.QueryService.marking_of`).
        fingerprint: the audited result fingerprint.
        truncated: the row cap cut the result.
        template: the template name, when it came from the template library.
        disclosure: what disclosure control did to the table, in a line (None: not applied).
        areas: the local authorities the query could see (an areas layer holds all their
            areas); empty: the principal's own areas.
    """

    query_id: str
    table: pa.Table
    level: str
    purpose: str
    data_class: str
    reason: str
    marking: str
    fingerprint: str = ""
    truncated: bool = False
    template: str | None = None
    disclosure: str | None = None
    areas: tuple[str, ...] = ()


def export_query(
    service: QueryService,
    principal: Principal,
    sql: str,
    purpose: str,
    *,
    format: str,
    data_dir: DataDir,
    options: Mapping[str, Any] | None = None,
    params: Mapping[str, object] | None = None,
    client: ClientInfo | None = None,
    template: str | None = None,
    progress: ProgressCallback | None = None,
    disclosure: str | Mapping[str, Any] | DisclosureRequest | None = None,
    cancel: Cancellation | None = None,
) -> ExportFile:
    """Run ``sql`` for ``principal`` under policy and audit, and write the result as a file.

    Args:
        service: the query service (policy, rewrite, audit, engine).
        principal: who is exporting.
        sql: one SELECT; purpose: an approved purpose of the principal.
        format: ``csv``, ``parquet``, ``xlsx``, ``gpkg``, ``geojson``, ``shp``, ``tab``,
            ``mif``, ``fgb``, ``geoparquet`` or ``kml`` (see :mod:`gateway.exports.formats`).
        data_dir: the deployment (base maps in, files out).
        options: geometry, CRS and naming options (see :mod:`gateway.exports.options`).
        params, client, template: as for :meth:`QueryService.run_query`.
        progress: called as the export moves on (stages, rows written).
        disclosure: disclosure control on an aggregate result (``policy``, ``publication`` or
            a request object, see :mod:`gateway.disclosure.request`); record-level queries
            are then refused (``not_aggregate``).
        cancel: withdraws the query while it runs (the caller went away); it is then
            audited as ``cancelled`` and :class:`~gateway.errors.QueryCancelled` is raised.

    Raises:
        GatewayError: bad options (nothing ran), any refusal or failure of the query (audited
            by the service), a result that cannot make the geometry asked for, or
            AuditUnavailable when the file could not be registered (it is deleted).
    """
    report = progress or (lambda _: None)
    opts = parse_options(format, options)
    request = parse_disclosure_request(disclosure)
    control = None if request is None else DisclosureControl.for_service(service, request)
    report(ExportProgress("query"))
    outcome = service.run_query(
        principal,
        sql,
        purpose,
        params,
        client=client,
        template=template,
        control=control,
        cancel=cancel,
    )
    try:
        verdict = classify_rewrite(outcome.rewrite, service.catalog)
        applied = outcome.disclosure
        summary = str(applied["description"]) if applied is not None else None
        result = AuditedResult(
            query_id=outcome.query_id,
            table=outcome.result.to_table(),
            level=outcome.view.level,
            purpose=purpose,
            data_class=verdict.data_class,
            reason=verdict.reason if summary is None else f"{verdict.reason}; {summary}",
            marking=outcome.marking,
            fingerprint=outcome.result.fingerprint,
            truncated=outcome.result.truncated,
            template=template,
            disclosure=summary,
            areas=tuple(outcome.view.areas),
        )
        return export_result(
            service, principal, result, options=opts, data_dir=data_dir, progress=report
        )
    finally:
        outcome.result.discard()


def export_result(
    service: QueryService,
    principal: Principal,
    result: AuditedResult,
    *,
    options: ExportOptions,
    data_dir: DataDir,
    progress: ProgressCallback | None = None,
) -> ExportFile:
    """Write an already audited result as a governed file and register it (the second half of
    :func:`export_query`; template runs come in here with their disclosure-controlled table).

    Raises:
        GatewayError: the result cannot make the geometry asked for (``query_id`` set), a
            writer failed, or AuditUnavailable when the file could not be registered.
    """
    report = progress or (lambda _: None)
    settings = service.policy.exports
    report(ExportProgress("layer", 0, result.table.num_rows))
    try:
        # how a CSV carries its marking inside (never none unless the policy allows it)
        options = replace(
            options, csv_marking=service.policy.markings.csv_style(options.csv_marking)
        )
        layer = build_layer(
            result.table, options, data_dir.basemaps, result.areas or principal.areas
        )
        prepared = prepare(layer, options.format, csv_marking=options.csv_marking)
    except GatewayError as exc:
        exc.query_id = result.query_id
        raise
    data_class, reason = result.data_class, result.reason
    if layer.geometry.kind == "grid":  # the file holds counts per cell, not the rows
        data_class = "aggregate"
        reason = f"hotspot grid: counts per {layer.geometry.cell_size:g} m cell"
    approval = PENDING if needs_approval(settings, result.level, data_class) else NOT_REQUIRED
    try:
        marking = service.policy.markings.resolve(options.marking, floor=result.marking)
    except GatewayError as exc:  # a lowered or unknown marking: nothing is written
        exc.query_id = result.query_id
        raise
    provenance = Provenance(
        query_id=result.query_id,
        user=principal.username,
        organisation=principal.organisation,
        level=result.level,
        purpose=result.purpose,
        created_at=service.clock(),
        policy_hash=service.policy.version,
        marking=marking,
        format=options.format.name,
        rows=layer.features,
        crs=f"EPSG:{layer.epsg}" if layer.epsg else None,
        geometry=layer.geometry.describe(),
        data_class=data_class,
        approval=approval,
        template=result.template,
        result_fingerprint=result.fingerprint,
        truncated=result.truncated,
        field_names=prepared.renamed,
        disclosure=result.disclosure,
    )
    data_dir.exports.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir = data_dir.exports / f"{WORKDIR_PREFIX}{result.query_id}"
    _private_dir(workdir)
    total = layer.features
    try:  # from here on, whatever stops the export (a failure, a cancelling progress
        # callback, an interrupt) removes the work folder
        report(ExportProgress("write", 0, total))
        written = write(
            prepared,
            options,
            provenance,
            workdir,
            _stem(options.name, result.template, result.query_id),
            extent=force_extent(data_dir.basemaps, settings),
            progress=lambda done: report(ExportProgress("write", done, total)),
        )
        report(ExportProgress("register", total, total))
        exported = _register(
            service,
            data_dir,
            written,
            options.format.name,
            options.format.media_type,
            provenance,
            reason,
            principal.senior_analysts if approval == PENDING else (),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(ExportProgress("done", total, total))
    return exported


def _register(
    service: QueryService,
    data_dir: DataDir,
    written: Path,
    format: str,
    media_type: str,
    provenance: Provenance,
    reason: str,
    authorisers: tuple[str, ...],
) -> ExportFile:
    final_dir = data_dir.export_folder(provenance.query_id)
    _private_dir(final_dir)
    target = final_dir / written.name
    try:
        os.replace(written, target)
        os.chmod(target, 0o600)
        digest = sha256_file(target)
        size = target.stat().st_size
    except BaseException:
        shutil.rmtree(final_dir, ignore_errors=True)  # nothing unregistered stays behind
        raise
    exported = ExportFile(
        export_id=provenance.query_id,
        path=target,
        file_name=target.name,
        format=format,
        media_type=media_type,
        sha256=digest,
        bytes=size,
        features=provenance.rows,
        approval=provenance.approval,
        data_class=provenance.data_class,
        reason=reason,
        provenance=provenance,
        authorisers=authorisers,
    )
    try:
        service.audit.record(
            ExportRegistered(
                query_id=provenance.query_id,
                user=provenance.user,
                organisation=provenance.organisation,
                format=format,
                file_name=target.name,
                file_sha256=digest,
                bytes=size,
                marking=provenance.marking,
                approval=provenance.approval,
                authorisers=authorisers,
            )
        )
    except BaseException as exc:
        shutil.rmtree(final_dir, ignore_errors=True)  # nothing unregistered stays behind
        if isinstance(exc, GatewayError):
            exc.query_id = provenance.query_id
        raise
    manifest = final_dir / MANIFEST
    manifest.write_text(json.dumps(exported.to_dict(), indent=2, ensure_ascii=False), "utf-8")
    os.chmod(manifest, 0o600)
    return exported


def sweep_export_workdirs(
    exports_dir: Path, *, older_than_s: float, now: float | None = None
) -> int:
    """Remove export work folders (``.tmp-*``) nothing was written to for ``older_than_s``:
    what an export interrupted by a killed process left behind.

    Returns:
        The number of folders removed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / ".tmp-q1").mkdir()
        >>> sweep_export_workdirs(folder, older_than_s=0, now=time.time() + 1)
        1
    """
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = [e for e in os.scandir(exports_dir) if e.name.startswith(WORKDIR_PREFIX)]
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or now - _last_write(entry.path) < older_than_s:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _last_write(folder: str) -> float:
    """The latest modification time of ``folder`` or anything in it (0 when it is gone)."""
    latest = 0.0
    for root, _dirs, files in os.walk(folder):
        for name in (root, *(os.path.join(root, f) for f in files)):
            with contextlib.suppress(OSError):
                latest = max(latest, os.lstat(name).st_mtime)
    return latest


def read_manifest(data_dir: DataDir, export_id: str) -> ExportFile:
    """The stored description of an export (no access check: see :mod:`~.release`).

    Raises:
        NotFound: no such export directory or manifest.
    """
    try:
        folder = data_dir.export_folder(export_id)
    except ValueError as exc:
        raise NotFound(f"no export {export_id!r}") from exc
    try:
        data = json.loads((folder / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise NotFound(f"no export {export_id!r}") from exc
    return ExportFile(
        export_id=str(data["export_id"]),
        path=folder / str(data["file_name"]),
        file_name=str(data["file_name"]),
        format=str(data["format"]),
        media_type=str(data["media_type"]),
        sha256=str(data["sha256"]),
        bytes=int(data["bytes"]),
        features=int(data["features"]),
        approval=str(data["approval"]),
        data_class=str(data["data_class"]),
        reason=str(data.get("reason", "")),
        provenance=Provenance.from_dict(data["provenance"]),
        authorisers=tuple(str(v) for v in data.get("authorisers", [])),
    )


def export_base_layer(
    service: QueryService,
    principal: Principal,
    layer: str,
    purpose: str,
    *,
    format: str,
    data_dir: DataDir,
    crs: int | str | None = None,
    client: ClientInfo | None = None,
    progress: ProgressCallback | None = None,
) -> ExportFile:
    """Download a base-map layer in any map format (or CSV/XLSX/Parquet of its attributes).

    The attributes come from the warehouse reference table through the principal's policy
    (so map-point coordinates are what the policy shows) and the download is audited as a
    query and an export.

    Raises:
        NotFound: no such layer, or no base maps for an area layer; otherwise as
            :func:`export_query`.
    """
    base = base_layer(layer)
    options: dict[str, Any] = {"name": base.name}
    fmt = parse_options(format, None).format
    if fmt.spatial and base.kind == "areas" and not data_dir.basemaps.is_file():
        raise NotFound(f"this deployment has no base maps, so no {base.name} layer")
    if fmt.spatial:
        options.update(base.options())
        if fmt.fixed_epsg is None and crs is not None:
            options["crs"] = crs
    return export_query(
        service,
        principal,
        base.query(),
        purpose,
        format=format,
        data_dir=data_dir,
        options=options,
        client=client,
        progress=progress,
    )
