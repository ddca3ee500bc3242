"""Shared fixtures: a small generated warehouse, built once per test session; and the
register's database for the run (``GATEWAY_TEST_REGISTER``).

``GATEWAY_TEST_REGISTER=postgresql`` runs each test against a fresh schema of a throwaway
PostgreSQL cluster (``GATEWAY_REGISTER_STORE``, inherited by servers the test starts) instead of
``DIR/governance.sqlite``; e.g. the register's own suites::

    GATEWAY_TEST_REGISTER=postgresql python -m pytest tests/governance tests/auth
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog import Catalog, load_catalog

# Live gateway servers (session fixtures shared by tests/api, tests/client and tests/cli).
pytest_plugins = ["tests.gateway_server", "tests.templates.fixtures"]


#: Whether this run keeps the register in PostgreSQL (see the module docstring).
REGISTER_IN_POSTGRESQL = os.environ.get("GATEWAY_TEST_REGISTER", "") == "postgresql"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a PostgreSQL run, tests about the register's SQLite file itself are skipped."""
    if not REGISTER_IN_POSTGRESQL:
        return
    skip = pytest.mark.skip(reason="about DIR/governance.sqlite itself (register in PostgreSQL)")
    for item in items:
        if item.get_closest_marker("register_file"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def register_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a PostgreSQL run, a fresh register schema for each test."""
    if REGISTER_IN_POSTGRESQL:
        from gateway.register_store import REGISTER_STORE_VARIABLE
        from tests.postgres_cluster import shared_dsn

        schema = f"t_{uuid.uuid4().hex[:16]}"
        monkeypatch.setenv(REGISTER_STORE_VARIABLE, f"{shared_dsn()}#{schema}")


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
