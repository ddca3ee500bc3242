"""``gateway template list|show|run``: the template library from the command line.

    gateway template list                                   the library (no server needed)
    gateway template show crime-rates                       description, parameters, SQL
    gateway template run crime-rates --param year=2025 --purpose SA-2026
    gateway template run hotspot-lsoas --param top=10 --format csv --output hotspots.csv
    gateway template run crime-by-area --param geography=lsoa --export gpkg --output lsoa.gpkg

``run`` talks to a gateway server (``--url``, else ``GATEWAY_URL`` or the config file, with
your token), or — on the gateway's own machine — opens the data directory directly with
``--data-dir DIR --user NAME`` (the user from the deployment's directory: its governance
register, else ``DIR/users.toml``; the run is audited as theirs, with channel ``host`` and the
operating-system user who ran it as the client, so the record says who was at the keyboard).
Every run goes through the same policy and audit path as any query; aggregate results are
disclosure-controlled by your level's rules (``--disclosure publication`` for the stricter
rules of published outputs, ``none`` where the policy lets your level opt out).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from gateway.auth.breakglass import HostOperator
from gateway.cli import command_group
from gateway.cli.config import UrlOption, connection
from gateway.cli.options import PurposeOption
from gateway.client.deliver import save_delivered
from gateway.clock import utc_now
from gateway.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from gateway.service import ClientInfo

__all__ = ["LocalSession", "local_session", "template_app", "write_table"]

template_app = command_group(
    "template", "List, show and run the analytical templates (strategic assessments, JAG profiles)."
)

TableFormat = Literal["table", "csv", "json", "parquet", "arrow"]
Disclosure = Literal["policy", "publication", "none"]

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Run locally on this data directory (the gateway's machine) instead of a server.",
        file_okay=False,
    ),
]
UserOption = Annotated[
    str | None, typer.Option("--user", help="With --data-dir: run as this user.")
]


class LocalSession:
    """A deployment and template runner on a data directory, as one user."""

    def __init__(self, data_dir: Path, user: str | None, purpose: str | None) -> None:
        from gateway.deployment import Deployment
        from gateway.templates import TemplateRunner

        if not user:
            raise InputError("--data-dir needs --user NAME (a user in the data directory)")
        self.deployment = Deployment.open(data_dir, workers=1)
        try:
            principal = self.deployment.directory.principal(user, utc_now())
            if principal is None:
                raise ConfigurationError(f"no user {user!r} in this deployment")
        except BaseException:
            self.deployment.close()
            raise
        self.data_dir = self.deployment.data_dir
        self.principal = principal
        self.purpose = purpose or (principal.purposes[0] if principal.purposes else "")
        self.service = self.deployment.service
        # The named user's scope, but the record says who really ran it: the host's OS user.
        self.runner = TemplateRunner(self.service, _library(), client=host_client())

    def close(self) -> None:
        self.deployment.close()


def host_client() -> ClientInfo:
    """The audit record's client for a run on the gateway's host: channel ``host`` and the
    operating-system user (who ran it, whichever user's scope it ran in)."""
    from gateway.service import ClientInfo

    operator = HostOperator.current("run on the gateway's host")
    return ClientInfo(channel="host", user_agent=f"{operator.username} (uid {operator.uid})")


@contextlib.contextmanager
def local_session(data_dir: Path, user: str | None, purpose: str | None) -> Iterator[LocalSession]:
    """Open a :class:`LocalSession` and close it afterwards."""
    session = LocalSession(data_dir, user, purpose)
    try:
        yield session
    finally:
        session.close()


def _library() -> Any:
    from gateway.templates import load_library

    return load_library()


def _params(pairs: list[str] | None) -> dict[str, str]:
    from gateway.templates import parse_assignments

    return parse_assignments(pairs or [])


def _options(pairs: list[str] | None) -> dict[str, str]:
    from gateway.templates import parse_assignments

    return parse_assignments(pairs or [])


def write_table(
    table: Any, fmt: TableFormat, output: Path | None, provenance: dict[str, Any]
) -> None:
    """Print or save a result table in ``fmt`` (provenance kept where the format can hold it)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from gateway.cli.query import show_table

    if fmt == "table":
        import polars as pl

        frame = pl.from_arrow(table)
        text = show_table(frame if isinstance(frame, pl.DataFrame) else frame.to_frame(), 60)
        if output is None:
            print(text)
        else:
            output.write_text(text + "\n", "utf-8")
        return
    metadata = dict(table.schema.metadata or {})
    metadata[b"gateway.template"] = json.dumps(provenance).encode()
    table = table.replace_schema_metadata(metadata)
    if fmt in ("parquet", "arrow") and output is None and sys.stdout.isatty():
        raise InputError(f"{fmt} is binary: give --output FILE")
    sink: Any = output.open("wb") if output is not None else sys.stdout.buffer
    try:
        if fmt == "csv":
            pacsv.write_csv(table, sink)
        elif fmt == "parquet":
            pq.write_table(table, sink)
        elif fmt == "arrow":
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
        else:
            body = {
                "columns": table.column_names,
                "rows": [list(row.values()) for row in table.to_pylist()],
                "provenance": provenance,
            }
            text = json.dumps(body, ensure_ascii=False, indent=1, default=str)
            sink.write(text.encode() + b"\n")
    finally:
        if output is not None:
            sink.close()
        else:
            sink.flush()


def _summary(provenance: dict[str, Any]) -> str:
    text = f"template {provenance.get('template')}: {provenance.get('rows')} rows (query {provenance.get('query_id')})"
    disclosure = provenance.get("disclosure")
    if disclosure:
        hidden = disclosure["primary"] + disclosure["secondary_suppressed"]
        text += f"; {disclosure['description']}: {hidden} of {disclosure['cells']} cells suppressed"
    elif disclosure is None and provenance.get("template"):
        text += "; lists individuals by pseudonym: not disclosure-controlled, not for publication"
    periods = provenance.get("periods") or {}
    if periods:
        text += "\nperiods: " + ", ".join(f"{k} {v}" for k, v in periods.items())
        if provenance.get("data_through"):
            text += (
                f" (defaults count back from {provenance['data_through']}, "
                "the last complete month with data)"
            )
    return text


@template_app.command("list")
def list_command(
    url: UrlOption = None,
    tag: Annotated[str | None, typer.Option(help="Only templates with this tag.")] = None,
    remote: Annotated[
        bool, typer.Option("--remote", help="Ask the gateway server (with your token).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the templates (this installation's library, or the server's with --url/--remote)."""
    if url or remote:
        with connection(url) as gw:
            items = gw.templates()
    else:
        items = [{**t.to_dict(), "available": None} for t in _library()]
    if tag:
        items = [t for t in items if tag in t.get("tags", [])]
    if as_json:
        print(json.dumps(items, indent=1, ensure_ascii=False))
        return
    width = max((len(t["name"]) for t in items), default=10)
    for item in items:
        flags = []
        if item["level"] != "general":
            flags.append(f"{item['level']} only")
        if item.get("individuals"):
            flags.append("lists individuals")
        if item.get("available") is False:
            flags.append("not available to you")
        note = f"  [{', '.join(flags)}]" if flags else ""
        print(f"{item['name']:<{width}}  {item['title']}{note}")


@template_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Template name (see `gateway template list`).")],
    url: UrlOption = None,
    remote: Annotated[bool, typer.Option("--remote", help="Ask the gateway server.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a template: description, parameters (types, defaults, allowed values) and SQL."""
    if url or remote:
        with connection(url) as gw:
            item = gw._json("GET", f"/v1/templates/{name}")
    else:
        item = _library().get(name).to_dict(sql=True)
    if as_json:
        print(json.dumps(item, indent=1, ensure_ascii=False))
        return
    print(f"{item['name']}: {item['title']}")
    print(f"level {item['level']}, output {item['output']}; tags: {', '.join(item['tags'])}")
    print()
    print(item["description"])
    print()
    print("parameters:")
    for p in item["parameters"]:
        extra = []
        if "default" in p:
            extra.append(f"default {p['default']}")
        if p.get("allowed"):
            extra.append("one of " + ", ".join(str(a) for a in p["allowed"]))
        if p.get("domain"):
            extra.append(
                f"values of {p['domain']}"
                + (f" or {', '.join(p['extra'])}" if p.get("extra") else "")
            )
        if p.get("min") is not None or p.get("max") is not None:
            extra.append(f"{p.get('min', '')}..{p.get('max', '')}")
        required = "required" if p["required"] else "optional"
        print(f"  {p['name']} ({p['type']}, {required}{'; ' + '; '.join(extra) if extra else ''})")
        if p.get("description"):
            print(f"      {p['description']}")
    if item.get("disclosure"):
        d = item["disclosure"]
        print(f"\ndisclosure: counts {d['counts'] + d['people']} by {d['dimensions']}")
    if item.get("sql"):
        print("\n" + item["sql"])


@template_app.command("run")
def run_command(
    name: Annotated[str, typer.Argument(help="Template name.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter value, name=value (repeat).")
    ] = None,
    purpose: PurposeOption = None,
    disclosure: Annotated[
        Disclosure, typer.Option(help="policy, publication or none (where allowed).")
    ] = "policy",
    output_format: Annotated[
        TableFormat, typer.Option("--format", help="table, csv, json, parquet or arrow.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.", dir_okay=False)
    ] = None,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            help="Write a governed export file instead: csv, xlsx, parquet, gpkg, geojson, "
            "shp, tab, mif, fgb, geoparquet, kml.",
        ),
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Export option, key=value (repeat).")
    ] = None,
    url: UrlOption = None,
    data_dir: DataDirOption = None,
    user: UserOption = None,
) -> None:
    """Run a template under your policy (audited) and show or save the result."""
    params = _params(param)
    options = _options(option)
    if options and not export:
        raise InputError("--option is for --export")
    if data_dir is not None:
        with local_session(data_dir, user, purpose) as session:
            run = session.runner.run(
                session.principal, name, params, purpose=session.purpose, disclosure=disclosure
            )
            provenance = run.provenance()
            if export:
                from gateway.templates import export_run

                exported = export_run(
                    session.service,
                    session.principal,
                    run,
                    format=export,
                    options=options,
                    data_dir=session.data_dir,
                )
                target = exported.path
                if output is not None and exported.approval == "not_required":
                    copy = output.with_name(f".{output.name}.part")
                    shutil.copyfile(exported.path, copy)
                    target = save_delivered(
                        copy,
                        exported.file_name,
                        output,
                        format=exported.format,
                        provenance=exported.provenance.to_dict(),
                    )
                print(_summary(provenance), file=sys.stderr)
                print(f"export {exported.export_id} ({exported.approval}): {target}")
                return
            write_table(run.table, output_format, output, provenance)
            print(_summary(provenance), file=sys.stderr)
        return
    with connection(url, purpose=purpose) as gw:
        if export:
            result = gw.template_export(
                name, format=export, output=output, params=params, disclosure=disclosure,
                options=options,
            )  # fmt: skip
            where = (
                result.path
                or f"held for approval; download later with `gateway export download {result.export_id}`"
            )
            print(f"export {result.export_id} ({result.approval}): {where}")
            return
        answer = gw.template_result(name, params, disclosure=disclosure)
        write_table(answer.table, output_format, output, dict(answer.provenance))
        print(_summary(dict(answer.provenance)), file=sys.stderr)
