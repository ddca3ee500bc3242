"""DuckDB's own parser as a second look at the SQL the rewriter generated.

The rewriter (sqlglot) decides what a query may do; this module re-parses its output with
DuckDB's parser, which is what will actually run it, so a disagreement between the two parsers
cannot smuggle anything past the policy. ``json_serialize_sql`` (run in an in-memory,
external-access-off, locked connection that holds no data) gives the parse tree; the walk
checks that

- the text is exactly one statement and that statement is a SELECT;
- no table function is called (``read_csv``, ``query``, ``duckdb_variables`` …, all of them);
- no DESCRIBE/SHOW/SUMMARIZE, PIVOT/UNPIVOT, time travel, or unknown table-reference kind;
- (``cross_check`` only) every base-table reference is an allowed table, spelt bare,
  ``main.<t>``, ``<warehouse>.<t>`` or ``<warehouse>.main.<t>`` (or ``<schema>.<t>`` for an
  allowed extra-schema table such as ``audit.records``); no file-path-like names; no CTE
  named like a table or view that the name could otherwise resolve to;
- (optionally) no call to a forbidden scalar function.

Example:
    >>> parser = SqlTreeParser()
    >>> tree = parser.parse("SELECT * FROM read_csv('/etc/passwd')")
    >>> check_tree(tree, allowed_tables=None)
    Traceback (most recent call last):
    ...
    gateway.errors.FunctionNotAllowed: table function read_csv is not allowed (line 1, column 15)
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from gateway.errors import (
    FunctionNotAllowed,
    GatewayError,
    ParameterError,
    SqlParseError,
    StatementNotAllowed,
    SyntaxNotAllowed,
    TableNotPermitted,
)
from gateway.lru import LruCache

__all__ = ["AllowedTables", "ParsedQuery", "SqlTreeParser", "check_tree", "line_column"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNKNOWN_LOCATION = 2**64 - 1
_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_PLAIN_TABLE_REFS = frozenset({"JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST"})
_TABLE_REF_MESSAGES: dict[str, tuple[type[GatewayError], str]] = {
    "SHOW_REF": (StatementNotAllowed, "DESCRIBE, SHOW and SUMMARIZE are not allowed"),
    "PIVOT": (SyntaxNotAllowed, "PIVOT and UNPIVOT are not allowed"),
    "COLUMN_DATA": (SyntaxNotAllowed, "client-side data sources are not allowed"),
}


@dataclass(frozen=True)
class ParsedQuery:
    """DuckDB's parse tree of one SELECT, with the text it came from."""

    sql: str
    tree: dict[str, Any]

    def qualifiers(self) -> frozenset[str]:
        """Catalog and schema names that qualify base-table references (lower case).

        Example:
            >>> ParsedQuery("", {"from_table": {"type": "BASE_TABLE", "alias": "",
            ...     "sample": None, "catalog_name": "", "schema_name": "audit",
            ...     "table_name": "records"}}).qualifiers()
            frozenset({'audit'})
        """
        found: set[str] = set()
        for node in _dicts(self.tree):
            if node.get("type") == "BASE_TABLE" and "class" not in node:
                found.update(
                    str(node.get(key, "")).lower() for key in ("catalog_name", "schema_name")
                )
        found.discard("")
        return frozenset(found)

    def parameter_names(self) -> frozenset[str]:
        """Names of the ``$name`` parameters the statement uses."""
        return frozenset(
            str(node["identifier"])
            for node in _dicts(self.tree)
            if node.get("class") == "PARAMETER"
        )


@dataclass(frozen=True)
class AllowedTables:
    """Which base tables a statement may reference, and under which spellings.

    Attributes:
        warehouse: bare table names of the warehouse (lower case).
        extra: extra-schema tables as ``{schema: {table, …}}`` (lower case).
        catalog: the warehouse's catalog name (its file stem, lower case).
        reserved: every table or view name a bare reference could resolve to (lower case);
            CTE names may not be one of them.
    """

    warehouse: frozenset[str]
    extra: dict[str, frozenset[str]] = field(default_factory=dict)
    catalog: str = ""
    reserved: frozenset[str] = frozenset()

    @classmethod
    def from_names(
        cls, names: Collection[str], *, catalog: str, reserved: Collection[str] = ()
    ) -> AllowedTables:
        """Build from names like ``"crime"`` (warehouse) and ``"audit.records"`` (extra).

        Example:
            >>> allowed = AllowedTables.from_names(["crime", "audit.records"], catalog="wh")
            >>> allowed.permits("", "", "Crime"), allowed.permits("", "audit", "records")
            (True, True)
        """
        warehouse: set[str] = set()
        extra: dict[str, set[str]] = {}
        for name in names:
            schema, _, table = name.lower().rpartition(".")
            if schema:
                extra.setdefault(schema, set()).add(table)
            else:
                warehouse.add(table)
        return cls(
            frozenset(warehouse),
            {k: frozenset(v) for k, v in extra.items()},
            catalog.lower(),
            frozenset(n.lower() for n in reserved) | warehouse,
        )

    def permits(self, catalog: str, schema: str, table: str) -> bool:
        """Whether ``catalog.schema.table`` (empty parts allowed) is an allowed table."""
        catalog, schema, table = catalog.lower(), schema.lower(), table.lower()
        in_warehouse = (catalog in ("", self.catalog) and schema in ("", "main")) or (
            not catalog and schema == self.catalog
        )
        if in_warehouse:
            return table in self.warehouse
        if not catalog and schema in self.extra:
            return table in self.extra[schema]
        if catalog in self.extra and schema in ("", "main"):
            return table in self.extra[catalog]
        return False


class SqlTreeParser:
    """Parses SQL with DuckDB in a connection that holds no data and cannot be reconfigured.

    Thread-safe: calls are serialised (a parse takes about a millisecond). The last
    ``cache_size`` successful parses are kept, so ``cross_check`` followed by ``execute`` of the
    same generated SQL parses it once.
    """

    def __init__(self, cache_size: int = 128) -> None:
        self._con = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "python_enable_replacements": False,
                "threads": 1,
            },
        )
        self._con.execute("SET lock_configuration = true")
        self._lock = threading.Lock()
        self._cache: LruCache[str, ParsedQuery] = LruCache(cache_size)
        self._types: frozenset[str] | None = None

    def parse(self, sql: str) -> ParsedQuery:
        """Parse ``sql``, which must be exactly one SELECT statement.

        Raises:
            gateway.errors.SqlParseError: with the position DuckDB reports.
            gateway.errors.StatementNotAllowed: not exactly one SELECT statement.
        """
        with self._lock:
            cached = self._cache.get(sql)
            if cached is not None:
                return cached
            try:
                rows = self._con.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchall()
            except duckdb.ConnectionException:
                raise GatewayError("the engine is closed") from None
            serialised = json.loads(rows[0][0])
            if serialised.get("error"):
                raise self._parse_failure(sql, serialised)
            statements = serialised.get("statements", [])
            if len(statements) != 1:
                raise StatementNotAllowed(
                    f"exactly one statement may run, the query has {len(statements)}"
                )
            parsed = ParsedQuery(sql, statements[0])
            self._cache.put(sql, parsed)
            return parsed

    def builtin_types(self) -> frozenset[str]:
        """Names (upper case) of the engine's built-in types; the parser's connection has no
        user-defined ones."""
        if self._types is None:
            with self._lock:
                rows = self._con.execute(
                    "SELECT DISTINCT upper(type_name) FROM duckdb_types() "
                    "WHERE database_name = 'system'"
                ).fetchall()
            self._types = frozenset(r[0] for r in rows) - {"TYPE", "NULL"}
        return self._types

    def close(self) -> None:
        """Close the parser's connection."""
        self._con.close()

    def _parse_failure(self, sql: str, serialised: dict[str, Any]) -> GatewayError:
        if serialised.get("error_type") == "parser":
            position = line_column(sql, int(serialised.get("position", _UNKNOWN_LOCATION)))
            return SqlParseError("syntax error", position=position)
        if "parameters" in str(serialised.get("error_message", "")):
            return ParameterError("use named parameters ($name) only, not positional ones (?)")
        try:
            statements = duckdb.extract_statements(sql, connection=self._con)
        except duckdb.Error:
            return SqlParseError("the query could not be parsed")
        kinds = [s.type.name for s in statements]
        if len(kinds) != 1:
            return StatementNotAllowed(f"exactly one statement may run, the query has {len(kinds)}")
        if kinds[0] != "SELECT":
            return StatementNotAllowed(f"only SELECT statements may run, not {kinds[0]}")
        return SqlParseError("the query could not be parsed")


def check_tree(
    parsed: ParsedQuery,
    *,
    allowed_tables: AllowedTables | None,
    forbidden_functions: Collection[str] = (),
) -> None:
    """Check a parsed statement's structure; with ``allowed_tables``, its table names too.

    Args:
        parsed: from :meth:`SqlTreeParser.parse`.
        allowed_tables: None checks structure only (no table functions, no SHOW/PIVOT …).
        forbidden_functions: scalar functions that may not be called (lower case).

    Raises:
        gateway.errors.FunctionNotAllowed: a table function or forbidden function is called.
        gateway.errors.StatementNotAllowed: DESCRIBE/SHOW/SUMMARIZE.
        gateway.errors.SyntaxNotAllowed: PIVOT, time travel, file paths, shadowing CTEs, or a
            construct this check does not know.
        gateway.errors.TableNotPermitted: a base table outside ``allowed_tables``.
    """
    forbidden = frozenset(f.lower() for f in forbidden_functions)
    ctes = _cte_names(parsed.tree)
    if allowed_tables is not None:
        for name, location in ctes:
            if name in allowed_tables.reserved:
                raise SyntaxNotAllowed(
                    f'the CTE name "{name}" is the name of a table or view',
                    position=line_column(parsed.sql, location),
                )
    cte_names = frozenset(name for name, _ in ctes)
    for node in _dicts(parsed.tree):
        kind = node.get("type")
        if not isinstance(kind, str):
            continue
        position = line_column(parsed.sql, node.get("query_location", _UNKNOWN_LOCATION))
        if "class" in node:
            if node["class"] == "FUNCTION" and str(node.get("function_name")).lower() in forbidden:
                raise FunctionNotAllowed(
                    f"function {node['function_name']} is not allowed", position=position
                )
        elif kind.endswith("_NODE"):
            if kind not in _QUERY_NODES:
                raise SyntaxNotAllowed(f"query form {kind} is not allowed", position=position)
        elif ("sample" in node and "alias" in node) or kind == "TABLE_FUNCTION":
            _check_table_ref(node, kind, position, allowed_tables, cte_names)


def _check_table_ref(
    node: dict[str, Any],
    kind: str,
    position: tuple[int, int] | None,
    allowed: AllowedTables | None,
    cte_names: frozenset[str],
) -> None:
    if kind in _PLAIN_TABLE_REFS:
        return
    if kind == "TABLE_FUNCTION":
        name = (node.get("function") or {}).get("function_name", "?")
        raise FunctionNotAllowed(f"table function {name} is not allowed", position=position)
    if kind in _TABLE_REF_MESSAGES:
        error, message = _TABLE_REF_MESSAGES[kind]
        raise error(message, position=position)
    if kind != "BASE_TABLE":
        raise SyntaxNotAllowed(f"table reference of kind {kind} is not allowed", position=position)
    if node.get("at_clause") is not None:
        raise SyntaxNotAllowed("time travel (AT …) is not allowed", position=position)
    if allowed is None:
        return
    catalog = str(node.get("catalog_name", ""))
    schema = str(node.get("schema_name", ""))
    table = str(node.get("table_name", ""))
    if not catalog and not schema and table.lower() in cte_names:
        return
    if not all(_IDENTIFIER.match(part) for part in (catalog or "x", schema or "x", table)):
        raise SyntaxNotAllowed(
            "only tables may be queried, not files or other sources", position=position
        )
    if not allowed.permits(catalog, schema, table):
        spelt = ".".join(p for p in (catalog, schema, table) if p)
        raise TableNotPermitted(f"table {spelt} is not permitted", position=position)


def _cte_names(tree: dict[str, Any]) -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    for node in _dicts(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                query = (entry.get("value") or {}).get("query_node") or {}
                names.append((str(entry.get("key", "")).lower(), _first_location(query)))
    return names


def _first_location(node: dict[str, Any]) -> int:
    for child in _dicts(node):
        location = child.get("query_location")
        if isinstance(location, int) and location != _UNKNOWN_LOCATION:
            return location
    return _UNKNOWN_LOCATION


def _dicts(node: object) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree, depth first (iterative: deep trees do not recurse)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def line_column(sql: str, offset: object) -> tuple[int, int] | None:
    if not isinstance(offset, int) or offset < 0 or offset >= _UNKNOWN_LOCATION:
        return None
    before = sql.encode("utf-8")[:offset].decode("utf-8", "ignore")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return line, column
