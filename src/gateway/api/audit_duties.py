"""The audit duties on behalf of the signed-in user: the plan, audits done, the incident register.

What the ``/v1/audit/plan``, ``/v1/audit/audits`` and ``/v1/audit/incidents`` endpoints call.
Every decision is the permission point's (:mod:`gateway.auth.permissions`): a duty is recorded
by the role the plan names for it; anyone signed in reports an incident (everyone must);
reading the plan's status or the register is an audit review — the force's auditors see every
organisation's, a local auditor their own organisation's only (:mod:`gateway.audit.scope`) —
and is itself recorded as ``access.audit_reviewed``. Each audit done and each incident is an
audit record (:mod:`gateway.audit.duties`, :mod:`gateway.audit.incidents`), written before the
answer (no record, no success).

Example:
    >>> desk = AuditDutyDesk(audit, policy)                                  # doctest: +SKIP
    >>> desk.report_incident(a_khan, "data_loss", found, summary="…", lost="…").late
    ...                                                                      # doctest: +SKIP
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from gateway.audit.chain import AuditEvent
from gateway.audit.duties import DutyStatus, duty_status, new_audit
from gateway.audit.facts import AccessEvent
from gateway.audit.incidents import (
    Incident,
    IncidentReported,
    close_incident,
    incident_register,
    new_incident,
)
from gateway.audit.kinds import DUTY_KINDS, EventKind
from gateway.audit.log import AuditLog
from gateway.auth.permissions import Action, Permissions
from gateway.clock import utc_now
from gateway.errors import NotFound
from gateway.policy import Policy
from gateway.principal import Principal

__all__ = ["AuditDutyDesk"]


def _reference(prefix: str) -> str:
    return f"{prefix}-{utc_now():%Y%m%d}-{secrets.token_hex(4).upper()}"


@dataclass(frozen=True)
class AuditDutyDesk:
    """The audit duties over the live audit log, under the policy's ``[audit]`` section."""

    audit: AuditLog
    policy: Policy

    @property
    def _permissions(self) -> Permissions:
        return Permissions.of(self.policy)

    def _review(self, principal: Principal, what: str) -> str | None:
        """Whose records ``principal`` may read (None: all); the read recorded first."""
        scope = self._permissions.audit_scope(principal)
        self.audit.record(
            AccessEvent(
                EventKind.ACCESS_AUDIT_REVIEWED,
                principal.username,
                principal.organisation,
                subject=what,
                extra={"scope": scope} if scope is not None else {},
            )
        )
        return scope

    def _duty_records(self, scope: str | None) -> list[AuditEvent]:
        return list(self.audit.events(kinds=DUTY_KINDS, organisation=scope))

    # --- the plan and audits done -----------------------------------------------------------

    def plan(self, principal: Principal) -> list[DutyStatus]:
        """Each duty of the plan, when last done and when due (a local auditor: the audits of
        their own organisation)."""
        scope = self._review(principal, "audit-plan")
        return duty_status(
            self.policy.audit.plan, self._duty_records(scope), utc_now(), scope=scope
        )

    def record_audit(
        self,
        principal: Principal,
        duty: str,
        *,
        findings: str,
        period_start: date | None = None,
        period_end: date | None = None,
    ) -> AuditEvent:
        """Record an audit done under the plan's ``duty`` (audited before it answers).

        Raises:
            NotFound: the plan has no such duty.
            WrongRole: the duty is another role's.
            InputError: no findings, or a period in the future or back to front.
            AuditUnavailable: not recorded.
        """
        item = self.policy.audit.item(duty)
        if item is None:
            names = ", ".join(i.name for i in self.policy.audit.plan) or "none"
            raise NotFound(f"the audit plan has no duty {duty!r} (duties: {names})")
        permissions = self._permissions
        permissions.require(principal, Action.RECORD_AUDIT, item)
        force_wide = permissions.allows(principal, Action.REVIEW_AUDIT)
        now = utc_now()
        fact = new_audit(
            _reference("AUD"),
            item,
            findings=findings,
            period_start=period_start,
            period_end=period_end,
            scope="" if force_wide else principal.organisation,
            actor=principal.username,
            organisation=principal.organisation,
            today=now.date(),
        )
        return self.audit.record(fact)

    def audits(self, principal: Principal) -> list[AuditEvent]:
        """The audits done, oldest first (a local auditor: their organisation's)."""
        scope = self._review(principal, "audits-done")
        return [e for e in self._duty_records(scope) if e.kind == EventKind.AUDIT_PERFORMED]

    # --- incidents ----------------------------------------------------------------------------

    def report_incident(
        self,
        principal: Principal,
        kind: str,
        discovered_at: datetime,
        *,
        summary: str,
        lost: str | None = None,
    ) -> IncidentReported:
        """Record an incident; late (beyond ``[audit] incident_report_hours``) is flagged in
        the record itself.

        Raises:
            InputError: see :func:`gateway.audit.incidents.new_incident`.
            AuditUnavailable: not recorded.
        """
        self._permissions.require(principal, Action.REPORT_INCIDENT)
        fact = new_incident(
            _reference("INC"),
            kind,
            discovered_at,
            utc_now(),
            summary=summary,
            lost=lost,
            actor=principal.username,
            organisation=principal.organisation,
            report_hours=self.policy.audit.incident_report_hours,
        )
        self.audit.record(fact)
        return fact

    def close_incident(self, principal: Principal, incident_id: str, *, actions: str) -> Incident:
        """Close an incident with the actions taken (audited before it answers).

        Raises:
            NotFound: no such incident.
            WrongRole, SelfApproval: not an auditor or the information security officer, or
                the incident's reporter.
            StepOutOfOrder: closed already.
            InputError: no actions recorded.
            AuditUnavailable: not recorded.
        """
        register = {i.incident_id: i for i in incident_register(self._duty_records(None))}
        incident = register.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id!r}")
        self._permissions.require(principal, Action.CLOSE_INCIDENT, incident)
        fact = close_incident(
            incident, actions=actions, actor=principal.username, organisation=principal.organisation
        )
        event = self.audit.record(fact)
        return replace(incident, closed_by=event.actor, closed_at=event.time, actions=fact.actions)

    def incidents(self, principal: Principal) -> list[Incident]:
        """The register (a local auditor: their organisation's incidents only)."""
        scope = self._review(principal, "incident-register")
        return incident_register(self._duty_records(scope))
