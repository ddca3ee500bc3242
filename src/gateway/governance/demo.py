"""A governed demo: the demo's principals, given access through the real governance process.

:func:`seed_register` turns a list of demo principals (``gateway demo``'s users) into a
governance register whose grants produce the same principals: each organisation is registered
with its areas, memorandum, code of connection, information sharing agreement (copy with the
administrator) and the system owner's authorisation; each analyst gets a line manager who is
also their local supervisor, their designated senior analyst (and that senior analyst's
deputies), a telephone number, vetting, declarations (Official Secrets Act included), training
and their own memorandum, then a general request (and one enhanced request per
:class:`~gateway.principal.AccessGrant`) that goes through every step of the workflow —
line manager, superintendent, analysis manager, information security officer, head of
intelligence. Every step is an audited governance operation, so the demo's audit log shows the
whole process. The approvers are synthetic people of the force and the partner organisations;
they get demo tokens too, so the approval API can be tried.

The demo's origin setting allows loopback connections (gateway and users on one machine).

Example:
    >>> seed_register(service, demo_users(today), ORGANISATIONS)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from gateway.auth.breakglass import HostOperator
from gateway.governance.model import Organisation, OrganisationKind, Person
from gateway.governance.partnership import SharingAgreement
from gateway.governance.preconditions import (
    Declaration,
    DeclarationKind,
    Memorandum,
    Training,
    TrainingKind,
    Vetting,
)
from gateway.governance.requests import BusinessCase, EnhancedScope, Purpose, RequestForm
from gateway.governance.service import GovernanceService
from gateway.governance.settings import GovernanceSettings
from gateway.governance.workflow import Action
from gateway.principal import AccessGrant, Principal

__all__ = ["DemoOrganisation", "seed_register"]

_DECLARATIONS: tuple[DeclarationKind, ...] = (
    "confidentiality",
    "data_protection",
    "official_secrets_act",
    "security_operating_procedures",
)
_TRAININGS: tuple[TrainingKind, ...] = ("gateway_training", "information_security_induction")

#: Force approvers (usernames), one per step after the line manager's endorsement.
SUPERINTENDENT = "supt.cle"
ANALYSIS_MANAGER = "am.cle"
SECURITY_OFFICER = "iso.cle"
HEAD_OF_INTELLIGENCE = "hoi.cle"
SYSTEM_OWNER = "so.cle"


@dataclass(frozen=True)
class DemoOrganisation:
    """An organisation of the demo: its register code, name (as principals carry it), kind,
    areas, and the short code its synthetic line manager and SPOC are named after."""

    code: str
    name: str
    kind: OrganisationKind
    areas: tuple[str, ...]

    @property
    def line_manager(self) -> str:
        return f"lm.{self.code.lower()}"

    @property
    def spoc(self) -> str:
        return f"spoc.{self.code.lower()}"

    @property
    def partner(self) -> bool:
        """A partner organisation (not the force): it needs an ISA, authorisation, MoUs."""
        return self.kind != "force"


def seed_register(
    service: GovernanceService,
    principals: Sequence[Principal],
    organisations: Sequence[DemoOrganisation],
) -> list[str]:
    """Register ``organisations`` and give each of ``principals`` its access through the
    workflow; return what was done, one line per principal.

    The first administrator among ``principals`` bootstraps the register; the force is the
    organisation of kind ``force``. Everyone else must belong to one of ``organisations``.

    Raises:
        gateway.errors.GatewayError: a step was refused (e.g. the register already has an
            administrator, or a grant is outside the policy's grantable scope).
    """
    by_name = {o.name: o for o in organisations}
    force = next(o for o in organisations if o.kind == "force")
    admin = next(p for p in principals if p.has_role("admin"))
    root = admin.username
    host = HostOperator.current("gateway demo --governed: seeding the demo register")
    service.bootstrap(
        _person(root, force, "admin", title="Gateway administrator"), _org(force), by=host
    )
    service.set_settings(root, GovernanceSettings.demo(), "demo: users connect from this host")
    day = service.clock().date()
    for username, role, title in (
        (SUPERINTENDENT, "superintendent", "Superintendent, local policing"),
        (ANALYSIS_MANAGER, "analysis_manager", "Analysis manager"),
        (SECURITY_OFFICER, "information_security_officer", "Information security officer"),
        (HEAD_OF_INTELLIGENCE, "head_of_intelligence", "Head of intelligence"),
        (SYSTEM_OWNER, "system_owner", "System owner"),
    ):
        areas = force.areas if role == "superintendent" else ()
        service.add_person(root, _person(username, force, role, title=title, areas=areas))
    for org in organisations:
        if org.code != force.code:
            service.add_organisation(root, _org(org))
        service.add_person(
            root,
            _person(org.line_manager, org, "line_manager", "local_supervisor", title="Manager"),
        )
        service.add_person(root, _person(org.spoc, org, "spoc", title="Partnership SPOC"))
        if org.partner:
            service.record_memorandum(
                root, Memorandum(org.code, f"MOU-{org.code}-{day.year}", day - timedelta(days=90))
            )
            isa = SharingAgreement(
                org.code, f"ISA-{org.code}-{day.year}", day - timedelta(days=90), None, root
            )
            service.record_sharing_agreement(root, isa)
            service.authorise_organisation(SYSTEM_OWNER, org.code, "demo: ISA and MoU in place")
        service.declare_code_of_connection(org.spoc, org.code)
    analysts = [p for p in principals if p.username != root and p.level != "none"]
    for principal in analysts:
        org = by_name[principal.organisation]
        roles = tuple(sorted(principal.roles))
        title = "Senior analyst" if "senior_analyst" in roles else "Community safety analyst"
        line_manager = org.line_manager
        service.add_person(
            root, _person(principal.username, org, *roles, title=title, line_manager=line_manager)
        )
    _designate(service, root, analysts, by_name)
    done = []
    for principal in analysts:
        org = by_name[principal.organisation]
        _make_ready(service, root, principal.username, principal.level, org)
        requests = [_general_form(principal)]
        requests += [_enhanced_form(principal, g) for g in principal.grants]
        for form in requests:
            request = service.submit(principal.username, form)
            for actor, action in _chain(org):
                service.act(actor, request.request_id, action, f"demo: {action} by {actor}")
        done.append(
            f"{principal.username}: {len(requests)} request(s) authorised through the workflow"
        )
    return done


def _designate(
    service: GovernanceService,
    root: str,
    analysts: Sequence[Principal],
    by_name: dict[str, DemoOrganisation],
) -> None:
    """Each analyst's designated senior analyst (the first of their ``senior_analysts``), the
    rest as that senior analyst's deputies, and a partner analyst's local supervisor."""
    deputies: dict[str, list[str]] = {}
    for principal in analysts:
        if principal.senior_analysts:
            designated, *rest = principal.senior_analysts
            chain = deputies.setdefault(designated, [])
            chain += [d for d in rest if d not in chain and d != designated]
    for senior, chain in deputies.items():
        if chain:
            service.update_person(root, senior, "demo: deputies", deputies=tuple(chain))
    for principal in analysts:
        org = by_name[principal.organisation]
        changes: dict[str, object] = {}
        if principal.senior_analysts:
            changes["senior_analyst"] = principal.senior_analysts[0]
        if org.partner:
            changes["local_supervisor"] = org.line_manager
        if changes:
            service.update_person(root, principal.username, "demo: designations", **changes)


def _chain(org: DemoOrganisation) -> tuple[tuple[str, Action], ...]:
    return (
        (org.line_manager, "endorse"),
        (SUPERINTENDENT, "endorse"),
        (ANALYSIS_MANAGER, "review"),
        (SECURITY_OFFICER, "review"),
        (HEAD_OF_INTELLIGENCE, "authorise"),
    )


def _org(org: DemoOrganisation) -> Organisation:
    return Organisation(org.code, org.name, org.kind, org.areas)


def _person(
    username: str,
    org: DemoOrganisation,
    *roles: str,
    title: str,
    line_manager: str | None = None,
    areas: tuple[str, ...] = (),
) -> Person:
    return Person(
        username=username,
        full_name=username.replace(".", " ").title(),
        organisation=org.code,
        role_title=title,
        email=f"{username}@example.org",
        roles=frozenset(roles),
        line_manager=line_manager,
        areas=areas,
        phone=f"01642 {300000 + sum(map(ord, username)) % 700000:06d}",
    )


def _make_ready(
    service: GovernanceService, root: str, username: str, level: str, org: DemoOrganisation
) -> None:
    day = service.clock().date()
    vetting = "NPPV3" if level == "enhanced" else "NPPV2"
    service.record_vetting(
        SECURITY_OFFICER,
        Vetting(username, vetting, day - timedelta(days=60), day + timedelta(days=5 * 365)),
    )
    for kind in _DECLARATIONS:
        service.record_declaration(username, Declaration(username, kind, day))
    for training in _TRAININGS:
        service.record_training(SECURITY_OFFICER, Training(username, training, day))
    if org.partner:
        memorandum = Memorandum(org.code, f"MOU-{username}", day, username=username)
        service.record_memorandum(root, memorandum)


def _general_form(principal: Principal) -> RequestForm:
    enhanced_only = {p for g in principal.grants for p in g.purposes}
    codes = [p for p in principal.purposes if p not in enhanced_only] or list(principal.purposes)
    return RequestForm(
        applicant=principal.username,
        level="general",
        purposes=tuple(Purpose(code, f"{code} (demo purpose)") for code in codes),
        business_case=BusinessCase(
            "Community safety analysis for the partnership",
            ("Strategic assessment", "JAG problem profiles"),
            ("Community safety partnership board",),
        ),
        areas=principal.areas,
    )


def _enhanced_form(principal: Principal, grant: AccessGrant) -> RequestForm:
    return RequestForm(
        applicant=principal.username,
        level="enhanced",
        purposes=tuple(Purpose(code, grant.reason or code) for code in grant.purposes),
        business_case=BusinessCase(
            grant.reason or "Enhanced analysis", ("Problem profile",), ("JAG members",)
        ),
        areas=principal.areas,
        enhanced=EnhancedScope(
            tables=grant.tables,
            unmask=grant.unmask,
            areas=grant.areas,
            justification=grant.reason or "demo enhanced grant",
            method="demo: the problem profile needs these records; no force product has them",
        ),
        ends=grant.ends,
    )
