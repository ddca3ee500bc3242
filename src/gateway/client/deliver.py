"""Save a downloaded export under the name the analyst asked for, as files GIS tools open.

The gateway delivers one file per export; formats GDAL writes as several files (Shapefile,
MapInfo TAB, MIF/MID) arrive as a zip with a ``<name>.provenance.json`` sidecar and, where
field names were shortened, ``<name>.fieldnames.csv``. What lands on disk depends on the
name asked for:

- ``x.zip`` (any format delivered as a zip): the zip itself;
- ``x.shp`` / ``x.tab`` / ``x.mif`` for a zipped layer: its files, renamed ``x.*``, beside
  each other in ``x``'s folder (``x.shp``, ``x.dbf``, ``x.shx``, ``x.prj``, ``x.cpg``,
  ``x.provenance.json`` …) — so ``ogrinfo x.shp`` and MapInfo's *File > Open* work, and the
  layer is called ``x``;
- a single-file format under its own extension (``x.gpkg``, ``x.csv`` …): the file; a CSV
  gets ``x.provenance.json`` beside it, marking first, because a CSV readers can parse has
  no place for it inside;
- anything else is refused before a byte is written, saying which names would work (the
  export stays registered: ``gateway export download ID -o NAME`` saves it again).

Only the standard library: the light client needs nothing more.

Example:
    >>> output_suffix_problem("x.shp", "crime.zip", ["crime.shp", "crime.dbf"])
    >>> output_suffix_problem("x.gpkg", "crime.csv", [])
    'the export is a .csv file: name the output x.csv (or choose the format you meant)'
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.errors import InputError

__all__ = ["SIDECAR_SUFFIX", "output_suffix_problem", "save_delivered"]

SIDECAR_SUFFIX = ".provenance.json"
#: Formats whose delivered file has no room for its provenance inside.
_SIDECAR_FORMATS = frozenset({"csv"})


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _layer_suffixes(members: Sequence[str]) -> list[str]:
    return sorted(
        {_suffix(m) for m in members if _suffix(m) in (".shp", ".tab", ".mif")} or {".zip"}
    )


def output_suffix_problem(output: str, delivered: str, members: Sequence[str]) -> str | None:
    """Why ``output`` is the wrong name for the file ``delivered`` (a zip holding ``members``),
    or None when it will do."""
    want, have = _suffix(output), _suffix(delivered)
    stem = Path(output).stem
    if want == have:
        return None
    if have == ".zip":
        layers = _layer_suffixes(members)
        if want in layers:
            return None
        names = " or ".join(f"{stem}{s}" for s in [*(s for s in layers if s != ".zip"), ".zip"])
        return f"the export is a layer of several files: name the output {names}"
    if have == ".geojson" and want == ".json":
        return None
    return (
        f"the export is a {have} file: name the output {stem}{have} "
        "(or choose the format you meant)"
    )


def _member_stem(members: Sequence[str], suffix: str) -> str:
    main = next(m for m in members if _suffix(m) == suffix)
    return main[: -len(suffix)]


def _extract(archive: zipfile.ZipFile, target: Path) -> list[Path]:
    members = [m for m in archive.namelist() if not m.endswith("/")]
    stem = _member_stem(members, _suffix(target.name))
    written: list[Path] = []
    for member in members:
        if "/" in member or "\\" in member or member.startswith("."):
            raise InputError(f"the export zip holds an unexpected member {member!r}")
        rest = member[len(stem) :] if member.startswith(f"{stem}.") else f".{member}"
        destination = target.with_name(target.stem + rest)
        partial = destination.with_name(f".{destination.name}.unzip")  # not the download's name
        with archive.open(member) as src, partial.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        written.append(partial)
    placed = []
    for partial in written:
        final = partial.with_name(partial.name[1 : -len(".unzip")])
        partial.replace(final)
        placed.append(final)
    return placed


def save_delivered(
    downloaded: Path,
    delivered_name: str,
    output: str | os.PathLike[str],
    *,
    format: str,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Put the verified download ``downloaded`` (the server's ``delivered_name``) at
    ``output`` as the module docstring describes; return the main file's path.

    Raises:
        InputError: ``output``'s extension does not fit the file (nothing is written; the
            download is removed).
    """
    target = Path(output)
    try:
        members: list[str] = []
        if _suffix(delivered_name) == ".zip":
            with zipfile.ZipFile(downloaded) as archive:
                members = archive.namelist()
        problem = output_suffix_problem(target.name, delivered_name, members)
        if problem is not None:
            raise InputError(problem)
        if _suffix(delivered_name) == ".zip" and _suffix(target.name) != ".zip":
            with zipfile.ZipFile(downloaded) as archive:
                _extract(archive, target)
            downloaded.unlink()
            return target
    except BaseException:
        downloaded.unlink(missing_ok=True)
        raise
    downloaded.replace(target)
    if format in _SIDECAR_FORMATS and provenance:
        sidecar = target.with_name(target.stem + SIDECAR_SUFFIX)
        sidecar.write_text(json.dumps(dict(provenance), indent=2, ensure_ascii=False) + "\n")
    return target
