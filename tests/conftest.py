"""Shared fixtures: a small generated warehouse, built once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.catalog import Catalog, load_catalog

# Live gateway servers (session fixtures shared by tests/api, tests/client and tests/cli).
pytest_plugins = ["tests.gateway_server", "tests.templates.fixtures"]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


SMALL_WAREHOUSE: dict[str, Any] = {"seed": 7, "years": 2, "scale": 0.05, "end_month": "2026-10"}
"""Parameters of the session's small generated warehouse (about 7,000 crimes, 2 s to build)."""


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a small generated warehouse and base maps, built once per session.

    ``warehouse.duckdb`` and ``basemaps.gpkg`` for :data:`SMALL_WAREHOUSE`; treat them as
    read-only (copy the directory to change anything).
    """
    from gateway.generate import build

    root = tmp_path_factory.mktemp("small-data")
    build(root, **SMALL_WAREHOUSE)
    return root
