"""An access request's precondition checklist: each item, what is on record, what is missing.
Pure: no I/O.

:func:`shortfalls` says what is missing; an approver deciding a request also needs to see what
*is* recorded (which vetting, which declarations and when, which memorandum, who the
designated senior analyst and local supervisor are). :func:`checklist` puts the two side by
side, one :class:`ChecklistItem` per precondition in the order of the forms. Every shortfall
appears on some item: one the list does not know is added as an item of its own, never
dropped.

Example:
    >>> from datetime import date
    >>> from gateway.governance.preconditions import Vetting
    >>> records = PreconditionRecords(organisation_kind="force", vetting=(
    ...     Vetting("a.khan", "NPPV2", date(2024, 1, 1), date(2030, 1, 1)),))
    >>> items = checklist(records, "general", date(2026, 5, 1))
    >>> items[0].item, items[0].recorded, items[0].ok
    ('Vetting', 'NPPV2 from 2024-01-01 until 2030-01-01', True)
    >>> items[1].item, items[1].ok
    ('Confidentiality declaration', False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.governance.partnership import NEEDS_SPONSOR, PartnershipRecords
from gateway.governance.preconditions import (
    TRAINING_KINDS,
    PreconditionRecords,
    PreconditionRules,
    Shortfall,
    shortfalls,
)

__all__ = ["ChecklistItem", "checklist"]


@dataclass(frozen=True)
class ChecklistItem:
    """One precondition: what is on record for it, and what is missing (empty: in place)."""

    item: str
    recorded: str
    missing: str = ""

    @property
    def ok(self) -> bool:
        return not self.missing


#: Which shortfalls belong to an item: their code starts with this, and (if set) their
#: ``item`` is this.
_Matches = tuple[str, str | None]


def _belongs(shortfall: Shortfall, matches: _Matches) -> bool:
    prefix, item = matches
    return shortfall.code.startswith(prefix) and (item is None or shortfall.item == item)


def _title(kind: str) -> str:
    return kind.replace("_", " ").capitalize().replace("Syops", "SyOPs")


def _recorded(records: PreconditionRecords, day: date) -> list[tuple[str, str, _Matches]]:
    """(item, what is recorded, which shortfalls belong to it), in the order of the forms."""
    out: list[tuple[str, str, _Matches]] = []
    vetting = ", ".join(
        f"{v.level} from {v.granted} until {v.expires}" for v in records.vetting if v.valid_on(day)
    )
    out.append(("Vetting", vetting, ("vetting_", None)))
    for kind in ("confidentiality", "data_protection", "official_secrets_act"):
        signed = [d.signed for d in records.declarations if d.kind == kind and d.signed <= day]
        out.append(
            (
                f"{_title(kind)} declaration",
                f"signed {max(signed)}" if signed else "",
                ("declaration_missing", kind),
            )
        )
    syops = [
        d.signed
        for d in records.declarations
        if d.kind == "security_operating_procedures" and d.signed <= day
    ]
    out.append(
        (
            "Security operating procedures accepted",
            f"accepted {max(syops)}" if syops else "",
            ("syops_", None),
        )
    )
    for kind in TRAINING_KINDS:
        done = [t.completed for t in records.training if t.kind == kind and t.completed <= day]
        out.append(
            (
                _title(kind),
                f"completed {max(done)}" if done else "",
                ("training_missing", kind),
            )
        )
    senior = records.senior_analysts
    deputies = f" (deputies: {', '.join(senior[1:])})" if senior[1:] else ""
    out.append(
        (
            "Designated senior analyst",
            senior[0] + deputies if senior else "",
            ("senior_analyst_missing", None),
        )
    )
    if records.organisation_kind == "force":
        return out
    out.append(
        (
            "Local supervisor",
            records.local_supervisor or "",
            ("local_supervisor_missing", None),
        )
    )
    for whose, item, own in (
        ("Organisation's memorandum of understanding", "memorandum", False),
        ("Applicant's memorandum of understanding", "applicant_memorandum", True),
    ):
        found = [
            m for m in records.memoranda if (m.username is not None) == own and m.valid_on(day)
        ]
        out.append(
            (
                whose,
                ", ".join(f"{m.reference} signed {m.signed}" for m in found),
                ("mou_", item),
            )
        )
    codes = [c for c in records.codes_of_connection if c.valid_on(day)]
    out.append(
        (
            "Code-of-connection declaration",
            ", ".join(f"by {c.declared_by}, valid until {c.valid_until}" for c in codes),
            ("coc_", None),
        )
    )
    out += _partnership(records.partnership or PartnershipRecords(records.organisation_kind), day)
    return out


def _partnership(records: PartnershipRecords, day: date) -> list[tuple[str, str, _Matches]]:
    agreement = records.current_agreement(day)
    out: list[tuple[str, str, _Matches]] = [
        (
            "Information sharing agreement",
            f"{agreement.reference} signed {agreement.signed} (copy: {agreement.copied_to})"
            if agreement
            else "",
            ("isa_", None),
        )
    ]
    if records.kind in NEEDS_SPONSOR:
        out.append(
            (
                "Sponsorship by a community safety partnership",
                ", ".join(f"{s.sponsor} ({s.sponsored_by})" for s in records.sponsorships),
                ("sponsorship_missing", None),
            )
        )
    authorised = [a for a in records.authorisations if a.at.date() <= day]
    out.append(
        (
            "System owner's authorisation",
            ", ".join(f"by {a.authorised_by} on {a.at:%Y-%m-%d}" for a in authorised),
            ("system_owner_authorisation_missing", None),
        )
    )
    return out


def checklist(
    records: PreconditionRecords,
    level: str,
    day: date,
    rules: PreconditionRules | None = None,
) -> tuple[ChecklistItem, ...]:
    """The preconditions for ``level`` access on ``day``: recorded and missing, item by item.

    Args:
        records: the applicant's and their organisation's records.
        level: ``general`` or ``enhanced`` (the vetting needed differs).
        day: the day in question.
        rules: the deployment's precondition rules (defaults as :func:`shortfalls`).
    """
    missing = list(shortfalls(records, level, day, rules))
    items = []
    for item, recorded, matches in _recorded(records, day):
        mine = [s for s in missing if _belongs(s, matches)]
        missing = [s for s in missing if s not in mine]
        items.append(ChecklistItem(item, recorded, "; ".join(s.message for s in mine)))
    items += [ChecklistItem(_title(s.item), "", s.message) for s in missing]
    return tuple(items)
