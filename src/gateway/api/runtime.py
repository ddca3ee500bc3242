"""Everything one serving process holds: the deployment and the parts the API adds around it.

Opened once by the app's lifespan and kept on ``app.state.runtime`` (no module-level state).
The deployment (:class:`~gateway.deployment.Deployment`, the composition root) opens the
service, audit log, directory, tokens and governance; the runtime adds the HTTP side: limits,
the authenticator, audit review and metrics.

Example:
    >>> runtime = open_runtime(GatewaySettings(data_dir=Path("demo-data")))  # doctest: +SKIP
    >>> runtime.service.engine.stats().workers                              # doctest: +SKIP
    4
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gateway.api.metrics import Metrics
from gateway.api.review import AuditReview
from gateway.api.settings import GatewaySettings
from gateway.auth.authenticate import Authenticator
from gateway.auth.limits import UsageLimits
from gateway.auth.tokens import TokenStore
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.engines import EngineTuning
from gateway.exports.retention import apply_retention
from gateway.governance.service import GovernanceService
from gateway.principal import PrincipalDirectory
from gateway.service import QueryService

__all__ = ["GatewayRuntime", "engine_tuning", "open_runtime"]


@dataclass(frozen=True)
class GatewayRuntime:
    """The serving process's parts.

    Attributes:
        settings: how it serves.
        deployment: the data directory's parts (service, audit, directory, tokens, governance).
        authenticator: turns credentials into principals.
        limits: per-user rate and concurrency limits.
        review: audit review for senior analysts.
        metrics: Prometheus counters.
    """

    settings: GatewaySettings
    deployment: Deployment
    authenticator: Authenticator
    limits: UsageLimits
    review: AuditReview
    metrics: Metrics

    @property
    def data_dir(self) -> DataDir:
        return self.deployment.data_dir

    @property
    def service(self) -> QueryService:
        return self.deployment.service

    @property
    def tokens(self) -> TokenStore:
        return self.deployment.tokens

    @property
    def directory(self) -> PrincipalDirectory:
        return self.deployment.directory

    @property
    def governance(self) -> GovernanceService:
        return self.deployment.governance

    @property
    def token_lifetime(self) -> timedelta:
        """The server's default lifetime, within the policy's cap."""
        cap = self.service.policy.tokens.max_lifetime
        return min(timedelta(days=self.settings.token_days), cap)

    def close(self) -> None:
        """Stop the engine's workers and close the audit log."""
        self.deployment.close()


def engine_tuning(settings: GatewaySettings) -> EngineTuning:
    """The engine's fair-scheduling and liveness knobs from the settings (others default).

    Example:
        >>> engine_tuning(GatewaySettings(engine_user_share=0.25)).user_share
        0.25
    """
    return EngineTuning(
        threads_per_worker=settings.engine_threads,
        user_share=settings.engine_user_share,
        reserved_workers=settings.engine_reserved_workers,
        queue_timeout_s=settings.engine_queue_timeout_s,
        liveness_deadline_s=settings.engine_liveness_s,
    )


def open_runtime(settings: GatewaySettings, *, metrics: Metrics | None = None) -> GatewayRuntime:
    """Open the deployment at ``settings.data_dir`` and everything the API needs around it.

    Raises:
        ConfigurationError: no warehouse, an invalid policy or users file.
        AuditUnavailable: the audit log cannot be opened.
    """
    deployment = Deployment.open(
        Path(settings.data_dir),
        workers=settings.workers,
        tuning=engine_tuning(settings),
        warm_audit_tables=True,
        spark=settings.spark_master,
        projections=settings.projections and settings.spark_master is None,
        projections_in_background=True,  # serve at once, live, until they are built
    )
    try:
        service = deployment.service
        if deployment.warehouse_refresh is not None:
            deployment.warehouse_refresh.start(settings.warehouse_check_s)
        apply_retention(service, deployment.data_dir)  # export files past retention_days
        limits = UsageLimits.build(
            requests_per_minute=settings.requests_per_minute,
            request_burst=settings.request_burst,
            concurrent_queries=settings.concurrent_queries,
            failed_logins_per_minute=settings.failed_logins_per_minute,
            failed_login_burst=settings.failed_login_burst,
        )
        review = AuditReview(
            deployment.data_dir,
            service.audit,
            service.policy,
            service.catalog,
            deployment.directory,
        )
        return GatewayRuntime(
            settings=settings,
            deployment=deployment,
            authenticator=deployment.authenticator(limits.failed_logins),
            limits=limits,
            review=review,
            metrics=metrics or Metrics(),
        )
    except BaseException:
        deployment.close()
        raise
