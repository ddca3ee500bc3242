"""Generation speed and memory by scale: seconds, rows per second, peak RSS, DuckDB file size.

    python benchmarks/bench_generate.py                 scales 0.1, 0.5 and 1 (3 years each)
    python benchmarks/bench_generate.py --scales 1 2    chosen scales
    python benchmarks/bench_generate.py --big           also ~10 million crimes (10 years, scale 14.3)

Each run is a fresh process (``gateway generate``'s own code path, :func:`gateway.generate.build`)
so peak RSS is that run's alone; data directories go to a temporary folder that is removed
afterwards (``--keep DIR`` keeps them). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CHILD = """
import json, sys, time
from pathlib import Path
from gateway.generate import build
started = time.perf_counter()
summary = build(Path(sys.argv[1]), years=int(sys.argv[2]), scale=float(sys.argv[3]), seed=2026, force=True)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": dict(summary.row_counts),
                  "bytes": summary.warehouse_bytes}))
"""


@dataclass(frozen=True)
class Run:
    years: int
    scale: float
    seconds: float
    rows: dict[str, int]
    warehouse_bytes: int
    peak_rss_bytes: int

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def line(self) -> str:
        return (
            f"{self.years:>5} {self.scale:>7g} {self.rows.get('crime', 0):>12,} {self.total_rows:>12,} "
            f"{self.seconds:>9.1f} {self.total_rows / self.seconds:>12,.0f} "
            f"{self.rows.get('crime', 0) / self.seconds:>11,.0f} {self.peak_rss_bytes / 2**20:>9,.0f} "
            f"{self.warehouse_bytes / 2**20:>9,.1f}"
        )


HEADER = (
    f"{'years':>5} {'scale':>7} {'crimes':>12} {'all rows':>12} {'seconds':>9} {'rows/s':>12} "
    f"{'crimes/s':>11} {'peak MiB':>9} {'file MiB':>9}"
)


def measure(root: Path, years: int, scale: float) -> Run:
    """Generate once in a child process; peak RSS from the kernel's accounting of that child."""
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root), str(years), str(scale)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"generation failed for years={years} scale={scale}")
    result = json.loads(output.strip().splitlines()[-1])
    return Run(
        years=years,
        scale=scale,
        seconds=result["seconds"],
        rows=result["rows"],
        warehouse_bytes=result["bytes"],
        peak_rss_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also about 10 million crimes")
    parser.add_argument("--keep", type=Path, help="keep the data directories under this folder")
    args = parser.parse_args()

    plan = [(args.years, scale) for scale in args.scales]
    if args.big:
        plan.append((10, 14.3))  # 70,000 × 14.3 × 10 ≈ 10 million crimes
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(HEADER)
    try:
        for years, scale in plan:
            run = measure(base / f"y{years}-s{scale:g}", years, scale)
            print(run.line(), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
