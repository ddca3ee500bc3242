"""Fixtures for the API tests: the live server (tests/gateway_server.py) and, for comparison,
the query service opened in this process on the same data directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.principal import Principal
from gateway.service import QueryService
from gateway.users import UsersFile


@pytest.fixture(scope="session")
def service(demo_data_dir: DataDir) -> Iterator[QueryService]:
    """The service layer itself, on the live server's data directory."""
    with Deployment.open(demo_data_dir, workers=1) as deployment:
        yield deployment.service


@pytest.fixture(scope="session")
def principal_of(demo_data_dir: DataDir):  # type: ignore[no-untyped-def]
    """username → Principal, as users.toml says now."""
    directory = UsersFile(demo_data_dir.users)

    def lookup(username: str) -> Principal:
        principal = directory.principal(username, datetime.now(UTC))
        assert principal is not None
        return principal

    return lookup
