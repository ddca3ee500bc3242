"""The HTTP service's settings: one frozen value, read from ``GATEWAY_*`` environment variables.

There is no module-level settings object: :func:`get_settings` reads the environment once and
caches the result; :func:`gateway.api.app.create_app` takes explicit settings instead (tests,
``gateway serve``), and keeps them on ``app.state``.

    GATEWAY_DATA_DIR                    data directory (required to serve)
    GATEWAY_MAX_REQUEST_BYTES           largest request body (default 1 MiB)        → 413
    GATEWAY_MAX_JSON_RESULT_BYTES       largest result sent as JSON (default 64 MiB) → 413
    GATEWAY_REQUESTS_PER_MINUTE         per-user request rate (default 600)
    GATEWAY_REQUEST_BURST               per-user burst (default 60)                 → 429
    GATEWAY_CONCURRENT_QUERIES          per-user concurrent queries (default 2)     → 429
    GATEWAY_FAILED_LOGINS_PER_MINUTE    per-address failed logins (default 30)
    GATEWAY_FAILED_LOGIN_BURST          per-address burst of failures (default 30)  → 429
    GATEWAY_ENGINE                      duckdb (default) | spark | spark:MASTER (e.g. spark://h:7077;
                                        Spark reads DIR/lake, see `gateway warehouse publish`)
    GATEWAY_ENGINE_WORKERS              engine worker processes (default max(4, cores))
    GATEWAY_ENGINE_THREADS              DuckDB threads per worker (default: the cores)
    GATEWAY_PROJECTIONS                 0: no masked projections; policy runs live (default 1)
    GATEWAY_WAREHOUSE_CHECK_S           look for a replaced warehouse file this often (default 10)
    GATEWAY_ENGINE_USER_SHARE           fraction of the workers one user may hold (0.5)
    GATEWAY_ENGINE_RESERVED_WORKERS     workers kept for users running nothing (default 1)
    GATEWAY_ENGINE_QUEUE_TIMEOUT_S      longest wait for a worker (default 10)      → 503
    GATEWAY_ENGINE_LIVENESS_S           a stopped/dead idle worker is replaced after (1)
    GATEWAY_TOKEN_DAYS                  lifetime of tokens issued through the API (default 90)
    GATEWAY_MAX_TEXT_ROW_BYTES          largest row sent as CSV/JSON (default 16 MiB) → 413
    GATEWAY_SEND_TIMEOUT_S              close a response its client does not read (default 30)
    GATEWAY_RESULT_QUOTA_BYTES          per-user disk for results/exports in flight (2 GiB) → 429
    GATEWAY_ENCODING_THREADS            big CSV/JSON/Parquet answers encoded at once (default 2)
    GATEWAY_HEADER_TIMEOUT_S            a request's head and body must arrive within (default 10)
    GATEWAY_KEEP_ALIVE_S                idle keep-alive connections closed after (default 5)
    GATEWAY_MAX_CONNECTIONS             open connections; idle/incomplete ones evicted (1000)
    GATEWAY_MAX_REQUESTS_IN_FLIGHT      requests handled at once; more get 503 (default 200)
    GATEWAY_SHUTDOWN_GRACE_S            SIGTERM: wait for work in flight this long (default 10)
    GATEWAY_SWEEP_INTERVAL_S            look for leftover result files this often (default 60)
    GATEWAY_FLIGHT_PORT                 serve Arrow Flight SQL on this port too (default: off)
    GATEWAY_FLIGHT_HOST                 address the Flight SQL server listens on (127.0.0.1)
    GATEWAY_FLIGHT_TLS_CERT, _KEY       PEM certificate chain and key: Flight SQL over TLS
    GATEWAY_FLIGHT_TICKET_TTL_S         a Flight result waits this long for its DoGet (60)

Example:
    >>> s = GatewaySettings.from_env({"GATEWAY_DATA_DIR": "/srv/gw", "GATEWAY_REQUEST_BURST": "5"})
    >>> s.data_dir.name, s.request_burst, s.max_request_bytes, s.projections
    ('gw', 5, 1048576, True)
    >>> GatewaySettings.from_env({"GATEWAY_PROJECTIONS": "0"}).projections
    False
    >>> GatewaySettings.from_env({"GATEWAY_PROJECTIONS": "maybe"})
    Traceback (most recent call last):
    ...
    gateway.errors.ConfigurationError: GATEWAY_PROJECTIONS='maybe' is not a valid bool
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigurationError

__all__ = ["GatewaySettings", "get_settings"]

_PREFIX = "GATEWAY_"


@dataclass(frozen=True)
class GatewaySettings:
    """How one gateway process serves.

    Attributes:
        data_dir: the deployment's data directory (see :class:`gateway.datadir.DataDir`).
        max_request_bytes: largest request body accepted.
        max_json_result_bytes: largest spilled result (Arrow bytes) sent as JSON; bigger ones
            are refused with 413 ``too_large`` and a pointer to arrow/csv/parquet.
        requests_per_minute, request_burst: per-user token bucket.
        concurrent_queries: per-user cap on queries running at once.
        failed_logins_per_minute, failed_login_burst: per-address budget of failed logins.
        engine_workers: engine worker processes (None: max(4, CPU cores)).
        engine_threads: DuckDB threads in each engine worker (None: the CPU cores the server
            may use; a lone query scans with all of them).
        engine_user_share: fraction of the workers one user may hold at once (at least one
            worker); further queries of theirs wait for one of their own to end.
        engine_reserved_workers: free workers kept for users who have nothing running.
        engine_queue_timeout_s: how long a query waits for a worker before 503 ``busy``.
        engine_liveness_s: an idle worker that is stopped or dead this long is replaced.
        projections: materialise the known principals' policy subqueries once built in the
            background after the start (:mod:`gateway.projections`), so their queries scan
            plain columns (on by default; off: every policy subquery runs live, no file).
        warehouse_check_s: how often the server looks for a replaced warehouse file, and takes
            it up once it stood still that long (:mod:`gateway.warehouse_refresh`; DuckDB).
        token_days: lifetime of tokens issued through the API.
        max_text_row_bytes: largest row (Arrow bytes) sent as CSV or JSON; results with a
            bigger one are refused with 413 ``too_large`` (and audited so).
        send_timeout_s: a response whose client reads nothing for this long is closed and its
            result file deleted.
        result_quota_bytes: per user, the disk results and exports in flight may hold (a
            running query counts at its level's ``max_result_bytes``); beyond it new queries
            are refused with 429 ``disk_quota``.
        encoding_threads: big CSV/JSON/Parquet answers encoded at the same time.
        header_timeout_s: a request's head (and body) must arrive within this; idle new
            connections are closed after it too.
        keep_alive_s: idle keep-alive connections are closed after this.
        max_connections: open connections; past it, the oldest idle or incomplete ones are
            closed (a busy server refuses the new one).
        max_requests_in_flight: requests handled at once; more are answered 503.
        shutdown_grace_s: on SIGTERM, how long work in flight may take to end.
        sweep_interval_s: how often leftover result files are looked for while serving.
        flight_port: also serve Arrow Flight SQL (:mod:`gateway.api.flight`) on this port.
        flight_host: the address the Flight SQL server listens on.
        flight_tls_cert, flight_tls_key: PEM files; with both, Flight SQL is served over TLS
            (``grpc+tls``).
        flight_ticket_ttl_s: how long a Flight SQL result waits for its ``DoGet``.
        lifecycle_interval_s: how often a governed gateway runs its lifecycle schedule
            (access reviews, code-of-connection reminders, inactivity; :mod:`gateway.api.lifecycle`).
        retention_interval_s: how often the server disposes of what is past the policy's
            retention schedules (audit records, product manifests; :mod:`gateway.api.retention`;
            0 = never: disposal by ``gateway audit dispose`` only).
    """

    data_dir: Path = Path("demo-data")
    max_request_bytes: int = 1 << 20
    max_json_result_bytes: int = 64 << 20
    requests_per_minute: float = 600.0
    request_burst: int = 60
    concurrent_queries: int = 2
    failed_logins_per_minute: float = 30.0
    failed_login_burst: int = 30
    engine: str = "duckdb"
    engine_workers: int | None = None
    engine_threads: int | None = None
    engine_user_share: float = 0.5
    engine_reserved_workers: int = 1
    engine_queue_timeout_s: float = 10.0
    engine_liveness_s: float = 1.0
    projections: bool = True
    warehouse_check_s: float = 10.0
    token_days: int = 90
    max_text_row_bytes: int = 16 << 20
    send_timeout_s: float = 30.0
    result_quota_bytes: int = 2 << 30
    encoding_threads: int = 2
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_connections: int = 1000
    max_requests_in_flight: int = 200
    shutdown_grace_s: float = 10.0
    sweep_interval_s: float = 60.0
    flight_port: int | None = None
    flight_host: str = "127.0.0.1"
    flight_tls_cert: Path | None = None
    flight_tls_key: Path | None = None
    flight_ticket_ttl_s: float = 60.0
    lifecycle_interval_s: float = 3600.0
    retention_interval_s: float = 86400.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ConfigurationError(f"setting {field.name} must be positive, got {value}")
        if self.engine != "duckdb" and not (
            self.engine == "spark" or (self.engine.startswith("spark:") and self.engine[6:])
        ):
            raise ConfigurationError(
                f"engine must be duckdb, spark or spark:MASTER, not {self.engine!r}"
            )

    @property
    def spark_master(self) -> str | None:
        """The Spark master when the engine is Spark (``spark`` alone: local mode), else None.

        Example:
            >>> GatewaySettings(engine="spark:spark://h:7077").spark_master
            'spark://h:7077'
            >>> GatewaySettings(engine="spark").spark_master, GatewaySettings().spark_master
            ('local[2]', None)
        """
        if self.engine == "duckdb":
            return None
        return self.engine.removeprefix("spark").removeprefix(":") or "local[2]"

    @property
    def workers(self) -> int:
        """Engine workers to start."""
        return self.engine_workers or max(4, os.cpu_count() or 1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> GatewaySettings:
        """Settings from ``GATEWAY_*`` variables; ``overrides`` win over the environment.

        Raises:
            ConfigurationError: a variable that is not a valid value for its setting.
        """
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _parse(field.name, str(field.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ConfigurationError(f"unknown setting: {exc}") from exc


def _parse(name: str, kind: str, raw: str) -> object:
    try:
        if kind.startswith("Path"):
            return Path(raw)
        if kind.startswith("int"):
            return int(raw.replace("_", ""))
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() not in {"0", "1", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes", "on"}
    except ValueError as exc:
        raise ConfigurationError(
            f"{_PREFIX}{name.upper()}={raw!r} is not a valid {kind.split()[0]}"
        ) from exc
    return raw


@functools.cache
def get_settings() -> GatewaySettings:
    """The process's settings from its environment (read once, then cached)."""
    return GatewaySettings.from_env(os.environ)
