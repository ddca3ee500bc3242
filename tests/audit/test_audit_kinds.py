"""The registry of audit kinds: every kind named once, in ``gateway.audit.kinds``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import gateway
from gateway.audit.facts import AccessEvent, ExportAction
from gateway.audit.kinds import (
    DUTY_KINDS,
    EXPORT_DECISIONS,
    EXPORT_KINDS,
    GOVERNANCE_FAMILIES,
    GOVERNANCE_KINDS,
    PRODUCT_DECISIONS,
    PRODUCT_KINDS,
    QUERY_KINDS,
    EventKind,
)
from gateway.errors import InputError

SRC = Path(gateway.__file__).parent
KINDS_MODULE = SRC / "audit" / "kinds.py"


def test_every_kind_is_family_dot_verb_and_distinct() -> None:
    values = [k.value for k in EventKind]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", v) for v in values)


def test_the_groups_partition_the_kinds_by_family() -> None:
    assert {k.family for k in QUERY_KINDS} == {"query"}
    assert {k.family for k in EXPORT_KINDS} == {"export"}
    assert set(EXPORT_DECISIONS) <= set(EXPORT_KINDS)
    assert {k.family for k in PRODUCT_KINDS} == {"product"}
    assert set(PRODUCT_DECISIONS) <= set(PRODUCT_KINDS)
    assert all(k.family in GOVERNANCE_FAMILIES for k in GOVERNANCE_KINDS)
    grouped = (set(QUERY_KINDS) | set(EXPORT_KINDS) | set(PRODUCT_KINDS) | GOVERNANCE_KINDS) | set(
        DUTY_KINDS
    )
    assert set(EventKind) - grouped == {
        EventKind.AUDIT_ACKNOWLEDGED,
        EventKind.AUDIT_DISPOSED,
        EventKind.PRODUCT_MANIFESTS_DISPOSED,
    }


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String constants in code (docstrings excluded: examples may show stored text)."""
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings:
            found.append((node.lineno, node.value))
        if isinstance(node, ast.JoinedStr):  # f"access.review_{x}": a kind built from parts
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                family = head.value.split(".", 1)[0]
                if "." in head.value and family in {k.family for k in EventKind}:
                    found.append((node.lineno, head.value + "{…}"))
    return found


def test_no_kind_is_spelled_as_a_string_outside_the_registry() -> None:
    kinds = {k.value for k in EventKind}
    families = {k.family for k in EventKind}
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text!r}"
        for path in sorted(SRC.rglob("*.py"))
        if path != KINDS_MODULE
        for line, text in _string_constants(path)
        if text in kinds or (text.endswith("{…}") and text.split(".", 1)[0] in families)
    ]
    assert offenders == []


def test_access_events_take_only_registered_governance_kinds() -> None:
    assert AccessEvent("token.revoked", "admin", "Force").kind is EventKind.TOKEN_REVOKED
    with pytest.raises(InputError):
        AccessEvent("access.made_up", "admin", "Force")
    with pytest.raises(InputError):
        AccessEvent(EventKind.EXPORT_APPROVED, "admin", "Force")


@pytest.mark.parametrize("action", ["approved", "rejected", "downloaded"])
def test_export_actions_map_to_their_kinds(action: str) -> None:
    fact = ExportAction(action, "q1", "s.patel", "CP", owner="a.khan", file_sha256="ab" * 32)
    assert fact.kind.value == f"export.{action}"
