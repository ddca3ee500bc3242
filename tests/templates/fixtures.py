"""Session fixtures shared by the template, disclosure-on-templates and product tests.

A copy of the generated ``small_data_dir`` (the service writes its audit log and keys into its
data directory), a real query service on it with a fixed clock (so relative defaults such as
``@month-1`` are deterministic), a template runner, the demo users, and a raw read-only DuckDB
connection to the same warehouse for independent computations.

Registered for the whole suite through ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from gateway.cli.demo import SA_PURPOSE, demo_users
from gateway.datadir import DataDir
from gateway.deployment import PSEUDONYM_KEY, Deployment
from gateway.principal import Principal
from gateway.service import QueryService
from gateway.templates import TemplateLibrary, TemplateRunner, load_library

#: The day the tests pretend it is (the small warehouse ends with October 2026).
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
USERS: dict[str, Principal] = {u.username: u for u in demo_users(TODAY)}
#: The demo analysts every general-level template is meant for: one general analyst per
#: local authority and the enhanced analyst.
ANALYSTS = [
    u for u in USERS.values() if u.level in ("general", "enhanced") and "analyst" in u.roles
]
PURPOSE = SA_PURPOSE


@dataclass(frozen=True)
class Raw:
    """The raw warehouse (no policy): for independent computations, restricted by the test."""

    con: duckdb.DuckDBPyConnection

    def frame(self, sql: str, **params: Any) -> pl.DataFrame:
        return self.con.sql(sql, params=params or None).pl()


@pytest.fixture(scope="session")
def template_data_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy, with a fixed keyed-hash secret (pseudonyms and the cell key method's record
    keys) so that what the disclosure tests see replays: another with
    ``GATEWAY_ADVERSARY_SECRET``."""
    root = tmp_path_factory.mktemp("template-data")
    for name in ("warehouse.duckdb", "basemaps.gpkg"):
        if (small_data_dir / name).exists():
            shutil.copy2(small_data_dir / name, root / name)
    seed = os.environ.get("GATEWAY_ADVERSARY_SECRET", "differencing adversary").encode()
    secrets = DataDir(root).secrets_dir
    secrets.mkdir(mode=0o700)
    key = secrets / f"{PSEUDONYM_KEY}.key"
    key.write_text(hashlib.sha256(seed).hexdigest(), "ascii")
    key.chmod(0o600)
    return root


@pytest.fixture(scope="session")
def template_service(template_data_dir: Path) -> Iterator[QueryService]:
    with Deployment.open(DataDir(template_data_dir), workers=2) as deployment:
        deployment.service.clock = lambda: NOW
        yield deployment.service


@pytest.fixture(scope="session")
def library() -> TemplateLibrary:
    return load_library()


@pytest.fixture(scope="session")
def runner(template_service: QueryService, library: TemplateLibrary) -> TemplateRunner:
    return TemplateRunner(template_service, library)


@pytest.fixture(scope="session")
def raw(template_data_dir: Path) -> Iterator[Raw]:
    con = duckdb.connect(str(template_data_dir / "warehouse.duckdb"), read_only=True)
    yield Raw(con)
    con.close()


@pytest.fixture(scope="session")
def pseudonym_key(template_service: QueryService, template_data_dir: Path) -> bytes:
    return DataDir(template_data_dir).secret(PSEUDONYM_KEY)
