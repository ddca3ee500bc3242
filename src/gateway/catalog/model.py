"""The warehouse catalog: tables, columns, types, keys, links and sensitivity, as data.

The declaration lives in ``warehouse.toml`` beside this module (the schema contract of
shared/DESIGN.md). :func:`load_catalog` reads it; :meth:`Catalog.check_warehouse` compares it
with a real DuckDB file; :meth:`Catalog.sqlglot_schema` hands it to the rewriter.

Example:
    >>> catalog = load_catalog()
    >>> catalog.table("crime").column("modus_operandi").sensitivity
    <Sensitivity.FREE_TEXT: 'free_text'>
    >>> catalog.sqlglot_schema()["person"]["date_of_birth"]
    'DATE'
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gateway.errors import ConfigurationError

__all__ = [
    "Catalog",
    "Column",
    "ForeignKey",
    "Sensitivity",
    "Table",
    "TableKind",
    "load_catalog",
]


class Sensitivity(enum.StrEnum):
    """What a column is, for deciding what a level may see (policy.toml decides)."""

    KEY = "key"
    PERSON_KEY = "person_key"
    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    FREE_TEXT = "free_text"
    EXACT_LOCATION = "exact_location"
    AREA = "area"
    DATETIME = "datetime"
    ATTRIBUTE = "attribute"


class TableKind(enum.StrEnum):
    RECORD = "record"
    ENTITY = "entity"
    LINK = "link"
    REFERENCE = "reference"


@dataclass(frozen=True)
class ForeignKey:
    """``column`` of this table refers to ``table.column``."""

    table: str
    column: str


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    sensitivity: Sensitivity
    description: str
    references: ForeignKey | None = None
    nullable: bool = False
    high_cardinality: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    kind: TableKind
    description: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def ddl(self) -> str:
        """``CREATE TABLE`` statement for this table (used by the generator)."""
        cols = ",\n  ".join(
            f"{c.name} {c.type}{'' if c.nullable or c.name not in self.primary_key else ' NOT NULL'}"
            for c in self.columns
        )
        return f"CREATE TABLE {self.name} (\n  {cols}\n)"


@dataclass(frozen=True)
class Catalog:
    """All warehouse tables, in declaration order."""

    tables: Mapping[str, Table] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return self.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables.values())

    def sqlglot_schema(self) -> dict[str, dict[str, str]]:
        """``{table: {column: type}}``, the shape sqlglot's qualifier expects."""
        return {t.name: {c.name: c.type for c in t.columns} for t in self}

    def links(self) -> list[tuple[str, Column]]:
        """Every foreign key as ``(table, column)``."""
        return [(t.name, c) for t in self for c in t.columns if c.references]

    def check_warehouse(self, actual: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Differences between the declaration and ``actual`` ({table: {column: type}}).

        Extra tables or columns in the warehouse are allowed; missing ones and type mismatches
        are reported, one line each. An empty list means the warehouse honours the contract.
        """
        problems: list[str] = []
        for table in self:
            if table.name not in actual:
                problems.append(f"table {table.name} is missing")
                continue
            have = {k.lower(): v.upper() for k, v in actual[table.name].items()}
            for column in table.columns:
                if column.name not in have:
                    problems.append(f"column {table.name}.{column.name} is missing")
                elif have[column.name] != column.type.upper():
                    problems.append(
                        f"column {table.name}.{column.name} is {have[column.name]}, "
                        f"declared {column.type}"
                    )
        return problems


def _parse_table(name: str, raw: Mapping[str, Any]) -> Table:
    try:
        columns = []
        for col_name, spec in raw["columns"].items():
            ref = spec.get("references")
            fk = None
            if ref:
                ref_table, ref_col = ref.split(".")
                fk = ForeignKey(ref_table, ref_col)
            columns.append(
                Column(
                    name=col_name,
                    type=spec["type"],
                    sensitivity=Sensitivity(spec["sensitivity"]),
                    description=spec.get("description", ""),
                    references=fk,
                    nullable=bool(spec.get("nullable", False)),
                    high_cardinality=bool(spec.get("high_cardinality", False)),
                )
            )
        return Table(
            name=name,
            kind=TableKind(raw["kind"]),
            description=raw.get("description", ""),
            primary_key=tuple(raw["primary_key"]),
            columns=tuple(columns),
        )
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(f"catalog table {name}: {exc}") from exc


def load_catalog(path: Path | None = None) -> Catalog:
    """Read the catalog declaration (the packaged ``warehouse.toml`` unless ``path`` is given)."""
    if path is None:
        text = resources.files("gateway.catalog").joinpath("warehouse.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    raw = tomllib.loads(text)
    tables = {name: _parse_table(name, spec) for name, spec in raw["tables"].items()}
    catalog = Catalog(tables)
    for table_name, column in catalog.links():
        assert column.references is not None
        target = column.references
        if (
            target.table not in catalog
            or target.column not in catalog.table(target.table).column_names
        ):
            raise ConfigurationError(
                f"catalog: {table_name}.{column.name} references unknown {target.table}.{target.column}"
            )
    return catalog
