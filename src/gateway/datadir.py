"""The data directory: where one gateway deployment keeps its files.

Layout (tests outside the repository rely on the first two names)::

    DIR/warehouse.duckdb      the analytical warehouse (read-only to the gateway)
    DIR/basemaps.gpkg         base-map layers: authorities, wards, LSOAs, neighbourhoods, map points
    DIR/policy.toml           the access policy (its content hash is the policy version)
    DIR/users.toml            bootstrap principals (the governance store takes over later)
    DIR/audit.sqlite          the append-only, hash-chained audit log (unless GATEWAY_AUDIT_STORE
                              names a shared PostgreSQL log: gateway.audit.location)
    DIR/audit.checkpoints.jsonl  HMAC-signed checkpoints of the audit log (append-only)
    DIR/audit-tables.duckdb   the audit log as tables for SQL (derived from the log, rebuilt at will)
    DIR/disclosure-ledger.sqlite  the differencing budget: custom selections released to each
                              analyst (gateway.disclosure.ledger)
    DIR/governance.sqlite     users, access requests, grants and API tokens
    DIR/pseudonyms.duckdb     the pseudonym vault (keyed pseudonyms of identifying values)
    DIR/projections/          precomputed masked projections (gateway.projections), one version
    DIR/secrets/              keys kept apart from the data they protect (mode 0700)
    DIR/exports/              files produced by exports
    DIR/exports/ID/           one export (or product bundle): its files and manifest
    DIR/exports/police-uk/    police.uk street-level extracts
    DIR/products/ID.json      each product's manifest, kept for [products] manifest_retention_days
    DIR/tmp/results/          query results while they are sent (temporary, swept)
    DIR/tmp/spill/            DuckDB's spill files for queries larger than memory (per worker)
    DIR/demo-tokens.json      demo users' tokens (demo deployments only)

Private by default: :meth:`DataDir.make_private` (called by every command and composition root
that writes the directory) sets the process's umask to 077 and takes group and other access
off the directory and everything in it (directories 0700, files 0600), whatever the umask the
operator started with.

Example:
    >>> from pathlib import Path
    >>> DataDir(Path("/srv/gw")).warehouse
    PosixPath('/srv/gw/warehouse.duckdb')
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDir"]


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def pseudonyms(self) -> Path:
        return self.root / "pseudonyms.duckdb"

    @property
    def projections(self) -> Path:
        return self.root / "projections"

    @property
    def basemaps(self) -> Path:
        return self.root / "basemaps.gpkg"

    @property
    def policy(self) -> Path:
        return self.root / "policy.toml"

    @property
    def users(self) -> Path:
        return self.root / "users.toml"

    @property
    def audit(self) -> Path:
        return self.root / "audit.sqlite"

    @property
    def audit_checkpoints(self) -> Path:
        return self.root / "audit.checkpoints.jsonl"

    @property
    def audit_tables(self) -> Path:
        return self.root / "audit-tables.duckdb"

    @property
    def disclosure_ledger(self) -> Path:
        return self.root / "disclosure-ledger.sqlite"

    @property
    def governance(self) -> Path:
        return self.root / "governance.sqlite"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    def export_folder(self, export_id: str) -> Path:
        """``DIR/exports/ID``: the folder of one export (or product bundle).

        Raises:
            ValueError: ``export_id`` is not one plain path component (empty, hidden, or with a
                separator), so it could name no folder of its own under ``exports``.

        Example:
            >>> DataDir(Path("/srv/gw")).export_folder("Q1")
            PosixPath('/srv/gw/exports/Q1')
            >>> DataDir(Path("/srv/gw")).export_folder("../audit.sqlite")
            Traceback (most recent call last):
            ValueError: not an export id: '../audit.sqlite'
        """
        if not export_id or export_id.startswith(".") or any(c in export_id for c in "/\\\0"):
            raise ValueError(f"not an export id: {export_id!r}")
        return self.exports / export_id

    @property
    def products(self) -> Path:
        """``DIR/products``: products' manifests, kept beyond their files (seven years)."""
        return self.root / "products"

    @property
    def police_uk(self) -> Path:
        return self.exports / "police-uk"

    @property
    def results(self) -> Path:
        return self.root / "tmp" / "results"

    @property
    def spill(self) -> Path:
        return self.root / "tmp" / "spill"

    @property
    def demo_tokens(self) -> Path:
        return self.root / "demo-tokens.json"

    def make_private(self) -> None:
        """Create the directory if needed and make it and its contents the owner's only.

        Sets the process umask to 077, so every file the gateway writes from now on (DuckDB
        and SQLite files and their journals, results, exports) is created 0600/0700.
        """
        os.umask(0o077)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder, dirs, files in os.walk(self.root):
            os.chmod(folder, 0o700)
            for name in files:
                path = os.path.join(folder, name)
                if not os.path.islink(path):
                    os.chmod(path, os.stat(path).st_mode & 0o700)
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]

    def secret(self, name: str, *, nbytes: int = 32) -> bytes:
        """Read the named secret key, creating it (random, mode 0600) on first use."""
        path = self.secrets_dir / f"{name}.key"
        if path.exists():
            return bytes.fromhex(path.read_text("ascii").strip())
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        value = secrets.token_bytes(nbytes)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(value.hex())
        try:
            os.link(tmp, path)  # atomic: the first writer wins, others read its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return bytes.fromhex(path.read_text("ascii").strip())
