"""The pseudonym vault: keyed pseudonyms computed once per warehouse, looked up per query.

A keyed pseudonym is an HMAC-SHA256 of the identifier. Computing it per row is exact but costs
two SHA-256 blocks per row: a repeat-victim analysis over a force's link table spends most of
its time hashing. The vault holds, for each pseudonym domain of the policy (``person``,
``vehicle`` …), every identifier the warehouse holds for that domain and its HMAC digest, in a
separate read-only DuckDB file (``DIR/pseudonyms.duckdb``). The policy's mask then becomes a
lookup, which DuckDB turns into a hash join.

The vault is rebuilt whenever the key, the warehouse file or the policy's domains change (it
records what it was built from). It is as sensitive as the key itself — it maps identifiers to
pseudonyms — so it lives in the data directory beside the warehouse, is never visible to
analysts (no policy names it; the engine's cross-check admits it only inside policy masks),
and a missing or stale vault falls back to computing the HMAC per row.

Example:
    >>> from gateway.catalog import load_catalog
    >>> from gateway.policy import load_default_policy
    >>> sorted(vault_domains(load_default_policy(load_catalog()), load_catalog()))
    ['person', 'vehicle']
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError
from gateway.policy import Policy
from gateway.policy.masks import PSEUDONYM_MACRO, pseudonym_session_variables

__all__ = ["VAULT_CATALOG", "VaultDomain", "ensure_vault", "vault_domains"]

#: Name the vault is attached under in engine sessions.
VAULT_CATALOG = "pseudonyms"
_DIGEST_CHARS = 16


@dataclass(frozen=True)
class VaultDomain:
    """One pseudonym domain: the identifier type and every column that holds such identifiers."""

    name: str
    value_type: str
    sources: tuple[tuple[str, str], ...]  # (table, column)


def vault_domains(policy: Policy, catalog: Catalog) -> dict[str, VaultDomain]:
    """Pseudonym domains used anywhere in the policy, with their source columns.

    A column that references another (``crime_person.person_id`` → ``person.person_id``)
    contributes its target too, so the vault covers every identifier of the domain.
    """
    sources: dict[str, set[tuple[str, str]]] = {}
    for level in policy.levels.values():
        for table in level.tables.values():
            for column, mask in table.columns.items():
                if mask.kind != "pseudonym":
                    continue
                domain = str(mask.options["domain"])
                found = sources.setdefault(domain, set())
                found.add((table.name, column))
                ref = catalog.table(table.name).column(column).references
                if ref is not None:
                    found.add((ref.table, ref.column))
    domains = {}
    for name, columns in sorted(sources.items()):
        types = {catalog.table(t).column(c).type.upper() for t, c in columns}
        value_type = types.pop() if len(types) == 1 else "VARCHAR"
        domains[name] = VaultDomain(name, value_type, tuple(sorted(columns)))
    return domains


def _stamp(warehouse: Path, key: bytes, domains: Mapping[str, VaultDomain]) -> str:
    stat = warehouse.stat()
    material = {
        "warehouse": [str(warehouse.resolve()), stat.st_size, stat.st_mtime_ns],
        "key": hashlib.sha256(b"vault:" + key).hexdigest(),
        "domains": {n: [d.value_type, [list(s) for s in d.sources]] for n, d in domains.items()},
        "format": 1,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _current_stamp(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.sql("SELECT stamp FROM vault_info").fetchall()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return str(rows[0][0]) if rows else None


def ensure_vault(
    path: Path, warehouse: Path, key: bytes, domains: Mapping[str, VaultDomain]
) -> Path:
    """Build the vault at ``path`` unless an up-to-date one is already there.

    Written to a temporary file and renamed, so a reader never sees half a vault.

    Raises:
        ConfigurationError: the warehouse cannot be read or the vault cannot be written.
    """
    stamp = _stamp(warehouse, key, domains)
    if _current_stamp(path) == stamp:
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute("ATTACH $path AS wh (READ_ONLY)", {"path": str(warehouse)})
            for name, value in pseudonym_session_variables(key).items():
                con.execute(f"SET VARIABLE {name} = $v", {"v": value})
            con.execute(PSEUDONYM_MACRO)
            for domain in domains.values():
                union = " UNION ".join(
                    f"SELECT CAST({column} AS {domain.value_type}) AS value FROM wh.main.{table}"
                    for table, column in domain.sources
                )
                con.execute(
                    f"CREATE TABLE {domain.name} AS "
                    f"SELECT value, left(gw_hmac_sha256('{domain.name}:' || CAST(value AS VARCHAR)),"
                    f" {_DIGEST_CHARS}) AS digest "
                    f"FROM ({union}) WHERE value IS NOT NULL ORDER BY value"
                )
            con.execute("CREATE TABLE vault_info AS SELECT $stamp AS stamp", {"stamp": stamp})
        finally:
            con.close()
        os.replace(tmp, path)
    except (duckdb.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigurationError(f"cannot build the pseudonym vault at {path}: {exc}") from exc
    return path
