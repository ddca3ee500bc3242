"""The composition root: the one place that opens a deployment's parts from its data directory —
catalog, policy, audit log, principal directory, token store, governance and the query service
with its DuckDB engine — and closes them once.

The API's lifespan, every CLI command that needs more than a file, and the tests open a
:class:`Deployment`; nothing else assembles these parts. Commands that only administer (tokens,
access governance, retention) open it without the engine (``engine=False``): the warehouse need
not exist, and no worker process starts.

Example:
    >>> with Deployment.open(DataDir(Path("demo-data")), workers=1) as deployment:  # doctest: +SKIP
    ...     deployment.service.run_query(principal, "SELECT 1", purpose="SA-2026")
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.live import LiveAuditTables
from gateway.audit.log import AuditLog
from gateway.audit.tables import SCHEMAS as AUDIT_SCHEMAS
from gateway.auth.authenticate import Authenticator, BearerTokenAuthenticator
from gateway.auth.limits import TokenBucket
from gateway.auth.oidc import OidcProvider
from gateway.auth.signin import SignIn
from gateway.auth.tokens import TokenStore
from gateway.catalog import Catalog, load_catalog
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.disclosure.resources import DisclosureResources
from gateway.engines import DuckDBEngine, EngineTuning, QueryLimits
from gateway.engines.hardening import file_identity
from gateway.engines.spark.engine import SparkEngine
from gateway.errors import ConfigurationError, GatewayError
from gateway.governance.admission import GovernedAuthenticator, admit
from gateway.governance.directory import GovernanceDirectory, has_register
from gateway.governance.service import GovernanceService
from gateway.governance.store import GovernanceStore
from gateway.lifetime import ClosesOnExit
from gateway.policy import Policy, load_default_policy, load_policy
from gateway.policy.masks import PSEUDONYM_MACRO, pseudonym_session_variables
from gateway.policy.model import LevelLimits
from gateway.policy.projection import (
    PROJECTION_CATALOG,
    ProjectionIndex,
    ProjectionSource,
    materialisable,
)
from gateway.policy.view import view_for
from gateway.principal import Principal, PrincipalDirectory
from gateway.projection_switch import ProjectionSwitch
from gateway.projections import ensure_projections
from gateway.pseudonym_vault import VAULT_CATALOG, ensure_vault, vault_domains
from gateway.rewrite import PolicySql
from gateway.service import QueryService
from gateway.users import UsersFile
from gateway.warehouse_refresh import Rebuilt, WarehouseRefresh

__all__ = [
    "PSEUDONYM_KEY",
    "Deployment",
    "arrow_to_sql_type",
    "load_deployment_policy",
]

#: Name of the pseudonym HMAC key under ``DIR/secrets/``.
PSEUDONYM_KEY = "pseudonym"


def arrow_to_sql_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type name for an Arrow type (for the rewriter's view of extra schemas)."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"{arrow_to_sql_type(arrow_type.value_type)}[]"
    return "VARCHAR"


def load_deployment_policy(data_dir: DataDir, catalog: Catalog) -> Policy:
    """The data directory's ``policy.toml``, or the packaged default when there is none."""
    if data_dir.policy.exists():
        return load_policy(data_dir.policy, catalog)
    return load_default_policy(catalog)


class Deployment(ClosesOnExit):
    """A data directory's parts, opened once by :meth:`open` and closed once by :meth:`close`.

    Attributes:
        data_dir: the deployment's files.
        catalog, policy: the warehouse contract and the policy (``DIR/policy.toml`` or the
            packaged default).
        audit: the audit log (every part writes to this one).
        directory: where principals come from: the governance register when
            ``DIR/governance.sqlite`` holds one (grants drive enforcement; ``users.toml`` keeps
            only its bootstrap administrators), else ``DIR/users.toml``.
    """

    def __init__(
        self,
        data_dir: DataDir,
        catalog: Catalog,
        policy: Policy,
        audit: AuditLog,
        service: QueryService | None = None,
        audit_tables: LiveAuditTables | None = None,
        projections: ProjectionSwitch | None = None,
        warehouse_refresh: WarehouseRefresh | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.catalog = catalog
        self.policy = policy
        self.audit = audit
        self._service = service
        self._audit_tables = audit_tables
        #: The masked projections being built while serving (``projections_in_background``).
        self.projections = projections
        #: Takes up a refreshed warehouse file (DuckDB; a server starts it:
        #: ``GATEWAY_WAREHOUSE_CHECK_S``).
        self.warehouse_refresh = warehouse_refresh
        self.directory = self.principal_directory(data_dir)

    @staticmethod
    def principal_directory(data_dir: DataDir) -> PrincipalDirectory:
        """Where principals come from: the governance register when ``DIR/governance.sqlite``
        holds one, else ``DIR/users.toml`` (also for read-only tools that need no more of the
        deployment, e.g. the dormant-users report)."""
        if has_register(data_dir):
            return GovernanceDirectory.open(data_dir)
        return UsersFile(data_dir.users)

    @classmethod
    def open(
        cls,
        data_dir: DataDir | Path,
        *,
        engine: bool = True,
        workers: int | None = None,
        tuning: EngineTuning | None = None,
        audit_checkpoint_every: int = 100,
        warm_audit_tables: bool = False,
        spark: str | None = None,
        projections: bool = False,
        projections_in_background: bool = False,
    ) -> Deployment:
        """Open a data directory: the policy, the audit log and, with ``engine``, the query
        service over the warehouse. ``warm_audit_tables`` (a server) builds or catches up the
        ``audit.*`` tables file in the background at once; otherwise the first audit query does.
        ``spark`` (a Spark master: ``local[2]``, ``spark://host:7077``) runs queries on Spark
        over ``DIR/lake`` (``gateway warehouse publish``) instead of DuckDB. ``projections``
        materialises the policy subqueries of every known principal's views first
        (:mod:`gateway.projections`; DuckDB only), so their queries scan plain columns;
        ``projections_in_background`` (a server) serves live at once and switches to them once
        built (:mod:`gateway.projection_switch`, :attr:`projections`).

        Raises:
            ConfigurationError: no warehouse (with ``engine``), an invalid policy or users file,
                or an unusable directory.
            AuditUnavailable: the audit log cannot be opened (nothing will run without it), or
                it fails its startup check — cut, rolled back (against the checkpoints and any
                ``GATEWAY_AUDIT_WITNESS_FILE``), forged or damaged — and no operator has
                acknowledged that (``gateway audit acknowledge``).
        """
        data_dir = data_dir if isinstance(data_dir, DataDir) else DataDir(data_dir)
        if engine and not data_dir.warehouse.is_file():
            raise ConfigurationError(
                f"no warehouse at {data_dir.warehouse}; run `gateway demo --data-dir "
                f"{data_dir.root}` or `gateway generate` first"
            )
        catalog = load_catalog()
        policy = load_deployment_policy(data_dir, catalog)
        audit = AuditLog.open(data_dir, checkpoint_every=audit_checkpoint_every)
        try:
            if not engine:
                return cls(data_dir, catalog, policy, audit)
            live = LiveAuditTables(audit.store, data_dir.audit_tables)
            service, switch, refresh = _open_service(
                data_dir,
                catalog,
                policy,
                audit,
                live,
                workers=workers,
                tuning=tuning,
                warm_audit_tables=warm_audit_tables,
                spark=spark,
                projections=projections,
                projections_in_background=projections_in_background,
            )
            deployment = cls(data_dir, catalog, policy, audit, service, live, switch, refresh)
            if switch is not None:
                switch.start()
            return deployment
        except BaseException:
            audit.close()
            raise

    @property
    def service(self) -> QueryService:
        """The query service (policy, rewrite, audit, engine)."""
        if self._service is None:
            raise ConfigurationError("this deployment was opened without its engine")
        return self._service

    @cached_property
    def tokens(self) -> TokenStore:
        """The API token store (``DIR/governance.sqlite``)."""
        return TokenStore(self.data_dir.governance)

    @cached_property
    def governance(self) -> GovernanceService:
        """The access-governance process over ``DIR/governance.sqlite`` (on the service's
        clock when the engine is open)."""
        service = self._service

        def clock() -> datetime:
            return service.clock() if service is not None else utc_now()

        return GovernanceService(
            GovernanceStore(self.data_dir.governance), self.audit, self.policy, clock
        )

    @cached_property
    def signin(self) -> SignIn:
        """Web sign-in by the policy's ``[login]`` rules: accounts and sessions in
        ``DIR/governance.sqlite``."""
        return SignIn.open(self.data_dir.governance, self.directory, self.audit, self.policy.login)

    @cached_property
    def oidc(self) -> OidcProvider | None:
        """The policy's OpenID Connect provider (``[login.oidc]``), or None."""
        settings = self.policy.login.oidc
        return OidcProvider(settings) if settings is not None else None

    def authenticator(self, failed_logins: TokenBucket | None = None) -> Authenticator:
        """Bearer tokens from the token store (refused while their owner's sign-in account is
        locked, or their owner is idle past the policy's ``token_idle_minutes``), plus the governance register's origin and precondition checks when the
        directory is the register."""
        inner = BearerTokenAuthenticator(
            self.tokens,
            self.directory,
            self.audit,
            failed_logins=failed_logins,
            owner_refusal=self.signin.token_refusal,
        )
        if not isinstance(self.directory, GovernanceDirectory):
            return inner
        return GovernedAuthenticator(inner, self.directory, self.audit, clock=self.service.clock)

    def admit(self, principal: Principal, client_address: str) -> None:
        """The register's origin and precondition checks for a principal authenticated by a
        web session (tokens get them from :meth:`authenticator`); nothing without a register.

        Raises:
            NetworkNotPermitted, PreconditionMissing, VettingExpired: refused (audited).
        """
        if isinstance(self.directory, GovernanceDirectory):
            admit(self.directory, self.audit, principal, client_address, self.service.clock())

    def close(self) -> None:
        """Stop catching up the audit tables, stop the engine's workers, then close the
        audit log."""
        if self._audit_tables is not None:
            self._audit_tables.stop()
        if self.warehouse_refresh is not None:
            self.warehouse_refresh.stop()
        if self._service is not None:
            self._service.engine.close()
        self.audit.close()


def _open_service(
    data_dir: DataDir,
    catalog: Catalog,
    policy: Policy,
    audit: AuditLog,
    live: LiveAuditTables,
    *,
    workers: int | None,
    tuning: EngineTuning | None,
    warm_audit_tables: bool,
    spark: str | None = None,
    projections: bool = False,
    projections_in_background: bool = False,
) -> tuple[QueryService, ProjectionSwitch | None, WarehouseRefresh | None]:
    """The query service over the warehouse, with the engine's workers started (and the
    projections still to build, when they are built in the background), and what takes up a
    refreshed warehouse file (not started; DuckDB only)."""
    audit.record(
        AccessEvent(
            EventKind.POLICY_LOADED,
            "system",
            "",
            subject=policy.source,
            extra={"policy_hash": policy.version},
        )
    )

    # The audit tables live in a derived DuckDB file (``live``), caught up before each audit
    # query.
    limits = max(
        (lvl.limits for lvl in policy.levels.values()), key=lambda lim: lim.memory_limit_mb
    )
    key = data_dir.secret(PSEUDONYM_KEY)
    # Before the engine: its protection processes start the shared fork server with their
    # module preloaded beside the engine workers' (gateway.disclosure.isolation).
    disclosure = DisclosureResources.open(data_dir.disclosure_ledger)
    if spark is not None:
        spark_service = _spark_service(
            data_dir, catalog, policy, audit, spark, key, limits, disclosure
        )
        return spark_service, None, None
    # Before the vault and projections are built: the version of the file they come from, the
    # only one a worker will open (a replaced file is taken up by the WarehouseRefresh).
    identity = file_identity(data_dir.warehouse)
    domains = vault_domains(policy, catalog)
    vault_path = ensure_vault(data_dir.pseudonyms, data_dir.warehouse, key, domains)
    policy_sql = PolicySql(vault={d.name: d.value_type for d in domains.values()})
    attachments = {VAULT_CATALOG: vault_path}
    if projections and not projections_in_background:
        path, index = _build_projections(data_dir, catalog, policy, audit, policy_sql, key)
        attachments[PROJECTION_CATALOG] = path
        policy_sql = PolicySql(vault=policy_sql.vault, projections=index)
    tuning = tuning or EngineTuning()
    if tuning.temp_directory is None:
        tuning = replace(tuning, temp_directory=data_dir.spill)
    engine = DuckDBEngine(
        data_dir.warehouse,
        data_dir.results,
        workers=workers,
        limits=QueryLimits(
            timeout_s=limits.timeout_s,
            memory_limit_mb=limits.memory_limit_mb,
            max_rows=limits.max_rows,
            max_result_bytes=limits.max_result_bytes,
        ),
        session_variables=pseudonym_session_variables(key),
        session_macros=(PSEUDONYM_MACRO,),
        attachments=attachments,
        schema_files={"audit": data_dir.audit_tables},
        tuning=tuning,
        warehouse_identity=identity,
    )
    if warm_audit_tables:
        # Built (a long log, once) or caught up in the background: the service answers at once,
        # audit queries wait their turn (503 engine_unavailable if that takes over a minute).
        live.catch_up_in_background(lambda: engine.update_schema_file("audit", live.catch_up))
    extra_schemas = {
        "audit": {
            name: {field.name: arrow_to_sql_type(field.type) for field in schema}
            for name, schema in AUDIT_SCHEMAS.items()
        }
    }
    service = QueryService(
        catalog=catalog,
        policy=policy,
        engine=engine,
        audit=audit,
        schema_sources={"audit": live.catch_up},
        extra_schemas=extra_schemas,
        policy_sql=policy_sql,
        disclosure=disclosure,
    )
    live_sql = PolicySql(vault=policy_sql.vault)

    def rebuild() -> Rebuilt:
        vault = ensure_vault(data_dir.pseudonyms, data_dir.warehouse, key, domains)
        if not projections:
            return Rebuilt({VAULT_CATALOG: vault}, live_sql)
        path, index = _build_projections(data_dir, catalog, policy, audit, live_sql, key)
        files = {VAULT_CATALOG: vault, PROJECTION_CATALOG: path}
        return Rebuilt(files, PolicySql(vault=live_sql.vault, projections=index))

    switch = None
    if projections and projections_in_background:

        def build() -> tuple[Path, ProjectionIndex]:
            return _build_projections(data_dir, catalog, policy, audit, live_sql, key)

        switch = ProjectionSwitch(build, engine, service)

    def covered() -> bool:
        """Whether the projections served materialise every view known today (a principal
        added, a grant begun since they were built: those run live until a rebuild)."""
        served = service.policy_sql.projections
        if served is None:  # not built (yet): nothing to keep up to date
            return True
        wanted = _projection_sources(data_dir, catalog, policy, live_sql)
        # Parsed (materialisable) only when not served: the common case parses nothing.
        return all(served.lookup(text) or not materialisable(text) for text in wanted)

    refresh = WarehouseRefresh(
        data_dir.warehouse,
        identity,
        rebuild,
        engine,
        service,
        audit,
        before_first=None if switch is None else switch.wait,
        after_switch=None if switch is None else lambda rebuilt: switch.rebuilt(),
        covered=covered if projections else None,
    )
    return service, switch, refresh


def _build_projections(
    data_dir: DataDir,
    catalog: Catalog,
    policy: Policy,
    audit: AuditLog,
    policy_sql: PolicySql,
    key: bytes,
) -> tuple[Path, ProjectionIndex]:
    """Materialise the policy subqueries of every view a known principal has today
    (:mod:`gateway.projections`), and audit the version built or reused."""
    sources = _projection_sources(data_dir, catalog, policy, policy_sql)
    path, index, took = ensure_projections(
        data_dir.projections,
        data_dir.warehouse,
        (VAULT_CATALOG, data_dir.pseudonyms),
        key,
        policy.version,
        sources.values(),
    )
    audit.record(
        AccessEvent(
            EventKind.POLICY_PROJECTIONS_READY,
            "system",
            "",
            subject=index.version,
            extra={
                "policy_hash": policy.version,
                "projections": len(index.names),
                "built_s": round(took, 3),
            },
        )
    )
    return path, index


def _projection_sources(
    data_dir: DataDir, catalog: Catalog, policy: Policy, policy_sql: PolicySql
) -> dict[str, ProjectionSource]:
    """The policy subqueries of every view a known principal has today, by their text."""
    directory = Deployment.principal_directory(data_dir)
    now = utc_now()
    sources: dict[str, ProjectionSource] = {}
    for username in directory.usernames():
        principal = directory.principal(username, now)
        if principal is None or principal.level == "none":
            continue
        for purpose in principal.purposes:
            try:
                view = view_for(policy, catalog, principal, purpose, now.date(), now=now)
            except GatewayError:  # suspended, expired, not approved: no view to serve today
                continue
            for table_view in view.tables.values():
                text = policy_sql.full_sql(table_view, view)
                columns = tuple(c.name for c in table_view.columns)
                sources.setdefault(text, ProjectionSource(table_view.name, text, columns))
    return sources


def _spark_service(
    data_dir: DataDir,
    catalog: Catalog,
    policy: Policy,
    audit: AuditLog,
    master: str,
    key: bytes,
    limits: LevelLimits,
    disclosure: DisclosureResources,
) -> QueryService:
    """The query service on Spark over ``DIR/lake``: pseudonyms computed per row (no vault on
    the lake), no ``audit`` schema (audit queries are refused on Spark)."""
    engine = SparkEngine(
        data_dir.root / "lake",
        data_dir.results,
        master=master,
        limits=QueryLimits(
            timeout_s=limits.timeout_s,
            memory_limit_mb=limits.memory_limit_mb,
            max_rows=limits.max_rows,
            max_result_bytes=limits.max_result_bytes,
        ),
        pseudonym_key=key,
    )
    return QueryService(
        catalog=catalog,
        policy=policy,
        engine=engine,
        audit=audit,
        policy_sql=PolicySql(vault={}),
        disclosure=disclosure,
    )
