"""The app's documented operations, indexed by path: which methods a path accepts and which
query parameters an operation declares. Built once from the OpenAPI document (public and
stable, unlike the router's internals) and kept on ``app.state``.

Example:
    >>> index = OperationIndex.from_openapi({"paths": {"/v1/tokens/{token_id}": {
    ...     "delete": {"parameters": [{"name": "token_id", "in": "path"}]}}}})
    >>> index.methods("/v1/tokens/tok_1"), index.query_names("/v1/tokens/tok_1", "DELETE")
    (frozenset({'DELETE'}), {})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

__all__ = ["OperationIndex", "operation_index"]


@dataclass(frozen=True)
class OperationIndex:
    """Path patterns with, per method, the declared query parameters (name → repeatable)."""

    paths: tuple[tuple[re.Pattern[str], Mapping[str, Mapping[str, bool]]], ...]

    @classmethod
    def from_openapi(cls, document: Mapping[str, Any]) -> OperationIndex:
        paths = []
        for template, operations in document.get("paths", {}).items():
            pattern = _path_regex(template, _path_patterns(operations))
            methods = {
                method.upper(): {
                    p["name"]: _repeatable(p.get("schema", {}))
                    for p in operation.get("parameters", [])
                    if p.get("in") == "query"
                }
                for method, operation in operations.items()
            }
            paths.append((pattern, methods))
        return cls(tuple(paths))

    def _matching(self, path: str) -> list[Mapping[str, Mapping[str, bool]]]:
        return [methods for pattern, methods in self.paths if pattern.match(path)]

    def methods(self, path: str) -> frozenset[str]:
        """Every method some operation on ``path`` accepts."""
        return frozenset(m for methods in self._matching(path) for m in methods)

    def query_names(self, path: str, method: str) -> Mapping[str, bool] | None:
        """Query parameters ``method path`` declares, each with whether it may repeat
        (None: not a documented operation)."""
        for methods in self._matching(path):
            if method.upper() in methods:
                return methods[method.upper()]
        return None


def _path_regex(template: str, shapes: Mapping[str, str]) -> re.Pattern[str]:
    """The regex of a path template: each ``{name}`` its shape, else one path segment."""
    parts = re.split(r"\{([^}]+)\}", template)
    return re.compile(
        "^"
        + "".join(
            shapes.get(part, "[^/]+") if i % 2 else re.escape(part) for i, part in enumerate(parts)
        )
        + "$"
    )


def _path_patterns(operations: Mapping[str, Any]) -> dict[str, str]:
    """Path parameters whose schema gives their shape (``pattern``), as regex fragments: so
    ``/v1/products/{product_id}`` does not claim ``/v1/products/strategic-assessment``."""
    found: dict[str, str] = {}
    for operation in operations.values():
        for p in operation.get("parameters", []):
            shape = p.get("schema", {}).get("pattern") if p.get("in") == "path" else None
            if isinstance(shape, str):
                found[p["name"]] = f"(?:{shape.removeprefix('^').removesuffix('$')})"
    return found


def _repeatable(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_repeatable(option) for option in schema.get("anyOf", []))


def operation_index(app: FastAPI) -> OperationIndex:
    """The app's index (built on first use)."""
    index: OperationIndex | None = getattr(app.state, "operation_index", None)
    if index is None:
        index = OperationIndex.from_openapi(app.openapi())
        app.state.operation_index = index
    return index
