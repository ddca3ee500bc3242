"""Rewrite cost and end-to-end overhead of policy enforcement, against raw DuckDB.

Prints, for a set of template-like analytical queries:

* rewrite time (median and p99 over all queries × repetitions), cold cache and warm cache;
* per query: raw DuckDB (the same SQL on a plain read-only connection, whole force), the
  rewritten policy SQL on the same plain connection (cost of the policy itself), and the full
  gateway path ``QueryService.run_query`` (audit write-ahead + completion, hardened worker,
  spilled Arrow result) as a senior analyst at general level over all four areas — so both
  sides see the same rows — and the ratios gateway / raw.

Usage::

    python benchmarks/bench_rewrite.py --data-dir /tmp/gw-s10          # existing warehouse
    python benchmarks/bench_rewrite.py --data-dir /tmp/gw-s10 --scale 10 --years 1  # generate first
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import duckdb

from gateway.catalog import load_catalog
from gateway.datadir import DataDir
from gateway.deployment import PSEUDONYM_KEY, Deployment, load_deployment_policy
from gateway.engines import EngineTuning
from gateway.policy.masks import PSEUDONYM_MACRO, pseudonym_session_variables
from gateway.policy.view import view_for
from gateway.principal import Principal
from gateway.rewrite import PolicySql, rewrite

AREAS = ("E06000001", "E06000002", "E06000003", "E06000004")
PRINCIPAL = Principal(
    username="bench.senior",
    organisation="Cleveland Police",
    level="general",
    areas=AREAS,
    purposes=("BENCH",),
    roles=frozenset({"analyst"}),
)

#: A typical partnership analyst: general level, one authority (Middlesbrough).
ONE_AREA = Principal(
    username="bench.analyst",
    organisation="Middlesbrough Council",
    level="general",
    areas=("E06000002",),
    purposes=("BENCH",),
    roles=frozenset({"analyst"}),
)

QUERIES = {
    "monthly counts by category": "SELECT police_uk_category, date_trunc('month', recorded_at) AS month, count(*) AS n FROM crime GROUP BY ALL ORDER BY ALL",
    "rate per 1,000 by LSOA": "SELECT c.lsoa_code, l.name, count(*) * 1000.0 / any_value(l.population) AS rate FROM crime c JOIN lsoa l USING (lsoa_code) GROUP BY ALL ORDER BY rate DESC LIMIT 20",
    "hour x weekday profile": "SELECT dayofweek(recorded_at) AS dow, hour(recorded_at) AS hr, count(*) FROM crime WHERE police_uk_category = 'violent-crime' GROUP BY ALL ORDER BY ALL",
    "year-on-year by area": "SELECT local_authority_code, year(recorded_at) AS y, count(*) FROM crime GROUP BY ALL ORDER BY ALL",
    "outcome rates": "SELECT police_uk_category, avg(CASE WHEN outcome = 'charged' THEN 1 ELSE 0 END) AS charge_rate FROM crime GROUP BY 1 ORDER BY 1",
    "DA and hate trend": "SELECT date_trunc('month', recorded_at) AS m, count(*) FILTER (WHERE domestic_abuse) AS da, count(*) FILTER (WHERE hate_crime) AS hate FROM crime GROUP BY 1 ORDER BY 1",
    "incident demand by grade": "SELECT grade, count(*), avg(date_diff('minute', reported_at, arrived_at)) AS mins FROM incident GROUP BY 1 ORDER BY 1",
    "ASB by type": "SELECT asb_type, date_trunc('month', reported_at) AS m, count(*) FROM incident WHERE asb_type IS NOT NULL GROUP BY ALL ORDER BY ALL",
    "custody time": "SELECT custody_suite, median(date_diff('minute', arrived_at, released_at)) FROM custody GROUP BY 1 ORDER BY 1",
    "repeat locations": "SELECT location_id, count(*) AS n FROM crime GROUP BY 1 HAVING count(*) >= 5 ORDER BY n DESC LIMIT 50",
    "repeat victims (pseudonyms)": "SELECT person_id, count(*) AS n FROM crime_person WHERE role = 'victim' GROUP BY 1 HAVING count(*) > 2 ORDER BY n DESC LIMIT 50",
    "hotspot map points": "SELECT l.map_point_id, count(*) AS n FROM crime c JOIN location l USING (location_id) GROUP BY 1 ORDER BY n DESC LIMIT 50",
}


def _timed(fn: object, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--scale", type=float, default=None, help="generate this scale first if missing"
    )
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data_dir = DataDir(args.data_dir)
    if args.scale is not None and not data_dir.warehouse.exists():
        from gateway.generate import build

        build(args.data_dir, scale=args.scale, years=args.years, progress=True)
    catalog = load_catalog()
    policy = load_deployment_policy(data_dir, catalog)
    view = view_for(policy, catalog, PRINCIPAL, "BENCH", date.today())
    raw = duckdb.connect(str(data_dir.warehouse), read_only=True, config={"threads": args.threads})
    counts = raw.sql(
        "SELECT (SELECT count(*) FROM crime), (SELECT count(*) FROM incident)"
    ).fetchall()[0]
    print(f"warehouse: {data_dir.warehouse} — {counts[0]:,} crimes, {counts[1]:,} incidents")

    # --- rewrite time ---------------------------------------------------------------------
    cold: list[float] = []
    warm: list[float] = []
    cache = PolicySql()
    for _ in range(30):
        for sql in QUERIES.values():
            cold.extend(_timed(lambda sql=sql: rewrite(sql, view, catalog, max_rows=1_000_000), 1))
            warm.extend(
                _timed(
                    lambda sql=sql: rewrite(
                        sql, view, catalog, max_rows=1_000_000, policy_sql=cache
                    ),
                    1,
                )
            )
    for label, times in (
        ("rewrite, cold policy cache", cold),
        ("rewrite, warm policy cache", warm),
    ):
        times.sort()
        print(
            f"{label:28} median {statistics.median(times) * 1e3:6.2f} ms   p99 {times[int(len(times) * 0.99)] * 1e3:6.2f} ms  (n={len(times)})"
        )

    # --- end to end -------------------------------------------------------------------------
    for name, value in pseudonym_session_variables(data_dir.secret(PSEUDONYM_KEY)).items():
        raw.execute(f"SET VARIABLE {name} = $v", {"v": value})
    raw.execute(PSEUDONYM_MACRO)
    deployment = Deployment.open(
        data_dir, workers=1, tuning=EngineTuning(threads_per_worker=args.threads)
    )
    service = deployment.service
    try:
        print(
            f"\n{'query':30} {'raw ms':>8} {'policy SQL ms':>14} {'gateway ms':>11} {'gw/raw':>7}"
            f" {'policySQL/raw':>14} {'1-area gw ms':>13} {'1-area/raw':>11}"
        )
        ratios: list[float] = []
        one_ratios: list[float] = []
        for name, sql in QUERIES.items():
            policy_sql = rewrite(sql, view, catalog, max_rows=1_000_000, policy_sql=cache).sql
            raw.sql(sql).to_arrow_table()
            t_raw = statistics.median(
                _timed(lambda sql=sql: raw.sql(sql).to_arrow_table(), args.reps)
            )
            t_pol = statistics.median(
                _timed(lambda s=policy_sql: raw.sql(s).to_arrow_table(), args.reps)
            )

            def run(who: Principal, sql: str = sql) -> None:
                outcome = service.run_query(who, sql, "BENCH")
                outcome.result.to_table()
                outcome.result.discard()

            run(PRINCIPAL)
            run(ONE_AREA)
            t_gw = statistics.median(_timed(lambda: run(PRINCIPAL), args.reps))
            t_one = statistics.median(_timed(lambda: run(ONE_AREA), args.reps))
            ratios.append(t_gw / t_raw)
            one_ratios.append(t_one / t_raw)
            print(
                f"{name:30} {t_raw * 1e3:8.1f} {t_pol * 1e3:14.1f} {t_gw * 1e3:11.1f}"
                f" {t_gw / t_raw:7.2f} {t_pol / t_raw:14.2f} {t_one * 1e3:13.1f}"
                f" {t_one / t_raw:11.2f}"
            )
        print(f"\nmedian gateway/raw ratio, all four areas: {statistics.median(ratios):.2f}")
        print(
            "median ratio, one-area analyst (gateway, own area) / raw (whole force): "
            f"{statistics.median(one_ratios):.2f}"
        )
    finally:
        deployment.close()
        raw.close()


if __name__ == "__main__":
    main()
