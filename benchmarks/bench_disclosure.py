"""Disclosure control cost: cells vs seconds, cell key method and cell suppression.

A day × flag table of counts (a sparse two-way table with many small cells, the shape that
made secondary suppression roughly cubic in issue 14, finding 4), protected up to the largest
result disclosure control accepts (DISCLOSURE_MAX_ROWS cells): the cell key method (the
default) with no limit, and cell suppression within the budget a request gives it
(DISCLOSURE_MAX_SECONDS: beyond it the request stops with 422 ``timeout``) — in the calling
process, and through a protection child process (gateway.disclosure.isolation: what the
server does for tables above IN_PROCESS_CELLS), where the caller's own CPU is shown apart.

``--http`` also runs issue 14's finding 4 end to end: the day × flag query with
``"disclosure": "policy"`` against a live gateway on a generated warehouse (3 years), timing
the request and the CPU the API process spent on it, and the same query without control (the
difference is mostly the engine computing every counted record's key); then the same with the
policy's general level switched to cell suppression (protected in a child process: the API
process's CPU stays small while the child works, and the request stops at the budget).

    python benchmarks/bench_disclosure.py [--http] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa

from gateway.disclosure import parse_disclosure_spec, protect
from gateway.disclosure.budget import Budget
from gateway.disclosure.control import DISCLOSURE_MAX_ROWS, DISCLOSURE_MAX_SECONDS
from gateway.disclosure.isolation import ProtectionProcesses
from gateway.errors import QueryTimeout
from gateway.policy.disclosure import DisclosureRules

CELL_KEY = DisclosureRules(min_count=10, label="cell_key", method="cell_key", max_noise=2)
SUPPRESSION = DisclosureRules(min_count=10, label="suppression")
SPEC = parse_disclosure_spec({"dimensions": ["day", "flag"], "counts": ["n"]})
DAY_BY_FLAG = (
    "SELECT CAST(recorded_at AS DATE) AS day, domestic_abuse AS flag, count(*) AS crimes "
    "FROM crime GROUP BY ALL"
)
#: Over HTTP: finding 4's table (each day is a fixed record set: a grouping key the cell rules
#: allow), a larger day table, and tables of published cells of about its size and larger (the
#: largest protected through a child process under suppression).
TABLES = {
    "day x flag": DAY_BY_FLAG,
    "day x category x flag": (
        "SELECT CAST(recorded_at AS DATE) AS day, police_uk_category, domestic_abuse AS flag, "
        "count(*) AS crimes FROM crime GROUP BY ALL"
    ),
    "lsoa x month": (
        "SELECT lsoa_code, strftime(date_trunc('month', recorded_at), '%Y-%m') AS month, "
        "count(*) AS crimes FROM crime GROUP BY ALL"
    ),
    "lsoa x month x flag": (
        "SELECT lsoa_code, strftime(date_trunc('month', recorded_at), '%Y-%m') AS month, "
        "domestic_abuse AS flag, count(*) AS crimes FROM crime GROUP BY ALL"
    ),
}


def table(cells: int, seed: int = 14) -> pa.Table:
    rng = random.Random(seed)
    days, flags = (cells + 2) // 3, 3
    rows = [(d, f) for d in range(days) for f in range(flags)][:cells]
    return pa.table(
        {
            "day": [f"d{d:05d}" for d, _ in rows],
            "flag": [f"f{f}" for _, f in rows],
            "n": [rng.choice((0, 1, 2, 3, 5, 8, 12, 20, 40)) for _ in rows],
        }
    )


def keys_for(data: pa.Table, rules: DisclosureRules) -> dict[str, list[int | None]]:
    # cell keys as the engine returns them (sums of record keys), drawn at random here
    rng = random.Random(data.num_rows)
    return {"n": [rng.randrange(2**60) % rules.modulus for _ in range(data.num_rows)]}


def seconds(data: pa.Table, rules: DisclosureRules, budget: Budget) -> str:
    keys = keys_for(data, rules)
    began = time.process_time()
    try:
        protect(data, SPEC, rules, cell_keys=keys, budget=budget)
    except QueryTimeout:
        return f"stopped {time.process_time() - began:.2f}"
    return f"{time.process_time() - began:.3f}"


def through_child(processes: ProtectionProcesses, data: pa.Table, rules: DisclosureRules) -> str:
    """Wall-clock seconds through a child process / the caller's own CPU seconds."""
    keys = keys_for(data, rules)
    wall, cpu = time.perf_counter(), time.thread_time()
    outcome = ""
    try:
        processes.protect(
            data,
            SPEC,
            rules,
            cell_keys=keys,
            budget=Budget.within(DISCLOSURE_MAX_SECONDS),
            isolate=True,
        )
    except QueryTimeout:
        outcome = "stopped "
    return f"{outcome}{time.perf_counter() - wall:.3f}/{time.thread_time() - cpu:.3f}"


def in_process() -> None:
    print(f"suppression within a {DISCLOSURE_MAX_SECONDS:.0f} s budget; child: wall/caller CPU s")
    print(
        f"{'cells':>7} {'cell key s':>11} {'µs/cell':>8} {'suppression s':>15} "
        f"{'child cell key':>15} {'child suppression':>18}"
    )
    with ProtectionProcesses(spares=1) as processes:
        processes.protect(table(10), SPEC, SUPPRESSION, isolate=True)  # waits for the spare
        for cells in (100, 500, 1020, 2181, 5000, 10000, DISCLOSURE_MAX_ROWS):
            data = table(cells)
            key = float(seconds(data, CELL_KEY, Budget()))
            budget = Budget.within(DISCLOSURE_MAX_SECONDS)
            sup = seconds(data, SUPPRESSION, budget)
            child_key = through_child(processes, data, CELL_KEY)
            child_sup = through_child(processes, data, SUPPRESSION)
            print(
                f"{cells:>7} {key:11.3f} {key / cells * 1e6:8.1f} {sup:>15} "
                f"{child_key:>15} {child_sup:>18}"
            )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ)


def over_http(root: Path) -> None:
    from benchmarks.bench_http import prepare

    tokens = prepare(root, years=3, scale=0.3, clients=1)
    policy = root / "policy.toml"
    text = policy.read_text("utf-8")
    policy.write_text(text.replace('method = "suppression"', 'method = "cell_key"'), "utf-8")
    run_day_by_flag(root, tokens)
    # The same with the general level's method switched to cell suppression.
    policy = root / "policy.toml"
    text = policy.read_text("utf-8")
    general = text.index("[disclosure.levels.general]")
    switched = text[general:].replace('method = "cell_key"', 'method = "suppression"', 1)
    policy.write_text(text[:general] + switched, "utf-8")
    print("general level switched to cell suppression:")
    run_day_by_flag(root, tokens)


def run_day_by_flag(root: Path, tokens: dict[str, str]) -> None:
    """Each table over HTTP: without control, then three times with ``policy`` control."""
    from benchmarks.bench_http import serve

    process, url = serve(root)
    try:
        with httpx.Client(base_url=url, timeout=120) as http:
            headers = {"Authorization": f"Bearer {tokens['a.khan']}"}
            for name, sql in TABLES.items():
                body = {"sql": sql, "purpose": "SA-2026", "disclosure": "policy"}
                http.post("/v1/query", json=body, headers=headers)  # warm
                plain = {k: v for k, v in body.items() if k != "disclosure"}  # no record keys
                began = time.perf_counter()
                answer = http.post("/v1/query", json=plain, headers=headers)
                print(
                    f"http: {name} without disclosure control: {answer.status_code} "
                    f"in {time.perf_counter() - began:.2f} s"
                )
                for _ in range(3):
                    cpu, began = cpu_seconds(process.pid), time.perf_counter()
                    answer = http.post("/v1/query", json=body, headers=headers)
                    wall, cpu = time.perf_counter() - began, cpu_seconds(process.pid) - cpu
                    print(f"http: {name}: {outcome(answer)} in {wall:.2f} s, API CPU {cpu:.2f} s")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def outcome(answer: httpx.Response) -> str:
    if not answer.is_success:
        return f"{answer.status_code} {answer.json()['error']['code']}"
    report = answer.json()["disclosure"]
    return (
        f"{answer.status_code}, {report['cells']} cells, {report['method']} "
        f"({report.get('perturbed', 0)} perturbed, {report['primary']} suppressed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    in_process()
    if args.http:
        over_http(args.data_dir or Path(tempfile.mkdtemp(prefix="bench-disclosure-")) / "data")


if __name__ == "__main__":
    main()
