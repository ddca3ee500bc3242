"""Audits carried out under the audit plan, and when each duty of the plan is due.

The plan is the policy's ``[[audit.plan]]`` (:mod:`gateway.policy.audit_duties`): what is
sampled, how often, by which role. Each audit carried out is one record, ``audit.performed``
(:class:`AuditPerformed`): the duty, the auditor, the period audited, the findings, and the
organisation it covered (a local auditor audits their own organisation only; ``""`` is the
whole force). :func:`duty_status` reads those records back against the plan: when each duty was
last done, when it is next due, whether it is overdue.

Pure: no clock, no I/O.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.policy.audit_duties import AuditPlanItem
    >>> item = AuditPlanItem("monthly", "denied queries", 30, "senior_analyst")
    >>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
    >>> [s.overdue for s in duty_status((item,), [], now)]
    [True]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from gateway.audit.chain import AuditEvent
from gateway.audit.kinds import EventKind
from gateway.errors import InputError

if TYPE_CHECKING:  # the policy package needs sqlglot; the audit package does not
    from gateway.policy.audit_duties import AuditPlanItem

__all__ = ["AuditPerformed", "DutyStatus", "duty_status", "new_audit"]

_MAX_FINDINGS = 8000


@dataclass(frozen=True)
class AuditPerformed:
    """``audit.performed``: an audit carried out under the plan.

    Attributes:
        audit_id: its reference.
        duty: the plan's duty (:attr:`AuditPlanItem.name`).
        findings: what it found, in the auditor's words.
        period_start, period_end: the period audited (None: not stated).
        scope: the organisation audited (a local auditor's own); ``""`` for the whole force.
        actor, organisation: the auditor.
    """

    audit_id: str
    duty: str
    findings: str
    period_start: date | None
    period_end: date | None
    scope: str
    actor: str
    organisation: str

    kind: ClassVar[EventKind] = EventKind.AUDIT_PERFORMED

    def details(self) -> dict[str, Any]:
        return {
            "audit_id": self.audit_id,
            "duty": self.duty,
            "findings": self.findings,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "scope": self.scope,
        }


def new_audit(
    audit_id: str,
    item: AuditPlanItem,
    *,
    findings: str,
    period_start: date | None,
    period_end: date | None,
    scope: str,
    actor: str,
    organisation: str,
    today: date,
) -> AuditPerformed:
    """A validated record of an audit done.

    Raises:
        InputError: no findings, or a period that ends before it starts or after today.
    """
    text = findings.strip()
    if not text:
        raise InputError("record the audit's findings (say 'none' if it found nothing)")
    if len(text) > _MAX_FINDINGS:
        raise InputError(f"the findings are longer than {_MAX_FINDINGS} characters")
    if period_start and period_end and period_end < period_start:
        raise InputError("the period audited ends before it starts")
    if (period_end and period_end > today) or (period_start and period_start > today):
        raise InputError("the period audited cannot lie in the future")
    return AuditPerformed(
        audit_id, item.name, text, period_start, period_end, scope, actor, organisation
    )


@dataclass(frozen=True)
class DutyStatus:
    """One duty of the plan and where it stands.

    Attributes:
        item: the duty.
        last_done: when an audit of it was last recorded (None: never).
        last_by: who did it.
        due: when the next is due (now, if never done).
        overdue: the due time has passed.
        audits: how many audits of it are recorded.
    """

    item: AuditPlanItem
    last_done: datetime | None
    last_by: str
    due: datetime
    overdue: bool
    audits: int


def duty_status(
    plan: Sequence[AuditPlanItem],
    events: Iterable[AuditEvent],
    now: datetime,
    *,
    scope: str | None = None,
) -> list[DutyStatus]:
    """Each duty of ``plan`` against the ``audit.performed`` records among ``events``.

    Args:
        scope: count only audits of this organisation (a local auditor's view); None: all.
    """
    done: dict[str, list[AuditEvent]] = {}
    for event in events:
        if event.kind != EventKind.AUDIT_PERFORMED:
            continue
        if scope is not None and event.details.get("scope") != scope:
            continue
        done.setdefault(str(event.details.get("duty", "")), []).append(event)
    status = []
    for item in plan:
        records = done.get(item.name, [])
        last = max(records, key=lambda e: e.time) if records else None
        due = last.time + timedelta(days=item.every_days) if last else now
        status.append(
            DutyStatus(
                item=item,
                last_done=last.time if last else None,
                last_by=last.actor if last else "",
                due=due,
                overdue=due <= now,
                audits=len(records),
            )
        )
    return status
