"""Deliverables: multi-file layers zipped with a provenance sidecar, and file hashes.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.txt"
    >>> _ = p.write_text("abc")
    >>> sha256_file(p)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path

from gateway.exports.provenance import Provenance

__all__ = ["sha256_file", "sidecar_name", "zip_layer"]

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_name(stem: str) -> str:
    return f"{stem}.provenance.json"


def zip_layer(files: Sequence[Path], provenance: Provenance, target: Path, stem: str) -> None:
    """Zip the layer's files (sorted by name) and ``<stem>.provenance.json`` into ``target``."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(sidecar_name(stem), provenance.to_json())
        for path in sorted(files, key=lambda p: p.name):
            archive.write(path, arcname=path.name)
