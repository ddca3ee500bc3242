"""Live gateway servers for the API, client and CLI tests.

A session fixture prepares one demo data directory (the generated ``small_data_dir`` when the
generator's fixture exists, else a tiny warehouse built here from the catalog DDL), gives it the
demo users and tokens (:func:`gateway.cli.demo.grant_demo_access`), and runs
``python -m gateway serve`` on a free loopback port. Tests talk to it over real HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from gateway.catalog import load_catalog
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir

REPO = Path(__file__).resolve().parents[1]

#: Settings the shared server runs with: generous limits so tests do not trip them by accident,
#: a small JSON cap so "huge result as JSON" is cheap to provoke.
SERVER_ENV = {
    "GATEWAY_MAX_JSON_RESULT_BYTES": str(256 * 1024),
    "GATEWAY_REQUESTS_PER_MINUTE": "100000",
    "GATEWAY_REQUEST_BURST": "100000",
    "GATEWAY_CONCURRENT_QUERIES": "8",
    "GATEWAY_FAILED_LOGINS_PER_MINUTE": "100000",
    "GATEWAY_FAILED_LOGIN_BURST": "100000",
    "GATEWAY_ENGINE_WORKERS": "3",
}


#: An aggregate answer of a few MB (a long note per LSOA and ASB type): larger than the shared
#: server's JSON cap and than one read of a stream, and not a record-level release, so it is
#: sent under the default release rules (a record-level answer that big must be exported).
BIG_AGGREGATE = {
    "sql": "SELECT lsoa_code, asb_type, count(*) AS incidents, repeat(asb_type, 200) AS note "
    "FROM incident GROUP BY ALL",
    "purpose": "SA-2026",
}


def build_tiny_warehouse(path: Path) -> None:
    """A small warehouse with every catalog table, records spread over the four authorities."""
    catalog = load_catalog()
    con = duckdb.connect(str(path))
    try:
        for table in catalog:
            con.execute(table.ddl())
        for statement in _TINY_DATA:
            con.execute(statement)
    finally:
        con.close()


_LA = "'E0600000' || (1 + i % 4)"
_TINY_DATA = [
    """INSERT INTO local_authority VALUES ('E06000001', 'Hartlepool', 92338, 93.7),
       ('E06000002', 'Middlesbrough', 143924, 53.9),
       ('E06000003', 'Redcar and Cleveland', 136531, 245.1),
       ('E06000004', 'Stockton-on-Tees', 196595, 204.9)""",
    f"""INSERT INTO neighbourhood SELECT 'N' || i, 'Neighbourhood ' || i, {_LA}, 20000
        FROM range(8) t(i)""",
    f"""INSERT INTO ward SELECT 'E0500000' || i, 'Ward ' || i, 'N' || i, {_LA}, 10000
        FROM range(8) t(i)""",
    f"""INSERT INTO lsoa SELECT 'E0100000' || i, 'LSOA ' || i, 'E0200000' || i, 'E0500000' || i,
        'N' || i, {_LA}, 1500, 1 + i FROM range(8) t(i)""",
    """INSERT INTO offence_type VALUES
       ('46', 'Shoplifting', 'shoplifting', 'Shoplifting', false),
       ('28E', 'Burglary - residential', 'burglary', 'Burglary', false),
       ('8N', 'Assault with injury', 'violent-crime', 'Violence and sexual offences', false),
       ('19C', 'Rape of a female aged 16 and over', 'violent-crime',
        'Violence and sexual offences', true),
       ('58A', 'Criminal damage to a dwelling', 'criminal-damage-arson',
        'Criminal damage and arson', false)""",
    f"""INSERT INTO map_point SELECT i, 'On or near Street ' || i, 'street',
        440000 + i * 1000, 520000 + i * 500, 'E0100000' || i, {_LA}, 12 FROM range(8) t(i)""",
    f"""INSERT INTO location SELECT i, CASE WHEN i % 3 = 0 THEN 'dwelling' ELSE 'street' END,
        (i % 90 + 1) || ' Street ' || (i % 8), 'Street ' || (i % 8), 'Town ' || (i % 4),
        'TS' || (1 + i % 4) || ' ' || (i % 9) || 'AB', 440000 + i * 7.5, 520000 + i * 3.25,
        i % 8, 'E0100000' || (i % 8), 'E0500000' || (i % 8), 'N' || (i % 8), {_LA}
        FROM range(400) t(i)""",
    """INSERT INTO person SELECT i, 'Forename' || i, 'SURNAME-' || i,
        DATE '1960-01-01' + (i * 37)::INTEGER, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
        'W1', i % 400, 'PNC/' || i FROM range(300) t(i)""",
    """INSERT INTO vehicle SELECT i, 'VRM' || i, 'Ford', 'Focus', 'Blue', 'car'
        FROM range(50) t(i)""",
    f"""INSERT INTO crime SELECT i, 'CR/' || lpad(i::VARCHAR, 6, '0'),
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 3) HOUR,
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 3 - 2) HOUR,
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 3 - 1) HOUR,
        ['46', '28E', '8N', '19C', '58A'][1 + i % 5],
        ['Shoplifting', 'Burglary', 'Assault', 'Rape', 'Damage'][1 + i % 5],
        ['shoplifting', 'burglary', 'violent-crime', 'violent-crime',
         'criminal-damage-arson'][1 + i % 5],
        i % 400, {_LA}, 'E0100000' || (i % 8), 'E0500000' || (i % 8), 'N' || (i % 8),
        i % 7 = 0, i % 11 = 0, 'MO-SECRET offender forced rear door ' || i, 'charged',
        TIMESTAMP '2025-02-01 00:00:00' + INTERVAL (i) HOUR FROM range(2000) t(i)""",
    f"""INSERT INTO incident SELECT i, 'INC/' || i,
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 2) HOUR, 'ASB', 'RESOLVED',
        1 + i % 5, TIMESTAMP '2025-01-01 00:30:00' + INTERVAL (i * 2) HOUR,
        TIMESTAMP '2025-01-01 03:00:00' + INTERVAL (i * 2) HOUR,
        ['personal', 'nuisance', 'environmental'][1 + i % 3], i % 400, {_LA},
        'E0100000' || (i % 8), CASE WHEN i % 3 = 0 THEN i % 2000 END,
        'NARRATIVE-SECRET caller reports ' || i FROM range(3000) t(i)""",
    f"""INSERT INTO custody SELECT i, 'CUS/' || i, i % 300,
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 5) HOUR,
        TIMESTAMP '2025-01-01 00:40:00' + INTERVAL (i * 5) HOUR,
        TIMESTAMP '2025-01-01 01:00:00' + INTERVAL (i * 5) HOUR,
        TIMESTAMP '2025-01-01 09:00:00' + INTERVAL (i * 5) HOUR, '46', 'Middlesbrough',
        'charged', i % 2000, i % 400, {_LA} FROM range(300) t(i)""",
    """INSERT INTO property SELECT i, i % 2000, 'cash', 'PROPERTY-SECRET item ' || i,
        (i * 12.5 + 0.25)::DECIMAL(12, 2), i % 4 = 0 FROM range(500) t(i)""",
    """INSERT INTO crime_person SELECT i, (i * 7) % 300,
        CASE WHEN i % 2 = 0 THEN 'victim' ELSE 'suspect' END FROM range(2000) t(i)""",
    """INSERT INTO crime_vehicle SELECT i * 3, i % 50, 'used' FROM range(200) t(i)""",
    """INSERT INTO incident_person SELECT i, (i * 11) % 300, 'caller' FROM range(1500) t(i)""",
    """INSERT INTO incident_vehicle SELECT i * 2, i % 50 FROM range(300) t(i)""",
    f"""INSERT INTO intelligence_report SELECT i,
        TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (i * 30) HOUR, i % 300, i % 400,
        ['A1', 'B2', 'C3'][1 + i % 3], {_LA}, 'INTEL-SECRET report ' || i FROM range(200) t(i)""",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveGateway:
    """A running ``gateway serve`` process."""

    url: str
    data_dir: Path
    tokens: dict[str, dict[str, Any]]
    process: subprocess.Popen[bytes]
    log: Path
    flight_url: str = ""  # grpc://127.0.0.1:PORT when started with Flight SQL

    def token(self, username: str) -> str:
        return str(self.tokens[username]["token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def client(self, username: str | None = None, timeout: float = 60.0) -> httpx.Client:
        headers = self.headers(username) if username else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def prepare_data_dir(source: Path | None, target: Path, *, governed: bool = False) -> DataDir:
    """A data directory of our own: the generated warehouse copied, or a tiny one built
    (``governed``: the demo users' access granted through the governance register)."""
    target.mkdir(parents=True, exist_ok=True)
    dd = DataDir(target)
    if source is not None:
        shutil.copyfile(DataDir(source).warehouse, dd.warehouse)
    else:
        build_tiny_warehouse(dd.warehouse)
    grant_demo_access(target, governed=governed)
    # A fixed cell-key secret: the live server's disclosure noise is the same in every run, so
    # a disclosure test that fails once fails again (and can be replayed) instead of flaking.
    dd.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = hashlib.sha256(b"tests: live gateway cell key").hexdigest()
    (dd.secrets_dir / "disclosure-cell-key.key").write_text(key, "ascii")
    return dd


def start_gateway(
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
    flight: bool = False,
    allow_ungoverned: bool = True,
    port: int | None = None,
) -> LiveGateway:
    """Run ``python -m gateway serve`` on a free port and wait until /healthz answers and the
    masked projections it builds in the background (the default) are switched in or failed, so
    tests see the server settled, its workers those that serve (with ``flight``, Arrow Flight
    SQL on another free port too: it is up once /healthz answers).

    The test directories give their users access from ``users.toml`` (quick to prepare), so
    the server is told ``--allow-ungoverned`` unless ``allow_ungoverned`` is false. ``port``:
    one chosen beforehand (a policy that names the gateway's own address); else a free one."""
    port = port or free_port()
    flight_args = ["--flight-port", str(free_port())] if flight else []
    log = data_dir / f"server-{port}.log"
    full_env = {**os.environ, **SERVER_ENV, **(env or {})}
    full_env.pop("GATEWAY_TOKEN", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *flight_args,
                *(["--allow-ungoverned"] if allow_ungoverned else []),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}"
    tokens = json.loads(DataDir(data_dir).demo_tokens.read_text("utf-8"))
    flight_url = f"grpc://127.0.0.1:{flight_args[1]}" if flight else ""
    gateway = LiveGateway(url, data_dir, tokens, process, log, flight_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{log.read_text(errors='replace')}")
        try:
            health = httpx.get(f"{url}/healthz", timeout=2)
            if health.status_code == 200 and health.json().get("projections") != "building":
                return gateway
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    gateway.stop()
    raise RuntimeError(f"gateway did not start in {timeout} s:\n{log.read_text(errors='replace')}")


def wait_settled(app: Any, timeout_s: float = 60.0) -> None:
    """Wait until an in-process app's masked projections (built in the background after the
    start, by default) are switched in or failed: from then on its audit log grows only by
    what the test does, and its engine workers are those that serve."""
    switch = app.state.runtime.deployment.projections
    if switch is not None:
        assert switch.wait(timeout_s), "the masked projections were not built in time"


def generated_source(request: pytest.FixtureRequest) -> Path | None:
    """The generator's ``small_data_dir`` when that fixture exists (else None: build tiny)."""
    try:
        value = request.getfixturevalue("small_data_dir")
    except pytest.FixtureLookupError:
        return None
    return Path(value.root if isinstance(value, DataDir) else value)


@pytest.fixture(scope="session")
def demo_data_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> DataDir:
    """A demo data directory (warehouse, default policy, demo users, tokens) of our own."""
    return prepare_data_dir(generated_source(request), tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture(scope="session")
def live_gateway(demo_data_dir: DataDir) -> Iterator[LiveGateway]:
    """One gateway server for the session, on loopback."""
    gateway = start_gateway(demo_data_dir.root)
    yield gateway
    gateway.stop()


#: A senior analyst who is nobody's designated senior analyst or deputy (release tests).
UNDESIGNATED_SENIOR = "d.brown"


@pytest.fixture(scope="session")
def release_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """A gateway with the demo users (analysts → s.patel, deputy m.hughes; s.patel → m.hughes)
    and one more senior analyst, d.brown, designated for no one: for release control and
    product QA under the default policy."""
    from datetime import date

    from gateway.cli.demo import ALL_AREAS, SA_PURPOSE, demo_users, users_toml
    from gateway.principal import Principal

    root = tmp_path_factory.mktemp("release") / "data"
    root.mkdir(parents=True)
    other = Principal(
        UNDESIGNATED_SENIOR,
        "Cleveland Police",
        "general",
        areas=ALL_AREAS,
        purposes=(SA_PURPOSE,),
        roles=frozenset({"senior_analyst"}),
        senior_analysts=("s.patel",),
    )
    users = [*demo_users(date.today()), other]
    DataDir(root).users.write_text(users_toml(users), "utf-8")
    prepare_data_dir(generated_source(request), root)
    gateway = start_gateway(root)
    yield gateway
    gateway.stop()
