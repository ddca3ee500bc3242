"""Run templates through the query service: the same policy and audit path as any query.

:class:`TemplateRunner` checks the caller's level against the template's, binds the
parameters (against the caller's areas and the reference domains), runs the SQL with
``QueryService.run_query(..., template=name)`` — so the run is audited like any query, with its
parameters — and applies disclosure control to aggregate results according to the policy's
``[disclosure]`` rules for the caller's level (or the publication rules on request). The control
goes in as the service's ``control`` (:class:`~gateway.disclosure.control.DeclaredDisclosure`),
as it does for an ad-hoc query with ``disclosure``: the completed audit record then holds the
mode and rules applied (``none`` included) and the rows and fingerprint of the protected result.
Templates that list individuals have no disclosure spec; their record has no ``disclosure``.

Example:
    >>> runner = TemplateRunner(service, load_library())                  # doctest: +SKIP
    >>> run = runner.run(principal, "crime-rates", {"year": "2025"},
    ...                  purpose="SA-2026")                                 # doctest: +SKIP
    >>> run.table.column_names[:3]                                          # doctest: +SKIP
    ['police_uk_category', 'police_uk_label', 'population']
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from gateway.audit.facts import QueryDenied, QueryRequest
from gateway.disclosure import DisclosureReport
from gateway.disclosure.control import DeclaredDisclosure
from gateway.disclosure.resources import resources_of
from gateway.engines.base import Cancellation
from gateway.errors import AccessDenied, AuditUnavailable, GatewayError, NotFound, ParameterError
from gateway.policy.disclosure import DisclosureRules, DisclosureSettings
from gateway.principal import Principal
from gateway.rewrite import RewriteResult
from gateway.service import ClientInfo, QueryService, new_query_id
from gateway.templates.format import LEVEL_ORDER, Template
from gateway.templates.library import TemplateLibrary
from gateway.templates.params import BindingContext, bind_parameters, data_month_after

__all__ = ["TemplateRun", "TemplateRunner", "read_result"]

_AREA_CODES_SQL = """
SELECT lsoa_code AS code, local_authority_code FROM lsoa
UNION ALL SELECT ward_code, local_authority_code FROM ward
UNION ALL SELECT neighbourhood_code, local_authority_code FROM neighbourhood
UNION ALL SELECT local_authority_code, local_authority_code FROM local_authority
"""
# The last day with recorded crime the caller can see: relative periods end at its month.
_LAST_DAY_SQL = "SELECT CAST(max(recorded_at) AS DATE) AS last_day FROM crime"


@dataclass(frozen=True)
class TemplateRun:
    """One audited template run.

    Attributes:
        template: what ran.
        query_id: the audit record of the query.
        params: the bound parameter values (defaults filled in).
        table: the result, disclosure-controlled when the template is an aggregate.
        disclosure: what disclosure control did (None: the template lists individuals).
        username, level, purpose: who ran it, at which level, for what.
        ran_at: when (the service's clock, UTC).
        policy_version: hash of the policy applied.
        truncated: the engine cut the result at the level's row cap.
        fingerprint: the audited fingerprint of the released result (after disclosure control).
        rewrite: what the service executed (for classifying exports).
        marking: the policy's protective marking for what it read (``X-Protective-Marking``).
        data_through: first day of the last complete month with data, when a relative month or
            year default was counted back from it (None: every period was given).
    """

    template: Template
    query_id: str
    params: Mapping[str, Any]
    table: pa.Table
    disclosure: DisclosureReport | None
    username: str
    level: str
    purpose: str
    ran_at: datetime
    policy_version: str
    marking: str
    truncated: bool = False
    fingerprint: str = ""
    rewrite: RewriteResult | None = field(default=None, repr=False, compare=False)
    data_through: date | None = None

    def periods(self) -> dict[str, str]:
        """The months and dates the run covered (``YYYY-MM`` for month parameters)."""
        return {
            p.name: _period(self.params[p.name], p.type)
            for p in self.template.parameters
            if p.type in ("month", "date") and p.name in self.params
        }

    def provenance(self) -> dict[str, Any]:
        """Plain data recording where the result came from."""
        return {
            "marking": self.marking,
            "template": self.template.name,
            "query_id": self.query_id,
            "user": self.username,
            "level": self.level,
            "purpose": self.purpose,
            "ran_at": self.ran_at.isoformat(),
            "policy_version": self.policy_version,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "periods": self.periods(),
            "data_through": self.data_through.strftime("%Y-%m") if self.data_through else None,
            "disclosure": self.disclosure.to_dict() if self.disclosure else None,
            "rows": self.table.num_rows,
            "truncated": self.truncated,
        }


def _period(value: Any, kind: str) -> str:
    if isinstance(value, date):
        return value.strftime("%Y-%m") if kind == "month" else value.isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def read_result(outcome_result: Any) -> pa.Table:
    """Read a spilled result into memory and delete its file."""
    try:
        data = outcome_result.read_bytes()
    finally:
        outcome_result.discard()
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


@dataclass
class TemplateRunner:
    """Runs library templates for principals through a :class:`QueryService`.

    Attributes:
        service: the query service (policy, rewrite, audit, engine).
        library: the templates.
        client: who is running them, for the audit record when a run names no client (on the
            gateway's host: the operating-system user, :class:`gateway.cli.template.LocalSession`).
    """

    service: QueryService
    library: TemplateLibrary
    client: ClientInfo = field(default_factory=ClientInfo)
    _domains: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _areas: dict[str, str] | None = field(default=None, repr=False)
    _last_days: dict[tuple[str, ...], date | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def disclosure_settings(self) -> DisclosureSettings:
        """The policy's ``[disclosure]`` rules."""
        return self.service.policy.disclosure

    # --- lookups for parameter checks (reference tables, through the service) ------------

    def _lookup(self, principal: Principal, purpose: str, sql: str, what: str) -> pa.Table:
        outcome = self.service.run_query(principal, sql, purpose, template=what, client=self.client)
        return read_result(outcome.result)

    def _data_month(self, principal: Principal, purpose: str, areas: tuple[str, ...]) -> date:
        """The month after the last complete month of crime data the caller can see."""
        with self._lock:
            known = areas in self._last_days
            last_day = self._last_days.get(areas)
        if not known:
            try:
                result = self._lookup(principal, purpose, _LAST_DAY_SQL, "domain:last_day")
            except GatewayError:  # no crime table at this level: count back from the calendar
                last_day = None
            else:
                last_day = result.column("last_day")[0].as_py()
            with self._lock:
                self._last_days[areas] = last_day
        return data_month_after(last_day, self.service.today())

    def _context(
        self,
        principal: Principal,
        purpose: str,
        areas: tuple[str, ...],
        data_month: Callable[[], date] | None = None,
    ) -> BindingContext:
        def domain(name: str) -> frozenset[str]:
            with self._lock:
                if name in self._domains:
                    return self._domains[name]
            table, column = name.split(".")
            result = self._lookup(
                principal,
                purpose,
                f"SELECT DISTINCT {column} AS value FROM {table} WHERE {column} IS NOT NULL",
                f"domain:{name}",
            )
            values = frozenset(str(v) for v in result.column("value").to_pylist())
            with self._lock:
                self._domains[name] = values
            return values

        def area_codes() -> Mapping[str, str]:
            with self._lock:
                if self._areas is not None:
                    return self._areas
            result = self._lookup(principal, purpose, _AREA_CODES_SQL, "domain:area_codes")
            codes = dict(
                zip(
                    result.column("code").to_pylist(),
                    result.column("local_authority_code").to_pylist(),
                    strict=True,
                )
            )
            with self._lock:
                self._areas = codes
            return codes

        return BindingContext(
            today=self.service.today(),
            areas=areas,
            domain=domain,
            area_codes=area_codes,
            data_month=data_month,
        )

    # --- running ------------------------------------------------------------------------

    def binding_context(self, principal: Principal, purpose: str) -> BindingContext:
        """What binding knows about ``principal`` for ``purpose``: their areas, the reference
        domains and the data month as their policy shows them (for a form's choices and
        defaults, :func:`gateway.templates.form.form_fields`).

        Raises:
            GatewayError: the purpose is not approved, the account is suspended …
        """
        view = self.service.view(principal, purpose)
        return self._context(
            principal,
            purpose,
            view.areas,
            lambda: self._data_month(principal, purpose, view.areas),
        )

    def rules(self, level: str, disclosure: str) -> DisclosureRules:
        """The rules a run at ``level`` gets for a disclosure mode (policy/publication/none)."""
        return self.disclosure_settings.resolve(level, disclosure)

    def bind(
        self, principal: Principal, template: Template, params: Mapping[str, Any], purpose: str
    ) -> dict[str, Any]:
        """Check the caller may run ``template`` and bind its parameters (nothing runs).

        Raises:
            AccessDenied: the template needs a higher level than the caller's.
            ParameterError: a parameter problem (named).
            GatewayError: the purpose is not approved, the account is suspended …
        """
        return self._bind(principal, template, params, purpose)[0]

    def _bind(
        self, principal: Principal, template: Template, params: Mapping[str, Any], purpose: str
    ) -> tuple[dict[str, Any], date | None]:
        """:meth:`bind`, also giving the last complete month with data when a relative
        default counted back from it."""
        view = self.service.view(principal, purpose)
        if view.level not in LEVEL_ORDER or LEVEL_ORDER.index(view.level) < LEVEL_ORDER.index(
            template.level
        ):
            raise AccessDenied(
                f"template {template.name} is for {template.level}-level analysts; "
                f"your level is {view.level}"
            )
        used: list[date] = []

        def data_month() -> date:
            month = self._data_month(principal, purpose, view.areas)
            used.append(month)
            return month

        context = self._context(principal, purpose, view.areas, data_month)
        bound = bind_parameters(template, params, context)
        through = (used[0] - timedelta(days=1)).replace(day=1) if used else None
        return bound, through

    def _refused(
        self,
        principal: Principal,
        template: Template,
        purpose: str,
        params: Mapping[str, Any],
        client: ClientInfo | None,
        exc: GatewayError,
    ) -> None:
        """Record a template run refused before its query ran, as the service records a
        refused query (the caller's own values are kept as text)."""
        if isinstance(exc, AuditUnavailable | NotFound):
            return
        now = self.service.clock()
        query_id = new_query_id(now)
        client = client or self.client
        request = QueryRequest.from_principal(
            principal,
            purpose or "",
            template.sql,
            client_address=client.address,
            user_agent=client.user_agent,
            params={str(k): _json_value(v) for k, v in params.items()},
            template=template.name,
            channel=client.channel or None,
        )
        self.service.audit.record(
            QueryDenied(
                query_id=query_id,
                request=request,
                reason=exc.code,
                message=str(exc),
                policy_hash=self.service.policy.version,
            )
        )
        exc.query_id = query_id

    def run(
        self,
        principal: Principal,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        purpose: str,
        disclosure: str = "policy",
        client: ClientInfo | None = None,
        cancel: Cancellation | None = None,
    ) -> TemplateRun:
        """Run one template for ``principal``.

        Args:
            principal: who runs it.
            name: the template's name.
            params: parameter values (text or JSON values); defaults fill the rest.
            purpose: an approved purpose code of the principal.
            disclosure: ``policy`` (the level's rules), ``publication`` (the stricter rules
                for published outputs) or ``none`` (where the policy lets the level opt out).
            client: address and user agent for the audit record (default: the runner's).
            cancel: withdraws the query while it runs (audited as ``cancelled``).

        Raises:
            NotFound: no such template.
            AccessDenied: the template needs a higher level.
            ParameterError: unknown parameter, wrong type, value not allowed, missing value,
                or publication asked of a template that lists individuals.
            GatewayError: anything the service refuses (audited as denied).
        """
        template = self.library.get(name)
        client = client or self.client
        try:
            view = self.service.view(principal, purpose)
            rules = self.rules(view.level, disclosure)
            if template.individuals and disclosure == "publication":
                raise ParameterError(
                    f"template {template.name} lists individuals (by pseudonym); it cannot be "
                    "prepared for publication"
                )
            bound, through = self._bind(principal, template, params or {}, purpose)
        except GatewayError as exc:
            self._refused(principal, template, purpose, params or {}, client, exc)
            raise
        control = None
        if template.disclosure is not None:
            control = DeclaredDisclosure(
                template.disclosure,
                rules,
                disclosure,
                template=template.name,
                types={p.name: p.type for p in template.parameters},
                ledger=resources_of(self.service).ledger,
                processes=resources_of(self.service).processes,
                budget=self.service.policy.disclosure.budget,
                clock=self.service.clock,
            )
        outcome = self.service.run_query(
            principal,
            template.sql,
            purpose,
            bound,
            client=client,
            template=template.name,
            control=control,
            cancel=cancel,
        )
        truncated = outcome.result.truncated
        fingerprint = outcome.result.fingerprint
        table = read_result(outcome.result)
        report = control.report if control is not None else None
        return TemplateRun(
            template=template,
            query_id=outcome.query_id,
            params=bound,
            table=table,
            disclosure=report,
            username=principal.username,
            level=view.level,
            purpose=purpose,
            ran_at=self.service.clock(),
            policy_version=self.service.policy.version,
            truncated=truncated,
            fingerprint=fingerprint,
            rewrite=outcome.rewrite,
            marking=outcome.marking,
            data_through=through,
        )
