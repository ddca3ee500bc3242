"""Lifecycle schedule benchmark: what the server's own run (access reviews of every account,
code-of-connection reminders, inactivity flags) costs as the audit log grows.

Seeds the governed demo register (``gateway demo --governed``'s people, organisations and
grants, every step audited), appends N ``query.started`` records for the demo analysts spread
over the last eight months, then times :meth:`GovernanceService.scheduled_cycle`:
  1. the first run (reviews opened for every organisation, inactive users flagged);
  2. a quiet run (nothing due: what every hourly run costs afterwards).

Usage:
    python benchmarks/bench_lifecycle.py [--dir DIR] [--events N ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.audit import AuditLog
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from gateway.deployment import Deployment

ANALYSTS = ("h.lee", "a.khan", "r.wilson", "j.taylor", "e.okafor")


def build(root: Path, events: int) -> float:
    """The governed demo register and ``events`` query records; seconds to append them."""
    root.mkdir(parents=True)
    grant_demo_access(root, governed=True)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with AuditLog.open(DataDir(root), checkpoint_every=1000, checkpoint_interval=None) as log:
        for n in range(events):
            log.store.append(
                "query.started",
                ANALYSTS[n % len(ANALYSTS)],
                "Middlesbrough Council",
                {"query_id": f"Q{n}", "sql_submitted": "SELECT count(*) FROM crime"},
                time=now - timedelta(days=240) + timedelta(seconds=n * 240 * 86400 // events),
            )
    return time.perf_counter() - started


def timed_run(root: Path) -> tuple[float, dict[str, list[str]]]:
    with Deployment.open(root, engine=False) as deployment:
        started = time.perf_counter()
        result = deployment.governance.scheduled_cycle()
        return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000, 20_000, 100_000])
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    print(
        f"{'query records':>14} {'append s':>9} {'first run s':>12} {'quiet run s':>12}  first run"
    )
    for events in args.events:
        root = base / f"n{events}"
        appended = build(root, events)
        first, result = timed_run(root)
        quiet, again = timed_run(root)
        assert not any(again.values()), again
        done = ", ".join(f"{k} {len(v)}" for k, v in result.items())
        print(f"{events:>14,} {appended:>9.2f} {first:>12.3f} {quiet:>12.3f}  {done}")


if __name__ == "__main__":
    main()
