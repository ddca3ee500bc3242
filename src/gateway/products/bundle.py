"""Write a product's files and register each in the audit log with its SHA-256.

    <DIR>/<kind>-<area>-<year>.html    the report (marking on every page)
    <DIR>/<kind>-<area>-<year>.xlsx    one sheet per section, marked
    <DIR>/<kind>-<area>-<year>.json    manifest: provenance and the files' hashes

Each file is registered as an export of the product (its id, format, hash, size and marking),
as every file leaving the gateway is.

Example:
    >>> files = write_product(service, product, Path("out"))           # doctest: +SKIP
    >>> [f.path.suffix for f in files.files]                           # doctest: +SKIP
    ['.html', '.xlsx']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.audit.facts import ExportRegistered
from gateway.exports.writers import sha256_file
from gateway.products.html import render_html
from gateway.products.model import Product
from gateway.products.workbook import write_workbook
from gateway.service import QueryService

__all__ = ["ProductFile", "ProductFiles", "write_product"]


@dataclass(frozen=True)
class ProductFile:
    """One written, registered file."""

    path: Path
    format: str
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_name": self.path.name,
            "format": self.format,
            "sha256": self.sha256,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class ProductFiles:
    """The report, the workbook and the manifest of one product."""

    product: Product
    files: tuple[ProductFile, ...]
    manifest: Path

    def to_dict(self) -> dict[str, Any]:
        return {**self.product.provenance(), "files": [f.to_dict() for f in self.files]}


def write_product(service: QueryService, product: Product, directory: Path) -> ProductFiles:
    """Write the HTML report, the workbook and the manifest into ``directory``.

    Raises:
        OSError: the directory cannot be written.
        AuditUnavailable: a file could not be registered (the files are removed).
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{product.kind}-{product.area_code}-{product.year}"
    html = directory / f"{stem}.html"
    tmp = html.with_name(html.name + ".tmp")
    tmp.write_text(render_html(product), "utf-8")
    tmp.replace(html)
    xlsx = write_workbook(product, directory / f"{stem}.xlsx")
    files = []
    try:
        for path, fmt in ((html, "html"), (xlsx, "xlsx")):
            digest, size = sha256_file(path), path.stat().st_size
            service.audit.record(
                ExportRegistered(
                    query_id=product.product_id,
                    user=product.user,
                    organisation=product.organisation,
                    format=fmt,
                    file_name=path.name,
                    file_sha256=digest,
                    bytes=size,
                    marking=product.marking,
                )
            )
            files.append(ProductFile(path=path, format=fmt, sha256=digest, bytes=size))
    except BaseException:
        for path in (html, xlsx):
            path.unlink(missing_ok=True)
        raise
    bundle = ProductFiles(product=product, files=tuple(files), manifest=directory / f"{stem}.json")
    text = json.dumps(bundle.to_dict(), indent=2, ensure_ascii=False)
    bundle.manifest.write_text(text + "\n", "utf-8")
    for path in (html, xlsx, bundle.manifest):
        os.chmod(path, 0o600)
    return bundle
