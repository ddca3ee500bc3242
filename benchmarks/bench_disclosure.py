"""Disclosure control cost: cells vs seconds, cell key method and cell suppression.

A day × flag table of counts (a sparse two-way table with many small cells, the shape that
made secondary suppression roughly cubic in issue 14, finding 4). Suppression is timed only
up to --suppression-max cells (it is the slow one).

    python benchmarks/bench_disclosure.py [--suppression-max 1020]
"""

from __future__ import annotations

import argparse
import random
import time

import pyarrow as pa

from gateway.disclosure import parse_disclosure_spec, protect
from gateway.policy.disclosure import DisclosureRules

CELL_KEY = DisclosureRules(min_count=10, label="cell_key", method="cell_key", max_noise=2)
SUPPRESSION = DisclosureRules(min_count=10, label="suppression")
SPEC = parse_disclosure_spec({"dimensions": ["day", "flag"], "counts": ["n"]})


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


def seconds(data: pa.Table, rules: DisclosureRules) -> float:
    began = time.process_time()
    protect(data, SPEC, rules, secret=b"benchmark")
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suppression-max", type=int, default=1020)
    args = parser.parse_args()
    print(f"{'cells':>7} {'cell key s':>11} {'suppression s':>14}")
    for cells in (100, 500, 1020, 2181, 5000, 10000, 20000):
        data = table(cells)
        key = seconds(data, CELL_KEY)
        sup = f"{seconds(data, SUPPRESSION):14.3f}" if cells <= args.suppression_max else " " * 14
        print(f"{cells:>7} {key:11.3f} {sup}")


if __name__ == "__main__":
    main()
