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
    GATEWAY_ENGINE_WORKERS              engine worker processes (default max(4, cores))
    GATEWAY_TOKEN_DAYS                  lifetime of tokens issued through the API (default 90)

Example:
    >>> s = GatewaySettings.from_env({"GATEWAY_DATA_DIR": "/srv/gw", "GATEWAY_REQUEST_BURST": "5"})
    >>> s.data_dir.name, s.request_burst, s.max_request_bytes
    ('gw', 5, 1048576)
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
        token_days: lifetime of tokens issued through the API.
    """

    data_dir: Path = Path("demo-data")
    max_request_bytes: int = 1 << 20
    max_json_result_bytes: int = 64 << 20
    requests_per_minute: float = 600.0
    request_burst: int = 60
    concurrent_queries: int = 2
    failed_logins_per_minute: float = 30.0
    failed_login_burst: int = 30
    engine_workers: int | None = None
    token_days: int = 90

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ConfigurationError(f"setting {field.name} must be positive, got {value}")

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
        if kind == "Path":
            return Path(raw)
        if kind.startswith("int"):
            return int(raw.replace("_", ""))
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"{_PREFIX}{name.upper()}={raw!r} is not a valid {kind.split()[0]}"
        ) from exc
    return raw


@functools.cache
def get_settings() -> GatewaySettings:
    """The process's settings from its environment (read once, then cached)."""
    return GatewaySettings.from_env(os.environ)
