"""Export a template run as a governed file, through :mod:`gateway.exports`.

The run's table — already disclosure-controlled — goes to
:func:`gateway.exports.export_result`, which writes it in the format asked for with the
marking and provenance, registers the file's hash in the audit log and applies the approval
rules. Whether the file is aggregate or record-level is decided from the SQL the service
executed (:func:`gateway.analysis.classify.classify_rewrite`), as for any export — except that a
run disclosure control protected is an aggregate under disclosure control whatever the SQL
reads as (the template declares its counts and groups; the counts in the file are protected),
and so, per the release rules, is not held for a senior analyst (a record-level template, which
disclosure control cannot protect, is held like any record-level export).

Area results whose code column is generic (``area_code`` with a ``geography`` column, as in
``crime-by-area``) get the column name the map exports join on (``ward_code`` …).

Example:
    >>> exported = export_run(service, principal, run, format="gpkg",
    ...                       data_dir=DataDir(Path("demo-data")))       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from gateway.analysis.classify import classify_rewrite
from gateway.datadir import DataDir
from gateway.exports import AuditedResult, ExportFile, export_result, parse_options
from gateway.principal import Principal
from gateway.service import QueryService
from gateway.templates.runner import TemplateRun

__all__ = ["export_run", "map_ready"]

_GEOGRAPHIES = {"lsoa", "ward", "neighbourhood", "local_authority"}


def map_ready(run: TemplateRun) -> pa.Table:
    """The run's table with a generic area column renamed for map joins."""
    table = run.table
    spec = run.template.map
    if spec is None or spec.area is None or spec.area_type is None:
        return table
    kind = spec.area_type
    if kind in table.column_names:  # the type is held in a column (e.g. geography)
        values = set(table.column(kind).to_pylist())
        if len(values) != 1:
            return table
        kind = str(values.pop())
    target = f"{kind}_code"
    if kind not in _GEOGRAPHIES or target == spec.area or target in table.column_names:
        return table
    names = [target if c == spec.area else c for c in table.column_names]
    return table.rename_columns(names)


def export_run(
    service: QueryService,
    principal: Principal,
    run: TemplateRun,
    *,
    format: str,
    data_dir: DataDir,
    options: Mapping[str, Any] | None = None,
) -> ExportFile:
    """Write ``run`` as a governed export file (registered in the audit log).

    Raises:
        InputError: an unknown format or option, or a geometry the result cannot make.
        AuditUnavailable: the file could not be registered (it is removed).
    """
    opts = parse_options(format, {"name": run.template.name, **dict(options or {})})
    if run.rewrite is not None:
        verdict = classify_rewrite(run.rewrite, service.catalog)
        data_class, reason = verdict.data_class, verdict.reason
    else:
        data_class, reason = "record", "not classified"
    if run.disclosure is not None:
        data_class = "aggregate"
        reason = (
            f"aggregate under disclosure control (template {run.template.name}: "
            f"{run.disclosure.summary()}); the SQL alone: {reason}"
        )
    result = AuditedResult(
        query_id=run.query_id,
        table=map_ready(run),
        level=run.level,
        purpose=run.purpose,
        data_class=data_class,
        reason=reason,
        marking=run.marking,
        fingerprint=run.fingerprint,
        truncated=run.truncated,
        template=run.template.name,
        disclosure=run.disclosure.summary() if run.disclosure is not None else None,
    )
    return export_result(service, principal, result, options=opts, data_dir=data_dir)
