"""Flight SQL catalog metadata as the caller's policy view shows it: pure functions, no I/O.

``GetCatalogs``, ``GetDbSchemas``, ``GetTables`` and ``GetTableTypes`` answer from a
:class:`~gateway.policy.view.PolicyView` (plus the extra read-only schemas it grants, e.g.
``audit`` for senior analysts), never from the warehouse file: a table or column the policy
does not show the caller is not in any answer, and a column's type is its type as released
(a pseudonymised id is text). ``GetSqlInfo`` answers a fixed, minimal description of the
server; the key commands (``GetPrimaryKeys``, ``GetImportedKeys``, ``GetExportedKeys``,
``GetCrossReference``: tools ask them when a table is opened) answer empty, as the warehouse
declares no keys. Each answer is an Arrow table with the schema FlightSql.proto prescribes.

Warehouse tables live in catalog ``warehouse``, schema ``main`` (the rewrite accepts ``crime``,
``main.crime`` and ``warehouse.main.crime``); an extra schema's tables in schema ``audit`` with
no catalog (``audit.queries``).

Example:
    >>> like_pattern("cr%")("crime"), like_pattern("cr_me")("crime"), like_pattern("c")("crime")
    (True, True, False)
    >>> sql_arrow_type("DECIMAL(12, 2)"), sql_arrow_type("TIMESTAMP"), sql_arrow_type("VARCHAR[]")
    (Decimal128Type(decimal128(12, 2)), TimestampType(timestamp[us]), ListType(list<item: string>))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ParseError

import gateway
from gateway.policy.view import PolicyView

__all__ = [
    "CATALOGS_SCHEMA",
    "DB_SCHEMAS_SCHEMA",
    "FOREIGN_KEYS_SCHEMA",
    "PRIMARY_KEYS_SCHEMA",
    "SQL_INFO_SCHEMA",
    "TABLES_SCHEMA",
    "TABLES_WITH_SCHEMA",
    "TABLE_TYPES_SCHEMA",
    "WAREHOUSE_CATALOG",
    "VisibleTable",
    "catalogs",
    "db_schemas",
    "like_pattern",
    "sql_arrow_type",
    "sql_info",
    "table_types",
    "tables",
    "visible_tables",
]

WAREHOUSE_CATALOG = "warehouse"
_MAIN = "main"
_TABLE = "TABLE"

CATALOGS_SCHEMA = pa.schema([pa.field("catalog_name", pa.string(), nullable=False)])
DB_SCHEMAS_SCHEMA = pa.schema(
    [pa.field("catalog_name", pa.string()), pa.field("db_schema_name", pa.string(), False)]
)
TABLES_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", pa.string()),
        pa.field("db_schema_name", pa.string()),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("table_type", pa.string(), nullable=False),
    ]
)
TABLES_WITH_SCHEMA = TABLES_SCHEMA.append(pa.field("table_schema", pa.binary(), nullable=False))
TABLE_TYPES_SCHEMA = pa.schema([pa.field("table_type", pa.string(), nullable=False)])
#: ``GetPrimaryKeys``: the warehouse declares none, so its answer is always empty.
PRIMARY_KEYS_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", pa.string()),
        pa.field("db_schema_name", pa.string()),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("column_name", pa.string(), nullable=False),
        pa.field("key_name", pa.string()),
        pa.field("key_sequence", pa.int32(), nullable=False),
    ]
)
#: ``GetImportedKeys``/``GetExportedKeys``/``GetCrossReference``: none declared, always empty.
FOREIGN_KEYS_SCHEMA = pa.schema(
    [
        pa.field("pk_catalog_name", pa.string()),
        pa.field("pk_db_schema_name", pa.string()),
        pa.field("pk_table_name", pa.string(), nullable=False),
        pa.field("pk_column_name", pa.string(), nullable=False),
        pa.field("fk_catalog_name", pa.string()),
        pa.field("fk_db_schema_name", pa.string()),
        pa.field("fk_table_name", pa.string(), nullable=False),
        pa.field("fk_column_name", pa.string(), nullable=False),
        pa.field("key_sequence", pa.int32(), nullable=False),
        pa.field("fk_key_name", pa.string()),
        pa.field("pk_key_name", pa.string()),
        pa.field("update_rule", pa.uint8(), nullable=False),
        pa.field("delete_rule", pa.uint8(), nullable=False),
    ]
)

_SQL_INFO_VALUE = pa.dense_union(
    [
        pa.field("string_value", pa.string()),
        pa.field("bool_value", pa.bool_()),
        pa.field("bigint_value", pa.int64()),
        pa.field("int32_bitmask", pa.int32()),
        pa.field("string_list", pa.list_(pa.field("item", pa.string()))),
        pa.field(
            "int32_to_int32_list_map",
            pa.map_(pa.int32(), pa.list_(pa.field("item", pa.int32()))),
        ),
    ]
)
SQL_INFO_SCHEMA = pa.schema(
    [
        pa.field("info_name", pa.uint32(), nullable=False),
        pa.field("value", _SQL_INFO_VALUE, nullable=False),
    ]
)

#: SqlInfo id → value (FlightSql.proto's ``SqlInfo``): str → string_value, bool → bool_value,
#: int → int32_bitmask (the enum-valued ids below are all int32).
_SQL_INFO: dict[int, str | bool | int] = {
    0: "Partnership Analytics Gateway",  # FLIGHT_SQL_SERVER_NAME
    1: gateway.__version__,  # FLIGHT_SQL_SERVER_VERSION
    2: pa.__version__,  # FLIGHT_SQL_SERVER_ARROW_VERSION
    3: True,  # FLIGHT_SQL_SERVER_READ_ONLY
    4: True,  # FLIGHT_SQL_SERVER_SQL
    5: False,  # FLIGHT_SQL_SERVER_SUBSTRAIT
    8: 0,  # FLIGHT_SQL_SERVER_TRANSACTION: SQL_SUPPORTED_TRANSACTION_NONE
    9: True,  # FLIGHT_SQL_SERVER_CANCEL
    500: False,  # SQL_DDL_CATALOG
    501: False,  # SQL_DDL_SCHEMA
    502: False,  # SQL_DDL_TABLE
    503: 1,  # SQL_IDENTIFIER_CASE: SQL_CASE_SENSITIVITY_CASE_INSENSITIVE
    504: '"',  # SQL_IDENTIFIER_QUOTE_CHAR
    505: 1,  # SQL_QUOTED_IDENTIFIER_CASE: SQL_CASE_SENSITIVITY_CASE_INSENSITIVE
    506: False,  # SQL_ALL_TABLES_ARE_SELECTABLE (not every table is, for every level)
    529: "schema",  # SQL_SCHEMA_TERM
    531: "catalog",  # SQL_CATALOG_TERM
    532: True,  # SQL_CATALOG_AT_START
}


@dataclass(frozen=True)
class VisibleTable:
    """A table the caller may query, with its columns as released (name → SQL type)."""

    catalog: str | None
    db_schema: str
    name: str
    columns: Mapping[str, str]

    def arrow_schema(self) -> pa.Schema:
        """The columns as Arrow fields (all nullable: a mask may null any value)."""
        return pa.schema([pa.field(n, sql_arrow_type(t)) for n, t in self.columns.items()])


def visible_tables(
    view: PolicyView, extra_schemas: Mapping[str, Mapping[str, Mapping[str, str]]]
) -> list[VisibleTable]:
    """What ``view`` lets its principal query: warehouse tables, then the extra schemas'."""
    found = [
        VisibleTable(WAREHOUSE_CATALOG, _MAIN, name, columns)
        for name, columns in view.sqlglot_schema().items()
    ]
    for schema in sorted(view.schemas):
        for name, columns in extra_schemas.get(schema, {}).items():
            found.append(VisibleTable(None, schema, name, dict(columns)))
    return found


def like_pattern(pattern: str | None) -> Callable[[str], bool]:
    """A matcher for a Flight SQL filter pattern (SQL LIKE: ``%``, ``_``, ``\\`` escapes);
    no pattern matches everything."""
    if pattern is None:
        return lambda _name: True
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda name: compiled.fullmatch(name) is not None


def sql_arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type a DuckDB column type arrives as (text when not known)."""
    try:
        parsed = exp.DataType.build(sql_type, dialect="duckdb")
    except (ParseError, ValueError):
        return pa.string()
    return _arrow(parsed)


_SIMPLE: dict[object, pa.DataType] = {
    exp.DataType.Type.BOOLEAN: pa.bool_(),
    exp.DataType.Type.TINYINT: pa.int8(),
    exp.DataType.Type.SMALLINT: pa.int16(),
    exp.DataType.Type.INT: pa.int32(),
    exp.DataType.Type.BIGINT: pa.int64(),
    exp.DataType.Type.UTINYINT: pa.uint8(),
    exp.DataType.Type.USMALLINT: pa.uint16(),
    exp.DataType.Type.UINT: pa.uint32(),
    exp.DataType.Type.UBIGINT: pa.uint64(),
    exp.DataType.Type.FLOAT: pa.float32(),
    exp.DataType.Type.DOUBLE: pa.float64(),
    exp.DataType.Type.DATE: pa.date32(),
    exp.DataType.Type.TIME: pa.time64("us"),
    exp.DataType.Type.TIMESTAMP: pa.timestamp("us"),
    exp.DataType.Type.TIMESTAMPNTZ: pa.timestamp("us"),
    exp.DataType.Type.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    exp.DataType.Type.BLOB: pa.binary(),
    exp.DataType.Type.VARBINARY: pa.binary(),
}


def _arrow(data_type: exp.DataType) -> pa.DataType:
    kind = data_type.this
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind == exp.DataType.Type.DECIMAL:
        sizes = [int(p.name) for p in data_type.expressions if p.name.isdigit()]
        precision, scale = (sizes + [18, 3][len(sizes) :])[:2]
        return pa.decimal128(precision, scale)
    if kind in {exp.DataType.Type.ARRAY, exp.DataType.Type.LIST} and data_type.expressions:
        inner = data_type.expressions[0]
        return pa.list_(_arrow(inner) if isinstance(inner, exp.DataType) else pa.string())
    return pa.string()


# --- the answers ---------------------------------------------------------------------------


def catalogs(found: Sequence[VisibleTable]) -> pa.Table:
    names = sorted({t.catalog for t in found if t.catalog is not None})
    return pa.Table.from_pydict({"catalog_name": names}, schema=CATALOGS_SCHEMA)


def _in_catalog(table: VisibleTable, catalog: str | None) -> bool:
    """Flight SQL: no catalog filter matches all; an empty one matches tables without one."""
    if catalog is None:
        return True
    return (table.catalog or "") == catalog


def db_schemas(
    found: Sequence[VisibleTable], catalog: str | None, schema_pattern: str | None
) -> pa.Table:
    matches = like_pattern(schema_pattern)
    pairs = sorted(
        {
            (t.catalog, t.db_schema)
            for t in found
            if _in_catalog(t, catalog) and matches(t.db_schema)
        },
        key=lambda p: (p[0] or "", p[1]),
    )
    return pa.Table.from_pylist(
        [{"catalog_name": c, "db_schema_name": s} for c, s in pairs], schema=DB_SCHEMAS_SCHEMA
    )


def tables(
    found: Sequence[VisibleTable],
    *,
    catalog: str | None,
    schema_pattern: str | None,
    table_pattern: str | None,
    table_types: Iterable[str],
    include_schema: bool,
) -> pa.Table:
    schema_matches, table_matches = like_pattern(schema_pattern), like_pattern(table_pattern)
    wanted_types = {t.upper() for t in table_types}
    rows: list[dict[str, object]] = []
    for table in sorted(found, key=lambda t: (t.catalog or "", t.db_schema, t.name)):
        if not (
            _in_catalog(table, catalog)
            and schema_matches(table.db_schema)
            and table_matches(table.name)
            and (not wanted_types or _TABLE in wanted_types)
        ):
            continue
        row: dict[str, object] = {
            "catalog_name": table.catalog,
            "db_schema_name": table.db_schema,
            "table_name": table.name,
            "table_type": _TABLE,
        }
        if include_schema:
            row["table_schema"] = table.arrow_schema().serialize().to_pybytes()
        rows.append(row)
    return pa.Table.from_pylist(
        rows, schema=TABLES_WITH_SCHEMA if include_schema else TABLES_SCHEMA
    )


def table_types() -> pa.Table:
    return pa.Table.from_pydict({"table_type": [_TABLE]}, schema=TABLE_TYPES_SCHEMA)


def sql_info(requested: Sequence[int]) -> pa.Table:
    """The requested SqlInfo ids this server describes (all of them when none are named)."""
    ids = [i for i in requested if i in _SQL_INFO] if requested else sorted(_SQL_INFO)
    codes = {str: 0, bool: 1, int: 3}
    children: list[list[object]] = [[], [], [], [], [], []]
    type_ids: list[int] = []
    offsets: list[int] = []
    for info in ids:
        value = _SQL_INFO[info]
        code = codes[type(value)]
        type_ids.append(code)
        offsets.append(len(children[code]))
        children[code].append(value)
    union_types = list(_SQL_INFO_VALUE)
    value_array = pa.UnionArray.from_dense(
        pa.array(type_ids, pa.int8()),
        pa.array(offsets, pa.int32()),
        [pa.array(c, f.type) for c, f in zip(children, union_types, strict=True)],
        [f.name for f in union_types],
    )
    return pa.Table.from_arrays([pa.array(ids, pa.uint32()), value_array], schema=SQL_INFO_SCHEMA)
