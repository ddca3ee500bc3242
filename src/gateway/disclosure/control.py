"""Disclosure control on any aggregate query: the query service's result control for one request.

The service (:meth:`gateway.service.QueryService.run_query` with ``control=``) calls it twice::

    vet     after the rewrite, before anything runs: the rules for the caller's level and mode;
            the executed SQL must be an aggregate (gateway.analysis.classify — grouped, by no
            identifying key); its columns' roles must be readable (output_roles) and agree with
            the request. A refusal is audited as a denial (``not_aggregate`` …): nothing runs.
    apply   after execution, before the completed audit record: the spec inferred against the
            result's own column names, :func:`~gateway.disclosure.protect`, and a report of the
            mode, rules and cells suppressed — which the service writes into the completed
            record (``disclosure``) with the protected result's rows and fingerprint.

One control serves one query (``vet`` keeps what ``apply`` needs).

**The differencing budget.** With a ledger (:mod:`gateway.disclosure.ledger`, the service's
``release_ledger``), a perturbed release is charged its custom selections in ``vet`` — read
from the analyst's statement (:func:`~gateway.disclosure.footprint.statement_footprint`) or a
template's typed parameters (:func:`~gateway.disclosure.footprint.template_footprint`) — and
refused (403 ``disclosure_budget_exhausted``, audited as a denial) when one of them is new
and overlaps too many different ones already released to the analyst; ``apply`` adds the
charge to the report (``budget``).

Under the cell key method the service asks the rewrite for a cell key beside each count
(:meth:`DisclosureControl.cell_keys`, :mod:`gateway.rewrite.cellkeys`): a count the rewrite could
give no key (the records it counts cannot be told) is refused (``not_protectable``), and
``apply`` takes the keys out of the result — they are never released — and perturbs each count
by its own.

:class:`DeclaredDisclosure` is the same hook for a query whose spec is declared and whose rules
are already resolved (a template's header: :class:`gateway.templates.TemplateRunner`): nothing to
vet, and ``apply`` protects and reports the same way, so a template run's completed record says
which mode and rules were applied (``none`` included) just as an ad-hoc query's does.

Example:
    >>> control = DisclosureControl.for_service(service, parse_disclosure_request("publication"))
    ...                                                                     # doctest: +SKIP
    >>> outcome = service.run_query(analyst, sql, "SA-2026", control=control)  # doctest: +SKIP
    >>> outcome.disclosure["min_count"], outcome.disclosure["round_to"]       # doctest: +SKIP
    (10, 5)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from gateway.analysis.classify import ColumnRole, classify_sql, output_roles
from gateway.catalog import Catalog, Sensitivity
from gateway.clock import Clock, utc_now
from gateway.disclosure.apply import DisclosureReport
from gateway.disclosure.budget import Budget
from gateway.disclosure.footprint import Selection, statement_footprint, template_footprint
from gateway.disclosure.isolation import ProtectionProcesses, protect_bounded
from gateway.disclosure.ledger import BudgetCharge, ReleaseLedger
from gateway.disclosure.request import DisclosureRequest, infer_spec
from gateway.disclosure.resources import resources_of
from gateway.disclosure.spec import DisclosureSpec
from gateway.errors import InputError, NotAggregate, NotProtectable, TooManyCells, TooManyRows
from gateway.policy.disclosure import DisclosureBudgetRules, DisclosureRules, DisclosureSettings
from gateway.policy.view import PolicyView
from gateway.rewrite import RewriteResult

if TYPE_CHECKING:
    from gateway.service import QueryService

__all__ = [
    "DISCLOSURE_MAX_ROWS",
    "DISCLOSURE_MAX_SECONDS",
    "SUPPRESSION_MAX_CELLS",
    "DeclaredDisclosure",
    "DisclosureControl",
    "audit_report",
    "charge",
    "check_cost",
    "take_cell_keys",
]

#: Largest result disclosure control works on (cells of a two-way table cost more than rows).
DISCLOSURE_MAX_ROWS = 20_000
#: The most time disclosure control may take for one request (within the query's own budget):
#: the cell key method protects DISCLOSURE_MAX_ROWS cells in about a tenth of this.
DISCLOSURE_MAX_SECONDS = 1.0


#: The largest table cell suppression protects: its search for secondary cells grows faster
#: than the cells and with the table's shape (finding 4's 2,192-cell day × flag table in about
#: 0.2 s, a sparse LSOA × day table of 2,007 cells in 0.6 s over HTTP, one of under 5,000 past
#: DISCLOSURE_MAX_SECONDS), so a larger table is refused before any protection work rather than
#: stopped at the time limit after spending it. The cell key method (the default) has no such
#: limit.
SUPPRESSION_MAX_CELLS = 2_500


def check_cost(
    table: pa.Table,
    spec: DisclosureSpec,
    rules: DisclosureRules,
    max_cells: int = SUPPRESSION_MAX_CELLS,
) -> None:
    """Refuse up front a table the rules' method cannot protect within its time limit.

    Raises:
        TooManyCells: cell suppression of more than ``max_cells`` cells.
    """
    cells = table.num_rows * len(spec.protected_columns)
    if rules.method == "suppression" and cells > max_cells:
        raise TooManyCells(
            f"cell suppression protects at most {max_cells:,} cells within its time "
            f"limit, and this table has {cells:,}; group more coarsely or filter"
        )


def _budget(deadline: float, cancelled: Callable[[], bool], max_seconds: float) -> Budget:
    return Budget(deadline=min(deadline, time.monotonic() + max_seconds), cancelled=cancelled)


@dataclass
class DisclosureControl:
    """Disclosure control for one query, as the service's ``control``.

    Attributes:
        request: what the analyst asked for.
        settings: the policy's ``[disclosure]`` rules.
        catalog: the warehouse catalog (to tell aggregate from record-level queries).
        max_rows: results with more rows are refused (the service caps the query here).
        max_seconds: the most time :meth:`apply` may take (less if the query's own deadline
            comes first).
        suppression_max_cells: larger tables are refused under cell suppression (it could
            not finish within ``max_seconds``).
        ledger: the differencing budget's ledger (None: no budget).
        processes: where large tables are protected (None: in the calling process).
        clock: the time charges are made at.
    """

    request: DisclosureRequest
    settings: DisclosureSettings
    catalog: Catalog
    max_rows: int = DISCLOSURE_MAX_ROWS
    max_seconds: float = DISCLOSURE_MAX_SECONDS
    suppression_max_cells: int = SUPPRESSION_MAX_CELLS
    ledger: ReleaseLedger | None = None
    processes: ProtectionProcesses | None = None
    clock: Clock = utc_now
    _rules: DisclosureRules | None = field(default=None, repr=False)
    _roles: tuple[ColumnRole, ...] = field(default=(), repr=False)
    _keys: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    _charge: BudgetCharge | None = field(default=None, repr=False)

    @classmethod
    def for_service(cls, service: QueryService, request: DisclosureRequest) -> DisclosureControl:
        """A control with the rules of ``service``'s policy and its ledger."""
        return cls(
            request=request,
            settings=service.policy.disclosure,
            catalog=service.catalog,
            ledger=resources_of(service).ledger,
            processes=resources_of(service).processes,
            clock=service.clock,
        )

    def cell_keys(self, level: str) -> bool:
        """Whether the counts need cell keys: the rules for ``level`` and the mode perturb."""
        return self.settings.resolve(level, self.request.mode).perturbs

    def cell_rules(self, level: str) -> bool:
        """Whether the analyst's cells must be published attributes compared with constants
        (:mod:`gateway.rewrite.cells`): whenever the rules perturb — different record sets
        get independent noise, so free ones could be averaged."""
        return self.cell_keys(level)

    @property
    def rules(self) -> DisclosureRules:
        """The rules resolved by :meth:`vet`."""
        if self._rules is None:
            raise RuntimeError("DisclosureControl.vet has not run")
        return self._rules

    def vet(self, rewrite: RewriteResult, view: PolicyView) -> None:
        """Refuse what disclosure control cannot protect, before the query runs.

        Raises:
            NotAggregate: the query returns records, not counts per group.
            ParameterError: an unknown mode, a column whose role cannot be told (window
                functions, subqueries), or a request that does not fit the columns.
        """
        rules = self.settings.resolve(view.level, self.request.mode)
        keyed = rewrite.cell_keyed
        verdict = classify_sql(rewrite.sql_for_analysis, self.catalog, cell_keys=keyed)
        if verdict.data_class != "aggregate":
            raise NotAggregate(
                "disclosure control applies to aggregate results (counts per group); this "
                f"query returns record-level rows ({verdict.reason}). Group and count instead, "
                "e.g. SELECT ward_code, count(*) AS crimes FROM crime GROUP BY ward_code"
            )
        columns = output_roles(rewrite.sql_for_analysis, self.catalog, cell_keys=keyed)
        self._rules, self._roles = rules, tuple(c.role for c in columns)
        self._keys = rewrite.cell_keys
        names = [c.name or f"\0column {i}" for i, c in enumerate(columns, start=1)]
        named = {*self.request.counts, *(self.request.dimensions or ()), *self.request.totals}
        named |= set(self.request.strata or ())
        if all(c.name for c in columns) or named <= {c.name for c in columns}:
            spec = infer_spec(self.request, names, self._roles, rules)  # early: nothing ran
            if keyed:
                with_keys = {names[position] for position, _ in self._keys}
                missing = [c for c in spec.protected_columns if c not in with_keys]
                if missing:
                    raise NotProtectable(_no_key(missing[0]))
        if rules.perturbs:
            footprint = statement_footprint(rewrite.submitted, rewrite.params, _areas(self.catalog))
            self._charge = charge(self.ledger, view, footprint, self.settings.budget, self.clock)

    def apply(
        self,
        table: pa.Table,
        *,
        truncated: bool,
        deadline: float = float("inf"),
        cancelled: Callable[[], bool] = lambda: False,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Protect the result; the report is what the completed audit record keeps.

        Args:
            table: the query's result.
            truncated: whether the result was cut at :attr:`max_rows`.
            deadline: the query's deadline (:func:`time.monotonic`).
            cancelled: true once the query is withdrawn.

        Raises:
            TooManyRows: the result was cut at :attr:`max_rows` (it must be whole).
            ParameterError, InputError: the request does not fit the result's columns, or a
                count column does not hold whole numbers.
            QueryTimeout, QueryCancelled: out of time (:attr:`max_seconds` or the query's
                deadline), or withdrawn; it stops between cells.
        """
        if truncated:
            raise TooManyRows(
                "disclosure control needs the whole table, and this result has more than "
                f"{self.max_rows:,} rows; group more coarsely or filter"
            )
        rules = self.rules
        table, keys = take_cell_keys(table, self._keys, rules)
        spec = infer_spec(self.request, table.column_names, self._roles, rules)
        check_cost(table, spec, rules, self.suppression_max_cells)
        budget = _budget(deadline, cancelled, self.max_seconds)
        protected = protect_bounded(
            table, spec, rules, cell_keys=keys, budget=budget, processes=self.processes
        )
        report = protected.report
        if report.unprotected:
            raise InputError(
                f"disclosure control could not protect {report.unprotected} suppressed cell(s) "
                "from the totals of this table; group more coarsely"
            )
        return protected.table, {
            **audit_report(self.request.mode, rules, spec, report),
            **_budget_report(self._charge),
        }


def _areas(catalog: Catalog) -> frozenset[str]:
    """The catalog's area columns (read as one attribute by the footprint)."""
    return frozenset(
        c.name for t in catalog for c in t.columns if c.sensitivity is Sensitivity.AREA
    )


def charge(
    ledger: ReleaseLedger | None,
    view: PolicyView,
    footprint: frozenset[Selection],
    rules: DisclosureBudgetRules,
    clock: Clock,
) -> BudgetCharge | None:
    """Charge a perturbed release's footprint to the analyst (None: no ledger).

    Raises:
        DisclosureBudgetExhausted: the budget refuses it (the service audits the denial).
    """
    if ledger is None:
        return None
    return ledger.charge(view.username, footprint, clock(), rules)


def _budget_report(charge: BudgetCharge | None) -> dict[str, Any]:
    return {} if charge is None else {"budget": charge.to_dict()}


def _no_key(column: str) -> str:
    return (
        f"disclosure control cannot tell which records {column!r} counts, so it cannot give it "
        "a cell key: count the records of one table (joined to others only by their keys) "
        "with count(*), count(DISTINCT <key column>) or a sum of 0/1 flags, in the query "
        "itself or in a subquery it reads by name"
    )


def take_cell_keys(
    table: pa.Table, keys: tuple[tuple[int, str], ...], rules: DisclosureRules
) -> tuple[pa.Table, dict[str, list[int | None]]]:
    """The result without its cell key columns, and each count column's cell keys (modulo
    the rules' ``modulus``), by name.

    Example:
        >>> raw = pa.table({"n": [3, 0], "__gw_cell_key_0": [1000, None]})
        >>> out, keys = take_cell_keys(raw, ((0, "__gw_cell_key_0"),), DisclosureRules(modulus=256))
        >>> out.column_names, keys
        (['n'], {'n': [232, None]})
    """
    found: dict[str, list[int | None]] = {}
    for position, column in keys:
        values = table.column(column).to_pylist()
        found[table.column_names[position]] = [
            None if v is None else int(v) % rules.modulus for v in values
        ]
    return table.drop_columns([column for _, column in keys]), found


def audit_report(
    mode: str, rules: DisclosureRules, spec: DisclosureSpec, report: DisclosureReport
) -> dict[str, Any]:
    """What a completed audit record keeps about the disclosure control applied (its
    ``disclosure``; the service adds ``source_fingerprint``).

    Example:
        >>> from gateway.disclosure.spec import DisclosureSpec
        >>> rules = DisclosureRules(min_count=10, label="general")
        >>> out = audit_report("policy", rules, DisclosureSpec(counts=("n",)),
        ...                    DisclosureReport(rules, cells=4, primary=1))
        >>> out["mode"], out["rules"], out["min_count"], out["primary"]
        ('policy', 'general', 10, 1)
    """
    return {
        "mode": mode,
        "rules": rules.label,
        "min_count": rules.min_count,
        "round_to": rules.round_to,
        "secondary": rules.secondary,
        "description": report.summary(),
        "counts": list(spec.counts),
        "dimensions": list(spec.dimensions),
        "strata": list(spec.strata),
        "totals": dict(spec.totals),
        "measures": [d.name for d in spec.derived],
        "cells": report.cells,
        "primary": report.primary,
        "secondary_suppressed": report.secondary,
        "withheld": report.withheld,
        "method": rules.method,
        **(
            {
                "max_noise": rules.max_noise,
                "modulus": rules.modulus,
                "cell_keys": "record keys",  # sums of the counted records' keys (cellkeys.py)
                "perturbed": report.perturbed,
            }
            if rules.perturbs
            else {}
        ),
    }


@dataclass
class DeclaredDisclosure:
    """Disclosure control with a declared spec and resolved rules, as the service's
    ``control`` (template runs: the spec from the template's header, the rules for the
    caller's level and mode).

    No row cap is added (a template's result is protected as it comes), and only the
    differencing budget refuses a run; :meth:`apply` keeps the full report in :attr:`report`
    for the caller.

    Attributes:
        spec: the result's shape.
        rules: the rules to apply (``label`` ``none`` when control is switched off).
        mode: the mode asked for (``policy``, ``publication`` or ``none``), for the record.
        report: what :meth:`apply` did (None until it has run).
        template, types: the template's name and each parameter's type (its footprint is
            read from them).
        ledger, budget, clock: the differencing budget (no ledger: none).
        processes: where large tables are protected (None: in the calling process).
    """

    spec: DisclosureSpec
    rules: DisclosureRules
    mode: str
    max_rows: int = sys.maxsize
    report: DisclosureReport | None = field(default=None, repr=False)
    max_seconds: float = DISCLOSURE_MAX_SECONDS
    suppression_max_cells: int = SUPPRESSION_MAX_CELLS
    template: str = ""
    types: dict[str, str] = field(default_factory=dict)
    ledger: ReleaseLedger | None = None
    processes: ProtectionProcesses | None = None
    budget: DisclosureBudgetRules = field(default_factory=DisclosureBudgetRules)
    clock: Clock = utc_now
    _keys: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    _charge: BudgetCharge | None = field(default=None, repr=False)

    def cell_keys(self, level: str) -> bool:
        """Whether the counts need cell keys (the rules perturb)."""
        return self.rules.perturbs

    def cell_rules(self, level: str) -> bool:
        """False: a template is reviewed SQL whose parameters are typed values."""
        return False

    def vet(self, rewrite: RewriteResult, view: PolicyView) -> None:
        """Keep where the rewrite put the cell keys and, when the rules perturb, charge the
        run's typed parameters to the differencing budget (the template declared its shape).

        Raises:
            DisclosureBudgetExhausted: the budget refuses the run.
        """
        self._keys = rewrite.cell_keys
        if self.rules.perturbs:
            footprint = template_footprint(self.template, self.types, rewrite.params)
            self._charge = charge(self.ledger, view, footprint, self.budget, self.clock)

    def apply(
        self,
        table: pa.Table,
        *,
        truncated: bool,
        deadline: float = float("inf"),
        cancelled: Callable[[], bool] = lambda: False,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Protect the result within the budget (as :meth:`DisclosureControl.apply`); the
        report (as :class:`DisclosureControl` writes it, plus the ``people`` columns,
        ``unprotected`` cells and ``spec: template``) goes into the completed audit record."""
        check_cost(table, self.spec, self.rules, self.suppression_max_cells)
        budget = _budget(deadline, cancelled, self.max_seconds)
        table, keys = take_cell_keys(table, self._keys, self.rules)
        protected = protect_bounded(
            table, self.spec, self.rules, cell_keys=keys, budget=budget, processes=self.processes
        )
        self.report = protected.report
        return protected.table, {
            **audit_report(self.mode, self.rules, self.spec, protected.report),
            "people": list(self.spec.people),
            "unprotected": protected.report.unprotected,
            "spec": "template",
            **_budget_report(self._charge),
        }
