"""``gateway export …``: governed file exports and base maps from a gateway server.

    gateway export query "SELECT lsoa_code, count(*) AS n FROM crime GROUP BY 1" \\
        --purpose SA-2026 --output crime_by_lsoa.tab
    gateway export query "SELECT l.easting, l.northing FROM crime c JOIN location l USING (location_id)" \\
        --format gpkg --option geometry=grid --option cell_size=250 --option cell_shape=hex -o hot.gpkg
    gateway export layers                                  the base-map layers
    gateway export layer lsoa -o lsoa.mif                  one base-map layer
    gateway export list [--pending]                        your exports (senior analysts: all)
    gateway export download EXPORT_ID -o FILE              once released / approved
    gateway export approve|reject EXPORT_ID --comment …    the owner's designated senior
                                                           analyst or a deputy

On the gateway's host (administrators, like ``gateway publish``)::

    gateway export prune --data-dir DIR [--dry-run]       delete files past retention_days

Formats: csv, parquet, xlsx, gpkg, geojson, shp, tab, mif, fgb, geoparquet, kml; without
``--format`` the output's extension names it (``-o x.tab`` is MapInfo TAB). Files land under
the name asked for: ``-o x.shp`` / ``x.tab`` / ``x.mif`` writes the layer's files ``x.*``
side by side (layer ``x``, with ``x.provenance.json`` and ``x.fieldnames.csv``); ``-o x.zip``
keeps them zipped (give ``--format``); a CSV gets ``x.provenance.json`` (its marking) beside
it. Options are ``--option key=value``, listed in :data:`EXPORT_OPTIONS_HELP` (and
``gateway.exports.options.OPTION_DOCS``). ``--disclosure policy|publication`` (and the
``--disclosure-…`` column options of ``gateway query``) protect an aggregate result's counts
before the file is written. A progress bar on standard error follows the server's progress
while the file is written. Record-level exports are held (by default) for the analyst's
designated senior analyst: the command then says so and saves nothing.

``prune`` applies the ``[exports] retention_days`` of the deployment's policy (see
:mod:`gateway.exports.retention`; the server also prunes when it starts): files older than
that are deleted, never one still pending approval, and the run is recorded in the audit log
as ``host:<operating-system user>`` (host maintenance, with ``--reason``).

Example:
    >>> parse_options(["geometry=grid", "cell_size=250", "csv_comment=false"])
    {'geometry': 'grid', 'cell_size': 250, 'csv_comment': False}
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import command_group
from gateway.cli.access import logged_in
from gateway.cli.config import UrlOption, connection
from gateway.cli.options import DataDirOption, PurposeOption, json_or_text, name_value_pairs
from gateway.cli.query import (
    DisclosureCountOption,
    DisclosureDimensionOption,
    DisclosureOption,
    DisclosureStratumOption,
    DisclosureTotalOption,
    disclosure_request,
    parse_params,
)
from gateway.client.exports import (
    ProgressEvent,
    download_export,
    download_layer,
    list_layers,
    run_export,
)
from gateway.errors import AuditUnavailable, InputError

__all__ = ["EXPORT_OPTIONS_HELP", "ProgressBar", "export_app", "format_for_output", "parse_options"]

export_app = command_group(
    "export", "Export query results and base maps as files (CSV, XLSX, GeoPackage, MapInfo …)."
)

OutputOption = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="Save here. x.shp / x.tab / x.mif: the layer's files x.* side by side; x.zip: zipped.",
        dir_okay=False,
    ),
]
FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="csv, parquet, xlsx, gpkg, geojson, shp, tab, mif, fgb, geoparquet or kml "
        "(default: the output's extension).",
    ),
]
#: The export options as ``--help`` shows them (checked against OPTION_DOCS by the tests; the
#: light CLI does not import the server's export package).
EXPORT_OPTIONS_HELP = (
    "Export option name=value (repeat): "
    "geometry=auto|points|areas|grid|none; "
    "x=COLUMN, y=COLUMN, source_crs=EPSG (points/grid coordinates); "
    "area_column=lsoa_code|ward_code|neighbourhood_code|local_authority_code; "
    "all_areas=true|false (every area of your geography, 0 where none; default true); "
    "cell_size=100..50000 metres (default 500); cell_shape=square|hex; "
    "weight=COLUMN (summed per cell); "
    "crs=27700|4326 (default 27700, GeoJSON 4326); "
    "encoding=WindowsLatin1|UTF-8 (MapInfo; default WindowsLatin1, UTF-8 needs 15.2+); "
    "name=NAME (file and layer name; default: the output's name); "
    "csv_marking=column|comment|none (the marking inside a CSV: a protective_marking "
    "column, the default, or a '# marking' first line; none only where the policy allows); "
    "csv_comment=true|false (true: csv_marking=comment); "
    "formula_guard=true|false (CSV/XLSX; default true); "
    "marking=MARKING (raise the policy's protective marking, never lower it)."
)


def format_for_output(chosen: str | None, output: Path) -> str:
    """The format asked for, else the one the output's extension names.

    Raises:
        InputError: no ``--format`` and an extension that names none (``.zip``, none).

    Example:
        >>> format_for_output(None, Path("hot.tab")), format_for_output("gpkg", Path("x.gpkg"))
        ('tab', 'gpkg')
    """
    if chosen:
        return chosen
    suffix = output.suffix.lower().lstrip(".")
    if not suffix or suffix == "zip":
        raise InputError(
            f"say which format {output.name} should be with --format (csv, xlsx, gpkg, "
            "geojson, shp, tab, mif, fgb, parquet, geoparquet or kml)"
        )
    return {"json": "geojson"}.get(suffix, suffix)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", …]`` → export options (JSON values where they parse, else text).

    Raises:
        InputError: an item without ``=``.
    """
    options: dict[str, Any] = {}
    for key, value in name_value_pairs(pairs, "--option"):
        parsed = json_or_text(value)
        options[key] = parsed if isinstance(parsed, str | int | float | bool) else value
    return options


class ProgressBar:
    """Shows the server's progress reports on standard error (a bar while rows are written)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0
        self._stage = ""

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "write" and event.total > 0:
            if self._bar is None:
                self._bar = typer.progressbar(
                    length=event.total, label="writing", file=sys.stderr, show_pos=True
                )
                self._bar.__enter__()
            self._bar.update(event.done - self._shown)
            self._shown = event.done
            return
        if event.stage != self._stage and event.stage in ("query", "layer", "register"):
            label = {"query": "running the query", "layer": "building the layer",
                     "register": "registering the file"}[event.stage]  # fmt: skip
            self.close()
            print(f"{label} …", file=sys.stderr)
        self._stage = event.stage

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@export_app.command("query")
def export_query_command(
    sql: Annotated[str, typer.Argument(help="One SELECT statement (parameters as $name).")],
    output: OutputOption,
    output_format: FormatOption = None,
    purpose: PurposeOption = None,
    option: Annotated[list[str] | None, typer.Option("--option", help=EXPORT_OPTIONS_HELP)] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter value, name=value (repeat).")
    ] = None,
    url: UrlOption = None,
    disclosure: DisclosureOption = None,
    disclosure_count: DisclosureCountOption = None,
    disclosure_dimension: DisclosureDimensionOption = None,
    disclosure_stratum: DisclosureStratumOption = None,
    disclosure_total: DisclosureTotalOption = None,
) -> None:
    """Run a query under your policy and save its result as a governed file."""
    control = disclosure_request(
        disclosure,
        counts=disclosure_count,
        dimensions=disclosure_dimension,
        strata=disclosure_stratum,
        totals=disclosure_total,
    )
    bar = ProgressBar()
    with connection(url, purpose=purpose) as gw:
        try:
            result = run_export(
                gw,
                sql,
                format=format_for_output(output_format, output),
                output=output,
                params=parse_params(param or []),
                options=parse_options(option or []),
                progress=bar,
                disclosure=control,
            )
        finally:
            bar.close()
    what = f"{result.features:,} rows, {result.data_class}, sha256 {result.sha256[:16]}…"
    if result.path is not None:
        print(f"wrote {result.path} ({what}; export {result.export_id})", file=sys.stderr)
    else:
        held_for = " or ".join(result.authorisers) or "your designated senior analyst"
        print(
            f"export {result.export_id} is held for authorisation by {held_for} ({what}); "
            f"once approved: gateway export download {result.export_id} -o {output}",
            file=sys.stderr,
        )


@export_app.command("layers")
def layers_command(url: UrlOption = None) -> None:
    """List the base-map layers."""
    with connection(url) as gw:
        for layer in list_layers(gw):
            print(
                f"{layer['name']:<16} {layer['kind']:<6} {layer['features']:>7,} features  "
                f"{layer['title']}"
            )


@export_app.command("layer")
def layer_command(
    layer: Annotated[
        str, typer.Argument(help="local_authority, neighbourhood, ward, lsoa or map_point.")
    ],
    output: OutputOption,
    output_format: FormatOption = None,
    crs: Annotated[
        int | None,
        typer.Option(
            help="27700 (British National Grid) or 4326 (WGS84). Default 27700; GeoJSON 4326."
        ),
    ] = None,
    purpose: PurposeOption = None,
    url: UrlOption = None,
) -> None:
    """Save a base-map layer (attributes as your policy shows them)."""
    with connection(url, purpose=purpose) as gw:
        path = download_layer(
            gw, layer, output, format=format_for_output(output_format, output), crs=crs
        )
        print(f"wrote {path} (export {gw.last_query_id})", file=sys.stderr)


@export_app.command("list")
def list_command(
    pending: Annotated[bool, typer.Option(help="Only exports awaiting approval.")] = False,
    url: UrlOption = None,
) -> None:
    """Your exports (senior analysts: everyone's), newest first."""
    with connection(url) as gw:
        for e in gw.exports(pending=pending):
            print(
                f"{e['export_id']}  {e['registered_at'][:19]}  {e['owner']:<12} {e['format']:<10} "
                f"{e['approval']:<12} {e['file_name']}"
            )


@export_app.command("download")
def download_command(
    export_id: Annotated[str, typer.Argument(help="The export's id.")],
    output: OutputOption,
    url: UrlOption = None,
) -> None:
    """Save a released export (checked against its registered SHA-256)."""
    with connection(url) as gw:
        path = download_export(gw, export_id, output)
    print(f"wrote {path}", file=sys.stderr)


def _decide(export_id: str, decision: str, comment: str, url: str | None) -> None:
    with connection(url) as gw:
        record = gw.decide_export(export_id, decision, comment=comment)
    print(f"export {record['export_id']} by {record['owner']}: {record['approval']}")


CommentOption = Annotated[
    str, typer.Option(help="What you checked (required; recorded in the audit log).")
]


@export_app.command("approve")
@logged_in("export.decide")
def approve_command(
    export_id: Annotated[str, typer.Argument(help="The held export's id.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The owner's designated senior analyst or a deputy: release a held export."""
    _decide(export_id, "approve", comment, url)


@export_app.command("reject")
@logged_in("export.decide")
def reject_command(
    export_id: Annotated[str, typer.Argument(help="The held export's id.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The owner's designated senior analyst or a deputy: refuse a held export."""
    _decide(export_id, "reject", comment, url)


@export_app.command("prune")
def prune_command(
    data_dir: DataDirOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why it runs now (recorded with your OS user).")
    ] = "scheduled export retention",
    by: Annotated[str | None, typer.Option("--by", hidden=True)] = None,
) -> None:
    """On the host: delete export files older than the policy's retention_days (audited as
    ``host:<your operating-system user>``)."""
    from gateway.audit.location import embedded_log_missing
    from gateway.audit.log import AuditLog
    from gateway.auth.breakglass import HostOperator
    from gateway.auth.permissions import Action, require
    from gateway.catalog import load_catalog
    from gateway.cli.access import NO_NAMED_ACTOR
    from gateway.clock import utc_now
    from gateway.datadir import DataDir
    from gateway.deployment import load_deployment_policy
    from gateway.exports.retention import prune_exports

    if by is not None:
        raise InputError(NO_NAMED_ACTOR)
    host = HostOperator.current(reason)
    require(host, Action.HOST_MAINTENANCE)
    dirs = DataDir(data_dir)
    if embedded_log_missing(dirs):  # without the register, pending exports cannot be told apart
        raise AuditUnavailable(f"audit log {dirs.audit}: no such file")
    settings = load_deployment_policy(dirs, load_catalog()).exports
    log = AuditLog.open(dirs)
    try:
        report = prune_exports(
            log,
            dirs,
            settings,
            now=utc_now(),
            actor=host.username,
            dry_run=dry_run,
        )
    finally:
        if dry_run:
            log.store.close()  # a dry run writes nothing, not even a checkpoint
        else:
            log.close()
    names = [d.item.name for d in report.expired] if dry_run else [i.name for i in report.deleted]
    for name in names:
        print(name)
    print(report.summary(), file=sys.stderr)
    for problem in report.failed:
        print(f"could not delete {problem}", file=sys.stderr)
    if report.failed:
        raise typer.Exit(1)
