"""The enforcement invariant of :mod:`gateway.engines.invariant`, checked on Spark's parse.

The property is the one stated there (every stored relation read only inside a subquery
structurally identical to an expected policy subquery, each as often as expected; nothing
else but joins, subqueries, inline tables and the statement's own CTEs; no table functions,
no commands, no raw text). This module is its check for Spark: it walks Spark's *unresolved*
logical plan of the exact text that will run (:mod:`gateway.engines.spark.plan`) and refuses
anything it does not positively recognise:

- plan nodes outside policy subqueries come from :data:`PLAN_NODES` (no hints, commands,
  table-valued functions, time travel, samples, generators, ``parquet.`path``` reads);
- an ``UnresolvedRelation`` outside a policy subquery is a CTE defined in the statement
  whose name is no table's name;
- an expression is a catalyst expression or one of :data:`UNRESOLVED_EXPRESSIONS`; a
  function call names one built-in function (one part, in Spark's builtin registry), not a
  forbidden one (:data:`FORBIDDEN_FUNCTIONS`: reflection, errors raised on purpose, the
  gateway's trusted pseudonym function);
- a field Spark could not write out (JSON ``null``) is refused unless known harmless, so a
  node this walker cannot see into is never taken on trust.

A policy subquery is recognised as the body of a ``SubqueryAlias`` whose canonical form
equals the canonical form of Spark's parse of the expected policy SQL (as transpiled).

Example:
    >>> from gateway.engines.spark.plan import plan_tree
    >>> logical = "org.apache.spark.sql.catalyst.plans.logical."
    >>> project = {"class": logical + "Project", "num-children": 1, "child": 0,
    ...            "projectList": []}
    >>> crime = {"class": "org.apache.spark.sql.catalyst.analysis.UnresolvedRelation",
    ...          "num-children": 0,
    ...          "multipartIdentifier": "[main, crime]", "options": {}, "isStreaming": False}
    >>> check = PlanCheck(expected={}, reserved=frozenset({"crime"}), builtins=frozenset())
    >>> check.run(plan_tree([project, crime]))
    Traceback (most recent call last):
    ...
    gateway.errors.PolicyCheckFailed: the statement reads table main.crime outside its policy subquery
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.engines.base import Verified
from gateway.engines.spark.plan import PlanNode, canonical
from gateway.errors import PolicyCheckFailed, StatementNotAllowed

__all__ = ["FORBIDDEN_FUNCTIONS", "PLAN_NODES", "UNRESOLVED_EXPRESSIONS", "PlanCheck"]

#: Logical plan nodes a statement may use outside policy subqueries.
PLAN_NODES = frozenset(
    {
        "Project",
        "Filter",
        "UnresolvedHaving",
        "Join",
        "SubqueryAlias",
        "Aggregate",
        "Sort",
        "GlobalLimit",
        "LocalLimit",
        "Offset",
        "Union",
        "Intersect",
        "Except",
        "Distinct",
        "UnresolvedWith",
        "UnresolvedRelation",
        "OneRowRelation",
        "UnresolvedInlineTable",
        "UnresolvedSubqueryColumnAliases",
        "WithWindowDefinition",
    }
)
#: Analysis-time expression nodes allowed besides ``org.apache.spark.sql.catalyst.expressions``.
UNRESOLVED_EXPRESSIONS = frozenset(
    {
        "UnresolvedAttribute",
        "UnresolvedAlias",
        "UnresolvedStar",
        "UnresolvedFunction",
        "UnresolvedExtractValue",
        "UnresolvedOrdinal",
        "UnresolvedNamedLambdaVariable",
        "NamedParameter",  # :name, bound by Spark as a value
    }
)
#: Built-in functions no statement may call outside a policy subquery.
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "reflect",
        "java_method",
        "try_reflect",
        "raise_error",
        "assert_true",
        "input_file_name",
        "input_file_block_start",
        "input_file_block_length",
        "current_catalog",
        "current_database",
        "current_schema",
        "current_user",
        "session_user",
        "user",
        "version",
        "gw_hmac_sha256",
    }
)
_EXPRESSIONS = "org.apache.spark.sql.catalyst.expressions."
_ANALYSIS = "org.apache.spark.sql.catalyst.analysis."
_PLANS = "org.apache.spark.sql.catalyst.plans.logical."
#: (node kind, field) pairs Spark writes as null in ordinary statements.
_NULL_FIELDS = frozenset(
    {
        ("Join", "hint"),
        ("UnresolvedRelation", "options"),
        ("UnresolvedFunction", "filter"),
        ("SortOrder", "sameOrderExpressions"),
        ("Literal", "value"),  # the NULL literal (a scalar field: never a tree)
        ("Like", "escapeChar"),  # a character, which Spark does not write out
        ("ILike", "escapeChar"),
    }
)
#: Fields that never hold an expression or a plan (Spark does not write them out).
_SCALAR_FIELDS = frozenset(
    {
        "evalContext",  # an arithmetic operator's evaluation mode object
        "evalMode",  # a cast's ANSI/LEGACY/TRY mode
        "groupingSetIndexes",  # positions of GROUPING SETS in the GROUP BY list
    }
)


@dataclass
class PlanCheck:
    """One check of one statement's plan against what the rewrite promised.

    Attributes:
        expected: canonical policy subquery body → its table name.
        found: canonical bodies of the policy subqueries met, in the statement's order.
        reserved: every table name a bare reference could resolve to (lower case).
        builtins: Spark's built-in function names (lower case).
    """

    expected: Mapping[str, str]
    reserved: frozenset[str]
    builtins: frozenset[str]
    found: list[str] = field(default_factory=list)
    _ctes: set[str] = field(default_factory=set)

    def run(self, tree: PlanNode) -> Verified:
        """Walk ``tree``; the policy subqueries found, in order.

        Raises:
            PolicyCheckFailed: the statement breaks the invariant.
            StatementNotAllowed: it is not a query.
        """
        if not tree.cls.startswith((_PLANS, _ANALYSIS)):  # commands live elsewhere
            raise StatementNotAllowed("only SELECT statements are allowed")
        self._plan(tree)
        return Verified(tables=tuple(self.expected[body] for body in self.found))

    def check_counts(self, wanted: Counter[str]) -> None:
        """Each expected policy subquery (canonical body) occurs exactly as often as expected."""
        if Counter(self.found) != wanted:
            raise PolicyCheckFailed(
                "the statement does not read its tables exactly through their policy subqueries"
            )

    def _plan(self, node: PlanNode) -> None:
        kind = node.kind
        if not node.cls.startswith((_PLANS, _ANALYSIS)) or kind not in PLAN_NODES:
            raise PolicyCheckFailed(f"{_describe(kind)} is not allowed in a query")
        if kind == "SubqueryAlias" and len(node.children) == 1:
            body = canonical(node.children[0])
            if body in self.expected:
                self.found.append(body)
                return
        if kind == "UnresolvedWith":
            self._with(node)
        if kind == "UnresolvedRelation":
            self._relation(node)
        self._fields(node)
        for child in node.children:
            self._plan(child)

    def _with(self, node: PlanNode) -> None:
        for relation in node.fields.get("cteRelations") or []:
            name = str(relation.get("_1", "")).lower() if isinstance(relation, dict) else ""
            if not name:
                raise PolicyCheckFailed("a CTE could not be read")
            if name in self.reserved:
                raise PolicyCheckFailed(f'the CTE name "{name}" is the name of a table')
            self._ctes.add(name)
            body = relation.get("_2")
            if not isinstance(body, PlanNode):
                raise PolicyCheckFailed(f'the CTE "{name}" could not be read')
            self._plan(body)

    def _relation(self, node: PlanNode) -> None:
        parts = _name_parts(node.fields.get("multipartIdentifier"))
        spelt = ".".join(parts)
        if len(parts) == 1 and parts[0].lower() in self._ctes:
            return
        raise PolicyCheckFailed(f"the statement reads table {spelt} outside its policy subquery")

    def _fields(self, node: PlanNode) -> None:
        for name, value in node.fields.items():
            if name == "cteRelations":
                continue
            if (
                value is None
                and (node.kind, name) not in _NULL_FIELDS
                and name not in _SCALAR_FIELDS
            ):
                raise PolicyCheckFailed(f"{_describe(node.kind)} could not be checked ({name})")
            self._value(value)

    def _value(self, value: object) -> None:
        if isinstance(value, PlanNode):
            self._expression(value)
        elif isinstance(value, list):
            for item in value:
                self._value(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._value(item)

    def _expression(self, node: PlanNode) -> None:
        if node.cls.startswith((_PLANS, _ANALYSIS)) and node.kind in PLAN_NODES:
            self._plan(node)  # a subquery's plan held in an expression's field
            return
        allowed = node.cls.startswith(_EXPRESSIONS) or (
            node.cls.startswith(_ANALYSIS) and node.kind in UNRESOLVED_EXPRESSIONS
        )
        if not allowed:
            raise PolicyCheckFailed(f"{_describe(node.kind)} is not allowed in a query")
        if node.kind == "UnresolvedFunction":
            parts = _name_parts(node.fields.get("nameParts"))
            name = ".".join(parts).lower()
            if len(parts) != 1 or name not in self.builtins or name in FORBIDDEN_FUNCTIONS:
                raise PolicyCheckFailed(f"the function {name} is not allowed")
        self._fields(node)
        for child in node.children:
            self._expression(child)


def _name_parts(value: object) -> list[str]:
    """``"[main, crime]"`` (how Spark writes a multipart name) → ``["main", "crime"]``."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [p.strip() for p in text.split(",")] if text else []


def _describe(kind: str) -> str:
    return {
        "UnresolvedHint": "a hint",
        "UnresolvedTableValuedFunction": "a table function",
        "RelationTimeTravel": "time travel",
        "Sample": "a table sample",
    }.get(kind, f"the construct {kind}")
