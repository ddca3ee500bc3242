"""The governance package exports exactly what it lists, and each export exists."""

from __future__ import annotations

import importlib

import gateway.governance as governance

MODULES = (
    "admission", "approvals", "codec", "directory", "lifecycle", "model", "operations", "origin",
    "oversight", "preconditions", "register", "requests", "schema", "service", "settings",
    "standing", "status", "store", "workflow",
)  # fmt: skip


def test_package_exports_exist() -> None:
    assert sorted(governance.__all__) == sorted(set(governance.__all__))
    for name in governance.__all__:
        assert hasattr(governance, name), name


def test_every_module_declares_its_public_names() -> None:
    for module_name in MODULES:
        module = importlib.import_module(f"gateway.governance.{module_name}")
        assert module.__doc__, module_name
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name}"
