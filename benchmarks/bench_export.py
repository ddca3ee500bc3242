"""Export benchmark: seconds to export 1M points to GeoPackage, FlatGeobuf and MapInfo TAB.

For each format, in one run:
  1. the gateway end to end — ``export_query``: policy view, rewrite, audit, DuckDB worker,
     spilled Arrow result, WKB points, GDAL's Arrow writer, zip + sidecar (TAB), SHA-256,
     audit registration — with the stages timed from its progress reports;
  2. the limit — the same rows as a GeoDataFrame written with ``pyogrio.write_dataframe``
     directly (GDAL doing nothing but writing), with and without pyogrio's Arrow path.

The warehouse is synthetic: N locations (default 1,000,000) spread over the force area, each
snapped to one of 20,000 anonymous map points; the query runs as a general-level analyst with
all four authorities, so the points are the policy's map-point coordinates.

Each figure is the best of ``--repeat`` runs (default 3): on a small shared machine single runs
vary by ±30%.

Usage:
    python benchmarks/bench_export.py [--points N] [--dir DIR] [--formats gpkg,fgb,tab] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from gateway.catalog import load_catalog
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.exports import ExportProgress, export_query
from gateway.exports.formats import export_format
from gateway.principal import Principal

AREAS = ("E06000001", "E06000002", "E06000003", "E06000004")
ANALYST = Principal(
    username="bench.analyst",
    organisation="Cleveland Police",
    level="general",
    areas=AREAS,
    purposes=("BENCH",),
    roles=frozenset({"analyst"}),
)
SQL = "SELECT location_id, location_type, lsoa_code, easting, northing FROM location"
MAP_POINTS = 20_000
#: MapInfo options for the direct writes: the same bounds and charset the gateway uses.
BOUNDS = "435000,506000,481000,538000"


def build_warehouse(path: Path, points: int) -> None:
    con = duckdb.connect(str(path))
    try:
        for table in load_catalog():
            con.execute(table.ddl())
        con.execute(
            """
            INSERT INTO local_authority VALUES
              ('E06000001', 'Hartlepool', 92338, 93.7), ('E06000002', 'Middlesbrough', 143924, 53.9),
              ('E06000003', 'Redcar and Cleveland', 136531, 245.1),
              ('E06000004', 'Stockton-on-Tees', 196595, 204.9);
            """
        )
        con.execute(
            """
            INSERT INTO map_point
            SELECT i, 'Street ' || i, 'street', 436000 + (i * 7919) % 44000 + 0.5,
                   507000 + (i * 104729) % 30000 + 0.25, 'E0101' || lpad((i % 350)::VARCHAR, 4, '0'),
                   'E0600000' || (1 + i % 4), 8 + i % 20
            FROM range($n) t(i)
            """,
            {"n": MAP_POINTS},
        )
        con.execute(
            """
            INSERT INTO location
            SELECT i, CASE WHEN i % 5 = 0 THEN 'street' ELSE 'dwelling' END,
                   (i % 200) || ' Street ' || (i % $mp), 'Street ' || (i % $mp), 'Town',
                   'TS' || (1 + i % 9) || ' ' || (i % 10) || 'AB',
                   436000 + (i * 7.31) % 44000, 507000 + (i * 3.77) % 30000, i % $mp,
                   'E0101' || lpad((i % 350)::VARCHAR, 4, '0'), 'W', 'N', 'E0600000' || (1 + i % 4)
            FROM range($n) t(i)
            """,
            {"n": points, "mp": MAP_POINTS},
        )
    finally:
        con.close()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def direct_write(gdf: Any, folder: Path, driver: str, *, use_arrow: bool) -> float:
    """Seconds for pyogrio to write the GeoDataFrame itself (MapInfo: same BOUNDS, UTF-8)."""
    import pyogrio

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    extension = {"GPKG": ".gpkg", "FlatGeobuf": ".fgb", "MapInfo File": ".tab"}.get(driver, "")
    options: dict[str, Any] = {}
    if driver == "MapInfo File":
        options = {"layer_options": {"BOUNDS": BOUNDS, "ENCODING": "UTF-8"}}
    began = time.perf_counter()
    pyogrio.write_dataframe(
        gdf, folder / f"direct{extension}", driver=driver, use_arrow=use_arrow, **options
    )
    return time.perf_counter() - began


def raw_write(frame: Any, folder: Path, driver: str) -> float:
    """Seconds for GDAL alone: the rows as an Arrow table with WKB points, straight to
    ``pyogrio.raw.write_arrow`` (no GeoDataFrame, no gateway)."""
    import pyarrow as pa
    import pyogrio

    from gateway.exports.geometry import point_wkb

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column(
        "geometry", point_wkb(frame["easting"].to_numpy(), frame["northing"].to_numpy())
    )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    extension = {"GPKG": ".gpkg", "FlatGeobuf": ".fgb", "MapInfo File": ".tab"}.get(driver, "")
    options = {"BOUNDS": BOUNDS, "ENCODING": "UTF-8"} if driver == "MapInfo File" else None
    began = time.perf_counter()
    pyogrio.raw.write_arrow(
        table, str(folder / f"raw{extension}"), layer="raw", driver=driver,
        geometry_name="geometry", geometry_type="Point", crs="EPSG:27700", layer_options=options,
    )  # fmt: skip
    return time.perf_counter() - began


def gateway_run(service: Any, data_dir: DataDir, fmt: str) -> tuple[float, dict[str, float], Any]:
    """One export end to end: total seconds, when each stage began, the export."""
    stages: dict[str, float] = {}
    began = time.perf_counter()

    def note(p: ExportProgress) -> None:
        stages.setdefault(p.stage, time.perf_counter() - began)

    exported = export_query(
        service, ANALYST, SQL, "BENCH", format=fmt, data_dir=data_dir,
        options={"geometry": "points"}, progress=note,
    )  # fmt: skip
    return time.perf_counter() - began, stages, exported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--formats", default="gpkg,fgb,tab")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-export-"))
    root.mkdir(parents=True, exist_ok=True)
    data_dir = DataDir(root)
    if not data_dir.warehouse.exists():
        seconds, _ = timed(lambda: build_warehouse(data_dir.warehouse, args.points))
        print(f"warehouse with {args.points:,} locations built in {seconds:.1f} s ({root})")

    import geopandas as gpd
    import pyogrio

    with Deployment.open(data_dir, workers=1) as deployment:
        service = deployment.service
        # The same rows the export writes, as a GeoDataFrame, for the direct-GDAL limit.
        outcome = service.run_query(ANALYST, SQL, "BENCH")
        frame = outcome.result.to_table().to_pandas()
        outcome.result.discard()
        gdf = gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["easting"], frame["northing"]), crs=27700
        )
        print(f"{len(gdf):,} points, cores={os.cpu_count()}, pyogrio {pyogrio.__version__}, "
              f"GDAL {pyogrio.__gdal_version_string__}\n")  # fmt: skip
        print(f"{'format':<8} {'gateway':>9} {'query':>7} {'layer':>7} {'write':>7} {'finish':>7} "
              f" | {'gdf':>7} {'gdf+arrow':>9} {'raw':>7} {'ratio':>6}  size")  # fmt: skip
        for name in args.formats.split(","):
            fmt = export_format(name)
            driver = fmt.driver or ""
            runs, direct_s, arrow_s, raw_s = [], [], [], []
            for _ in range(args.repeat):  # interleaved, so load from elsewhere hits all alike
                runs.append(gateway_run(service, data_dir, fmt.name))
                direct_s.append(direct_write(gdf, root / "d", driver, use_arrow=False))
                arrow_s.append(direct_write(gdf, root / "d", driver, use_arrow=True))
                raw_s.append(raw_write(frame, root / "d", driver))
            seconds, stages, exported = min(runs, key=lambda r: r[0])
            assert exported.features == len(gdf)
            direct, arrow, raw = min(direct_s), min(arrow_s), min(raw_s)
            query_s = stages.get("layer", 0.0)
            layer_s = stages.get("write", query_s) - query_s
            write_s = stages.get("register", seconds) - stages.get("write", query_s)
            finish_s = seconds - stages.get("register", seconds)
            print(
                f"{fmt.name:<8} {seconds:>8.2f}s {query_s:>6.2f}s {layer_s:>6.2f}s {write_s:>6.2f}s "
                f"{finish_s:>6.2f}s | {direct:>7.2f}s {arrow:>8.2f}s {raw:>6.2f}s "
                f"{seconds / min(direct, arrow):>5.2f}x"
                f"  {exported.bytes / 2**20:.0f} MiB"
            )
    print(
        "\ngateway = export_query end to end; query = policy + rewrite + audit + DuckDB + spill;"
        "\nlayer = WKB points + column preparation; write = GDAL; finish = zip/hash/register;"
        "\ngdf = pyogrio.write_dataframe(GeoDataFrame); gdf+arrow = the same with use_arrow=True;"
        "\nraw = GDAL alone (pyogrio.raw.write_arrow of an Arrow table with WKB points);"
        "\nratio = gateway / the faster GeoDataFrame write."
    )


if __name__ == "__main__":
    main()
