"""Private by default: a deployment's directory is 0700 and its files 0600 under any umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.audit.log import AuditLog
from gateway.datadir import DataDir


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in [root, *root.rglob("*")]
        if not p.is_symlink()
    }


def test_files_written_under_a_lax_umask_end_up_private(tmp_path: Path) -> None:
    root = tmp_path / "deployment"
    previous = os.umask(0o022)
    try:
        root.mkdir(mode=0o755)
        (root / "warehouse.duckdb").write_bytes(b"x")  # left by an operator under umask 022
        (root / "exports").mkdir()
        (root / "exports" / "old.csv").write_text("a\n")
        AuditLog.open(DataDir(root)).close()
        (root / "later.txt").write_text("written after open")  # the umask now applies
    finally:
        os.umask(previous)
    modes = _modes(root)
    assert modes["."] == 0o700
    assert modes["exports"] == 0o700
    assert modes["warehouse.duckdb"] == 0o600
    assert modes["exports/old.csv"] == 0o600
    assert modes["audit.sqlite"] == 0o600
    assert modes["later.txt"] == 0o600
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
