"""The export formats: what each one is, which GDAL driver writes it, and its quirks.

Pure data. A format is *spatial* when it carries geometry (map layers), *zipped* when GDAL
writes several files for one layer (Shapefile, MapInfo TAB and MIF/MID) — those are delivered
as one zip with a ``<name>.provenance.json`` sidecar inside.

Example:
    >>> fmt = export_format("MapInfo")
    >>> fmt.name, fmt.extension, fmt.zipped, fmt.max_field_name
    ('tab', '.zip', True, 31)
    >>> export_format("kml").fixed_epsg, export_format("geojson").default_epsg
    (4326, 4326)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import InputError

__all__ = ["FORMATS", "ExportFormat", "Writer", "export_format"]

Writer = Literal["csv", "parquet", "xlsx", "gdal", "geoparquet"]


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Attributes:
        name: short name used by the API, CLI and audit log (``gpkg``, ``tab`` …).
        label: what analysts call it.
        extension: the delivered file's extension (``.zip`` for multi-file formats).
        media_type: HTTP content type of the delivered file.
        writer: which writer produces it.
        spatial: carries geometry (a map layer).
        driver: GDAL driver name (GDAL-written formats only).
        layer_extension: extension of the main file GDAL writes (inside the zip if zipped).
        zipped: several files per layer, delivered as a zip with a provenance sidecar.
        max_field_name: longest field name the format keeps (names are shortened to fit).
        datetimes_only: dates are written as datetimes (MapInfo turns dates into text).
        naive_times: time zones are dropped (times converted to UTC first).
        no_int64: 64-bit integers are written as 32-bit when they fit, else as reals
            (MapInfo before 15.2 and GDAL before 3.8 cannot read ``LargeInt``).
        bool_as_text: booleans with missing values are written as ``true``/``false`` text
            (MapInfo's Logical fields have no null: GDAL would turn a missing flag into
            ``F``); booleans without missing values stay Logical.
        sized_text: text fields are declared as wide as their longest value (MapInfo Char
            and dBASE fields are fixed-width: 254 bytes a field otherwise).
        fixed_epsg: the only CRS the format allows (KML: WGS84).
        default_epsg: the CRS written unless another is asked for (GeoJSON: WGS84, as
            RFC 7946 requires; the GIS formats: British National Grid).
        dataset_options, layer_options: fixed GDAL creation options.
        aliases: other names accepted for it.
    """

    name: str
    label: str
    extension: str
    media_type: str
    writer: Writer
    spatial: bool = False
    driver: str | None = None
    layer_extension: str = ""
    zipped: bool = False
    max_field_name: int | None = None
    datetimes_only: bool = False
    naive_times: bool = False
    no_int64: bool = False
    bool_as_text: bool = False
    fixed_epsg: int | None = None
    default_epsg: int = 27700
    sized_text: bool = False
    dataset_options: tuple[tuple[str, str], ...] = ()
    layer_options: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = field(default=())

    @property
    def tabular(self) -> bool:
        return not self.spatial


_ZIP = "application/zip"

FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "CSV", ".csv", "text/csv; charset=utf-8", "csv"),
        ExportFormat("parquet", "Parquet", ".parquet", "application/vnd.apache.parquet", "parquet"),
        ExportFormat(
            "xlsx",
            "Excel workbook",
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            naive_times=True,
            aliases=("excel",),
        ),
        ExportFormat(
            "gpkg",
            "GeoPackage",
            ".gpkg",
            "application/geopackage+sqlite3",
            "gdal",
            spatial=True,
            driver="GPKG",
            layer_extension=".gpkg",
            aliases=("geopackage",),
        ),
        ExportFormat(
            "geojson",
            "GeoJSON",
            ".geojson",
            "application/geo+json",
            "gdal",
            spatial=True,
            driver="GeoJSON",
            layer_extension=".geojson",
            default_epsg=4326,
        ),
        ExportFormat(
            "shp",
            "ESRI Shapefile (zip)",
            ".zip",
            _ZIP,
            "gdal",
            spatial=True,
            driver="ESRI Shapefile",
            layer_extension=".shp",
            zipped=True,
            max_field_name=10,
            naive_times=True,
            sized_text=True,
            aliases=("shapefile",),
        ),
        ExportFormat(
            "tab",
            "MapInfo TAB (zip)",
            ".zip",
            _ZIP,
            "gdal",
            spatial=True,
            driver="MapInfo File",
            layer_extension=".tab",
            zipped=True,
            max_field_name=31,
            datetimes_only=True,
            naive_times=True,
            no_int64=True,
            bool_as_text=True,
            sized_text=True,
            aliases=("mapinfo", "mapinfo-tab"),
        ),
        ExportFormat(
            "mif",
            "MapInfo MIF/MID (zip)",
            ".zip",
            _ZIP,
            "gdal",
            spatial=True,
            driver="MapInfo File",
            layer_extension=".mif",
            zipped=True,
            max_field_name=31,
            datetimes_only=True,
            naive_times=True,
            no_int64=True,
            bool_as_text=True,
            sized_text=True,
            dataset_options=(("FORMAT", "MIF"),),
            aliases=("mapinfo-mif", "mid"),
        ),
        ExportFormat(
            "fgb",
            "FlatGeobuf",
            ".fgb",
            "application/vnd.flatgeobuf",
            "gdal",
            spatial=True,
            driver="FlatGeobuf",
            layer_extension=".fgb",
            aliases=("flatgeobuf",),
        ),
        ExportFormat(
            "geoparquet",
            "GeoParquet",
            ".parquet",
            "application/vnd.apache.parquet",
            "geoparquet",
            spatial=True,
        ),
        ExportFormat(
            "kml",
            "KML",
            ".kml",
            "application/vnd.google-earth.kml+xml",
            "gdal",
            spatial=True,
            driver="LIBKML",
            layer_extension=".kml",
            naive_times=True,
            fixed_epsg=4326,
            default_epsg=4326,
        ),
    )
}

_BY_ALIAS = {alias: f for f in FORMATS.values() for alias in (f.name, *f.aliases)}


def export_format(name: str) -> ExportFormat:
    """The format called ``name`` (case-insensitive; aliases such as ``mapinfo`` accepted).

    Raises:
        InputError: no such format (the message lists the formats).
    """
    found = _BY_ALIAS.get(str(name).strip().lower())
    if found is None:
        raise InputError(
            f"unknown export format {name!r}; choose one of {', '.join(sorted(FORMATS))}"
        )
    return found
