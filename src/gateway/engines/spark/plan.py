"""Spark's own parse of a statement, as plain Python data.

Spark's parser (``sessionState().sqlParser().parsePlan(text)``, reached through the session's
JVM) returns an *unresolved* logical plan: table names are ``UnresolvedRelation`` nodes, nothing
is looked up yet. ``TreeNode.toJSON`` writes a tree as a flat pre-order list (each node says how
many children follow; an expression or a subquery's plan held in a field is itself such a list).
:func:`plan_tree` rebuilds nested :class:`PlanNode` objects from it, so the invariant can walk
the tree in Python with one JVM call per statement.

Example:
    >>> flat = [{"class": "a.Project", "num-children": 1, "child": 0,
    ...          "projectList": [[{"class": "a.Literal", "num-children": 0, "value": "1"}]]},
    ...         {"class": "a.OneRowRelation", "num-children": 0}]
    >>> tree = plan_tree(flat)
    >>> tree.kind, [c.kind for c in tree.children], tree.fields["projectList"][0].kind
    ('Project', ['OneRowRelation'], 'Literal')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PlanNode", "canonical", "plan_tree"]

_POSITIONAL = frozenset({"num-children", "child", "children", "left", "right"})
#: Fields that differ between two parses of the same text (ids of subquery expressions).
_VOLATILE = frozenset({"exprId", "jvmId"})


@dataclass
class PlanNode:
    """One node of Spark's parse: its class, its children, and its other fields.

    Attributes:
        cls: the fully qualified JVM class name.
        children: child nodes (plans under a plan, operands under an expression).
        fields: every other field; a field holding a tree holds :class:`PlanNode` (or lists of
            them), anything else is the JSON value Spark wrote (``None`` when Spark could not
            write it).
    """

    cls: str
    children: list[PlanNode] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The class's short name (``Project``, ``UnresolvedRelation`` …)."""
        return self.cls.rsplit(".", 1)[-1].rstrip("$")


def plan_tree(flat: list[dict[str, Any]]) -> PlanNode:
    """Rebuild one tree from Spark's flat pre-order JSON list (module docstring)."""
    node, end = _build(flat, 0)
    if end != len(flat):
        raise ValueError("the plan's JSON holds more than one tree")
    return node


def canonical(node: PlanNode) -> str:
    """A text form of ``node`` equal for two parses of the same SQL (ids left out)."""
    return json.dumps(_plain(node), sort_keys=True, separators=(",", ":"))


def _is_tree(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "class" in value[0]
        and "num-children" in value[0]
    )


def _build(flat: list[dict[str, Any]], start: int) -> tuple[PlanNode, int]:
    raw = flat[start]
    node = PlanNode(cls=str(raw["class"]))
    position = start + 1
    for _ in range(int(raw["num-children"])):
        child, position = _build(flat, position)
        node.children.append(child)
    for key, value in raw.items():
        if key not in _POSITIONAL and key != "class":
            node.fields[key] = _field(value)
    return node, position


def _field(value: object) -> object:
    if _is_tree(value):
        assert isinstance(value, list)
        return plan_tree(value)
    if isinstance(value, list):
        return [_field(v) for v in value]
    if isinstance(value, dict):
        return {k: _field(v) for k, v in value.items() if k not in _VOLATILE}
    return value


def _plain(value: object) -> object:
    if isinstance(value, PlanNode):
        return {
            "class": value.cls,
            "children": [_plain(c) for c in value.children],
            "fields": {k: _plain(v) for k, v in value.fields.items() if k not in _VOLATILE},
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
