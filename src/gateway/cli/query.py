"""``gateway query "SQL" --purpose P``: run a query on a gateway server and show or save it.

    gateway query "SELECT police_uk_category, count(*) AS n FROM crime GROUP BY 1" --purpose SA-2026
    gateway query "SELECT * FROM crime WHERE recorded_at >= \\$since" --purpose SA-2026 \\
        --param since=2024-01-01 --format csv --output crimes.csv

    gateway query "SELECT ward_code, count(*) AS crimes FROM crime GROUP BY 1" \\
        --purpose SA-2026 --disclosure publication --format csv -o crimes_by_ward.csv

``--param k=v`` values are read as JSON when they parse (numbers, true/false, null, lists) and
as text otherwise. ``table`` prints an aligned table; csv/json/parquet stream the server's
answer to ``--output`` (or standard output for csv/json) without holding it in memory.

``--disclosure policy|publication`` asks for disclosure control of an aggregate result (small
counts empty, with ``<column>_suppressed`` flags); ``--disclosure-count``,
``--disclosure-dimension``, ``--disclosure-stratum`` and ``--disclosure-total dim=marker`` say
what the query does not make plain (see ``gateway.disclosure.request``). CSV text cells that
a spreadsheet would run as formulas get a leading apostrophe unless ``--no-formula-guard``.

Example:
    >>> parse_params(["n=10", "since=2024-01-01", "areas=[\\"E06000001\\"]"])
    {'n': 10, 'since': '2024-01-01', 'areas': ['E06000001']}
    >>> disclosure_request("publication", dimensions=["ward_code"], totals=["ward_code=all"])
    {'mode': 'publication', 'dimensions': ['ward_code'], 'totals': {'ward_code': 'all'}}
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
import typer

from gateway.cli import app
from gateway.cli.config import UrlOption, connection
from gateway.cli.options import json_or_text, name_value_pairs
from gateway.cli.waiting import CANCELLED_EXIT, Waiting
from gateway.errors import InputError

__all__ = [
    "DisclosureCountOption",
    "DisclosureDimensionOption",
    "DisclosureOption",
    "DisclosureStratumOption",
    "DisclosureTotalOption",
    "disclosure_request",
    "parse_params",
    "query_command",
]

OutputFormat = Literal["table", "csv", "json", "parquet"]

DisclosureOption = Annotated[
    str | None,
    typer.Option(
        "--disclosure",
        help="Disclosure control on an aggregate result: policy (your level's rules) or "
        "publication. Small counts come back empty with a <column>_suppressed flag.",
    ),
]
DisclosureCountOption = Annotated[
    list[str] | None,
    typer.Option(
        "--disclosure-count",
        help="An aggregate column that is a count besides the count(…) ones (repeat).",
    ),
]
DisclosureDimensionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--disclosure-dimension", help="A grouping column indexing the cells (at most two)."
    ),
]
DisclosureStratumOption = Annotated[
    list[str] | None,
    typer.Option(
        "--disclosure-stratum", help="A grouping column splitting the result into tables."
    ),
]
DisclosureTotalOption = Annotated[
    list[str] | None,
    typer.Option("--disclosure-total", help="dimension=marker: the value marking its total rows."),
]


def disclosure_request(
    mode: str | None,
    *,
    counts: list[str] | None = None,
    dimensions: list[str] | None = None,
    strata: list[str] | None = None,
    totals: list[str] | None = None,
) -> dict[str, Any] | None:
    """The ``disclosure`` request the command-line options describe (None: not asked for).

    Raises:
        InputError: column options without ``--disclosure``, or a total without ``=``.
    """
    if mode is None:
        if counts or dimensions or strata or totals:
            raise InputError("--disclosure-… options need --disclosure policy|publication")
        return None
    request: dict[str, Any] = {"mode": mode}
    for key, values in (("counts", counts), ("dimensions", dimensions), ("strata", strata)):
        if values:
            request[key] = list(values)
    if totals:
        markers = {}
        for pair in totals:
            dimension, sep, marker = pair.partition("=")
            if not sep or not dimension:
                raise InputError(f"--disclosure-total {pair!r}: write it as dimension=marker")
            markers[dimension] = marker
        request["totals"] = markers
    return request


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", …]`` → parameters (JSON values where they parse, else text).

    Raises:
        InputError: an item without ``=``.
    """
    return {key: json_or_text(value) for key, value in name_value_pairs(pairs, "--param")}


def show_table(frame: pl.DataFrame, max_rows: int = 50) -> str:
    """An aligned table of at most ``max_rows`` rows."""
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        fmt_str_lengths=40,
        tbl_width_chars=160,
        tbl_hide_dataframe_shape=True,
    ):
        return str(frame)


@app.command("query")
def query_command(
    sql: Annotated[str, typer.Argument(help="One SELECT statement (parameters as $name).")],
    purpose: Annotated[
        str | None, typer.Option(help="Approved purpose code (default: the config file's).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter value, name=value (repeat).")
    ] = None,
    url: UrlOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv, json or parquet.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.", dir_okay=False)
    ] = None,
    max_rows: Annotated[int, typer.Option(help="table: rows to print.")] = 50,
    disclosure: DisclosureOption = None,
    disclosure_count: DisclosureCountOption = None,
    disclosure_dimension: DisclosureDimensionOption = None,
    disclosure_stratum: DisclosureStratumOption = None,
    disclosure_total: DisclosureTotalOption = None,
    formula_guard: Annotated[
        bool,
        typer.Option(
            help="csv: prefix text cells starting with = + - @ tab or CR with an apostrophe "
            "so spreadsheets never run them as formulas."
        ),
    ] = True,
) -> None:
    """Run a query on the gateway under your token's policy."""
    params = parse_params(param or [])
    control = disclosure_request(
        disclosure,
        counts=disclosure_count,
        dimensions=disclosure_dimension,
        strata=disclosure_stratum,
        totals=disclosure_total,
    )
    if output_format == "parquet" and output is None and sys.stdout.isatty():
        raise InputError("parquet is binary: give --output FILE")
    try:
        _run(sql, params, control, url, purpose, output_format, output, max_rows, formula_guard)
    except KeyboardInterrupt:
        # The connection is closed on the way out: the server sees the client go, stops the
        # query and audits it as cancelled.
        print(
            "\ncancelled: the gateway stops the query and records it as cancelled", file=sys.stderr
        )
        raise typer.Exit(CANCELLED_EXIT) from None


def _run(
    sql: str,
    params: dict[str, Any],
    control: dict[str, Any] | None,
    url: str | None,
    purpose: str | None,
    output_format: OutputFormat,
    output: Path | None,
    max_rows: int,
    formula_guard: bool,
) -> None:
    with connection(url, purpose=purpose) as gw:
        if output_format == "table":
            with Waiting():
                frame = gw.query(sql, params=params, disclosure=control)
            if output is not None:
                output.write_text(show_table(frame, max_rows) + "\n", "utf-8")
            else:
                print(show_table(frame, max_rows))
            shown = min(frame.height, max_rows)
            note = f"{frame.height:,} rows" + (f", {shown} shown" if shown < frame.height else "")
            print(f"{note} (query {gw.last_query_id})", file=sys.stderr)
            if gw.last_disclosure:
                print(f"disclosure control: {gw.last_disclosure}", file=sys.stderr)
            return
        waiting = Waiting()
        with waiting:
            chunks = _first_chunk_ends(
                gw.query_bytes(
                    sql,
                    params=params,
                    format=output_format,
                    disclosure=control,
                    formula_guard=formula_guard,
                ),
                waiting,
            )
        written = 0
        if output is not None:
            with output.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    written += len(chunk)
            print(
                f"wrote {written:,} bytes to {output} (query {gw.last_query_id})", file=sys.stderr
            )
        else:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            print(f"(query {gw.last_query_id})", file=sys.stderr)
        if gw.last_disclosure:
            print(f"disclosure control: {gw.last_disclosure}", file=sys.stderr)


def _first_chunk_ends(chunks: Iterator[bytes], waiting: Waiting) -> Iterator[bytes]:
    """``chunks``, with ``waiting`` stopped once the answer starts (or fails)."""
    try:
        first = next(chunks, None)
    finally:
        waiting.done()
    if first is None:
        return iter(())
    return _chain(first, chunks)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
