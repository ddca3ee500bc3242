"""The enforcement fuzzer's long mode: many hostile statements through the real service.

Runs tests/rewrite/test_fuzz.py (the differential fuzzer: every statement refused with a 4xx,
or verified on DuckDB's parse and equal to the independent reference view) with a fresh random
seed and ``--examples`` cases, and prints the figures: cases, seconds, cases/s and how the
statements ended (refused by code, answered and compared, answered but not comparable).

Usage::

    python benchmarks/fuzz_enforcement.py                   # 100,000 cases
    python benchmarks/fuzz_enforcement.py --examples 20000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    env = {**os.environ, "GATEWAY_FUZZ_EXAMPLES": str(args.examples), "GATEWAY_FUZZ_RANDOM": "1"}
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore",
            "--timeout=0",
            "tests/rewrite/test_fuzz.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    lines = [line for line in run.stdout.splitlines() if line.startswith("fuzz:")]
    print(*(lines or run.stdout.splitlines()[-30:]), sep="\n")
    print(
        f"{args.examples:,} cases requested; whole run {elapsed:.0f} s "
        f"({args.examples / elapsed:.0f} cases/s); pytest exit code {run.returncode}"
    )
    return run.returncode


if __name__ == "__main__":
    raise SystemExit(main())
