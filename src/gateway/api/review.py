"""Audit review for senior analysts and auditors: events, reports and chain verification.

What the audit endpoints call. Who may review is the policy's decision (the roles that may
query the ``audit`` schema, see :data:`gateway.auth.permissions.Action.REVIEW_AUDIT`); every review
is itself recorded as an ``access.audit_reviewed`` event, so reviewers are reviewed too.

A local auditor (``[audit] local_auditor_roles``) reviews their own organisation only: the
events and reports they are given are built from the records of that organisation's users
alone (:meth:`gateway.auth.permissions.Permissions.audit_scope`), and the review is recorded
with that ``scope``. An organisation's records are those its users made (every record carries
the acting user's organisation), so the scope is a filter of the audit store itself
(``AuditStore.events(organisation=…)``): nothing of another organisation's is read, including
records made by the force's own staff. Verification of the whole chain stays with the force's auditors.

Example:
    >>> review = AuditReview(data_dir, audit, policy, catalog, directory)    # doctest: +SKIP
    >>> review.report(senior, "denied").to_pylist()                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from gateway.audit.chain import AuditEvent
from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.audit.reporting import REPORTS, ReportArguments, ReportSources, run_report
from gateway.audit.tables import audit_tables
from gateway.audit.verify import VerifyReport, verify_data_dir
from gateway.audit.views import QueryView
from gateway.auth.permissions import Action, Permissions
from gateway.catalog import Catalog
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.errors import AccessDenied, NotFound
from gateway.policy import Policy
from gateway.principal import Principal, PrincipalDirectory
from gateway.service import QUERY_RECORD_SPAN, query_record_window

__all__ = ["AuditReview"]


@dataclass(frozen=True)
class AuditReview:
    """Reads of the audit trail on behalf of a reviewer.

    Attributes:
        data_dir: the deployment (verification reads the log and checkpoints from here).
        audit: the live audit log.
        policy: decides who may review.
        catalog: for the person-lookups report.
        directory: everyone with access, for the dormant-users report.
    """

    data_dir: DataDir
    audit: AuditLog
    policy: Policy
    catalog: Catalog
    directory: PrincipalDirectory

    def _allow(self, principal: Principal, what: str, facts: Mapping[str, object]) -> None:
        Permissions.of(self.policy).require(principal, Action.REVIEW_AUDIT)
        self._record(principal, what, facts)

    def _scope(
        self,
        principal: Principal,
        what: str,
        facts: Mapping[str, object],
        organisation: str | None = None,
    ) -> str | None:
        """Whose records ``principal`` reviews (None: all), the review recorded first: their
        scope, narrowed to ``organisation`` when they ask for one.

        Raises:
            AccessDenied: a local auditor asking for another organisation's records.
        """
        scope = Permissions.of(self.policy).audit_scope(principal)
        if organisation is not None and scope is not None and organisation != scope:
            raise AccessDenied(f"{principal.username!r} reviews {scope!r}'s records only")
        scope = organisation if organisation is not None else scope
        self._record(principal, what, {**facts, "scope": scope})
        return scope

    def _record(self, principal: Principal, what: str, facts: Mapping[str, object]) -> None:
        self.audit.record(
            AccessEvent(
                EventKind.ACCESS_AUDIT_REVIEWED,
                principal.username,
                principal.organisation,
                subject=what,
                extra={k: v for k, v in facts.items() if v is not None},
            )
        )

    def events(
        self,
        principal: Principal,
        *,
        kinds: Collection[str] | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Events in log order matching every filter given (at most ``limit``); a local
        auditor's are their organisation's only."""
        scope = self._scope(
            principal,
            "events",
            {
                "kinds": sorted(kinds) if kinds else None,
                "actor": actor,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "after_seq": after_seq or None,
            },
        )
        found = self.audit.events(
            after_seq,
            kinds=kinds or None,
            actor=actor,
            organisation=scope,
            since=since,
            until=until,
            limit=limit,
        )
        return list(found)

    def report(
        self,
        principal: Principal,
        name: str,
        arguments: ReportArguments,
        *,
        organisation: str | None = None,
    ) -> pa.Table:
        """One of :data:`~gateway.audit.reporting.REPORTS` as an Arrow table (dormant users:
        everyone in the directory unless ``arguments.users`` names them), over the records of
        ``organisation``'s users when one is given (a local auditor: only their own).

        Raises:
            NotFound: no report of that name.
            AccessDenied: not a reviewer, or a local auditor naming another organisation.
        """
        if name not in REPORTS:
            raise NotFound(f"there is no report {name!r}; reports: {', '.join(REPORTS)}")
        since, until = arguments.since, arguments.until
        scope = self._scope(
            principal,
            f"report:{name}",
            {
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "users": list(arguments.users) or None,
            },
            organisation,
        )
        now = utc_now()
        # a report that takes a period reads from a query-span before it: every record of a
        # query started in it, and of an export's query, is at or after that (dormant users
        # take no start and read everything)
        periodic = any(p.name == "since" for p in REPORTS[name].parameters)
        first = since - QUERY_RECORD_SPAN if since is not None and periodic else None

        def users_with_access() -> list[str]:
            users = self.directory.usernames()
            if scope is None:
                return users
            principals = (self.directory.principal(u, now) for u in users)
            return [p.username for p in principals if p is not None and p.organisation == scope]

        sources = ReportSources(
            audit_tables(self.audit.events(organisation=scope, since=first)),
            self.catalog,
            users_with_access,
            now,
        )
        return run_report(name, sources, arguments).to_arrow()

    def query(self, principal: Principal, query_id: str) -> QueryView:
        """Everything the log says about one query (its request, the SQL executed, outcome),
        if it is within ``principal``'s scope; the look-up is itself recorded.

        Raises:
            NotFound: no such query, or another organisation's (not revealed).
            AccessDenied: not a reviewer.
        """
        scope = self._scope(principal, f"query:{query_id[:80]}", {})
        window = query_record_window(query_id)
        if window is None:
            raise NotFound(f"no query {query_id[:80]!r} in the records you review")
        since, until = window
        for view in self.audit.queries(organisation=scope, since=since, until=until):
            if view.query_id == query_id:
                return view
        raise NotFound(f"no query {query_id[:80]!r} in the records you review")

    def verify(self, principal: Principal) -> VerifyReport:
        """Recompute the hash chain and check the signed checkpoints."""
        self._allow(principal, "verify", {})
        return verify_data_dir(self.data_dir)
