"""Assemble a running service from a data directory: the one place that knows which concrete
parts (DuckDB engine, SQLite audit log, policy file, secrets) a deployment uses.

Example:
    >>> service = open_service(DataDir(Path("demo-data")))   # doctest: +SKIP
"""

from __future__ import annotations

import pyarrow as pa

from gateway.audit.live import LiveAuditTables
from gateway.audit.log import AuditLog
from gateway.audit.records import AccessEvent
from gateway.catalog import Catalog, load_catalog
from gateway.datadir import DataDir
from gateway.disclosure.cellkey import CELL_KEY_SECRET
from gateway.engines import DuckDBEngine, EngineTuning, QueryLimits
from gateway.errors import ConfigurationError
from gateway.governance.directory import GovernanceDirectory, has_register
from gateway.governance.service import GovernanceService
from gateway.policy import Policy, load_default_policy, load_policy
from gateway.policy.masks import PSEUDONYM_MACRO, pseudonym_session_variables
from gateway.principal import PrincipalDirectory
from gateway.pseudonym_vault import VAULT_CATALOG, ensure_vault, vault_domains
from gateway.rewrite import PolicySql
from gateway.service import QueryService
from gateway.users import UsersFile

__all__ = [
    "PSEUDONYM_KEY",
    "arrow_to_sql_type",
    "load_deployment_policy",
    "open_directory",
    "open_governance",
    "open_service",
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


def open_directory(data_dir: DataDir) -> PrincipalDirectory:
    """Where principals come from: the governance register when ``DIR/governance.sqlite`` holds
    one (grants drive enforcement; ``users.toml`` keeps only its bootstrap administrators),
    else ``DIR/users.toml``."""
    if has_register(data_dir):
        return GovernanceDirectory.open(data_dir)
    return UsersFile(data_dir.users)


def open_governance(data_dir: DataDir, audit: AuditLog) -> GovernanceService:
    """The governance service over ``DIR/governance.sqlite`` with the deployment's policy."""
    return GovernanceService.open(
        data_dir, audit=audit, policy=load_deployment_policy(data_dir, load_catalog())
    )


def open_service(
    data_dir: DataDir,
    *,
    workers: int | None = None,
    tuning: EngineTuning | None = None,
    audit_checkpoint_every: int = 100,
) -> QueryService:
    """Open the warehouse engine, the audit log and the policy of a data directory.

    Raises:
        ConfigurationError: no warehouse, an invalid policy, or an unusable directory.
        AuditUnavailable: the audit log cannot be opened (nothing will run without it), or
            it fails its startup check — cut, rolled back (against the checkpoints and any
            ``GATEWAY_AUDIT_WITNESS_FILE``), forged or damaged — and no operator has
            acknowledged that (``gateway audit acknowledge``).
    """
    if not data_dir.warehouse.is_file():
        raise ConfigurationError(
            f"no warehouse at {data_dir.warehouse}; run `gateway demo --data-dir {data_dir.root}`"
            " or `gateway generate` first"
        )
    catalog = load_catalog()
    policy = load_deployment_policy(data_dir, catalog)
    audit = AuditLog.open(data_dir, checkpoint_every=audit_checkpoint_every)
    try:
        audit.access_event(
            AccessEvent(
                "policy.loaded",
                "system",
                "",
                subject=policy.source,
                extra={"policy_hash": policy.version},
            )
        )

        live = LiveAuditTables(audit.store)  # reads only events added since the last refresh

        def current_audit_tables() -> dict[str, pa.Table]:
            return live.refresh().by_name()

        initial = current_audit_tables()
        limits = max(
            (lvl.limits for lvl in policy.levels.values()), key=lambda lim: lim.memory_limit_mb
        )
        key = data_dir.secret(PSEUDONYM_KEY)
        domains = vault_domains(policy, catalog)
        vault_path = ensure_vault(
            data_dir.root / "pseudonyms.duckdb", data_dir.warehouse, key, domains
        )
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
            attachments={VAULT_CATALOG: vault_path},
            extra_tables={"audit": initial},
            tuning=tuning,
        )
    except BaseException:
        audit.close()
        raise
    extra_schemas = {
        "audit": {
            name: {field.name: arrow_to_sql_type(field.type) for field in table.schema}
            for name, table in initial.items()
        }
    }
    return QueryService(
        catalog=catalog,
        policy=policy,
        engine=engine,
        audit=audit,
        schema_sources={"audit": current_audit_tables},
        extra_schemas=extra_schemas,
        policy_sql=PolicySql(vault={d.name: d.value_type for d in domains.values()}),
        disclosure_secret=data_dir.secret(CELL_KEY_SECRET),
    )
