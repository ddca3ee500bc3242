"""The enforcement invariant, checked on the engine's own parse of the exact text that runs.

The rewriter (sqlglot) replaces every base-table reference with the policy subquery the
policy produced for it. That is only worth something if the SQL the engine executes really
has that shape — a generator bug (sqlglot writes some AST text back unquoted) could otherwise
turn an analyst's string into live SQL. So this module states the property once and checks it
on DuckDB's parse of the final text, independently of how the text was produced:

    **Invariant.** In the engine's parse tree of the statement that will run,

    1. every reference to a stored relation — a warehouse table or view, the pseudonym vault,
       any attached database — lies inside a subquery that is *structurally identical* (same
       parse tree, ignoring source positions) to a policy subquery the policy produced for
       this statement; each expected policy subquery occurs exactly as often as expected;
    2. outside those subqueries, a table reference is only a join, a subquery, ``VALUES``, a
       CTE defined in the statement (whose name is no table's or view's name), or — for a
       statement over an extra read-only schema (``audit``) — one of its permitted tables;
    3. outside those subqueries there is no table function, no qualified (``schema.f``)
       function, no forbidden function (settings, variables, nested SQL, the engine's trusted
       macros), no type that is not a built-in type, no query form other than SELECT, set
       operations and CTEs, no PIVOT/SHOW/time travel/sample.

Whatever the generator wrote, a statement that breaks the invariant is refused
(:class:`~gateway.errors.PolicyCheckFailed`): a generator bug can only cause a refusal. The
policy subqueries themselves are not walked — they are trusted because they are exactly what
the policy produced (compared as parse trees, not as text).

Example:
    >>> from gateway.engines.crosscheck import SqlTreeParser
    >>> parser = SqlTreeParser()
    >>> policy = "SELECT c.crime_id FROM main.crime AS c WHERE c.local_authority_code = 'E1'"
    >>> expected = Expectation(policy_subqueries=(("crime", policy),))
    >>> from gateway.engines.base import Expectation
    >>> verify(parser, f"SELECT count(*) FROM ({policy}) AS x", expected).tables
    ('crime',)
    >>> verify(parser, "SELECT count(*) FROM main.crime", expected)
    Traceback (most recent call last):
    ...
    gateway.errors.PolicyCheckFailed: the statement reads table main.crime outside its policy subquery (line 1, column 22)
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.engines.base import Expectation, Verified
from gateway.engines.crosscheck import AllowedTables, SqlTreeParser, check_tree, line_column
from gateway.errors import PolicyCheckFailed

__all__ = ["FORBIDDEN_FUNCTIONS", "verify"]

#: Functions no statement may call outside a policy subquery: settings, variables, nested
#: SQL, and the engine's trusted macros (added by the engine that defines them).
FORBIDDEN_FUNCTIONS = frozenset(
    {"getvariable", "current_setting", "query", "query_table", "current_query", "error"}
)

_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_PLAIN_TABLE_REFS = frozenset({"JOIN", "EMPTY", "EXPRESSION_LIST"})
_UNKNOWN = 2**64 - 1


def verify(
    parser: SqlTreeParser,
    sql: str,
    expected: Expectation,
    *,
    catalog: str = "",
    reserved: Collection[str] = (),
    builtin_types: Collection[str] | None = None,
) -> Verified:
    """Check the invariant (module docstring) on the engine's parse of ``sql``.

    Args:
        parser: the engine's parser.
        sql: the exact text that will run.
        expected: what the rewrite produced.
        catalog: the warehouse's catalog name (for spelling extra-schema tables).
        reserved: every table or view name a bare reference could resolve to.
        builtin_types: type names (upper case) the statement may use; None takes the
            parser's own built-in types.

    Raises:
        gateway.errors.PolicyCheckFailed: the statement breaks the invariant.
        gateway.errors.SqlParseError, StatementNotAllowed: not one parseable SELECT.
    """
    parsed = parser.parse(sql)
    check_tree(parsed, allowed_tables=None)  # the structural refusals, with their own codes
    wanted: Counter[str] = Counter()
    table_of: dict[str, str] = {}
    for table, policy_sql in expected.policy_subqueries:
        shape = _policy_shape(parser, policy_sql)
        wanted[shape] += 1
        table_of[shape] = table
    allowed = AllowedTables.from_names(expected.schema_tables, catalog=catalog, reserved=reserved)
    walk = _Walk(
        sql=sql,
        wanted=wanted,
        allowed=allowed,
        ctes=_cte_names(parsed.tree),
        forbidden=FORBIDDEN_FUNCTIONS | {f.lower() for f in expected.forbidden_functions},
        types=frozenset(builtin_types) if builtin_types is not None else parser.builtin_types(),
    )
    found = walk.run(parsed.tree)
    missing = wanted - Counter(found)
    if missing or len(found) != sum(wanted.values()):
        raise PolicyCheckFailed(
            "the statement does not contain each policy subquery exactly as the policy produced it"
        )
    return Verified(tuple(table_of[shape] for shape in found))


@functools.lru_cache(maxsize=1024)
def _shape_of_text(parser: SqlTreeParser, policy_sql: str) -> str:
    parsed = parser.parse(f"SELECT * FROM ({policy_sql}) AS __gw_policy")
    subquery = parsed.tree["node"]["from_table"]["subquery"]
    return _shape(subquery)


def _policy_shape(parser: SqlTreeParser, policy_sql: str) -> str:
    try:
        return _shape_of_text(parser, policy_sql)
    except (KeyError, TypeError) as exc:  # not a plain subquery: the policy's SQL is wrong
        raise PolicyCheckFailed("a policy subquery did not parse as one SELECT") from exc


def _shape(node: object) -> str:
    """A parse tree as canonical text, source positions left out."""
    return json.dumps(_without_positions(node), sort_keys=True, separators=(",", ":"))


def _without_positions(node: object) -> object:
    stack: list[tuple[object, Any]] = []
    root: dict[str, Any] = {"v": None}
    stack.append((node, (root, "v")))
    while stack:
        current, (holder, key) = stack.pop()
        if isinstance(current, dict):
            copy: dict[str, Any] = {}
            holder[key] = copy
            for k, v in current.items():
                if not k.startswith("query_location"):
                    stack.append((v, (copy, k)))
        elif isinstance(current, list):
            items: list[Any] = [None] * len(current)
            holder[key] = items
            for i, v in enumerate(current):
                stack.append((v, (items, i)))
        else:
            holder[key] = current
    return root["v"]


@dataclass
class _Walk:
    sql: str
    wanted: Counter[str]
    allowed: AllowedTables
    ctes: frozenset[str]
    forbidden: frozenset[str]
    types: frozenset[str]

    def run(self, tree: dict[str, Any]) -> list[str]:
        found: list[str] = []
        for node in self._outside(tree, found):
            self._check(node)
        return found

    def _outside(self, tree: object, found: list[str]) -> Iterator[dict[str, Any]]:
        """Every dict of the tree that is not inside a matched policy subquery, in order."""
        stack: list[object] = [tree]
        while stack:
            current = stack.pop()
            if isinstance(current, list):
                stack.extend(reversed(current))
                continue
            if not isinstance(current, dict):
                continue
            if _is_table_ref(current) and current.get("type") == "SUBQUERY":
                shape = _shape(current.get("subquery"))
                if shape in self.wanted:
                    if current.get("sample") is not None:
                        raise self._fail("a policy subquery may not be sampled", current)
                    found.append(shape)
                    continue
            yield current
            stack.extend(reversed(list(current.values())))

    def _check(self, node: dict[str, Any]) -> None:
        kind = node.get("type")
        if not isinstance(kind, str):
            return
        if "class" in node:
            self._check_expression(node)
        elif kind.endswith("_NODE"):
            if kind not in _QUERY_NODES:
                raise self._fail(f"query form {kind} is not allowed", node)
        elif _is_table_ref(node) or kind == "TABLE_FUNCTION":
            self._check_table_ref(node, kind)

    def _check_expression(self, node: dict[str, Any]) -> None:
        if node["class"] == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if node.get("catalog") or node.get("schema"):
                raise self._fail(f"a qualified function call ({name}) is not allowed", node)
            if name in self.forbidden or name.startswith("__gw"):
                raise self._fail(f"function {name} may not be called", node)
        elif node["class"] == "TYPE":
            name = str(node.get("type_name", "")).upper()
            if node.get("catalog") or node.get("schema") or name not in self.types:
                raise self._fail("only built-in types may be used", node)

    def _check_table_ref(self, node: dict[str, Any], kind: str) -> None:
        if kind in _PLAIN_TABLE_REFS or kind == "SUBQUERY":
            if node.get("sample") is not None:
                raise self._fail("table samples are not allowed", node)
            return
        if kind != "BASE_TABLE":
            raise self._fail(f"table reference of kind {kind} is not allowed", node)
        catalog = str(node.get("catalog_name", ""))
        schema = str(node.get("schema_name", ""))
        table = str(node.get("table_name", ""))
        spelt = ".".join(p for p in (catalog, schema, table) if p)
        if node.get("at_clause") is not None or node.get("sample") is not None:
            raise self._fail(f"time travel or sampling of {spelt} is not allowed", node)
        if not catalog and not schema and table.lower() in self.ctes:
            if table.lower() in self.allowed.reserved:
                raise self._fail(f'the CTE name "{table}" is the name of a table or view', node)
            return
        if (
            (catalog or schema)
            and self.allowed.extra
            and self.allowed.permits(catalog, schema, table)
        ):
            return
        raise self._fail(f"the statement reads table {spelt} outside its policy subquery", node)

    def _fail(self, message: str, node: dict[str, Any]) -> PolicyCheckFailed:
        return PolicyCheckFailed(
            message, position=line_column(self.sql, node.get("query_location", _UNKNOWN))
        )


def _is_table_ref(node: dict[str, Any]) -> bool:
    return "class" not in node and "sample" in node and "alias" in node


def _cte_names(tree: dict[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    stack: list[object] = [tree]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            cte_map = current.get("cte_map")
            if isinstance(cte_map, dict):
                names.update(str(e.get("key", "")).lower() for e in cte_map.get("map", []))
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return frozenset(names)
