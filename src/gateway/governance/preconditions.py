"""What must be in place before access goes live, and what is missing. Pure: no I/O.

Before a grant can be used its holder needs: vetting at the level's required clearance and in
date; signed confidentiality and data-protection declarations; the gateway training and the
information-security induction; acceptance of the security operating procedures (SyOPs) within
the last year; and, for partner organisations (not the force itself), a signed memorandum of
understanding and a current annual code-of-connection declaration.

:func:`shortfalls` lists everything missing or expired for one person at one day — the
"what is missing before I can start" list — and :func:`refusal` turns it into the error a
query gets (``vetting_expired`` before the general ``precondition_missing``).

Example:
    >>> from datetime import date
    >>> records = PreconditionRecords(organisation_kind="force", vetting=(
    ...     Vetting("a.khan", "NPPV2", date(2024, 1, 1), date(2026, 1, 1)),))
    >>> [s.code for s in shortfalls(records, "general", date(2026, 5, 1))][:2]
    ['vetting_expired', 'declaration_missing']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Literal, get_args

from gateway.errors import PreconditionMissing, VettingExpired

__all__ = [
    "DECLARATION_KINDS",
    "TRAINING_KINDS",
    "VETTING_LEVELS",
    "CodeOfConnection",
    "Declaration",
    "DeclarationKind",
    "Memorandum",
    "PreconditionRecords",
    "PreconditionRules",
    "Shortfall",
    "Training",
    "TrainingKind",
    "Vetting",
    "refusal",
    "shortfalls",
]

#: Non-police personnel vetting levels, lowest first.
VETTING_LEVELS: tuple[str, ...] = ("NPPV1", "NPPV2", "NPPV3")

DeclarationKind = Literal["confidentiality", "data_protection", "security_operating_procedures"]
DECLARATION_KINDS: tuple[str, ...] = get_args(DeclarationKind)

TrainingKind = Literal["gateway_training", "information_security_induction"]
TRAINING_KINDS: tuple[str, ...] = get_args(TrainingKind)


@dataclass(frozen=True)
class Vetting:
    """A vetting clearance: level, when granted, when it expires (inclusive)."""

    username: str
    level: str
    granted: date
    expires: date
    reference: str = ""

    def valid_on(self, day: date) -> bool:
        return self.granted <= day <= self.expires


@dataclass(frozen=True)
class Declaration:
    """A signed declaration (confidentiality, data protection, SyOPs acceptance)."""

    username: str
    kind: DeclarationKind
    signed: date


@dataclass(frozen=True)
class Training:
    """Completed training: the gateway course or the information-security induction."""

    username: str
    kind: TrainingKind
    completed: date


@dataclass(frozen=True)
class Memorandum:
    """An organisation's signed memorandum of understanding (``expires`` None = open-ended)."""

    organisation: str
    reference: str
    signed: date
    expires: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.signed <= day and (self.expires is None or day <= self.expires)


@dataclass(frozen=True)
class CodeOfConnection:
    """An organisation's annual code-of-connection declaration, made by its SPOC."""

    organisation: str
    declared_by: str
    declared_on: date
    valid_until: date

    def valid_on(self, day: date) -> bool:
        return self.declared_on <= day <= self.valid_until


@dataclass(frozen=True)
class PreconditionRules:
    """Configurable parts of the preconditions.

    Attributes:
        vetting_required: level → the lowest vetting that allows it.
        syops_valid_days: how long a SyOPs acceptance lasts before it must be re-accepted.
        partner_documents: require a memorandum and code of connection from non-force
            organisations.
    """

    vetting_required: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"general": "NPPV2", "enhanced": "NPPV3"})
    )
    syops_valid_days: int = 365
    partner_documents: bool = True


@dataclass(frozen=True)
class PreconditionRecords:
    """Everything on file for one person and their organisation."""

    organisation_kind: str
    vetting: tuple[Vetting, ...] = ()
    declarations: tuple[Declaration, ...] = ()
    training: tuple[Training, ...] = ()
    memoranda: tuple[Memorandum, ...] = ()
    codes_of_connection: tuple[CodeOfConnection, ...] = ()


@dataclass(frozen=True)
class Shortfall:
    """One thing missing or expired, with a plain explanation.

    Attributes:
        code: ``vetting_missing``, ``vetting_expired``, ``vetting_insufficient``,
            ``declaration_missing``, ``syops_missing``, ``syops_expired``, ``training_missing``,
            ``mou_missing``, ``mou_expired``, ``coc_missing`` or ``coc_expired``.
        item: what it is about (``confidentiality``, ``NPPV3`` …).
        message: what to do, for the applicant.
        expired_on: the day it lapsed, where it lapsed.
    """

    code: str
    item: str
    message: str
    expired_on: date | None = None


def _vetting(
    records: PreconditionRecords, level: str, day: date, rules: PreconditionRules
) -> list[Shortfall]:
    required = rules.vetting_required.get(level, VETTING_LEVELS[-1])
    if not records.vetting:
        return [Shortfall("vetting_missing", required, f"no vetting on record ({required} needed)")]
    current = [v for v in records.vetting if v.valid_on(day)]
    if not current:
        latest = max(records.vetting, key=lambda v: v.expires)
        if latest.expires < day:
            return [
                Shortfall(
                    "vetting_expired",
                    latest.level,
                    f"vetting {latest.level} expired on {latest.expires}; renew it ({required} needed)",
                    latest.expires,
                )
            ]
        return [Shortfall("vetting_missing", required, f"vetting starts on {latest.granted}")]
    rank = max(_rank(v.level) for v in current)
    if rank < _rank(required):
        held = VETTING_LEVELS[rank] if rank >= 0 else "unknown"
        return [
            Shortfall(
                "vetting_insufficient",
                required,
                f"{level} access needs {required} vetting; held: {held}",
            )
        ]
    return []


def _rank(level: str) -> int:
    return VETTING_LEVELS.index(level) if level in VETTING_LEVELS else -1


def _declarations(
    records: PreconditionRecords, day: date, rules: PreconditionRules
) -> list[Shortfall]:
    out = []
    signed = {d.kind for d in records.declarations if d.signed <= day}
    for kind in ("confidentiality", "data_protection"):
        if kind not in signed:
            out.append(
                Shortfall(
                    "declaration_missing",
                    kind,
                    f"the {kind.replace('_', '-')} declaration has not been signed",
                )
            )
    syops = [
        d.signed
        for d in records.declarations
        if d.kind == "security_operating_procedures" and d.signed <= day
    ]
    if not syops:
        out.append(
            Shortfall(
                "syops_missing",
                "security_operating_procedures",
                "the security operating procedures have not been accepted",
            )
        )
    else:
        lapses = max(syops) + timedelta(days=rules.syops_valid_days)
        if lapses < day:
            out.append(
                Shortfall(
                    "syops_expired",
                    "security_operating_procedures",
                    f"the yearly acceptance of the security operating procedures lapsed on {lapses}",
                    lapses,
                )
            )
    return out


def _training(records: PreconditionRecords, day: date) -> list[Shortfall]:
    done = {t.kind for t in records.training if t.completed <= day}
    titles = {
        "gateway_training": "the gateway training has not been completed",
        "information_security_induction": "the information-security induction has not been completed",
    }
    return [
        Shortfall("training_missing", kind, titles[kind])
        for kind in TRAINING_KINDS
        if kind not in done
    ]


def _partner_documents(records: PreconditionRecords, day: date) -> list[Shortfall]:
    out = []
    if not any(m.valid_on(day) for m in records.memoranda):
        ended = [m.expires for m in records.memoranda if m.expires is not None and m.expires < day]
        if ended:
            out.append(
                Shortfall(
                    "mou_expired",
                    "memorandum",
                    f"the organisation's memorandum of understanding expired on {max(ended)}",
                    max(ended),
                )
            )
        else:
            out.append(
                Shortfall(
                    "mou_missing",
                    "memorandum",
                    "the organisation has no signed memorandum of understanding",
                )
            )
    if not any(c.valid_on(day) for c in records.codes_of_connection):
        ended = [c.valid_until for c in records.codes_of_connection if c.valid_until < day]
        if ended:
            out.append(
                Shortfall(
                    "coc_expired",
                    "code_of_connection",
                    f"the organisation's code-of-connection declaration lapsed on {max(ended)}",
                    max(ended),
                )
            )
        else:
            out.append(
                Shortfall(
                    "coc_missing",
                    "code_of_connection",
                    "the organisation's SPOC has not made the code-of-connection declaration",
                )
            )
    return out


def shortfalls(
    records: PreconditionRecords,
    level: str,
    day: date,
    rules: PreconditionRules | None = None,
) -> tuple[Shortfall, ...]:
    """Everything missing or expired for ``level`` access on ``day`` (empty = ready).

    Args:
        records: the person's and organisation's records.
        level: ``general`` or ``enhanced`` (the vetting needed differs).
        day: the day in question.
        rules: configurable parts (defaults: NPPV2/NPPV3, SyOPs yearly, partner documents).
    """
    rules = rules or PreconditionRules()
    out = _vetting(records, level, day, rules)
    out += _declarations(records, day, rules)
    out += _training(records, day)
    if rules.partner_documents and records.organisation_kind != "force":
        out += _partner_documents(records, day)
    return tuple(out)


def refusal(found: tuple[Shortfall, ...], username: str) -> PreconditionMissing | None:
    """The error a user lacking preconditions gets (None when nothing is missing).

    Example:
        >>> from datetime import date
        >>> err = refusal((Shortfall("vetting_expired", "NPPV2", "vetting expired", date(2026, 1, 1)),), "a.khan")
        >>> err.code
        'vetting_expired'
    """
    if not found:
        return None
    text = "; ".join(s.message for s in found)
    message = f"access for {username!r} is not live: {text}"
    if any(s.code == "vetting_expired" for s in found):
        return VettingExpired(message)
    return PreconditionMissing(message)
