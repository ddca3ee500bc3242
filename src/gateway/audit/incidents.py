"""The security-incident and data-loss register, with the 24-hour reporting rule.

The connection agreement has every security incident — a loss of data included — reported
within 24 hours of its discovery (``[audit] incident_report_hours``). A report is one audit
record, ``incident.reported`` (:class:`IncidentReported`): who reported it, when it was
discovered and reported, how many hours lay between, and whether that was **late** (more than
the rule allows) — decided when it is recorded, so the flag is part of the hash-chained record
and cannot be dropped later. A data loss records what was lost. An incident is closed, with
the actions taken, by someone other than its reporter (``incident.closed``,
:class:`IncidentClosed`). The register (:func:`incident_register`) is read back from those
records.

Pure: no clock, no I/O.

Example:
    >>> from datetime import datetime, timezone
    >>> found = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    >>> told = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
    >>> r = new_incident("INC1", "data_loss", found, told, summary="laptop stolen",
    ...                  lost="one CSV of 40 crimes", actor="a.khan", organisation="MBC",
    ...                  report_hours=24)
    >>> r.hours_to_report, r.late, r.details()["lost"]
    (30.0, True, 'one CSV of 40 crimes')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, get_args

from gateway.audit.chain import AuditEvent, format_time, parse_time
from gateway.audit.kinds import EventKind
from gateway.errors import InputError, StepOutOfOrder

__all__ = [
    "INCIDENT_KINDS",
    "Incident",
    "IncidentClosed",
    "IncidentKind",
    "IncidentReported",
    "close_incident",
    "incident_register",
    "new_incident",
]

IncidentKind = Literal["security", "data_loss"]
#: What an incident may be: a security incident, or a loss of data (which records what).
INCIDENT_KINDS: tuple[str, ...] = get_args(IncidentKind)
_MAX_TEXT = 4000
#: A discovery time this far after the report is a clock difference, not the future.
_SKEW = timedelta(minutes=5)
#: A discovery time further back than this is a mistyped date.
_OLDEST = timedelta(days=3660)


@dataclass(frozen=True)
class IncidentReported:
    """``incident.reported``: one incident, as reported (see the module docstring).

    Attributes:
        incident_id: its reference.
        incident_kind: ``security`` or ``data_loss``.
        discovered_at: when it was discovered (as the reporter says).
        reported_at: when it was reported (the gateway's clock).
        summary: what happened.
        lost: for a data loss, what was lost (``""`` otherwise).
        actor, organisation: who reported it.
        report_hours: the rule in force (``[audit] incident_report_hours``).
    """

    incident_id: str
    incident_kind: str
    discovered_at: datetime
    reported_at: datetime
    summary: str
    lost: str
    actor: str
    organisation: str
    report_hours: int = 24

    kind: ClassVar[EventKind] = EventKind.INCIDENT_REPORTED

    @property
    def hours_to_report(self) -> float:
        """Hours from discovery to report (one decimal place)."""
        seconds = (self.reported_at - self.discovered_at).total_seconds()
        return round(max(0.0, seconds) / 3600, 1)

    @property
    def late(self) -> bool:
        """Whether it was reported more than ``report_hours`` after discovery."""
        return self.reported_at - self.discovered_at > timedelta(hours=self.report_hours)

    def details(self) -> dict[str, Any]:
        """The record's details, with the rule applied (``late``, ``report_hours``)."""
        return {
            "incident_id": self.incident_id,
            "incident_kind": self.incident_kind,
            "discovered_at": format_time(self.discovered_at),
            "reported_at": format_time(self.reported_at),
            "hours_to_report": self.hours_to_report,
            "report_hours": self.report_hours,
            "late": self.late,
            "summary": self.summary,
            "lost": self.lost,
        }


def _text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise InputError(f"give the incident's {what}")
    if len(text) > _MAX_TEXT:
        raise InputError(f"the incident's {what} is longer than {_MAX_TEXT} characters")
    return text


def new_incident(
    incident_id: str,
    incident_kind: str,
    discovered_at: datetime,
    reported_at: datetime,
    *,
    summary: str,
    lost: str | None,
    actor: str,
    organisation: str,
    report_hours: int,
) -> IncidentReported:
    """A validated report.

    Raises:
        InputError: an unknown kind, a discovery time without a zone or in the future, no
            summary, or a data loss that does not say what was lost.
    """
    if incident_kind not in INCIDENT_KINDS:
        raise InputError(
            f"an incident is one of {', '.join(INCIDENT_KINDS)}, not {incident_kind!r}"
        )
    if discovered_at.tzinfo is None:
        raise InputError("give the discovery time with its time zone (or as UTC)")
    if discovered_at > reported_at + _SKEW:
        raise InputError("an incident cannot be discovered after it is reported")
    if reported_at - discovered_at > _OLDEST:
        raise InputError("the discovery time is more than ten years ago: check the date")
    what_lost = (lost or "").strip()
    if incident_kind == "data_loss":
        what_lost = _text(what_lost, "record of what was lost (--lost / lost)")
    elif what_lost:
        raise InputError("only a data_loss incident records what was lost")
    return IncidentReported(
        incident_id=incident_id,
        incident_kind=incident_kind,
        discovered_at=discovered_at,
        reported_at=reported_at,
        summary=_text(summary, "summary"),
        lost=what_lost,
        actor=actor,
        organisation=organisation,
        report_hours=report_hours,
    )


@dataclass(frozen=True)
class IncidentClosed:
    """``incident.closed``: an incident closed, with the actions taken."""

    incident_id: str
    actions: str
    actor: str
    organisation: str

    kind: ClassVar[EventKind] = EventKind.INCIDENT_CLOSED

    def details(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "actions": self.actions}


def close_incident(
    incident: Incident, *, actions: str, actor: str, organisation: str
) -> IncidentClosed:
    """A validated closure (who may close is the permission point's decision).

    Raises:
        StepOutOfOrder: already closed.
        InputError: no actions recorded.
    """
    if incident.closed_by is not None:
        raise StepOutOfOrder(
            f"incident {incident.incident_id} was closed by {incident.closed_by} already"
        )
    return IncidentClosed(
        incident.incident_id, _text(actions, "actions taken"), actor, organisation
    )


@dataclass(frozen=True)
class Incident:
    """One entry of the register, read back from its records (``closed_by`` None: open)."""

    incident_id: str
    incident_kind: str
    discovered_at: datetime
    reported_at: datetime
    hours_to_report: float
    report_hours: int
    late: bool
    summary: str
    lost: str
    reported_by: str
    organisation: str
    seq: int
    closed_by: str | None = None
    closed_at: datetime | None = None
    actions: str = ""


def incident_register(events: Iterable[AuditEvent]) -> list[Incident]:
    """The incidents among ``events`` (other kinds are skipped), in the order reported, with
    their closure when closed."""
    register: dict[str, Incident] = {}
    for event in events:
        d = event.details
        if event.kind == EventKind.INCIDENT_CLOSED:
            found = register.get(str(d.get("incident_id", "")))
            if found is not None and found.closed_by is None:
                register[found.incident_id] = replace(
                    found,
                    closed_by=event.actor,
                    closed_at=event.time,
                    actions=str(d.get("actions", "")),
                )
            continue
        if event.kind != EventKind.INCIDENT_REPORTED:
            continue
        register[str(d.get("incident_id", ""))] = Incident(
            incident_id=str(d.get("incident_id", "")),
            incident_kind=str(d.get("incident_kind", "")),
            discovered_at=_time(d.get("discovered_at")),
            reported_at=_time(d.get("reported_at"), event.time),
            hours_to_report=float(d.get("hours_to_report", 0.0)),
            report_hours=int(d.get("report_hours", 24)),
            late=bool(d.get("late", False)),
            summary=str(d.get("summary", "")),
            lost=str(d.get("lost", "")),
            reported_by=event.actor,
            organisation=event.organisation,
            seq=event.seq,
        )
    return list(register.values())


def _time(text: object, default: datetime | None = None) -> datetime:
    """A stored time, read leniently: a register must stay readable whatever one record says
    (years before 1000 were once written without leading zeros)."""
    if isinstance(text, str):
        year, dash, rest = text.partition("-")
        try:
            return parse_time(f"{year.zfill(4)}{dash}{rest}")
        except ValueError:
            pass
    return default or datetime.min.replace(tzinfo=UTC)
