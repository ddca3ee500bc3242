"""The gateway against PostgreSQL with row-level security, same rows, same policy (issue 18).

    python benchmarks/bench_postgres_rls.py                              # scale 1 x 3 years
    python benchmarks/bench_postgres_rls.py --scale 10 --years 3 --principal one [--live]

What a force would build instead of the gateway: the warehouse tables in PostgreSQL 15, the
general level's row filters as row-level security policies and its masks as views, the analyst
allowed only the views. Here that is built faithfully enough to cost what it costs:

- a throwaway cluster (``tests/postgres_cluster.py``: initdb on a free port), with
  ``shared_buffers`` 25 % of RAM up to 4 GB, ``work_mem`` 64 MB, 2 parallel workers per gather
  (the machine's cores), JIT off, and indexes on every row-filter and join column;
- the tables crime, crime_person, incident, custody, location, lsoa and map_point copied from the
  same DuckDB warehouse (``COPY``), then ``VACUUM ANALYZE``;
- RLS on crime, incident, custody and location: ``local_authority_code = ANY(areas)``, the areas
  being the principal's (set per session in ``gw.areas``, as a pooler would); crime_person's
  rows only for crimes the analyst may see (``crime_id IN (SELECT crime_id FROM crime)``, itself
  under RLS), as the policy says; the unlinkable-victims rule (a victim of a sensitive crime is
  not linked to it: crime_person keeps linkable roles only on a sensitive crime, custody only a
  person crime_person links to it in such a role);
- the masks as views owned by a masking role: person ids as HMAC-SHA256 pseudonyms (pgcrypto,
  the gateway's own key and message ``person:<id>``, ``P`` and 16 hex characters: the same values), references to their last 4 characters, free text nulled, postcodes to
  their sector, dwelling coordinates snapped to their map point;
- the analyst role may read the views only.

Then the template-like query set (``bench_rewrite.QUERIES``, written again in PostgreSQL's
dialect: no ``GROUP BY ALL``) is timed for the same principal through the gateway over HTTP
(Arrow) and on PostgreSQL (the analyst's session, psycopg, rows fetched), medians per query and
the ratio PostgreSQL / gateway; every answer is compared row by row, value by value (pseudonyms
included), and the run fails when one differs. The gateway scans the
masked projections it builds by default; ``--live`` runs its policy subqueries live instead
(``bench_policy_cost.py`` compares the two gateway modes). ``--principal all`` is ``s.patel``
(general, all four authorities: the rows raw DuckDB would read too); ``one`` is a one-authority
analyst, the common case. The issue's targets (>= 10x faster than PostgreSQL+RLS at the median,
>= 3x on the worst query) are printed beside what was reached. Figures are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
from bench_http import prepare
from bench_policy_cost import (
    LINKABLE,
    QUICK,
    agreement,
    answer_rows,
    data_dir_for,
    is_top,
    load,
    not_sensitive,
    serve_mode,
    timed,
)
from bench_rewrite import QUERIES

from gateway.client import connect
from gateway.datadir import DataDir
from gateway.deployment import PSEUDONYM_KEY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres_cluster import PostgresCluster

PURPOSE = "SA-2026"
PRINCIPALS = {"all": "s.patel", "one": "bench00"}
TABLES = (
    "lsoa",
    "map_point",
    "location",
    "offence_type",
    "crime",
    "crime_person",
    "incident",
    "custody",
)
NOT_SENSITIVE = not_sensitive("wh.")
AREA_FILTERED = ("crime", "incident", "custody", "location")

#: bench_rewrite.QUERIES in PostgreSQL's dialect (the same questions and the same rows).
PG_QUERIES = {
    "monthly counts by category": "SELECT police_uk_category, date_trunc('month', recorded_at) AS month, count(*) AS n FROM crime GROUP BY 1, 2 ORDER BY 1, 2",
    "rate per 1,000 by LSOA": "SELECT c.lsoa_code, l.name, count(*) * 1000.0 / max(l.population) AS rate FROM crime c JOIN lsoa l USING (lsoa_code) GROUP BY 1, 2 ORDER BY rate DESC LIMIT 20",
    "hour x weekday profile": "SELECT extract(dow FROM recorded_at) AS dow, extract(hour FROM recorded_at) AS hr, count(*) FROM crime WHERE police_uk_category = 'violent-crime' GROUP BY 1, 2 ORDER BY 1, 2",
    "year-on-year by area": "SELECT local_authority_code, extract(year FROM recorded_at) AS y, count(*) FROM crime GROUP BY 1, 2 ORDER BY 1, 2",
    "outcome rates": "SELECT police_uk_category, avg(CASE WHEN outcome = 'charged' THEN 1 ELSE 0 END) AS charge_rate FROM crime GROUP BY 1 ORDER BY 1",
    "DA and hate trend": "SELECT date_trunc('month', recorded_at) AS m, count(*) FILTER (WHERE domestic_abuse) AS da, count(*) FILTER (WHERE hate_crime) AS hate FROM crime GROUP BY 1 ORDER BY 1",
    "incident demand by grade": "SELECT grade, count(*), avg(extract(epoch FROM arrived_at - reported_at) / 60) AS mins FROM incident GROUP BY 1 ORDER BY 1",
    "ASB by type": "SELECT asb_type, date_trunc('month', reported_at) AS m, count(*) FROM incident WHERE asb_type IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
    "custody time": "SELECT custody_suite, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM released_at - arrived_at) / 60) FROM custody GROUP BY 1 ORDER BY 1",
    "repeat locations": "SELECT location_id, count(*) AS n FROM crime GROUP BY 1 HAVING count(*) >= 5 ORDER BY n DESC LIMIT 50",
    "repeat victims (pseudonyms)": "SELECT person_id, count(*) AS n FROM crime_person WHERE role = 'victim' GROUP BY 1 HAVING count(*) > 2 ORDER BY n DESC LIMIT 50",
    "hotspot map points": "SELECT l.map_point_id, count(*) AS n FROM crime c JOIN location l USING (location_id) GROUP BY 1 ORDER BY n DESC LIMIT 50",
}
assert PG_QUERIES.keys() == QUERIES.keys()

#: The general level's masks as view bodies over schema ``wh`` (see default_policy.toml).
VIEWS = {
    "lsoa": "SELECT * FROM wh.lsoa",
    "offence_type": "SELECT * FROM wh.offence_type",
    "map_point": "SELECT * FROM wh.map_point",
    "crime": """SELECT crime_id, right(crime_ref, 4) AS crime_ref, recorded_at, committed_from,
        committed_to, ho_offence_code, offence_description, police_uk_category, location_id,
        local_authority_code, lsoa_code, ward_code, neighbourhood_code, domestic_abuse,
        hate_crime, NULL::text AS modus_operandi, outcome, outcome_at FROM wh.crime""",
    "crime_person": """SELECT crime_id, 'P' || left(encode(hmac(convert_to('person:' || person_id::text,
        'UTF8'), decode(current_setting('gw.key'), 'hex'), 'sha256'), 'hex'), 16) AS person_id, role FROM wh.crime_person""",
    "incident": """SELECT incident_id, right(incident_ref, 4) AS incident_ref, reported_at,
        opening_code, closing_code, grade, arrived_at, closed_at, asb_type, location_id,
        local_authority_code, lsoa_code, crime_id, NULL::text AS narrative FROM wh.incident""",
    "custody": """SELECT custody_id, right(custody_ref, 4) AS custody_ref,
        'P' || left(encode(hmac(convert_to('person:' || person_id::text,
        'UTF8'), decode(current_setting('gw.key'), 'hex'), 'sha256'), 'hex'), 16) AS person_id,
        arrested_at, arrived_at, detention_authorised_at, released_at, arrest_offence_code,
        custody_suite, disposal, crime_id, arrest_location_id, local_authority_code
        FROM wh.custody""",
    "location": """SELECT l.location_id, l.location_type,
        CASE WHEN l.location_type NOT IN ('dwelling') THEN l.address ELSE m.name END AS address,
        l.street, l.town, split_part(l.postcode, ' ', 1) || ' ' ||
        left(split_part(l.postcode, ' ', 2), 1) AS postcode, m.easting, m.northing,
        l.map_point_id, l.lsoa_code, l.ward_code, l.neighbourhood_code, l.local_authority_code
        FROM wh.location l LEFT JOIN wh.map_point m USING (map_point_id)""",
}
INDEXES = (
    "crime (local_authority_code)",
    "crime (crime_id)",
    "crime (location_id)",
    "crime_person (crime_id)",
    "incident (local_authority_code)",
    "custody (local_authority_code)",
    "location (local_authority_code)",
    "location (location_id)",
    "map_point (map_point_id)",
    "lsoa (lsoa_code)",
)


def pg_type(duck: str) -> str:
    if duck == "VARCHAR" or duck.startswith("ENUM"):
        return "text"
    if duck == "DOUBLE" or duck == "FLOAT":
        return "double precision"
    if duck in ("TINYINT", "UTINYINT", "USMALLINT"):
        return "integer"
    return duck.replace("TIMESTAMP WITH TIME ZONE", "timestamptz")


def load_tables(warehouse: Path, con: psycopg.Connection[Any], work: Path) -> None:
    """Copy the tables from DuckDB into schema ``wh`` (CSV through ``COPY … FROM STDIN``)."""
    duck = duckdb.connect(str(warehouse), read_only=True)
    con.execute("CREATE SCHEMA wh")
    for table in TABLES:
        columns = duck.sql(f"DESCRIBE {table}").fetchall()
        ddl = ", ".join(f'"{name}" {pg_type(kind)}' for name, kind, *_ in columns)
        con.execute(f"CREATE TABLE wh.{table} ({ddl})")
        path = work / f"{table}.csv"
        duck.execute(f"COPY {table} TO '{path}' (HEADER false)")
        with (
            con.cursor() as cur,
            cur.copy(f"COPY wh.{table} FROM STDIN (FORMAT csv)") as copy,
            path.open("rb") as source,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        path.unlink()
    duck.close()
    for index in INDEXES:
        con.execute(f"CREATE INDEX ON wh.{index}")
    con.commit()


def enforce(con: psycopg.Connection[Any]) -> None:
    """The general level as RLS policies and masking views; the analyst may read the views."""
    con.execute("CREATE EXTENSION pgcrypto")
    con.execute("CREATE ROLE masker NOLOGIN")
    con.execute("CREATE ROLE analyst LOGIN")
    con.execute("GRANT USAGE ON SCHEMA wh TO masker")
    con.execute("CREATE SCHEMA analyst AUTHORIZATION masker")
    con.execute("GRANT USAGE ON SCHEMA analyst TO analyst")
    for table in TABLES:
        con.execute(f"GRANT SELECT ON wh.{table} TO masker")
    areas = "local_authority_code = ANY (string_to_array(current_setting('gw.areas'), ','))"
    for table in AREA_FILTERED:
        con.execute(f"ALTER TABLE wh.{table} ENABLE ROW LEVEL SECURITY")
        con.execute(f"CREATE POLICY areas ON wh.{table} FOR SELECT USING ({areas})")
    con.execute("ALTER TABLE wh.crime_person ENABLE ROW LEVEL SECURITY")
    con.execute(
        "CREATE POLICY linked ON wh.crime_person FOR SELECT "
        "USING (crime_id IN (SELECT crime_id FROM wh.crime) "
        f"AND (role IN {LINKABLE} OR crime_id IN ({NOT_SENSITIVE})))"
    )
    # custody reaches a crime too: kept when the crime is absent or not sensitive, or when
    # crime_person (as the analyst sees it) links the same person to it in a linkable role
    con.execute(
        "CREATE POLICY unlinkable ON wh.custody AS RESTRICTIVE FOR SELECT USING ("
        f"crime_id IS NULL OR crime_id IN ({NOT_SENSITIVE}) OR EXISTS (SELECT 1 FROM "
        "wh.crime_person cp WHERE cp.crime_id = custody.crime_id "
        f"AND cp.person_id = custody.person_id AND cp.role IN {LINKABLE}))"
    )
    for table in ("lsoa", "map_point", "offence_type"):
        con.execute(f"ALTER TABLE wh.{table} ENABLE ROW LEVEL SECURITY")
        con.execute(f"CREATE POLICY everyone ON wh.{table} FOR SELECT USING (true)")
    con.execute("SET ROLE masker")
    for name, body in VIEWS.items():
        con.execute(f"CREATE VIEW analyst.{name} WITH (security_barrier) AS {body}")
        con.execute(f"GRANT SELECT ON analyst.{name} TO analyst")
    con.execute("RESET ROLE")
    con.commit()


def tune(cluster: PostgresCluster) -> None:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    shared = min(4 << 30, memory // 4) >> 20
    with psycopg.connect(cluster.dsn(), autocommit=True) as con:
        for setting, value in (
            ("shared_buffers", f"'{shared}MB'"),
            ("work_mem", "'64MB'"),
            ("max_parallel_workers_per_gather", "2"),
            ("jit", "off"),
            ("effective_cache_size", f"'{memory // 2 >> 20}MB'"),
        ):
            con.execute(f"ALTER SYSTEM SET {setting} = {value}")
    cluster.pause()
    cluster.resume()


def compare(url: str, token: str, dsn: str, key: str, reps: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        me = http.get("/v1/me").raise_for_status().json()
    areas = ",".join(me["areas"])
    print(f"principal {me['username']}: {me['level']}, areas {areas}")
    analyst = psycopg.connect(dsn.replace("postgres@", "analyst@"), autocommit=True)
    analyst.execute("SET search_path = analyst")
    analyst.execute("SELECT set_config('gw.areas', %s, false)", (areas,))
    analyst.execute("SELECT set_config('gw.key', %s, false)", (key,))
    try:
        analyst.execute("SELECT count(*) FROM wh.crime_person")
        raise SystemExit("the analyst can read the base tables: the set-up is wrong")
    except psycopg.errors.InsufficientPrivilege:
        print("the analyst's own read of wh.crime_person: refused (views only)")

    def pg(sql: str) -> list[tuple[Any, ...]]:
        return analyst.execute(sql).fetchall()

    print(f"\n{'query':30} {'gateway ms':>11} {'pg+rls ms':>10} {'pg/gw':>7} {'rows':>5}  values")
    ratios: dict[str, float] = {}
    timings: dict[str, tuple[float, float]] = {}
    verdicts: list[str] = []
    with connect(url, token, purpose=PURPOSE, timeout=600) as gateway:
        for name, sql in QUERIES.items():
            got = answer_rows(gateway.query_arrow(sql))
            expected = answer_rows(pg(PG_QUERIES[name]))
            verdict = agreement(got, expected, top=is_top(sql))
            verdicts.append(verdict)
            t_gw = statistics.median(timed(lambda sql=sql: gateway.query_arrow(sql), reps))
            t_pg = statistics.median(timed(lambda name=name: pg(PG_QUERIES[name]), reps))
            ratios[name] = t_pg / t_gw
            timings[name] = (t_gw, t_pg)
            print(
                f"{name:30} {t_gw * 1e3:11.1f} {t_pg * 1e3:10.1f} {t_pg / t_gw:7.2f} "
                f"{len(got):>5}  {verdict}"
            )
    analyst.close()
    worst = min(ratios, key=lambda name: ratios[name])
    t_gw, t_pg = timings[worst]
    print(
        f"\ngateway faster than PostgreSQL+RLS: median {statistics.median(ratios.values()):.2f}x "
        f"(target >= 10x); least {ratios[worst]:.2f}x, {worst} ({t_gw * 1e3:.0f} vs "
        f"{t_pg * 1e3:.0f} ms; target >= 3x); {load()}"
    )
    differ = [v for v in verdicts if v != "same"]
    print(f"answers: {len(verdicts) - len(differ)} of {len(verdicts)} the same on both sides")
    if differ:
        raise SystemExit("the gateway and PostgreSQL+RLS disagree: the comparison is void")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--principal", choices=sorted(PRINCIPALS), default="all")
    parser.add_argument(
        "--live",
        action="store_true",
        help="the gateway runs its policy subqueries live (GATEWAY_PROJECTIONS=0), not the "
        "masked projections it builds by default",
    )
    parser.add_argument(
        "--projections", action="store_true", help="the default (kept for old commands)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "gateway-bench-policy-cost",
        help="generated warehouses are kept here (shared with bench_policy_cost.py)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke test: {QUICK} unless given (< 2 min)"
    )
    args = parser.parse_args()
    if args.quick:
        for name in ("scale", "years", "reps"):
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, QUICK[name])
    root = args.cache_dir / f"s{args.scale:g}-y{args.years}"
    tokens = prepare(root, args.years, args.scale, clients=1)
    dd = DataDir(root)
    began = time.perf_counter()
    with PostgresCluster.start() as cluster, tempfile.TemporaryDirectory() as work:
        tune(cluster)
        dsn = cluster.create_database("warehouse")
        with psycopg.connect(dsn) as con:
            load_tables(dd.warehouse, con, Path(work))
            enforce(con)
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute("VACUUM ANALYZE")
            con.execute("CHECKPOINT")  # the load's dirty pages written now, not while timing
        print(
            f"=== scale {args.scale:g} x {args.years} years: PostgreSQL loaded in "
            f"{time.perf_counter() - began:.0f} s ==="
        )
        mode = "live" if args.live else "projections"
        process, url = serve_mode(data_dir_for(root, mode), mode)
        print(f"gateway: policy subqueries {mode}")
        try:
            key = dd.secret(PSEUDONYM_KEY).hex()
            compare(url, tokens[PRINCIPALS[args.principal]], dsn, key, args.reps)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
