"""The generator's public surface and the runnable examples in its docstrings."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import gateway.generate

MODULES = sorted(
    m.name for m in pkgutil.iter_modules(gateway.generate.__path__, "gateway.generate.")
)


def test_public_api() -> None:
    assert sorted(gateway.generate.__all__) == [
        "GENERATOR_VERSION", "GenerationParameters", "GenerationSummary", "build", "ensure",
    ]  # fmt: skip
    for name in gateway.generate.__all__:
        assert hasattr(gateway.generate, name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_importing_gateway_does_not_import_the_map_stack() -> None:
    code = "import sys, gateway, gateway.generate; print(sorted(m for m in ('geopandas', 'pyogrio', 'shapely') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
