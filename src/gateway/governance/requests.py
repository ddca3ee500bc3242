"""Access requests as the force's forms have them, and their validation against the policy.

An applicant fills in a :class:`RequestForm` (level, purposes, business case, and for enhanced
access exactly which extra tables, ``table.column`` unmasks and areas, why, and until when).
:func:`validate_form` checks it against the loaded :class:`~gateway.policy.Policy`: only tables
the enhanced level marks ``requires_grant`` can be added and only columns it lists as
``unmaskable`` can be unmasked — anything the policy does not allow is refused (deny beats
allow). A submitted form becomes an :class:`AccessRequest` whose history of
:class:`Transition` records is its state machine (see :mod:`gateway.governance.workflow`).

Example:
    >>> from datetime import date
    >>> from gateway.catalog import load_catalog
    >>> from gateway.policy import load_default_policy
    >>> from gateway.governance.model import Organisation
    >>> policy = load_default_policy(load_catalog())
    >>> org = Organisation("MBC", "Middlesbrough Council", "local_authority", ("E06000002",))
    >>> form = RequestForm(
    ...     applicant="a.khan", level="enhanced",
    ...     purposes=(Purpose("JAG-2026-07", "Linthorpe Road JAG problem profile"),),
    ...     business_case=BusinessCase("JAG analyst", ("problem profile",), ("JAG members",)),
    ...     enhanced=EnhancedScope(unmask=("crime.modus_operandi",), justification="MO themes",
    ...                            method="no force product covers MO themes"),
    ...     ends=date(2026, 12, 31))
    >>> validate_form(form, policy, org, today=date(2026, 5, 1)).areas
    ('E06000002',)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal, get_args

from gateway.errors import InputError
from gateway.governance.model import GrantLevel, Organisation, check_code
from gateway.policy import Policy

__all__ = [
    "FINAL_STATES",
    "REQUEST_STATES",
    "AccessRequest",
    "Applicant",
    "BusinessCase",
    "EnhancedScope",
    "Purpose",
    "RequestForm",
    "RequestState",
    "Transition",
    "validate_form",
]

RequestState = Literal[
    "submitted",
    "endorsed_line_manager",
    "endorsed_superintendent",
    "reviewed_analysis_manager",
    "reviewed_iso",
    "authorised",
    "refused",
    "withdrawn",
]
REQUEST_STATES: tuple[str, ...] = get_args(RequestState)
FINAL_STATES = frozenset({"authorised", "refused", "withdrawn"})

#: Longest enhanced grant the form accepts, in days (enhanced access is narrow and dated).
ENHANCED_MAX_DAYS = 366


@dataclass(frozen=True)
class Purpose:
    """What the access is for: a short code analysts quote with every query, and what it means.

    Example:
        >>> Purpose("SA-2026-MBRO", "Middlesbrough CSP strategic assessment 2026").code
        'SA-2026-MBRO'
    """

    code: str
    description: str


@dataclass(frozen=True)
class BusinessCase:
    """Why the applicant needs access: their key duties, the products, who receives them."""

    key_duties: str
    products: tuple[str, ...]
    dissemination: tuple[str, ...]


@dataclass(frozen=True)
class EnhancedScope:
    """Exactly what an enhanced request adds beyond general access, and why.

    Attributes:
        justification: why it needs each addition.
        method: the "most appropriate method" assessment: why direct enhanced access is the
            most appropriate way to meet the need, and the alternatives considered (a product
            from the force's analysts, general access, aggregate data).
    """

    tables: tuple[str, ...] = ()
    unmask: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    justification: str = ""
    method: str = ""


@dataclass(frozen=True)
class Applicant:
    """The applicant's details as they stood when the request was submitted."""

    username: str
    full_name: str
    role_title: str
    organisation: str
    organisation_name: str
    email: str
    phone: str = ""


@dataclass(frozen=True)
class RequestForm:
    """What an applicant fills in.

    Attributes:
        applicant: the applicant's username.
        level: ``general`` or ``enhanced``.
        purposes: at least one purpose.
        business_case: duties, products, dissemination.
        areas: local authority codes (default: the applicant organisation's areas).
        enhanced: for enhanced requests, the extra scope and its justification.
        starts: first day (default: the day it is submitted).
        ends: last day (required for enhanced).
        deputy_for: when the applicant deputises for another analyst (same procedure applies).
    """

    applicant: str
    level: GrantLevel
    purposes: tuple[Purpose, ...]
    business_case: BusinessCase
    areas: tuple[str, ...] = ()
    enhanced: EnhancedScope | None = None
    starts: date | None = None
    ends: date | None = None
    deputy_for: str | None = None

    @property
    def purpose_codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.purposes)


@dataclass(frozen=True)
class Transition:
    """One step in a request's life: who moved it to which state, when, and what they said.

    ``role`` is the capacity they acted in (``applicant``, ``line_manager`` …); ``phone`` the
    telephone number they gave (applicants and endorsers give one, as on the forms).
    """

    state: RequestState
    actor: str
    role: str
    at: datetime
    comment: str = ""
    phone: str = ""


@dataclass(frozen=True)
class AccessRequest:
    """A submitted request and its history (the first transition is the submission).

    Attributes:
        request_id: ``AR-…``.
        form: the validated form (areas and start resolved).
        applicant: the applicant's details at submission.
        history: transitions, oldest first.
        version: bumped by every transition (optimistic concurrency in the store).
    """

    request_id: str
    form: RequestForm
    applicant: Applicant
    history: tuple[Transition, ...]
    version: int = 1

    @property
    def state(self) -> RequestState:
        return self.history[-1].state

    @property
    def submitted_at(self) -> datetime:
        return self.history[0].at

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def participants(self) -> frozenset[str]:
        """Everyone who has acted in this request's chain (submitter included)."""
        return frozenset(t.actor for t in self.history)

    def with_transition(self, transition: Transition) -> AccessRequest:
        return replace(self, history=(*self.history, transition), version=self.version + 1)


# --- validation -----------------------------------------------------------------------------


def _texts(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    cleaned = tuple(v.strip() for v in values if v.strip())
    if not cleaned:
        raise InputError(f"the business case needs at least one entry under {what}")
    return cleaned


def _purposes(purposes: tuple[Purpose, ...]) -> tuple[Purpose, ...]:
    if not purposes:
        raise InputError("a request needs at least one purpose (code and description)")
    seen: set[str] = set()
    out = []
    for purpose in purposes:
        code = check_code(purpose.code.strip(), "purpose code")
        if code in seen:
            raise InputError(f"purpose {code!r} is listed twice")
        if not purpose.description.strip():
            raise InputError(f"purpose {code!r} needs a description")
        seen.add(code)
        out.append(Purpose(code, purpose.description.strip()))
    return tuple(out)


def _enhanced_scope(scope: EnhancedScope, policy: Policy, areas: tuple[str, ...]) -> EnhancedScope:
    level = policy.level("enhanced")
    if level is None:
        raise InputError("the policy defines no enhanced level")
    if not scope.justification.strip():
        raise InputError("an enhanced request must say why it needs each addition")
    if not (scope.tables or scope.unmask or scope.areas):
        raise InputError(
            "an enhanced request must name the extra tables, columns (table.column) or areas"
        )
    for table in scope.tables:
        table_policy = level.tables.get(table)
        if table_policy is None or not table_policy.requires_grant:
            grantable = sorted(n for n, t in level.tables.items() if t.requires_grant)
            raise InputError(
                f"table {table!r} cannot be granted (grantable tables: {', '.join(grantable)})"
            )
    for entry in scope.unmask:
        table, _, column = entry.partition(".")
        table_policy = level.tables.get(table)
        if not column or table_policy is None or column not in table_policy.columns:
            raise InputError(f"{entry!r} is not a visible column (write it as table.column)")
        if table_policy.columns[column].kind == "show":
            raise InputError(f"{entry!r} is already shown unmasked")
        if not level.may_unmask(table, column):
            raise InputError(f"{entry!r} is not unmaskable under the policy")
        if table_policy.requires_grant and table not in scope.tables:
            raise InputError(f"{entry!r} needs its table {table!r} requested as well")
    for area in scope.areas:
        if area in areas:
            raise InputError(f"area {area!r} is already among the requested areas")
    if not scope.method.strip():
        raise InputError(
            "an enhanced request must assess why direct enhanced access is the most "
            "appropriate method (and the alternatives considered)"
        )
    return EnhancedScope(
        tables=tuple(dict.fromkeys(scope.tables)),
        unmask=tuple(dict.fromkeys(scope.unmask)),
        areas=tuple(dict.fromkeys(scope.areas)),
        justification=scope.justification.strip(),
        method=scope.method.strip(),
    )


def validate_form(
    form: RequestForm,
    policy: Policy,
    organisation: Organisation,
    *,
    today: date,
    enhanced_max_days: int = ENHANCED_MAX_DAYS,
) -> RequestForm:
    """Check a form against the policy and the applicant's organisation; return it resolved.

    Args:
        form: as filled in.
        policy: the loaded policy (levels, grantable tables, unmaskable columns).
        organisation: the applicant's organisation (its areas bound general access).
        today: the submission day (the default start; starts may not lie before it).
        enhanced_max_days: the longest enhanced grant allowed.

    Raises:
        InputError: naming the first problem found.
    """
    if form.level not in ("general", "enhanced") or policy.level(form.level) is None:
        raise InputError(f"level {form.level!r} cannot be requested (general or enhanced)")
    purposes = _purposes(form.purposes)
    case = form.business_case
    if not case.key_duties.strip():
        raise InputError("the business case must describe the applicant's key duties")
    business_case = BusinessCase(
        case.key_duties.strip(),
        _texts(case.products, "products to be produced"),
        _texts(case.dissemination, "dissemination (who receives the products)"),
    )
    areas = tuple(dict.fromkeys(form.areas)) or organisation.areas
    if not areas:
        raise InputError(f"{organisation.name} has no areas registered; name the areas requested")
    for area in areas:
        if not organisation.covers(area):
            raise InputError(
                f"area {area!r} is outside {organisation.name}'s areas; an enhanced request "
                "can add it as an extra area"
            )
    starts = form.starts or today
    if starts < today:
        raise InputError(f"the start date {starts} is in the past")
    if form.ends is not None and form.ends < starts:
        raise InputError(f"the end date {form.ends} is before the start date {starts}")
    enhanced: EnhancedScope | None = None
    if form.level == "enhanced":
        if form.enhanced is None:
            raise InputError("an enhanced request must name exactly what it adds and why")
        enhanced = _enhanced_scope(form.enhanced, policy, areas)
        if form.ends is None:
            raise InputError("an enhanced request needs an end date")
        if (form.ends - starts).days > enhanced_max_days:
            raise InputError(f"enhanced access is granted for at most {enhanced_max_days} days")
    elif form.enhanced is not None:
        raise InputError("a general request cannot name enhanced additions")
    return replace(
        form,
        purposes=purposes,
        business_case=business_case,
        areas=areas,
        enhanced=enhanced,
        starts=starts,
    )
