"""The DB-API driver's cost over the HTTP client, on the same 1,000,000-row result.

    python benchmarks/bench_dbapi.py [--data-dir DIR] [--years 1] [--scale 0.1]

Prints, for ``bench_http.BIG`` run as the senior analyst: the client's ``query_arrow``; the
DB-API cursor's time to its first row, ``fetchmany(10_000)`` to the end and ``fetchall`` (rows
become Python tuples), and ``fetch_arrow_table`` (no Python values); and the process's peak RSS
growth after each (a high-water mark: streaming reads run first). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_http import BIG, prepare, serve  # same folder: users, tokens, server

from gateway.client import connect, dbapi


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, run: Callable[[], int]) -> None:
    before = peak_mb()
    began = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - began
    print(
        f"{label:<44} {rows:>9,} rows in {seconds:6.2f} s = {rows / seconds / 1e6:5.2f} M rows/s, "
        f"peak RSS +{peak_mb() - before:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-dbapi-")) / "data"
    token = prepare(root, args.years, args.scale, clients=1)["s.patel"]
    process, url = serve(root)
    try:
        with (
            connect(url, token, purpose="SA-2026", timeout=600) as gw,
            dbapi.connect(url, token, purpose="SA-2026", timeout=600) as con,
        ):
            gw.query_arrow("SELECT 1 AS x")
            cur = con.cursor()

            def first_row() -> int:
                cur.execute(BIG)
                cur.fetchone()
                return 1

            def fetchmany() -> int:
                cur.execute(BIG)
                n = 0
                while part := cur.fetchmany(10_000):
                    n += len(part)
                return n

            # peak RSS is a high-water mark: each line shows growth beyond every earlier one,
            # so the streaming reads come first
            timed("dbapi: execute + first row", first_row)
            timed("dbapi: execute + fetchmany(10_000) to the end", fetchmany)
            timed(
                "dbapi: execute + fetch_arrow_table",
                lambda: cur.execute(BIG).fetch_arrow_table().num_rows,
            )
            timed("client: query_arrow", lambda: gw.query_arrow(BIG).num_rows)
            timed("dbapi: execute + fetchall", lambda: len(cur.execute(BIG).fetchall()))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
