"""A 1,000,000-row result over Arrow Flight SQL, over HTTP (Arrow) and from raw DuckDB.

    python benchmarks/bench_flight.py [--data-dir DIR] [--years 1] [--scale 0.1] [--runs 3]

For ``bench_http.BIG`` run as the senior analyst (``prepare`` and ``serve`` from bench_http:
the same warehouse, users, release limits and ``gateway serve``, here with ``--flight-port``):

- Flight SQL with the ADBC driver (``cursor.execute`` + ``fetch_arrow_table``: the Go driver
  DBeaver-style tools share, through the C data interface);
- Flight SQL with a plain ``pyarrow.flight`` client (``GetFlightInfo`` + ``DoGet``);
- HTTP with the gateway's Python client (``query_arrow``: ``POST /v1/query``, Arrow stream);
- the same SQL on a plain DuckDB connection to Arrow, in-process (no policy, no audit).

Every gateway path includes the policy rewrite, the write-ahead and completed audit records and
the spilled result. MB is the result's Arrow IPC stream size; the median of ``--runs`` runs is
printed (with the best), never asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import adbc_driver_flightsql.dbapi as adbc_flightsql
import duckdb
import pyarrow as pa
import pyarrow.flight as flight
from bench_http import BIG, free_port, prepare, serve  # same folder: users, tokens, server

from gateway.api.flight.protocol import message, pack
from gateway.client import connect
from gateway.datadir import DataDir

PURPOSE = "SA-2026"


def ipc_mb(table: pa.Table) -> float:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return float(sink.getvalue().size) / 1e6


def measure(label: str, run: Callable[[], pa.Table], runs: int) -> pa.Table:
    seconds: list[float] = []
    table = pa.table({})
    for _ in range(runs):
        began = time.perf_counter()
        table = run()
        seconds.append(time.perf_counter() - began)
    median, best = statistics.median(seconds), min(seconds)
    size = ipc_mb(table)
    print(
        f"{label:<46} {table.num_rows:>9,} rows, {size:6.1f} MB: median {median:5.2f} s "
        f"= {size / median:5.0f} MB/s ({table.num_rows / median / 1e6:4.2f} M rows/s); "
        f"best {size / best:5.0f} MB/s"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-flight-")) / "data"
    token = prepare(root, args.years, args.scale, clients=1)["s.patel"]
    flight_port = free_port()
    process, url = serve(root, extra_args=["--flight-port", str(flight_port)])
    location = f"grpc://127.0.0.1:{flight_port}"
    try:
        print(f"gateway on {url} and {location}, data {root} ({os.cpu_count()} cores)")
        headers = [(b"authorization", f"Bearer {token}".encode()), (b"gateway.purpose", b"SA-2026")]
        options = flight.FlightCallOptions(headers=headers)
        client = flight.FlightClient(location)
        descriptor = flight.FlightDescriptor.for_command(
            pack(message("CommandStatementQuery", query=BIG))
        )

        def raw_flight() -> pa.Table:
            info = client.get_flight_info(descriptor, options)
            return client.do_get(info.endpoints[0].ticket, options).read_all()

        db_kwargs = {
            "adbc.flight.sql.authorization_header": f"Bearer {token}",
            "adbc.flight.sql.rpc.call_header.gateway.purpose": PURPOSE,
        }
        with (
            adbc_flightsql.connect(location, db_kwargs=db_kwargs, autocommit=True) as conn,
            conn.cursor() as cur,
            connect(url, token, purpose=PURPOSE, timeout=600) as gw,
        ):
            gw.query_arrow("SELECT 1 AS x")  # warm both doors
            cur.execute("SELECT 1 AS x")
            cur.fetch_arrow_table()

            def adbc() -> pa.Table:
                cur.execute(BIG)
                return cur.fetch_arrow_table()

            over_flight = measure("Flight SQL, ADBC driver (fetch_arrow_table)", adbc, args.runs)
            measure("Flight SQL, pyarrow.flight (GetFlightInfo+DoGet)", raw_flight, args.runs)
            over_http = measure(
                "HTTP Arrow, gateway client (query_arrow)",
                lambda: gw.query_arrow(BIG),
                args.runs,
            )
        con = duckdb.connect(str(DataDir(root).warehouse), read_only=True)
        try:
            measure(
                "plain DuckDB to Arrow, in-process",
                lambda: con.sql(BIG).to_arrow_table(),
                args.runs,
            )
        finally:
            con.close()
        print(f"Flight and HTTP answers equal: {over_flight.equals(over_http)}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
