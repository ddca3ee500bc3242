"""Shared fixtures: a small generated warehouse, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
