"""Deliverables: multi-file layers zipped with their sidecars, file names, and file hashes.

A zipped layer (Shapefile, MapInfo) holds ``<name>.provenance.json`` and
``<name>.fieldnames.csv`` — ``field,column`` for every attribute field, so a shortened name
(``pol_uk_cat``) is looked up beside the file, not inside the provenance. A CSV is named
``<name>_<MARKING>.csv``: the protective marking travels in the file name as well as inside
the file (its ``protective_marking`` column or comment line).

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.txt"
    >>> _ = p.write_text("abc")
    >>> sha256_file(p)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    >>> csv_file_name("crime_by_lsoa", "OFFICIAL-SENSITIVE")
    'crime_by_lsoa_OFFICIAL-SENSITIVE.csv'
"""

from __future__ import annotations

import csv
import hashlib
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

from gateway.exports.provenance import Provenance

__all__ = [
    "csv_file_name",
    "field_names_name",
    "sha256_file",
    "sidecar_name",
    "write_field_names",
    "zip_layer",
]

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


def field_names_name(stem: str) -> str:
    return f"{stem}.fieldnames.csv"


def csv_file_name(stem: str, marking: str) -> str:
    """``<stem>_<marking>.csv`` (the marking with anything but letters and digits as ``-``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", marking).strip("-")
    return f"{stem}_{slug}.csv" if slug else f"{stem}.csv"


def write_field_names(fields: Sequence[tuple[str, str]], path: Path) -> None:
    """``field,column`` lines: each attribute field's name in the file and its column."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("field", "column"))
        writer.writerows(fields)


def zip_layer(files: Sequence[Path], provenance: Provenance, target: Path, stem: str) -> None:
    """Zip the layer's files (sorted by name) and ``<stem>.provenance.json`` into ``target``."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(sidecar_name(stem), provenance.to_json())
        for path in sorted(files, key=lambda p: p.name):
            archive.write(path, arcname=path.name)
