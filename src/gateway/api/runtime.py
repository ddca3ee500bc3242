"""Everything one serving process holds: the query service and the parts around it.

Opened once by the app's lifespan and kept on ``app.state.runtime`` (no module-level state).
The principal directory and the authenticator are parameters, so the governance store (a
grant-backed directory) or an OIDC authenticator can be put in without changing the API.

Example:
    >>> runtime = open_runtime(GatewaySettings(data_dir=Path("demo-data")))  # doctest: +SKIP
    >>> runtime.service.engine.stats().workers                              # doctest: +SKIP
    4
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gateway.api.metrics import Metrics
from gateway.api.review import AuditReview
from gateway.api.settings import GatewaySettings
from gateway.auth.authenticate import Authenticator, BearerTokenAuthenticator
from gateway.auth.limits import UsageLimits
from gateway.auth.tokens import TokenStore
from gateway.datadir import DataDir
from gateway.deployment import open_directory, open_service
from gateway.engines import EngineTuning
from gateway.exports.retention import apply_retention
from gateway.principal import PrincipalDirectory
from gateway.service import QueryService

__all__ = ["AuthenticatorFactory", "GatewayRuntime", "engine_tuning", "open_runtime"]

#: Builds the authenticator from the opened parts (the default: bearer tokens).
AuthenticatorFactory = Callable[
    [TokenStore, PrincipalDirectory, QueryService, UsageLimits], Authenticator
]


def bearer_tokens(
    tokens: TokenStore, directory: PrincipalDirectory, service: QueryService, limits: UsageLimits
) -> Authenticator:
    """The default authenticator: ``pgw_`` bearer tokens from the token store."""
    return BearerTokenAuthenticator(
        tokens, directory, service.audit, failed_logins=limits.failed_logins
    )


@dataclass(frozen=True)
class GatewayRuntime:
    """The serving process's parts.

    Attributes:
        settings: how it serves.
        data_dir: the deployment's files.
        service: the query service (policy, rewrite, audit, engine).
        tokens: the API token store.
        directory: resolves usernames to principals (users.toml by default).
        authenticator: turns credentials into principals.
        limits: per-user rate and concurrency limits.
        review: audit review for senior analysts.
        metrics: Prometheus counters.
    """

    settings: GatewaySettings
    data_dir: DataDir
    service: QueryService
    tokens: TokenStore
    directory: PrincipalDirectory
    authenticator: Authenticator
    limits: UsageLimits
    review: AuditReview
    metrics: Metrics

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(days=self.settings.token_days)

    def close(self) -> None:
        """Stop the engine's workers and close the audit log."""
        self.service.close()


def engine_tuning(settings: GatewaySettings) -> EngineTuning:
    """The engine's fair-scheduling and liveness knobs from the settings (others default).

    Example:
        >>> engine_tuning(GatewaySettings(engine_user_share=0.25)).user_share
        0.25
    """
    return EngineTuning(
        user_share=settings.engine_user_share,
        reserved_workers=settings.engine_reserved_workers,
        queue_timeout_s=settings.engine_queue_timeout_s,
        liveness_deadline_s=settings.engine_liveness_s,
    )


def open_runtime(
    settings: GatewaySettings,
    *,
    directory: PrincipalDirectory | None = None,
    authenticator: AuthenticatorFactory = bearer_tokens,
    metrics: Metrics | None = None,
) -> GatewayRuntime:
    """Open the service for ``settings.data_dir`` and everything the API needs around it.

    Raises:
        ConfigurationError: no warehouse, an invalid policy or users file.
        AuditUnavailable: the audit log cannot be opened.
    """
    data_dir = DataDir(Path(settings.data_dir))
    service = open_service(data_dir, workers=settings.workers, tuning=engine_tuning(settings))
    try:
        apply_retention(service, data_dir)  # delete export files past [exports] retention_days
        tokens = TokenStore(data_dir.governance)
        directory = directory or open_directory(data_dir)
        limits = UsageLimits.build(
            requests_per_minute=settings.requests_per_minute,
            request_burst=settings.request_burst,
            concurrent_queries=settings.concurrent_queries,
            failed_logins_per_minute=settings.failed_logins_per_minute,
            failed_login_burst=settings.failed_login_burst,
        )
        review = AuditReview(data_dir, service.audit, service.policy, service.catalog, directory)
        return GatewayRuntime(
            settings=settings,
            data_dir=data_dir,
            service=service,
            tokens=tokens,
            directory=directory,
            authenticator=authenticator(tokens, directory, service, limits),
            limits=limits,
            review=review,
            metrics=metrics or Metrics(),
        )
    except BaseException:
        service.close()
        raise
