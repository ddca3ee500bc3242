"""Fixtures for the export tests: a copy of the small generated warehouse with its own audit
log, a policy that holds record-level exports for approval, and a real service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.service import QueryService
from tests.exports.helpers import make_data_dir
from tests.gateway_server import LiveGateway, start_gateway


@pytest.fixture(scope="session")
def export_dir(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    return make_data_dir(small_data_dir, tmp_path_factory.mktemp("exports") / "gw")


@pytest.fixture(scope="session")
def service(export_dir: DataDir) -> Iterator[QueryService]:
    with Deployment.open(export_dir, workers=2) as deployment:
        yield deployment.service


@pytest.fixture(scope="session")
def export_gateway(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    root = tmp_path_factory.mktemp("exports-api") / "gw"
    make_data_dir(small_data_dir, root)
    grant_demo_access(root)
    live = start_gateway(root)
    yield live
    live.stop()
