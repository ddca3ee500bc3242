"""``gateway access …``: run the access-governance process on the gateway's host.

Every change names who makes it (``--as USER``, a user in the register; the step's role and
separation of duties are checked exactly as over the API) and is appended to the audit log.

    gateway access bootstrap --data-dir DIR --username root --full-name … --email … \\
        --org-code CLE --org-name "Cleveland Police" --area E06000001 …
    gateway access org add MBC --name "Middlesbrough Council" --kind local_authority --area E06000002 --as root
    gateway access network add MBC 192.0.2.0/28 --description "Civic Centre" --as root
    gateway access user add a.khan --full-name "Aisha Khan" --org MBC --title Analyst \\
        --email a.khan@example.org --role analyst --line-manager m.jones --as root
    gateway access vetting a.khan --level NPPV3 --granted 2026-01-05 --expires 2031-01-04 --as i.sec
    gateway access declaration a.khan --kind confidentiality --as a.khan
    gateway access training a.khan --kind gateway_training --as i.sec
    gateway access mou MBC --reference MOU-2026 --signed 2026-04-01 --as root
    gateway access declare-coc MBC --as p.spoc
    gateway access request submit --as a.khan --level general --purpose "SA-2026=Strategic assessment" \\
        --duties … --product … --disseminate …
    gateway access endorse|review|authorise|refuse|withdraw REQUEST_ID --as USER [--comment …]
    gateway access status a.khan            what is missing before a.khan can start
    gateway access pending --role superintendent [--as s.super]
    gateway access suspend|reinstate|revoke USER --as … --reason …
    gateway access review-cycle --as root   open due access reviews, enforce overdue ones, flag inactivity
    gateway access access-review confirm REVIEW_ID USER --keep|--remove --as p.spoc
    gateway access settings --allow-loopback --as root      the demo setting
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar, get_args

import typer

from gateway.cli import command_group
from gateway.cli.options import DataDirOption
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import InputError
from gateway.governance.model import NetworkRange, Organisation, OrganisationKind, Person
from gateway.governance.preconditions import (
    Declaration,
    DeclarationKind,
    Memorandum,
    Training,
    TrainingKind,
    Vetting,
)
from gateway.governance.requests import (
    AccessRequest,
    BusinessCase,
    EnhancedScope,
    Purpose,
    RequestForm,
)
from gateway.governance.service import GovernanceService
from gateway.governance.workflow import Action, next_step

__all__ = ["access_app"]

access_app = command_group(
    "access", "Access governance: requests, approvals, preconditions, suspensions, reviews."
)
org_app = command_group("org", "Organisations.", parent=access_app)
network_app = command_group("network", "Registered network ranges.", parent=access_app)
user_app = command_group("user", "People in the register.", parent=access_app)
request_app = command_group("request", "Access requests.", parent=access_app)
review_app = command_group("access-review", "Six-monthly access reviews.", parent=access_app)

ActorOption = Annotated[
    str, typer.Option("--as", help="Who is acting (a username in the register).")
]
CommentOption = Annotated[str, typer.Option("--comment", help="What the actor says (recorded).")]
Many = Annotated[list[str] | None, typer.Option()]
Choice = TypeVar("Choice", bound=str)


@contextmanager
def governance(data_dir: Path) -> Iterator[GovernanceService]:
    """The deployment's governance service, with its audit log closed afterwards."""
    if not DataDir(data_dir).root.is_dir():
        raise InputError(f"no data directory at {data_dir}")
    with Deployment.open(data_dir, engine=False) as deployment:
        yield deployment.governance


def day(text: str | None, what: str) -> date | None:
    """An ISO date (``2026-04-01``), or None when not given.

    Example:
        >>> day("2026-04-01", "start")
        datetime.date(2026, 4, 1)
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{what}: {text!r} is not an ISO date like 2026-04-01") from exc


def _today(service: GovernanceService, text: str | None, what: str) -> date:
    return day(text, what) or service.clock().date()


def _one_of(text: str, choices: tuple[Choice, ...], what: str) -> Choice:
    """``text`` if it is one of ``choices``.

    Example:
        >>> _one_of("csp", ("local_authority", "csp"), "organisation kind")
        'csp'
    """
    for choice in choices:
        if choice == text:
            return choice
    raise InputError(f"{what} must be one of {', '.join(choices)}")


def _purpose(text: str) -> Purpose:
    code, sep, description = text.partition("=")
    if not sep:
        raise InputError(f"--purpose {text!r}: write it as CODE=description")
    return Purpose(code.strip(), description.strip())


def _show(request: AccessRequest) -> None:
    form = request.form
    step = next_step(request.state)
    print(
        f"{request.request_id}  {form.level}  {request.state}"
        + (f"  (awaits {step.title})" if step else "")
    )
    a = request.applicant
    print(
        f"  applicant: {a.full_name} ({a.username}), {a.role_title}, {a.organisation_name}, {a.email}"
    )
    print(f"  purposes: {'; '.join(f'{p.code} = {p.description}' for p in form.purposes)}")
    print(f"  areas: {', '.join(form.areas)}  from {form.starts}  until {form.ends or 'reviewed'}")
    print(f"  duties: {form.business_case.key_duties}")
    print(f"  products: {'; '.join(form.business_case.products)}")
    print(f"  dissemination: {'; '.join(form.business_case.dissemination)}")
    if form.enhanced is not None:
        e = form.enhanced
        print(
            f"  enhanced: tables {', '.join(e.tables) or '-'}; unmask {', '.join(e.unmask) or '-'}; "
            f"extra areas {', '.join(e.areas) or '-'}"
        )
        print(f"  why: {e.justification}")
    if form.deputy_for:
        print(f"  deputy for: {form.deputy_for}")
    for t in request.history:
        note = f" — {t.comment}" if t.comment else ""
        print(f"  {t.at:%Y-%m-%d %H:%M} {t.state:<26} {t.actor} ({t.role}){note}")


# --- bootstrap and settings -------------------------------------------------------------------


@access_app.command("bootstrap")
def bootstrap_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Option(help="The first administrator's username.")],
    full_name: Annotated[str, typer.Option(help="Their name.")],
    email: Annotated[str, typer.Option(help="Their e-mail address.")],
    org_code: Annotated[str, typer.Option(help="Their organisation's code (e.g. CLE).")],
    org_name: Annotated[str, typer.Option(help="Their organisation's name.")],
    org_kind: Annotated[str, typer.Option(help="local_authority, csp, force or other.")] = "force",
    area: Many = None,
    title: Annotated[str, typer.Option(help="Their role title.")] = "System administrator",
) -> None:
    """Create the first administrator (and their organisation); runs once per register."""
    with governance(data_dir) as service:
        org = Organisation(org_code, org_name, _kind(org_kind), tuple(area or ()))
        service.bootstrap(Person(username, full_name, org_code, title, email), org)
    print(f"administrator {username} created in {org_name}")


def _kind(text: str) -> OrganisationKind:
    return _one_of(text, get_args(OrganisationKind), "organisation kind")


@access_app.command("settings")
def settings_command(
    data_dir: DataDirOption,
    actor: Annotated[str | None, typer.Option("--as", help="Who changes them (admin).")] = None,
    allow_loopback: Annotated[
        bool | None,
        typer.Option(
            "--allow-loopback/--no-allow-loopback",
            help="Let 127.0.0.1/::1 connect (demo deployments on one machine).",
        ),
    ] = None,
    enforce_origin: Annotated[
        bool | None,
        typer.Option(
            "--enforce-origin/--no-enforce-origin", help="Check connection origins at all."
        ),
    ] = None,
    comment: CommentOption = "",
) -> None:
    """Show the governance settings, or change the origin checks."""
    with governance(data_dir) as service:
        settings = service.settings()
        if allow_loopback is not None or enforce_origin is not None:
            if actor is None:
                raise InputError("changing settings needs --as ADMIN")
            settings = settings.with_origin(enforce=enforce_origin, allow_loopback=allow_loopback)
            service.set_settings(actor, settings, comment)
    print(settings.to_json())


# --- organisations, networks, people -----------------------------------------------------------


@org_app.command("add")
def org_add_command(
    data_dir: DataDirOption,
    code: Annotated[str, typer.Argument(help="Short code, e.g. MBC.")],
    name: Annotated[str, typer.Option(help="Full name (what principals carry).")],
    actor: ActorOption,
    kind: Annotated[
        str, typer.Option(help="local_authority, csp, force or other.")
    ] = "local_authority",
    area: Many = None,
) -> None:
    """Register an organisation and the local authority areas it covers (--area, repeatable)."""
    with governance(data_dir) as service:
        service.add_organisation(actor, Organisation(code, name, _kind(kind), tuple(area or ())))
    print(f"organisation {code} added")


@org_app.command("list")
def org_list_command(data_dir: DataDirOption) -> None:
    """Organisations, their areas and registered networks."""
    with governance(data_dir) as service, service.store.reading() as r:
        for org in r.organisations():
            nets = ", ".join(n.cidr for n in org.networks) or "no networks"
            print(
                f"{org.code:<8} {org.kind:<16} {','.join(org.areas) or '-':<24} {org.name} ({nets})"
            )


@network_app.command("add")
def network_add_command(
    data_dir: DataDirOption,
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    cidr: Annotated[str, typer.Argument(help="Range (192.0.2.0/28) or address.")],
    actor: ActorOption,
    description: Annotated[str, typer.Option(help="Where it is.")] = "",
) -> None:
    """Register a network range the organisation's analysts connect from."""
    with governance(data_dir) as service:
        service.add_network(actor, NetworkRange(organisation, cidr, description))
    print(f"{cidr} registered for {organisation}")


@network_app.command("remove")
def network_remove_command(
    data_dir: DataDirOption,
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    cidr: Annotated[str, typer.Argument(help="The registered range.")],
    actor: ActorOption,
    comment: CommentOption = "",
) -> None:
    """Remove a registered range (connections from it are refused at once)."""
    with governance(data_dir) as service:
        service.remove_network(actor, organisation, cidr, comment)
    print(f"{cidr} removed from {organisation}")


@user_app.command("add")
def user_add_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Login name.")],
    full_name: Annotated[str, typer.Option(help="Name.")],
    org: Annotated[str, typer.Option(help="Organisation code.")],
    title: Annotated[str, typer.Option(help="Role title, as on the request form.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    actor: ActorOption,
    phone: Annotated[str, typer.Option(help="Telephone.")] = "",
    role: Many = None,
    line_manager: Annotated[str | None, typer.Option(help="Their line manager's username.")] = None,
    area: Many = None,
    workstation: Many = None,
) -> None:
    """Register a person (--role, --area for superintendents, --workstation: repeatable)."""
    person = Person(
        username,
        full_name,
        org,
        title,
        email,
        frozenset(role or ()),
        phone,
        line_manager,
        tuple(area or ()),
        tuple(workstation or ()),
    )
    with governance(data_dir) as service:
        service.add_person(actor, person)
    print(f"user {username} added")


@user_app.command("update")
def user_update_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Login name.")],
    actor: ActorOption,
    role: Many = None,
    line_manager: Annotated[str | None, typer.Option(help="New line manager.")] = None,
    area: Many = None,
    workstation: Many = None,
    clear_workstations: Annotated[
        bool, typer.Option(help="Remove designated workstations.")
    ] = False,
    comment: CommentOption = "",
) -> None:
    """Change roles (replaces them), line manager, areas or designated workstations."""
    changes: dict[str, object] = {}
    if role:
        changes["roles"] = frozenset(role)
    if line_manager is not None:
        changes["line_manager"] = line_manager
    if area:
        changes["areas"] = tuple(area)
    if workstation or clear_workstations:
        changes["workstations"] = tuple(workstation or ())
    if not changes:
        raise InputError("nothing to change")
    with governance(data_dir) as service:
        service.update_person(actor, username, comment, **changes)
    print(f"user {username} updated")


@user_app.command("list")
def user_list_command(data_dir: DataDirOption) -> None:
    """Everyone in the register with their level now."""
    with governance(data_dir) as service:
        with service.store.reading() as r:
            people = r.people()
        for p in people:
            standing = service.standing(p.username)
            state = (
                "left"
                if standing.left
                else "suspended"
                if standing.suspension
                else standing.principal.level
            )
            print(
                f"{p.username:<14} {p.organisation:<6} {state:<10} {','.join(sorted(p.roles)) or '-':<32} {p.full_name}"
            )


# --- preconditions -----------------------------------------------------------------------------


@access_app.command("vetting")
def vetting_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Whose vetting.")],
    level: Annotated[str, typer.Option(help="NPPV1, NPPV2 or NPPV3.")],
    granted: Annotated[str, typer.Option(help="Date granted (ISO).")],
    expires: Annotated[str, typer.Option(help="Date it expires (ISO).")],
    actor: ActorOption,
    reference: Annotated[str, typer.Option(help="Vetting unit reference.")] = "",
) -> None:
    """Record a vetting clearance."""
    vetting = Vetting(
        username,
        level,
        day(granted, "--granted") or date.min,
        day(expires, "--expires") or date.min,
        reference,
    )
    with governance(data_dir) as service:
        service.record_vetting(actor, vetting)
    print(f"vetting {level} recorded for {username} (expires {vetting.expires})")


@access_app.command("declaration")
def declaration_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Who signed.")],
    kind: Annotated[
        str, typer.Option(help="confidentiality, data_protection or security_operating_procedures.")
    ],
    actor: ActorOption,
    signed: Annotated[str | None, typer.Option(help="Date signed (default today).")] = None,
) -> None:
    """Record a signed declaration (SyOPs acceptance is renewed yearly)."""
    what: DeclarationKind = _one_of(kind, get_args(DeclarationKind), "declaration kind")
    with governance(data_dir) as service:
        service.record_declaration(
            actor, Declaration(username, what, _today(service, signed, "--signed"))
        )
    print(f"{kind} declaration recorded for {username}")


@access_app.command("training")
def training_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Who completed it.")],
    kind: Annotated[str, typer.Option(help="gateway_training or information_security_induction.")],
    actor: ActorOption,
    completed: Annotated[str | None, typer.Option(help="Date completed (default today).")] = None,
) -> None:
    """Record completed training or the information-security induction."""
    what: TrainingKind = _one_of(kind, get_args(TrainingKind), "training kind")
    with governance(data_dir) as service:
        service.record_training(
            actor, Training(username, what, _today(service, completed, "--completed"))
        )
    print(f"{kind} recorded for {username}")


@access_app.command("mou")
def mou_command(
    data_dir: DataDirOption,
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    reference: Annotated[str, typer.Option(help="The memorandum's reference.")],
    signed: Annotated[str, typer.Option(help="Date signed (ISO).")],
    actor: ActorOption,
    expires: Annotated[str | None, typer.Option(help="Date it ends (ISO), if any.")] = None,
) -> None:
    """Record an organisation's signed memorandum of understanding."""
    memo = Memorandum(
        organisation, reference, day(signed, "--signed") or date.min, day(expires, "--expires")
    )
    with governance(data_dir) as service:
        service.record_memorandum(actor, memo)
    print(f"memorandum {reference} recorded for {organisation}")


@access_app.command("declare-coc")
def declare_coc_command(
    data_dir: DataDirOption,
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    actor: ActorOption,
    comment: CommentOption = "",
) -> None:
    """The SPOC's annual code-of-connection declaration for their organisation."""
    with governance(data_dir) as service:
        coc = service.declare_code_of_connection(actor, organisation, comment)
    print(f"code of connection declared for {organisation}, valid until {coc.valid_until}")


# --- requests -----------------------------------------------------------------------------------


@request_app.command("submit")
def request_submit_command(
    data_dir: DataDirOption,
    actor: ActorOption,
    purpose: Annotated[list[str], typer.Option(help="CODE=description (repeatable).")],
    duties: Annotated[str, typer.Option(help="The applicant's key duties.")],
    product: Annotated[list[str], typer.Option(help="A product to be produced (repeatable).")],
    disseminate: Annotated[list[str], typer.Option(help="Who receives the products (repeatable).")],
    level: Annotated[str, typer.Option(help="general or enhanced.")] = "general",
    applicant: Annotated[
        str | None, typer.Option("--for", help="Applicant (admins only; default: --as).")
    ] = None,
    area: Many = None,
    table: Many = None,
    unmask: Many = None,
    extra_area: Many = None,
    why: Annotated[str, typer.Option(help="Enhanced: why each addition is needed.")] = "",
    starts: Annotated[str | None, typer.Option(help="First day (default today).")] = None,
    ends: Annotated[str | None, typer.Option(help="Last day (required for enhanced).")] = None,
    deputy_for: Annotated[
        str | None, typer.Option(help="The analyst this applicant deputises for.")
    ] = None,
) -> None:
    """Submit a general or enhanced access request (enhanced: --table/--unmask/--extra-area + --why)."""
    if level not in ("general", "enhanced"):
        raise InputError("--level must be general or enhanced")
    enhanced = (
        EnhancedScope(tuple(table or ()), tuple(unmask or ()), tuple(extra_area or ()), why)
        if level == "enhanced"
        else None
    )
    form = RequestForm(
        applicant=applicant or actor,
        level="enhanced" if level == "enhanced" else "general",
        purposes=tuple(_purpose(p) for p in purpose),
        business_case=BusinessCase(duties, tuple(product), tuple(disseminate)),
        areas=tuple(area or ()),
        enhanced=enhanced,
        starts=day(starts, "--starts"),
        ends=day(ends, "--ends"),
        deputy_for=deputy_for,
    )
    with governance(data_dir) as service:
        request = service.submit(actor, form)
    print(request.request_id)


@request_app.command("show")
def request_show_command(
    data_dir: DataDirOption, request_id: Annotated[str, typer.Argument(help="AR-…")]
) -> None:
    """A request with its form and full history."""
    with governance(data_dir) as service:
        _show(service.request(request_id))


@request_app.command("list")
def request_list_command(
    data_dir: DataDirOption,
    user: Annotated[str | None, typer.Option(help="Only this applicant's.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only undecided requests.")] = False,
) -> None:
    """Requests, oldest first."""
    with governance(data_dir) as service:
        for r in service.requests(applicant=user, open_only=open_only):
            print(
                f"{r.request_id}  {r.form.applicant:<14} {r.form.level:<9} {r.state:<26} "
                f"{','.join(r.form.purpose_codes)}"
            )


def _act(data_dir: Path, actor: str, request_id: str, action: Action, comment: str) -> None:
    with governance(data_dir) as service:
        request = service.act(actor, request_id, action, comment)
    step = next_step(request.state)
    print(f"{request.request_id} {request.state}" + (f"; next: {step.title}" if step else ""))


RequestId = Annotated[str, typer.Argument(help="The request (AR-…).")]


@access_app.command("endorse")
def endorse_command(
    data_dir: DataDirOption, request_id: RequestId, actor: ActorOption, comment: CommentOption = ""
) -> None:
    """Endorse as the applicant's line manager, then as the local policing superintendent."""
    _act(data_dir, actor, request_id, "endorse", comment)


@access_app.command("review")
def review_command(
    data_dir: DataDirOption, request_id: RequestId, actor: ActorOption, comment: CommentOption = ""
) -> None:
    """Review as the analysis manager, then as the information security officer."""
    _act(data_dir, actor, request_id, "review", comment)


@access_app.command("authorise")
def authorise_command(
    data_dir: DataDirOption, request_id: RequestId, actor: ActorOption, comment: CommentOption = ""
) -> None:
    """Authorise as head of intelligence: the grant is issued."""
    _act(data_dir, actor, request_id, "authorise", comment)


@access_app.command("refuse")
def refuse_command(
    data_dir: DataDirOption,
    request_id: RequestId,
    actor: ActorOption,
    comment: Annotated[str, typer.Option("--comment", help="The reason (required).")],
) -> None:
    """Refuse at the step the request waits for (the reason is recorded)."""
    _act(data_dir, actor, request_id, "refuse", comment)


@access_app.command("withdraw")
def withdraw_command(
    data_dir: DataDirOption, request_id: RequestId, actor: ActorOption, comment: CommentOption = ""
) -> None:
    """Withdraw one's own request."""
    _act(data_dir, actor, request_id, "withdraw", comment)


@access_app.command("pending")
def pending_command(
    data_dir: DataDirOption,
    role: Annotated[
        str,
        typer.Option(
            help="line_manager, superintendent, analysis_manager, "
            "information_security_officer or head_of_intelligence."
        ),
    ],
    actor: Annotated[
        str | None, typer.Option("--as", help="Only those this person may act on.")
    ] = None,
) -> None:
    """Requests waiting for a role's step, oldest first."""
    with governance(data_dir) as service:
        for r in service.pending(role, actor=actor):
            a = r.applicant
            print(
                f"{r.request_id}  {r.form.level:<9} {a.username} ({a.organisation_name}), "
                f"submitted {r.submitted_at:%Y-%m-%d}"
            )


@access_app.command("status")
def status_command(
    data_dir: DataDirOption, username: Annotated[str, typer.Argument(help="Whose.")]
) -> None:
    """What is missing before USERNAME can start (exit 1 while anything is)."""
    with governance(data_dir) as service:
        status = service.status(username)
    print(
        f"{status.username} ({status.organisation}): level {status.level}"
        + (f", purposes {', '.join(status.purposes)}" if status.purposes else "")
    )
    if status.ready:
        print("ready: nothing missing")
        return
    for item in status.missing:
        print(f"  - [{item.code}] {item.message}")
    raise typer.Exit(1)


# --- suspension, revocation, reviews ------------------------------------------------------------


@access_app.command("suspend")
def suspend_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Whom.")],
    actor: ActorOption,
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    kind: Annotated[str, typer.Option(help="misuse or administrative.")] = "misuse",
) -> None:
    """Suspend at once: the next request with their token is refused."""
    with governance(data_dir) as service:
        service.suspend(
            actor, username, reason, kind="administrative" if kind == "administrative" else "misuse"
        )
    print(f"{username} suspended")


@access_app.command("reinstate")
def reinstate_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Whom.")],
    actor: ActorOption,
    comment: Annotated[str, typer.Option("--comment", help="Why (recorded).")],
) -> None:
    """Lift a suspension."""
    with governance(data_dir) as service:
        service.reinstate(actor, username, comment)
    print(f"{username} reinstated")


@access_app.command("revoke")
def revoke_command(
    data_dir: DataDirOption,
    username: Annotated[str, typer.Argument(help="Whose access.")],
    actor: ActorOption,
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    leaver: Annotated[bool, typer.Option(help="They have left: close the account too.")] = False,
) -> None:
    """Revoke every grant (and with --leaver, close the account)."""
    with governance(data_dir) as service:
        revoked = service.revoke(actor, username, reason, leaver=leaver)
    print(f"{username}: {len(revoked)} grant(s) revoked" + ("; account closed" if leaver else ""))


@access_app.command("review-cycle")
def review_cycle_command(data_dir: DataDirOption, actor: ActorOption) -> None:
    """Open due access reviews, suspend users unconfirmed past the deadline, flag inactivity."""
    with governance(data_dir) as service:
        result = service.review_cycle(actor)
    for what, items in result.items():
        print(f"{what}: {', '.join(items) or '-'}")


@access_app.command("inactive")
def inactive_command(data_dir: DataDirOption) -> None:
    """Users with access and no query for the inactivity period."""
    with governance(data_dir) as service:
        for user in service.inactive():
            seen = f"{user.last_activity:%Y-%m-%d}" if user.last_activity else "never"
            print(f"{user.username:<14} last query {seen}")


@review_app.command("open")
def access_review_open_command(
    data_dir: DataDirOption,
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    actor: ActorOption,
) -> None:
    """Open an access review for an organisation now."""
    with governance(data_dir) as service:
        review = service.open_review(actor, organisation)
    print(
        f"{review.review_id} due {review.due}: {', '.join(e.username for e in review.entries) or 'no users'}"
    )


@review_app.command("confirm")
def access_review_confirm_command(
    data_dir: DataDirOption,
    review_id: Annotated[str, typer.Argument(help="RV-…")],
    username: Annotated[str, typer.Argument(help="The user.")],
    actor: ActorOption,
    keep: Annotated[
        bool, typer.Option("--keep/--remove", help="Still needs access, or remove it.")
    ],
    comment: CommentOption = "",
) -> None:
    """The SPOC's decision for one user (removal revokes at once)."""
    with governance(data_dir) as service:
        service.confirm_review(actor, review_id, username, keep=keep, comment=comment)
    print(f"{username}: {'confirmed' if keep else 'removed'}")


@review_app.command("list")
def access_review_list_command(
    data_dir: DataDirOption,
    organisation: Annotated[str | None, typer.Option(help="Only this organisation's.")] = None,
) -> None:
    """Access reviews with their undecided users."""
    with governance(data_dir) as service:
        for review in service.access_reviews(organisation):
            state = (
                f"closed {review.closed_at:%Y-%m-%d}" if review.closed_at else f"due {review.due}"
            )
            waiting = ", ".join(review.unconfirmed()) or "-"
            print(f"{review.review_id}  {state}  undecided: {waiting}")
