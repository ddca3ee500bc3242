"""Governed exports: the MapInfo bridge, replaced.

A query's result becomes a file — CSV, Parquet, XLSX or a map layer (GeoPackage, GeoJSON,
Shapefile, MapInfo TAB, MapInfo MIF/MID, FlatGeobuf, GeoParquet, KML) — through the same
policy and audit path as any query; the file carries its provenance and protective marking
and is registered in the audit log with its SHA-256. Record-level exports by general users
can be held for a senior analyst's approval.

Modules, pure logic first::

    formats      the formats and their quirks (data)
    options      export options; geometry resolved against the result's columns
    fieldnames   deterministic field-name shortening (MapInfo 31, Shapefile 10)
    formulas     CSV/XLSX formula-injection guard (leading apostrophe, OWASP)
    grid         square / hex hotspot cells
    approval     approval rules; export state folded from audit events
    provenance   what each file says about itself
    basemaps     base-map layers (DIR/basemaps.gpkg)          (reads files)
    geometry     result → points / areas / grid layer          (reads base maps)
    writers/     one writer per format, zip + sidecar, hashes  (writes files)
    export       export_query / export_base_layer: query → file → audit
    release      list, approve, reject, download (audited)
    retention    delete files past [exports] retention_days (audited)   (deletes files)

geopandas is never needed; pyogrio, shapely, pyproj and openpyxl are imported only when an
export that needs them runs (:mod:`gateway.exports.dependencies`).

Example:
    >>> from gateway.exports import FORMATS
    >>> sorted(FORMATS)[:4]
    ['csv', 'fgb', 'geojson', 'geoparquet']
"""

from gateway.exports.approval import ExportRecord
from gateway.exports.basemaps import BASE_LAYERS, BaseLayerInfo, list_base_layers
from gateway.exports.export import (
    AuditedResult,
    ExportFile,
    ExportProgress,
    ProgressCallback,
    export_base_layer,
    export_query,
    export_result,
)
from gateway.exports.formats import FORMATS, ExportFormat, export_format
from gateway.exports.options import ExportOptions, parse_options
from gateway.exports.provenance import Provenance
from gateway.exports.release import (
    approve_export,
    export_record,
    list_exports,
    open_export,
    reject_export,
    visible_export,
)

__all__ = [
    "BASE_LAYERS",
    "FORMATS",
    "AuditedResult",
    "BaseLayerInfo",
    "ExportFile",
    "ExportFormat",
    "ExportOptions",
    "ExportProgress",
    "ExportRecord",
    "ProgressCallback",
    "Provenance",
    "approve_export",
    "export_base_layer",
    "export_format",
    "export_query",
    "export_record",
    "export_result",
    "list_base_layers",
    "list_exports",
    "open_export",
    "parse_options",
    "reject_export",
    "visible_export",
]
