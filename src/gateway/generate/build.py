"""Building a data directory's warehouse and base maps: :func:`build` and :func:`ensure`.

Both files are written under temporary names in the data directory and renamed into place at
the end, so an error or Ctrl-C never leaves a half-written warehouse behind. A warehouse
records its parameters and generator version in a ``warehouse_info`` table; :func:`ensure`
uses it to keep a matching warehouse (fast) and to refuse to overwrite a different one.

Records are generated per authority, in runs of months small enough to bound memory (about
100,000 crimes at a time), and written in (authority, time) order.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "data"
    >>> summary = build(root, seed=7, years=1, scale=0.01)
    >>> summary.rows("crime") > 0, ensure(root, seed=7, years=1, scale=0.01).reused
    (True, True)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import polars as pl

from gateway.catalog import load_catalog
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError, Conflict, ParameterError
from gateway.generate.basemaps import write_basemaps
from gateway.generate.crimes import crime_block
from gateway.generate.custody import custody_block
from gateway.generate.geography import build_geography
from gateway.generate.incidents import incident_block
from gateway.generate.intelligence import intelligence_block
from gateway.generate.parameters import CRIMES_PER_YEAR, GENERATOR_VERSION, GenerationParameters
from gateway.generate.progress import Reporter, progress_reporter
from gateway.generate.reference import ReferenceData, load_reference
from gateway.generate.reference_tables import reference_tables
from gateway.generate.summary import GenerationSummary
from gateway.generate.timing import month_bounds
from gateway.generate.warehouse import (
    INFO_TABLE,
    RecordQueue,
    WarehouseWriter,
    interruptible,
    open_read_only,
    read_info,
)
from gateway.generate.world import World, build_world

__all__ = ["BLOCK_CRIMES", "build", "ensure"]

BLOCK_CRIMES = 100_000
"""Upper bound on the crimes generated at once (memory stays flat as volumes grow)."""
_WRITE_CHUNK = 1_000_000


def build(
    data_dir: Path,
    *,
    seed: int = 2026,
    years: int = 3,
    scale: float = 1.0,
    end_month: str = "2026-10",
    progress: bool = False,
    force: bool = False,
) -> GenerationSummary:
    """Generate ``DIR/warehouse.duckdb`` and ``DIR/basemaps.gpkg``.

    Args:
        data_dir: the data directory (created if missing).
        seed: random seed; the same parameters give the same contents.
        years: number of years covered, ending with ``end_month``.
        scale: multiple of the real force's annual volumes.
        end_month: last month covered (``YYYY-MM``).
        progress: show a progress bar on stderr.
        force: replace an existing warehouse.

    Raises:
        ParameterError: bad parameter values, or ``data_dir`` is not a directory.
        ConfigurationError: the directory cannot be created or written.
        Conflict: a warehouse exists and ``force`` is False.
    """
    params = GenerationParameters.checked(seed=seed, years=years, scale=scale, end_month=end_month)
    dirs = DataDir(Path(data_dir))
    _prepare_directory(dirs)
    if dirs.warehouse.exists() and not force:
        raise Conflict(f"{dirs.warehouse} already exists; use --force to replace it")
    return _build(dirs, params, progress=progress)


def ensure(
    data_dir: Path,
    *,
    seed: int = 2026,
    years: int = 3,
    scale: float = 1.0,
    end_month: str = "2026-10",
    progress: bool = False,
) -> GenerationSummary:
    """Make sure ``data_dir`` holds the warehouse for these parameters, generating it if missing.

    An existing warehouse made with the same parameters and generator version is kept (this
    returns quickly; missing base maps are redrawn). One made differently, or not by this
    generator, is never overwritten: :class:`~gateway.errors.Conflict` is raised instead.
    """
    params = GenerationParameters.checked(seed=seed, years=years, scale=scale, end_month=end_month)
    dirs = DataDir(Path(data_dir))
    _prepare_directory(dirs)
    if not dirs.warehouse.exists():
        return _build(dirs, params, progress=progress)
    started = time.perf_counter()
    existing = _existing_parameters(dirs.warehouse)
    if existing != params:
        raise Conflict(
            f"{dirs.warehouse} was generated with {existing.describe()}, not {params.describe()}; "
            "use --force to replace it"
        )
    if not dirs.basemaps.exists():
        _redraw_basemaps(dirs, params)
    return _summary(dirs, params, time.perf_counter() - started, reused=True)


def _prepare_directory(dirs: DataDir) -> None:
    root = dirs.root
    if root.exists() and not root.is_dir():
        raise ParameterError(f"data directory {root} exists and is not a directory")
    try:
        dirs.make_private()
    except OSError as exc:
        raise ConfigurationError(f"cannot create data directory {root}: {exc.strerror}") from exc
    try:
        fd, probe = tempfile.mkstemp(dir=root, prefix=".write-test-")
    except OSError as exc:
        raise ConfigurationError(f"data directory {root} is not writable: {exc.strerror}") from exc
    os.close(fd)
    os.unlink(probe)
    for path in (dirs.warehouse, dirs.basemaps):
        if path.exists() and not path.is_file():
            raise ParameterError(f"{path} exists and is not a file")


def _existing_parameters(path: Path) -> GenerationParameters:
    info = read_info(path)
    if info is None:
        raise Conflict(
            f"{path} exists and was not made by this generator; move it away or use --force"
        )
    if info.get("generator_version") != GENERATOR_VERSION:
        raise Conflict(
            f"{path} was made by generator version {info.get('generator_version')}, "
            f"this is version {GENERATOR_VERSION}; use --force to replace it"
        )
    try:
        return GenerationParameters.from_info(info)
    except (KeyError, ValueError) as exc:
        raise Conflict(
            f"{path} has an unreadable {INFO_TABLE} table; use --force to replace it"
        ) from exc


def _build(dirs: DataDir, params: GenerationParameters, *, progress: bool) -> GenerationSummary:
    started = time.perf_counter()
    warehouse_tmp = _temporary(dirs.warehouse)
    basemaps_tmp = _temporary(dirs.basemaps)
    temporaries = (warehouse_tmp, Path(f"{warehouse_tmp}.wal"), basemaps_tmp)
    try:
        with interruptible():
            _generate(params, warehouse_tmp, basemaps_tmp, progress=progress)
        stale_wal = Path(f"{dirs.warehouse}.wal")
        if stale_wal.exists():
            stale_wal.unlink()
        os.replace(basemaps_tmp, dirs.basemaps)
        os.replace(warehouse_tmp, dirs.warehouse)
    finally:
        for path in temporaries:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return _summary(dirs, params, time.perf_counter() - started, reused=False)


def _temporary(path: Path) -> Path:
    """A hidden sibling of ``path`` with the same suffix (GDAL checks it)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def _generate(
    params: GenerationParameters, warehouse: Path, basemaps: Path, *, progress: bool
) -> None:
    ref = load_reference()
    catalog = load_catalog()
    blocks = _blocks(params, ref)
    with progress_reporter(enabled=progress, total=len(blocks) + 4) as report:
        world = build_world(ref, params)
        report("reference tables")
        with WarehouseWriter(warehouse, catalog) as writer:
            for table, frame in reference_tables(world).items():
                writer.append(table, frame)
            report("records")
            _write_records(world, writer, blocks, report)
            _write_entities(world, writer)
            report("base maps")
            info = params.to_info() | {
                "generator": "gateway.generate",
                "first_month": f"{params.months[0][0]}-{params.months[0][1]:02d}",
                "last_month": params.end_month,
            }
            writer.write_info(info)
        write_basemaps(basemaps, world.geography, world.map_points)
        report("done")


def _blocks(
    params: GenerationParameters, ref: ReferenceData
) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    """(authority, months) runs, each with at most about ``BLOCK_CRIMES`` crimes."""
    shares = np.array([a.population * a.crime_rate for a in ref.authorities])
    monthly = CRIMES_PER_YEAR * params.scale / 12 * shares / shares.sum()
    out: list[tuple[int, tuple[tuple[int, int], ...]]] = []
    for la, per_month in enumerate(monthly):
        size = int(min(12, max(1, BLOCK_CRIMES // max(per_month, 1.0))))
        months = params.months
        out.extend((la, months[i : i + size]) for i in range(0, len(months), size))
    return out


def _write_records(
    world: World,
    writer: WarehouseWriter,
    blocks: list[tuple[int, tuple[tuple[int, int], ...]]],
    report: Reporter,
) -> None:
    queues = {
        "crime": RecordQueue("crime", "recorded_s", "crime_id"),
        "incident": RecordQueue("incident", "reported_s", "incident_id"),
        "custody": RecordQueue("custody", "arrested_s", "custody_id"),
        "intelligence_report": RecordQueue("intelligence_report", "submitted_s", "report_id"),
    }
    next_id = dict.fromkeys(("crime", "incident", "custody", "report", "property"), 1)
    for position, (la, months) in enumerate(blocks):
        crimes = crime_block(world, la_idx=la, months=months, first_id=next_id["crime"])
        next_id["crime"] += crimes.crime.height
        incidents = incident_block(
            world, la_idx=la, months=months, first_id=next_id["incident"], calls=crimes.calls
        )
        next_id["incident"] += incidents.incident.height
        custody = custody_block(
            world, la_idx=la, months=months, first_id=next_id["custody"], arrests=crimes.arrests
        )
        next_id["custody"] += custody.height
        reports = intelligence_block(world, la_idx=la, months=months, first_id=next_id["report"])
        next_id["report"] += reports.height
        prop = crimes.property.with_row_index("property_id", offset=next_id["property"])
        next_id["property"] += prop.height

        queues["crime"].push(crimes.crime)
        queues["incident"].push(incidents.incident)
        queues["custody"].push(custody)
        queues["intelligence_report"].push(reports)
        writer.append("crime_person", crimes.crime_person)
        writer.append("crime_vehicle", crimes.crime_vehicle)
        writer.append("property", prop.with_columns(pl.col("property_id").cast(pl.Int64)))
        writer.append("incident_person", incidents.incident_person)
        writer.append("incident_vehicle", incidents.incident_vehicle)

        last_of_authority = position + 1 == len(blocks) or blocks[position + 1][0] != la
        block_end = month_bounds(*months[-1])[1]
        for queue in queues.values():
            queue.release(writer, before=None if last_of_authority else block_end)
        report(f"records {world.ref.authorities[la].short} {months[-1][0]}-{months[-1][1]:02d}")


def _write_entities(world: World, writer: WarehouseWriter) -> None:
    frame = world.places.frame
    for start in range(0, frame.height, _WRITE_CHUNK):
        writer.append("location", frame[start : start + _WRITE_CHUNK])
    used = np.flatnonzero(world.people.used)
    for start in range(0, len(used), _WRITE_CHUNK):
        writer.append("person", world.people.table(used[start : start + _WRITE_CHUNK]))
    used = np.flatnonzero(world.vehicles.used)
    for start in range(0, len(used), _WRITE_CHUNK):
        writer.append("vehicle", world.vehicles.table(used[start : start + _WRITE_CHUNK]))


def _redraw_basemaps(dirs: DataDir, params: GenerationParameters) -> None:
    """Rebuild missing base maps: areas from the seed, map points from the warehouse."""
    con = open_read_only(dirs.warehouse)
    try:
        points = pl.from_arrow(
            con.sql("SELECT * FROM map_point ORDER BY map_point_id").to_arrow_table()
        )
    finally:
        con.close()
    assert isinstance(points, pl.DataFrame)
    tmp = _temporary(dirs.basemaps)
    try:
        write_basemaps(tmp, build_geography(load_reference(), params.seed), points)
        os.replace(tmp, dirs.basemaps)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _summary(
    dirs: DataDir, params: GenerationParameters, seconds: float, *, reused: bool
) -> GenerationSummary:
    catalog = load_catalog()
    con = open_read_only(dirs.warehouse)
    try:
        counts = {}
        for table in catalog:
            row = con.execute(f"SELECT count(*) FROM {table.name}").fetchone()
            counts[table.name] = int(row[0]) if row else 0
    finally:
        con.close()
    return GenerationSummary(
        data_dir=dirs.root,
        warehouse=dirs.warehouse,
        basemaps=dirs.basemaps,
        parameters=params,
        row_counts=MappingProxyType(counts),
        seconds=seconds,
        reused=reused,
        warehouse_bytes=dirs.warehouse.stat().st_size,
    )
