"""The warehouse catalog (schema contract, keys, links, sensitivity)."""

from gateway.catalog.model import (
    Catalog,
    Column,
    ForeignKey,
    Sensitivity,
    Table,
    TableKind,
    load_catalog,
)

__all__ = ["Catalog", "Column", "ForeignKey", "Sensitivity", "Table", "TableKind", "load_catalog"]
