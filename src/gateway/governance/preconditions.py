"""What must be in place before access goes live, and what is missing. Pure: no I/O.

Before a grant can be used its holder needs: vetting at the level's required clearance (BPSS,
NPPV1-3) and in date; signed confidentiality, data-protection and Official Secrets Act
declarations; the gateway training and the information-security induction; acceptance of the
security operating procedures (SyOPs) within the last year; a designated senior analyst in post;
and, for partner organisations (not the force itself), their own signed memorandum of
understanding, a local supervisor in their organisation, and their organisation's memorandum,
current annual code-of-connection declaration, information sharing agreement, CSP sponsorship
(new organisations) and system-owner authorisation (:mod:`gateway.governance.partnership`).

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
from gateway.governance.partnership import PartnershipRecords, partnership_shortfalls
from gateway.governance.shortfall import Shortfall

__all__ = [
    "DECLARATION_KINDS",
    "SIGNED_ONCE",
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

#: Vetting levels, lowest first: the Baseline Personnel Security Standard, then non-police
#: personnel vetting.
VETTING_LEVELS: tuple[str, ...] = ("BPSS", "NPPV1", "NPPV2", "NPPV3")

DeclarationKind = Literal[
    "confidentiality", "data_protection", "official_secrets_act", "security_operating_procedures"
]
DECLARATION_KINDS: tuple[str, ...] = get_args(DeclarationKind)
#: The one-off declarations everyone signs before access goes live (SyOPs: yearly, apart).
SIGNED_ONCE: tuple[DeclarationKind, ...] = (
    "confidentiality",
    "data_protection",
    "official_secrets_act",
)

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
    """A signed declaration (confidentiality, data protection, Official Secrets Act, SyOPs)."""

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
    """A signed memorandum of understanding (``expires`` None = open-ended): the
    organisation's (``username`` None), or one applicant's own."""

    organisation: str
    reference: str
    signed: date
    expires: date | None = None
    username: str | None = None

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
        partner_documents: require a memorandum, code of connection, information sharing
            agreement, sponsorship (new organisations) and system-owner authorisation from
            non-force organisations, and from their people their own memorandum and a local
            supervisor.
        designated_senior_analyst: require a designated senior analyst in post.
        declarations: the one-off declarations required (SyOPs is required apart, yearly).
    """

    vetting_required: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"general": "NPPV2", "enhanced": "NPPV3"})
    )
    syops_valid_days: int = 365
    partner_documents: bool = True
    designated_senior_analyst: bool = True
    declarations: tuple[str, ...] = SIGNED_ONCE


@dataclass(frozen=True)
class PreconditionRecords:
    """Everything on file for one person and their organisation.

    Attributes:
        memoranda: the organisation's memoranda and the person's own (``username`` set).
        senior_analysts: their designated senior analyst then deputies, those in post holding
            the senior analyst role (empty: none designated, or none in post).
        local_supervisor: their local supervisor, if designated and in post with the role.
        partnership: the organisation's ISA, sponsorship and system-owner authorisation.
    """

    organisation_kind: str
    vetting: tuple[Vetting, ...] = ()
    declarations: tuple[Declaration, ...] = ()
    training: tuple[Training, ...] = ()
    memoranda: tuple[Memorandum, ...] = ()
    codes_of_connection: tuple[CodeOfConnection, ...] = ()
    senior_analysts: tuple[str, ...] = ()
    local_supervisor: str | None = None
    partnership: PartnershipRecords | None = None


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
    for kind in rules.declarations:
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


def _memorandum(memoranda: list[Memorandum], day: date, item: str, whose: str) -> list[Shortfall]:
    if any(m.valid_on(day) for m in memoranda):
        return []
    ended = [m.expires for m in memoranda if m.expires is not None and m.expires < day]
    if ended:
        return [
            Shortfall(
                "mou_expired",
                item,
                f"{whose} memorandum of understanding expired on {max(ended)}",
                max(ended),
            )
        ]
    return [Shortfall("mou_missing", item, f"{whose} memorandum of understanding is not signed")]


def _designations(records: PreconditionRecords, rules: PreconditionRules) -> list[Shortfall]:
    out = []
    if rules.designated_senior_analyst and not records.senior_analysts:
        out.append(
            Shortfall(
                "senior_analyst_missing",
                "senior_analyst",
                "no designated senior analyst in post (they authorise releases and QA products)",
            )
        )
    if (
        rules.partner_documents
        and records.organisation_kind != "force"
        and records.local_supervisor is None
    ):
        out.append(
            Shortfall(
                "local_supervisor_missing",
                "local_supervisor",
                "no local supervisor in post in the organisation",
            )
        )
    return out


def _partner_documents(records: PreconditionRecords, day: date) -> list[Shortfall]:
    own = [m for m in records.memoranda if m.username is not None]
    organisation = [m for m in records.memoranda if m.username is None]
    out = _memorandum(organisation, day, "memorandum", "the organisation's")
    out += _memorandum(own, day, "applicant_memorandum", "the applicant's own")
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
    out += _designations(records, rules)
    if rules.partner_documents and records.organisation_kind != "force":
        out += _partner_documents(records, day)
        # no partnership records on file means none of them is in place (fail closed)
        partnership = records.partnership or PartnershipRecords(records.organisation_kind)
        out += partnership_shortfalls(partnership, day)
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
