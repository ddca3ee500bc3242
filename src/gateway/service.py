"""The query service: one request from principal to audited, policy-enforced result.

Every query the gateway runs (the API, the CLI, templates, products, exports, police.uk
extracts) comes through :meth:`QueryService.run_query`, the only place the steps of DESIGN.md's
data flow meet. The principal arrives resolved (DESIGN.md's step 1 is the directory's:
``users.toml`` or the governance register, :attr:`gateway.deployment.Deployment.directory`); from
there::

    1. policy view     principal + purpose + day → what they may see      (policy.view)
    2. rewrite         SQL → policy-enforced SQL; the engine verifies the enforcement
                       invariant on its own parse of that exact text (engines.invariant)
    3. audit           write-ahead "started" record, durable — no audit, no query
    4. execute         hardened, killable worker; result spilled to a file (a caller may
                       withdraw the query with a Cancellation: stopped, audited "cancelled")
    5. audit           "completed" record (rows, bytes, duration, fingerprint, the marking
                       released) — before any row leaves; if it cannot be written the
                       result is discarded
    6. return          the spilled result, streamed by the caller

A refusal at steps 1–2 is audited as a denial (with its reason code) and raised. Every error
raised from here carries ``query_id`` so the analyst can quote it.

A ``deliverable`` check (the caller's: e.g. "JSON only up to 64 MiB") sees the spilled result
before step 5: when it refuses, the completed record says so (``too_large``) and the result is
discarded, so the audit never records as delivered what the caller will not send.

A :class:`ResultControl` (disclosure control, asked for by the analyst) hooks into two places:
``vet`` after the rewrite (a refusal there is an audited denial: nothing runs) and ``apply``
between execution and step 5, so the completed record describes the result that is released
— its rows, bytes and fingerprint, and what the control did (``disclosure``).

Example:
    >>> service = Deployment.open(DataDir(Path("demo-data"))).service  # doctest: +SKIP
    >>> outcome = service.run_query(principal, "SELECT count(*) FROM crime",
    ...                             purpose="SA-2026")              # doctest: +SKIP
    >>> outcome.result.to_table()                                   # doctest: +SKIP
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa

from gateway.analysis.lookups import analyse_lookups
from gateway.analysis.results import LookupAnalysis
from gateway.audit.facts import (
    QueryCompleted,
    QueryDenied,
    QueryRequest,
    QueryStarted,
)
from gateway.audit.log import AuditLog
from gateway.catalog import Catalog
from gateway.clock import Clock, utc_now
from gateway.engines.base import (
    Cancellation,
    Engine,
    Expectation,
    QueryLimits,
    QueryResult,
    Verified,
)
from gateway.engines.spill import spill_batches
from gateway.errors import AuditUnavailable, ConfigurationError, GatewayError
from gateway.lifetime import ClosesOnExit
from gateway.lru import LruCache
from gateway.policy import Policy
from gateway.policy.disclosure import DisclosureRules
from gateway.policy.markings import data_classes
from gateway.policy.view import PolicyView, check_principal, view_for
from gateway.principal import Principal
from gateway.rewrite import PolicySql, RewriteCache, RewriteResult, audited_access, rewrite
from gateway.rewrite.explain import explain_engine_error

__all__ = [
    "QUERY_RECORD_SPAN",
    "ClientInfo",
    "QueryOutcome",
    "QueryService",
    "ResultControl",
    "new_query_id",
    "query_id_time",
    "query_record_window",
    "under_disclosure_control",
]


def new_query_id(now: datetime) -> str:
    """Sortable, unguessable query id, e.g. ``q20261122T033910Z-5f2a9c0e7d31b4a8``."""
    return f"q{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(8)}"


#: The longest a query's audit records may span, from its id's time to its completion (the
#: longest query timeout is minutes; a day leaves room for a queue).
QUERY_RECORD_SPAN = timedelta(days=1)
_QUERY_ID = re.compile(r"q([0-9]{8}T[0-9]{6})Z-[0-9a-f]{16}")


def query_id_time(query_id: str) -> datetime | None:
    """When the service gave out ``query_id`` (UTC, to the second; its records are written at
    or after it), or None for an id :func:`new_query_id` did not make.

    Example:
        >>> query_id_time("q20261122T033910Z-5f2a9c0e7d31b4a8").isoformat()
        '2026-11-22T03:39:10+00:00'
        >>> query_id_time("q2026-not-an-id") is None
        True
    """
    match = _QUERY_ID.fullmatch(query_id)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def query_record_window(query_id: str) -> tuple[datetime, datetime] | None:
    """The period holding every audit record of query ``query_id``: from a minute before its
    id's time (the clock read for the id and the store's stamp are one host's) to
    :data:`QUERY_RECORD_SPAN` after. None: not an id :func:`new_query_id` made.

    Example:
        >>> [t.isoformat() for t in query_record_window("q20261122T033910Z-5f2a9c0e7d31b4a8")]
        ['2026-11-22T03:38:10+00:00', '2026-11-23T03:39:10+00:00']
    """
    given = query_id_time(query_id)
    if given is None:
        return None
    return given - timedelta(minutes=1), given + QUERY_RECORD_SPAN


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from (for the audit record): the peer's address, its user agent
    and the door it used (``http``, ``flight``, ``host``; empty: not recorded)."""

    address: str = ""
    user_agent: str = ""
    channel: str = ""


class ResultControl(Protocol):
    """A check before a query runs and a transformation before its result is released
    (:class:`gateway.disclosure.control.DisclosureControl`)."""

    #: Rows the result may have for the control to work on (a lower cap than the level's).
    max_rows: int

    def cell_keys(self, level: str) -> bool:
        """Whether the rewrite must add a cell key beside each count, for an analyst of
        ``level`` (:mod:`gateway.rewrite.cellkeys`)."""

    def cell_rules(self, level: str) -> bool:
        """Whether the statement's cells may be defined by published attributes only (the
        analyst wrote it: :mod:`gateway.rewrite.cells`)."""

    def vet(self, rewrite: RewriteResult, view: PolicyView) -> None:
        """Refuse the query before it runs (raise a GatewayError; audited as denied)."""

    def apply(
        self,
        table: pa.Table,
        *,
        truncated: bool,
        deadline: float,
        cancelled: Callable[[], bool],
    ) -> tuple[pa.Table, dict[str, Any]]:
        """The table to release and a JSON-ready report for the completed audit record,
        within the query's ``deadline`` (:func:`time.monotonic`), stopping (raising
        QueryTimeout or QueryCancelled) once out of time or ``cancelled``."""


@dataclass(frozen=True)
class QueryOutcome:
    """An allowed, executed, fully audited query.

    Attributes:
        query_id: the audit record id (also the ``X-Query-Id`` header).
        result: the spilled result (stream it with ``result.reader()``; ``discard()`` after).
        rewrite: what was executed and what it touched.
        view: the policy view applied.
        marking: the protective marking the policy sets for what the result was read from
            (:meth:`QueryService.marking_of`): the ``X-Protective-Marking`` header, and the
            floor of any file made from it.
        disclosure: what disclosure control did to the result, when it was asked for (as
            recorded in the completed audit record).
    """

    query_id: str
    result: QueryResult
    rewrite: RewriteResult
    view: PolicyView
    marking: str
    disclosure: dict[str, Any] | None = None

    @property
    def sql_executed(self) -> str:
        return self.rewrite.sql


@dataclass
class QueryService(ClosesOnExit):
    """Runs analysts' queries under policy, with audit. Thread-safe (the engine and the audit
    store are; the rest is immutable).

    Attributes:
        catalog, policy: the loaded contract and policy.
        engine: the warehouse engine.
        audit: the audit log.
        schema_sources: for each extra read-only schema (``audit``), a function that brings
            the schema's file up to date (:meth:`gateway.audit.live.LiveAuditTables.catch_up`);
            the engine runs it, while no query has the file open, before a query reads it.
        extra_schemas: those schemas' tables and columns, for the rewriter.
        clock: returns the current UTC time (tests inject a fixed clock).
        policy_sql: builds (and caches) the policy subqueries.
        disclosure: what disclosure control keeps beyond one query — the differencing
            budget's ledger and the processes that protect large tables
            (:class:`gateway.disclosure.resources.DisclosureResources`); the service only
            carries it to the controls it is given, and closes it. None: no budget, every
            table protected in the calling process.
    """

    catalog: Catalog
    policy: Policy
    engine: Engine
    audit: AuditLog
    schema_sources: Mapping[str, Callable[[], object]] = field(default_factory=dict)
    extra_schemas: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    clock: Clock = field(default=utc_now)
    policy_sql: PolicySql = field(default_factory=PolicySql)
    rewrites: RewriteCache = field(default_factory=RewriteCache)
    disclosure: ClosesOnExit | None = None
    _lookups_seen: LruCache[str, LookupAnalysis] = field(
        default_factory=lambda: LruCache(512), init=False, repr=False
    )
    _views: LruCache[tuple[Principal, str, date, str], PolicyView] = field(
        default_factory=lambda: LruCache(256), init=False, repr=False
    )
    _rewriting_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # --- the one entry point ------------------------------------------------------------

    def view(self, principal: Principal, purpose: str) -> PolicyView:
        """The policy view ``principal`` gets for ``purpose`` now (raises if refused)."""
        return self._view(principal, purpose, self.clock())

    def run_query(
        self,
        principal: Principal,
        sql: str,
        purpose: str,
        params: Mapping[str, object] | None = None,
        *,
        client: ClientInfo | None = None,
        template: str | None = None,
        max_rows: int | None = None,
        control: ResultControl | None = None,
        cancel: Cancellation | None = None,
        deliverable: Callable[[QueryResult, RewriteResult], None] | None = None,
    ) -> QueryOutcome:
        """Check, rewrite, audit and execute one query.

        Args:
            principal: who is asking (already authenticated).
            sql: the analyst's SQL (one SELECT).
            purpose: an approved purpose code of the principal.
            params: values for ``$name`` parameters.
            client: network address and user agent, for the audit record.
            template: the template name when the SQL came from the template library.
            max_rows: a lower row cap than the level's (never a higher one).
            control: vets the rewritten query and transforms the result before release
                (disclosure control); its ``max_rows`` caps the result as ``max_rows`` does.
            cancel: the caller's way to withdraw the query (its HTTP client went away); the
                engine stops it and it is audited as completed with outcome ``cancelled``.
            deliverable: checks the result (as released, with the rewrite that made it) may
                and can be delivered the way the caller will send it; the GatewayError it
                raises is the completed record's outcome (e.g. ``too_large``,
                ``export_required``) and the result is discarded.

        Raises:
            GatewayError: refused (audited as denied), failed (audited as completed with the
                error code: ``cancelled`` for a withdrawn query), or AuditUnavailable (nothing
                ran). ``query_id`` is set on it.
        """
        now = self.clock()
        query_id = new_query_id(now)
        client = client or ClientInfo()
        request = QueryRequest.from_principal(
            principal,
            purpose or "",
            sql if isinstance(sql, str) else "",
            client_address=client.address,
            user_agent=client.user_agent,
            params=_json_params(params),
            template=template,
            person_lookups=self._lookups(sql if isinstance(sql, str) else ""),
            channel=client.channel or None,
        )
        with self._rewriting_lock:  # the pair switched together (use_policy_sql)
            policy_sql, rewrites = self.policy_sql, self.rewrites
        try:
            view = self._view(principal, purpose, now)
            cap = view.limits.max_rows if max_rows is None else min(max_rows, view.limits.max_rows)
            if control is not None:
                cap = min(cap, control.max_rows)
            result = rewrite(
                sql,
                view,
                self.catalog,
                params=params,
                extra_schemas=self.extra_schemas,
                max_rows=cap,
                policy_sql=policy_sql,
                cache=rewrites,
                cell_keys=control is not None and control.cell_keys(view.level),
                cell_rules=control is not None and control.cell_rules(view.level),
            )
            verified = self.engine.verify(result.sql, _expectation(result))
            if control is not None:
                control.vet(result, view)
        except GatewayError as exc:
            self._deny(query_id, request, exc)
            raise
        return self._execute(
            query_id, request, view, result, verified, control, cancel, deliverable
        )

    def use_policy_sql(self, policy_sql: PolicySql) -> None:
        """Rewrite with ``policy_sql`` from now on (the masked projections, once built and
        attached to the engine), with a fresh rewrite cache: a statement rewritten before
        keeps its live policy subqueries, which are always right, only slower."""
        with self._rewriting_lock:
            self.policy_sql, self.rewrites = policy_sql, RewriteCache()

    # --- steps ----------------------------------------------------------------------------

    def _view(self, principal: Principal, purpose: str, now: datetime) -> PolicyView:
        """:func:`view_for` at ``now``, remembered per principal (every field of it: areas,
        grants, expiry, suspension), purpose and day under this policy, as an analyst's queries
        repeat them. The principal's own checks (suspended, expired, purpose approved) run
        again on every call, so a view is never handed out after its principal lost access."""
        key = (principal, purpose, now.date(), self.policy.version)
        try:
            known = self._views.get(key)
            keep = True
        except TypeError:  # a principal built with a list somewhere: built, never kept
            known, keep = None, False
        if known is not None:
            check_principal(principal, purpose, now)
            return known
        view = view_for(self.policy, self.catalog, principal, purpose, now.date(), now=now)
        if keep:
            self._views.put(key, view)
        return view

    def _lookups(self, sql: str) -> LookupAnalysis:
        """The person look-ups the submitted SQL pins (stored in the record, so review reports
        never parse hostile SQL again); cached per SQL text, as templates repeat."""
        found = self._lookups_seen.get(sql)
        if found is None:
            found = analyse_lookups(sql, self.catalog)
            self._lookups_seen.put(sql, found)
        return found

    def _deny(self, query_id: str, request: QueryRequest, exc: GatewayError) -> None:
        exc.query_id = query_id
        if isinstance(exc, AuditUnavailable):
            return
        self.audit.record(
            QueryDenied(
                query_id=query_id,
                request=request,
                reason=exc.code,
                message=str(exc),
                policy_hash=self.policy.version,
            )
        )

    def _execute(
        self,
        query_id: str,
        request: QueryRequest,
        view: PolicyView,
        result: RewriteResult,
        verified: Verified,
        control: ResultControl | None = None,
        cancel: Cancellation | None = None,
        deliverable: Callable[[QueryResult, RewriteResult], None] | None = None,
    ) -> QueryOutcome:
        # What the record says was read and enforced comes from the verified statement: the
        # policy subqueries the engine found in it, each exactly as the policy produced it.
        masks, row_filters = audited_access(view, result.policy_subqueries)
        started = QueryStarted(
            query_id=query_id,
            request=request,
            sql_executed=result.sql,
            policy_hash=self.policy.version,
            tables=tuple(sorted(set(verified.tables))) or result.schema_tables,
            columns=tuple(
                sorted({f"{r.table}.{c}" for r in result.policy_subqueries for c in r.columns})
            )
            or result.columns,
            masks=masks,
            row_filters=row_filters,
            sql_with_policy=result.live_sql,
        )
        try:
            self.audit.record(started)  # write-ahead: no record, no query
        except AuditUnavailable as exc:
            exc.query_id = query_id
            raise
        limits = QueryLimits(
            timeout_s=view.limits.timeout_s,
            memory_limit_mb=view.limits.memory_limit_mb,
            max_rows=result.max_rows or view.limits.max_rows,
            max_result_bytes=view.limits.max_result_bytes,
        )
        began = time.perf_counter()
        deadline = time.monotonic() + limits.timeout_s  # the query's whole budget
        try:
            if result.uses_schema:
                self._publish(result.uses_schema)
            spilled = self.engine.execute(
                result.sql,
                result.params,
                limits=limits,
                query_id=query_id,
                cancel=cancel,
                user=request.user,
            )
        except GatewayError as exc:
            # The engine spoke of the SQL it ran: keep only names the analyst may see or wrote,
            # with a position in their SQL and hints (gateway.rewrite.explain).
            explained = explain_engine_error(exc, request.sql_submitted, view)
            explained.query_id = query_id
            self._complete(started, outcome=explained.code, began=began, failure=explained)
            raise explained from exc
        report: dict[str, Any] | None = None
        if control is not None:
            try:
                spilled, report = self._controlled(spilled, control, limits, deadline, cancel)
            except GatewayError as exc:
                exc.query_id = query_id
                self._complete(started, outcome=exc.code, began=began, failure=exc)
                raise
        if deliverable is not None:
            try:
                deliverable(spilled, result)
            except GatewayError as exc:
                spilled.discard()  # refused: recorded as such, and nothing of it is kept
                exc.query_id = query_id
                self._complete(started, outcome=exc.code, began=began, failure=exc)
                raise
        marking = self.marking_of(result, aggregate=under_disclosure_control(report))
        try:
            self._complete(
                started,
                outcome="ok",
                began=began,
                spilled=spilled,
                disclosure=report,
                marking=marking,
            )
        except AuditUnavailable:
            spilled.discard()  # nothing leaves without its completed record
            raise
        return QueryOutcome(
            query_id=query_id,
            result=spilled,
            rewrite=result,
            view=view,
            marking=marking,
            disclosure=report,
        )

    def marking_of(self, rewrite: RewriteResult, *, aggregate: bool = False) -> str:
        """The policy's marking for what a query reads: the highest of its tables' data classes
        (``[markings]`` in the policy, :mod:`gateway.policy.markings`); for an ``aggregate``
        released under disclosure control, the policy's ``aggregate`` marking stands in for
        the record class's."""
        kinds = [self.catalog.table(t).kind for t in rewrite.tables if t in self.catalog]
        classes = data_classes(kinds, audit=bool(rewrite.schema_tables))
        return self.policy.markings.for_release(classes, aggregate=aggregate)

    def _controlled(
        self,
        spilled: QueryResult,
        control: ResultControl,
        limits: QueryLimits,
        deadline: float,
        cancel: Cancellation | None,
    ) -> tuple[QueryResult, dict[str, Any]]:
        """Apply ``control`` to a spilled result within the query's deadline, withdrawn with
        it: the released result replaces it (a new file beside it, fingerprinted like any
        result; the engine's file is deleted)."""
        released_path = spilled.path.with_name(f"{spilled.path.stem}.released.arrows")

        def cancelled() -> bool:
            return cancel is not None and cancel.cancelled

        try:
            table, report = control.apply(
                spilled.to_table(),
                truncated=spilled.truncated,
                deadline=deadline,
                cancelled=cancelled,
            )
            summary = spill_batches(
                table.to_reader(),
                released_path,
                max_rows=max(table.num_rows, 1),
                max_result_bytes=limits.max_result_bytes,
            )
        finally:
            spilled.discard()
        released = QueryResult(
            query_id=spilled.query_id,
            path=released_path,
            schema=table.schema,
            num_rows=summary.num_rows,
            num_bytes=summary.num_bytes,
            truncated=spilled.truncated,
            fingerprint=summary.fingerprint,
            duration_s=spilled.duration_s,
        )
        return released, {**report, "source_fingerprint": spilled.fingerprint}

    def _complete(
        self,
        started: QueryStarted,
        *,
        outcome: str,
        began: float,
        spilled: QueryResult | None = None,
        failure: GatewayError | None = None,
        disclosure: dict[str, Any] | None = None,
        marking: str | None = None,
    ) -> None:
        completed = QueryCompleted(
            query_id=started.query_id,
            user=started.request.user,
            organisation=started.request.organisation,
            outcome=outcome,
            rows=spilled.num_rows if spilled else 0,
            bytes=spilled.num_bytes if spilled else 0,
            duration_ms=round((time.perf_counter() - began) * 1000, 3),
            fingerprint=spilled.fingerprint if spilled else "",
            truncated=spilled.truncated if spilled else False,
            disclosure=disclosure,
            marking=marking,
        )
        try:
            self.audit.record(completed)
        except AuditUnavailable as exc:
            exc.query_id = started.query_id
            if failure is None:
                raise
            # The query failed anyway; its started record stays and reads as incomplete.

    def _publish(self, schema: str) -> None:
        update = getattr(self.engine, "update_schema_file", None)
        if update is None:
            raise ConfigurationError(f"this engine cannot serve the {schema} schema")
        update(schema, self.schema_sources[schema])

    def today(self) -> date:
        return self.clock().date()

    def close(self) -> None:
        self.engine.close()
        if self.disclosure is not None:
            self.disclosure.close()
        self.audit.close()


def under_disclosure_control(report: Mapping[str, Any] | None) -> bool:
    """Whether a result was released under disclosure control that changed something (the
    completed record's ``disclosure`` report: counts suppressed, rounded or perturbed), so it
    takes the policy's aggregate marking. ``none``, or rules that change nothing, do not count.

    Example:
        >>> under_disclosure_control({"method": "suppression", "min_count": 10, "round_to": 0})
        True
        >>> under_disclosure_control({"method": "none", "min_count": 0, "round_to": 0})
        False
        >>> under_disclosure_control(None)
        False
    """
    if report is None:
        return False
    rules = DisclosureRules(
        min_count=int(report.get("min_count") or 0),
        round_to=int(report.get("round_to") or 0),
        method=str(report.get("method") or "none"),
        max_noise=int(report.get("max_noise") or 0),
    )
    return rules.active


def _expectation(result: RewriteResult) -> Expectation:
    """What the engine must find in the statement the rewrite produced."""
    return Expectation(
        policy_subqueries=tuple((r.table, r.sql) for r in result.policy_subqueries),
        schema_tables=result.schema_tables if result.uses_schema else (),
    )


def _json_params(params: Mapping[str, object] | None) -> dict[str, Any]:
    """Parameters as JSON-safe values for the audit record (dates as ISO text)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if isinstance(value, date | datetime):
            out[str(key)] = value.isoformat()
        elif isinstance(value, list | tuple):
            out[str(key)] = [v.isoformat() if isinstance(v, date | datetime) else v for v in value]
        elif value is None or isinstance(value, str | int | float | bool):
            out[str(key)] = value
        else:
            out[str(key)] = repr(value)
    return out
