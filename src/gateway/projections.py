"""Precomputed masked projections: principal views' policy subqueries, materialised once.

The warehouse is read-only between refreshes, so what a policy subquery returns for a given
view — pseudonyms, map points, postcode sectors, truncated dates, and the rows its row filter
keeps (areas, unlinkable victims) — is the same for every query until the warehouse, the
pseudonym key or the policy changes. Computing it per query costs joins and hashes; a custody
query whose row filter checks the victim links runs ten times slower than a scan.

This module materialises the *exact* policy subqueries the rewriter generates (all visible
columns, no record keys) into native DuckDB tables in one file, ``DIR/projections/<stamp>.duckdb``,
sorted by ``local_authority_code`` where the table has it (zone maps skip row groups of other
areas). Each table is named after the SHA-256 of the policy subquery's text, so a rewrite can
only ever scan a projection of exactly the SQL it would have run; anything not materialised —
a view first seen after the build, a table whose masks depend on the date (age bands), a
statement asking for record keys — runs the live policy subquery. Never a mismatch: a different
policy, area set, grant or mask gives different text, hence another name, hence no match.

The file is built beside the warehouse, written to a temporary name and renamed (a reader never
sees half of it), named by a stamp of what it was built from (warehouse file, key, pseudonym
vault, policy hash, the statements), and rebuilt when any of them changes; older versions are
removed. It is as sensitive as the vault (pseudonyms of every visible identifier): it lives in
the data directory with the warehouse's protection, no policy names it, and the engine's
invariant check admits it only inside the policy subqueries the rewriter produced.

The naming and the index (pure) are in :mod:`gateway.policy.projection`; this module builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb

from gateway.errors import ConfigurationError
from gateway.policy.masks import PSEUDONYM_MACRO, pseudonym_session_variables
from gateway.policy.projection import (
    SORT_COLUMN,
    ProjectionIndex,
    ProjectionSource,
    materialisable,
    projection_name,
)

__all__ = ["ensure_projections"]

_FORMAT = 1


def _file_stamp(path: Path) -> list[object]:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _stamp(
    warehouse: Path,
    vault: Path,
    key: bytes,
    policy_version: str,
    sources: Mapping[str, ProjectionSource],
) -> str:
    material = {
        "warehouse": _file_stamp(warehouse),
        "vault": _file_stamp(vault),
        "key": hashlib.sha256(b"projections:" + key).hexdigest(),
        "policy": policy_version,
        "statements": sorted(sources),
        "format": _FORMAT,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _existing(path: Path, stamp: str) -> frozenset[str] | None:
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        found = con.execute("SELECT stamp, names FROM projection_info").fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if len(found) != 1 or found[0][0] != stamp:
        return None
    return frozenset(str(n) for n in json.loads(found[0][1]))


def ensure_projections(
    folder: Path,
    warehouse: Path,
    vault: tuple[str, Path],
    key: bytes,
    policy_version: str,
    sources: Iterable[ProjectionSource],
) -> tuple[Path, ProjectionIndex, float]:
    """Build (or reuse) the projections file for ``sources`` in ``folder``.

    Args:
        folder: where projection files live (created 0700).
        warehouse: the warehouse file.
        vault: the pseudonym vault, ``(catalog name, path)``, as policy subqueries name it.
        key: the pseudonym key (masks computed per row need it; never written to the file).
        policy_version: the policy's hash (part of the version stamp).
        sources: the policy subqueries to materialise; volatile ones are skipped.

    The version before this one is kept (a process may still serve it); older ones are removed.

    Returns:
        the file, its index, and the seconds spent building (0 when reused).

    Raises:
        ConfigurationError: the warehouse cannot be read or the file cannot be written.
    """
    wanted = {projection_name(s.sql): s for s in sources if materialisable(s.sql)}
    stamp = _stamp(warehouse, vault[1], key, policy_version, wanted)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{stamp[:32]}.duckdb"
    began = time.perf_counter()
    names = _existing(path, stamp)
    took = 0.0
    if names is None:
        _build(path, warehouse, vault, key, stamp, wanted)
        names = frozenset(wanted)
        took = time.perf_counter() - began
    # Keep this version and the one before it: a process still serving the previous policy
    # (or a worker it restarts) can attach it until it stops.
    others = sorted(
        (f for f in folder.glob("*.duckdb") if f != path), key=lambda f: f.stat().st_mtime_ns
    )
    for old in others[:-1]:
        old.unlink(missing_ok=True)
    return path, ProjectionIndex(stamp, names), took


def _build(
    path: Path,
    warehouse: Path,
    vault: tuple[str, Path],
    key: bytes,
    stamp: str,
    wanted: Mapping[str, ProjectionSource],
) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect()
        try:
            for name, value in pseudonym_session_variables(key).items():
                con.execute(f"SET VARIABLE {name} = $v", {"v": value})
            con.execute(PSEUDONYM_MACRO)
            con.execute("ATTACH $path AS __gw_warehouse (READ_ONLY)", {"path": str(warehouse)})
            con.execute(f"ATTACH $path AS {vault[0]} (READ_ONLY)", {"path": str(vault[1])})
            con.execute("ATTACH $path AS __gw_projections", {"path": str(tmp)})
            con.execute("USE __gw_warehouse")  # the policy's SQL names main.<table>
            for name, source in sorted(wanted.items()):
                order = f" ORDER BY {SORT_COLUMN}" if SORT_COLUMN in source.columns else ""
                con.execute(
                    f"CREATE TABLE __gw_projections.main.{name} AS "
                    f"SELECT * FROM ({source.sql}) AS p{order}"
                )
            con.execute(
                "CREATE TABLE __gw_projections.main.projection_info AS "
                "SELECT $stamp AS stamp, $names AS names",
                {"stamp": stamp, "names": json.dumps(sorted(wanted))},
            )
            con.execute("DETACH __gw_projections")
        finally:
            con.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except (duckdb.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise ConfigurationError(f"cannot build the masked projections at {path}: {exc}") from exc
