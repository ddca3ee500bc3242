"""The audit trail: every query and access decision, durable, hash-chained, reviewable.

Modules, one job each:

    kinds        EventKind: every kind of record (``query.started``, ``access.denied`` …)
    chain        AuditEvent, its canonical encoding and hash (the hash chain)
    facts        typed facts, one per kind (QueryStarted, AccessEvent …), written by
                 AuditLog.record
    store        the AuditStore protocol (append durably, read back by kind, actor,
                 organisation and time, head)
    sqlite       SQLiteAuditStore: the embedded default (WAL, synchronous=FULL, multi-process)
    postgresql   PostgresAuditStore: one chain shared by several gateway hosts
    location     which store a deployment uses (DIR/audit.sqlite or GATEWAY_AUDIT_STORE)
    storage      what the SQL stores share: event filters, paging, disposal details
    log          AuditLog: record(fact), read views, checkpoints, health
    checkpoints  HMAC-signed checkpoints in an append-only file; the key's record MACs
    checkpointer checkpoints on count and every few seconds, retried, never undoing a record
    witness      external copies of the checkpoints (a second file, syslog, a command)
    integrity    the startup check: refuse a cut, rolled-back or forged log; acknowledgements
    verify       recompute the chain and MACs, match checkpoints, name the first bad record
    views        one QueryView per query (allowed, denied, incomplete)
    tables       the log as Arrow tables: queries, events, exports, access
    live         the same tables kept up to date incrementally (for serving audit.*)
    fingerprint  the result fingerprint recorded with a completed query
    reports      review reports over the tables (activity, look-ups, out of hours …)
    disposal     where a log that disposed of old records starts: the anchor verify trusts
    retention    dispose of records past ``[retention] audit_days``, recorded and verifiable
    duties       audits done under the policy's audit plan, and when each duty is due
    incidents    the security-incident / data-loss register and its 24-hour rule

``reports`` needs the server extra (sqlglot) and is imported from its module, as are the
audit duties and retention (``disposal`` … ``incidents``); everything else is re-exported here
and imports without it. What a query's SQL looks up is analysed by
:mod:`gateway.analysis.lookups` when the query arrives and stored with it
(:class:`gateway.analysis.results.LookupAnalysis`).

Example:
    >>> import tempfile, pathlib
    >>> from gateway.datadir import DataDir
    >>> with AuditLog.open(DataDir(pathlib.Path(tempfile.mkdtemp()))) as log:
    ...     e = log.record(AccessEvent(EventKind.POLICY_LOADED, "system", "", subject="ab12"))
    >>> e.kind, e.seq
    ('policy.loaded', 1)
"""

from gateway.audit.chain import GENESIS_HASH, AuditEvent, new_event_id
from gateway.audit.checkpoints import Checkpoint, CheckpointFile
from gateway.audit.facts import (
    AccessEvent,
    AuditFact,
    ExportAction,
    ExportRegistered,
    ExportsPruned,
    PrunedItem,
    QueryCompleted,
    QueryDenied,
    QueryRequest,
    QueryStarted,
)
from gateway.audit.fingerprint import ResultFingerprint, fingerprint_table
from gateway.audit.integrity import IntegrityCheck, check_log
from gateway.audit.kinds import EventKind
from gateway.audit.live import LiveAuditTables
from gateway.audit.log import AuditHealth, AuditLog
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.audit.store import AuditStore
from gateway.audit.tables import SCHEMAS, AuditTables, audit_tables, table_columns
from gateway.audit.verify import ChainBreak, VerifyReport, verify, verify_data_dir, verify_store
from gateway.audit.views import QueryView, assemble_queries
from gateway.audit.witness import CommandWitness, FileWitness, SyslogWitness, Witness

__all__ = [
    "GENESIS_HASH",
    "SCHEMAS",
    "AccessEvent",
    "AuditEvent",
    "AuditFact",
    "AuditHealth",
    "AuditLog",
    "AuditStore",
    "AuditTables",
    "ChainBreak",
    "Checkpoint",
    "CheckpointFile",
    "CommandWitness",
    "EventKind",
    "ExportAction",
    "ExportRegistered",
    "ExportsPruned",
    "FileWitness",
    "IntegrityCheck",
    "LiveAuditTables",
    "PrunedItem",
    "QueryCompleted",
    "QueryDenied",
    "QueryRequest",
    "QueryStarted",
    "QueryView",
    "ResultFingerprint",
    "SQLiteAuditStore",
    "SyslogWitness",
    "VerifyReport",
    "Witness",
    "assemble_queries",
    "audit_tables",
    "check_log",
    "fingerprint_table",
    "new_event_id",
    "table_columns",
    "verify",
    "verify_data_dir",
    "verify_store",
]
