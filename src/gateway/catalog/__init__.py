"""The warehouse catalog (schema contract, keys, links, sensitivity)."""

from gateway.catalog.links import Hop, LinkPath, link_paths
from gateway.catalog.model import (
    Catalog,
    Column,
    ForeignKey,
    Sensitivity,
    Table,
    TableKind,
    load_catalog,
)

__all__ = [
    "Catalog",
    "Column",
    "ForeignKey",
    "Hop",
    "LinkPath",
    "Sensitivity",
    "Table",
    "TableKind",
    "link_paths",
    "load_catalog",
]
