"""``gateway access …``: the access-governance process, as the person logged in.

Every command talks to the gateway server with your own credentials (the profile ``gateway
login --server URL`` saved, or ``GATEWAY_URL``/``GATEWAY_TOKEN``); the server takes the actor
from the token and its permission point decides. Nothing names someone else: ``--as`` is gone
(it is refused with this explanation), and so is running these on the data directory — the
host's break-glass mode (``gateway access bootstrap``, ``gateway access break-glass …``, see
:mod:`gateway.cli.breakglass`) is for bootstrap and recovery only, and refuses (and records)
anything else::

    gateway login --server http://127.0.0.1:8000                   # once per person
    gateway access org add MBC --name "Middlesbrough Council" --kind local_authority --area E06000002
    gateway access network add MBC 192.0.2.0/28 --description "Civic Centre"
    gateway access user add a.khan --full-name "Aisha Khan" --org MBC --title Analyst \\
        --email a.khan@example.org --role analyst --line-manager m.jones
    gateway access vetting a.khan --level NPPV3 --granted 2026-01-05 --expires 2031-01-04
    gateway access declaration a.khan --kind confidentiality        # a.khan, logged in
    gateway access training a.khan --kind gateway_training
    gateway access mou MBC --reference MOU-2026 --signed 2026-04-01 [--for a.khan]
    gateway access user update a.khan --senior-analyst s.patel --local-supervisor m.jones
    gateway access org isa|sponsor|authorise|suspend|reinstate|terminate MBC …  (gateway.cli.partners)
    gateway access org agreements                                  the published list
    gateway access declare-coc MBC                                 # MBC's SPOC
    gateway access request submit --level general --purpose "SA-2026=Strategic assessment" \\
        --duties … --product … --disseminate …
    gateway access pending                                         what waits for me
    gateway access endorse|review|authorise|refuse|withdraw REQUEST_ID [--comment …]
    gateway access status [USER]                                   what is missing
    gateway access suspend|reinstate|revoke USER --reason …
    gateway access review-cycle                                    open due reviews, enforce overdue
    gateway access access-review confirm REVIEW_ID USER --keep|--remove
    gateway access settings [--allow-loopback]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gateway.cli import command_group
from gateway.cli.config import UrlOption, connection
from gateway.client.access import AccessClient
from gateway.errors import InputError

__all__ = ["access_app", "as_me", "day", "logged_in", "org_app"]

access_app = command_group(
    "access", "Access governance: requests, approvals, preconditions, suspensions, reviews."
)
org_app = command_group("org", "Organisations.", parent=access_app)
network_app = command_group("network", "Registered network ranges.", parent=access_app)
user_app = command_group("user", "People in the register.", parent=access_app)
request_app = command_group("request", "Access requests.", parent=access_app)
review_app = command_group("access-review", "Six-monthly access reviews.", parent=access_app)

CommentOption = Annotated[str, typer.Option("--comment", help="What you say (recorded).")]
SeniorAnalystOption = Annotated[
    str | None, typer.Option(help="Their designated senior analyst (authorises their releases).")
]
LocalSupervisorOption = Annotated[
    str | None, typer.Option(help="Their local supervisor (same organisation).")
]
Many = Annotated[list[str] | None, typer.Option()]
Command = TypeVar("Command", bound=Callable[..., Any])

NO_NAMED_ACTOR = (
    "--as/--by are gone: every governance, approval, publication and administration action is "
    "taken by the person logged in. Run `gateway login --server URL` with your own token (or "
    "set GATEWAY_TOKEN) and repeat the command without --as/--by; the server records you as "
    "the actor"
)

#: Hidden options kept only to refuse them with an explanation.
_RefusedAs = Annotated[str | None, typer.Option("--as", hidden=True)]
_RefusedBy = Annotated[str | None, typer.Option("--by", hidden=True)]
_HostDataDir = Annotated[Path | None, typer.Option("--data-dir", hidden=True, file_okay=False)]
_HostReason = Annotated[str | None, typer.Option("--reason", hidden=True)]
_REFUSED = {"as_": _RefusedAs, "by_": _RefusedBy, "host_dir": _HostDataDir}


def logged_in(permission: str) -> Callable[[Command], Command]:
    """Mark a command as taken by the logged-in person (``permission``: the permission
    point's action, e.g. ``access.take_step``).

    The command gains hidden ``--as``/``--by`` (refused: :data:`NO_NAMED_ACTOR`) and
    ``--data-dir`` (break-glass on the host: refused by the permission point and recorded
    in the audit log as a break-glass attempt).
    """

    def wrap(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        extra = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
            for name, hint in (*_REFUSED.items(), ("reason", _HostReason))
            if name not in signature.parameters
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            if kwargs.pop("as_", None) is not None or kwargs.pop("by_", None) is not None:
                raise InputError(NO_NAMED_ACTOR)
            host_dir = kwargs.pop("host_dir", None)
            if host_dir is not None:
                from gateway.cli.host import refuse_on_host

                refuse_on_host(host_dir, kwargs.get("reason") or "", permission)
            if "reason" not in signature.parameters:
                kwargs.pop("reason", None)
            return command(*args, **kwargs)

        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra]
        )
        run.__annotations__ = {**command.__annotations__, **{p.name: p.annotation for p in extra}}
        return run  # type: ignore[return-value]

    return wrap


@contextmanager
def as_me(url: str | None) -> Iterator[AccessClient]:
    """The access routes, called with the caller's own saved login (or GATEWAY_TOKEN)."""
    with connection(url) as gw:
        yield gw.access


def day(text: str | None, what: str) -> str | None:
    """An ISO date (``2026-04-01``) checked here, or None when not given.

    Example:
        >>> day("2026-04-01", "--signed")
        '2026-04-01'
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise InputError(f"{what}: {text!r} is not an ISO date like 2026-04-01") from exc


def _purpose(text: str) -> dict[str, str]:
    code, sep, description = text.partition("=")
    if not sep:
        raise InputError(f"--purpose {text!r}: write it as CODE=description")
    return {"code": code.strip(), "description": description.strip()}


def _show(request: dict[str, Any]) -> None:
    waiting = f"  (awaits {request['waiting_for']})" if request["waiting_for"] else ""
    print(f"{request['request_id']}  {request['level']}  {request['state']}{waiting}")
    a = request["applicant"]
    print(
        f"  applicant: {a['full_name']} ({a['username']}), {a['role_title']}, "
        f"{a['organisation']}, {a['email']}"
    )
    purposes = "; ".join(f"{p['code']} = {p['description']}" for p in request["purposes"])
    print(f"  purposes: {purposes}")
    print(
        f"  areas: {', '.join(request['areas'])}  from {request['starts']}  "
        f"until {request['ends'] or 'reviewed'}"
    )
    print(f"  duties: {request['key_duties']}")
    print(f"  products: {'; '.join(request['products'])}")
    print(f"  dissemination: {'; '.join(request['dissemination'])}")
    if request["level"] == "enhanced":
        print(
            f"  enhanced: tables {', '.join(request['tables']) or '-'}; unmask "
            f"{', '.join(request['unmask']) or '-'}; extra areas "
            f"{', '.join(request['extra_areas']) or '-'}"
        )
        print(f"  why: {request['justification']}")
        print(f"  most appropriate method: {request['method']}")
    if request["deputy_for"]:
        print(f"  deputy for: {request['deputy_for']}")
    for t in request["history"]:
        note = f" — {t['comment']}" if t["comment"] else ""
        print(
            f"  {t['at'][:16].replace('T', ' ')} {t['state']:<26} {t['actor']} ({t['role']}){note}"
        )


def _brief(request: dict[str, Any]) -> str:
    a = request["applicant"]
    return (
        f"{request['request_id']}  {a['username']:<14} {request['level']:<9} "
        f"{request['state']:<26} {','.join(p['code'] for p in request['purposes'])}"
    )


# --- settings -------------------------------------------------------------------------------------


@access_app.command("settings")
@logged_in("register.settings")
def settings_command(
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
    url: UrlOption = None,
) -> None:
    """Show the governance settings, or (administrators) change the origin checks."""
    import json

    with as_me(url) as access:
        if allow_loopback is None and enforce_origin is None:
            settings = access.settings()
        else:
            settings = access.change_settings(
                allow_loopback=allow_loopback, enforce_origin=enforce_origin, comment=comment
            )
    print(json.dumps(settings))


# --- organisations, networks, people -----------------------------------------------------------


@org_app.command("add")
@logged_in("register.organisation")
def org_add_command(
    code: Annotated[str, typer.Argument(help="Short code, e.g. MBC.")],
    name: Annotated[str, typer.Option(help="Full name (what principals carry).")],
    kind: Annotated[
        str, typer.Option(help="local_authority, csp, force or other.")
    ] = "local_authority",
    area: Many = None,
    url: UrlOption = None,
) -> None:
    """Register an organisation and the local authority areas it covers (--area, repeatable)."""
    with as_me(url) as access:
        print(access.add_organisation(code, name, kind, tuple(area or ())))


@org_app.command("list")
@logged_in("register.see")
def org_list_command(url: UrlOption = None) -> None:
    """Organisations, their areas and registered networks."""
    with as_me(url) as access:
        for org in access.organisations():
            nets = ", ".join(n["cidr"] for n in org["networks"]) or "no networks"
            areas = ",".join(org["areas"]) or "-"
            print(f"{org['code']:<8} {org['kind']:<16} {areas:<24} {org['name']} ({nets})")


@network_app.command("add")
@logged_in("register.add_network")
def network_add_command(
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    cidr: Annotated[str, typer.Argument(help="Range (192.0.2.0/28) or address.")],
    description: Annotated[str, typer.Option(help="Where it is.")] = "",
    url: UrlOption = None,
) -> None:
    """Register a network range the organisation's analysts connect from."""
    with as_me(url) as access:
        print(access.add_network(organisation, cidr, description))


@network_app.command("remove")
@logged_in("register.remove_network")
def network_remove_command(
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    cidr: Annotated[str, typer.Argument(help="The registered range.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """Remove a registered range (connections from it are refused at once)."""
    with as_me(url) as access:
        print(access.remove_network(organisation, cidr, comment))


@user_app.command("add")
@logged_in("register.user")
def user_add_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    full_name: Annotated[str, typer.Option(help="Name.")],
    org: Annotated[str, typer.Option(help="Organisation code.")],
    title: Annotated[str, typer.Option(help="Role title, as on the request form.")],
    email: Annotated[str, typer.Option(help="E-mail address.")],
    phone: Annotated[str, typer.Option(help="Telephone.")] = "",
    role: Many = None,
    line_manager: Annotated[str | None, typer.Option(help="Their line manager's username.")] = None,
    area: Many = None,
    workstation: Many = None,
    senior_analyst: SeniorAnalystOption = None,
    deputy: Many = None,
    local_supervisor: LocalSupervisorOption = None,
    url: UrlOption = None,
) -> None:
    """Register a person (--role, --area for superintendents, --workstation, --deputy for a
    senior analyst: repeatable)."""
    person = {
        "username": username,
        "full_name": full_name,
        "organisation": org,
        "role_title": title,
        "email": email,
        "phone": phone,
        "roles": list(role or ()),
        "line_manager": line_manager,
        "areas": list(area or ()),
        "workstations": list(workstation or ()),
        "senior_analyst": senior_analyst,
        "deputies": list(deputy or ()),
        "local_supervisor": local_supervisor,
    }
    with as_me(url) as access:
        print(access.add_person(person))


@user_app.command("update")
@logged_in("register.change_user")
def user_update_command(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Many = None,
    line_manager: Annotated[str | None, typer.Option(help="New line manager.")] = None,
    area: Many = None,
    workstation: Many = None,
    clear_workstations: Annotated[
        bool, typer.Option(help="Remove designated workstations.")
    ] = False,
    phone: Annotated[str | None, typer.Option(help="Telephone.")] = None,
    senior_analyst: SeniorAnalystOption = None,
    deputy: Many = None,
    local_supervisor: LocalSupervisorOption = None,
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """Change roles (replaces them), line manager, areas, designated workstations, telephone,
    designated senior analyst, deputies (replaces them) or local supervisor."""
    changes: dict[str, Any] = {}
    if role:
        changes["roles"] = list(role)
    if line_manager is not None:
        changes["line_manager"] = line_manager
    if area:
        changes["areas"] = list(area)
    if workstation or clear_workstations:
        changes["workstations"] = list(workstation or ())
    for name, value in (
        ("phone", phone),
        ("senior_analyst", senior_analyst),
        ("local_supervisor", local_supervisor),
    ):
        if value is not None:
            changes[name] = value
    if deputy:
        changes["deputies"] = list(deputy)
    if not changes:
        raise InputError("nothing to change")
    with as_me(url) as access:
        print(access.update_person(username, changes | {"comment": comment}))


@user_app.command("list")
@logged_in("register.see")
def user_list_command(url: UrlOption = None) -> None:
    """Everyone in the register with their level now."""
    with as_me(url) as access:
        for p in access.people():
            roles = ",".join(p["roles"]) or "-"
            print(
                f"{p['username']:<14} {p['organisation']:<6} {p['state']:<10} {roles:<32} "
                f"{p['full_name']}"
            )


# --- preconditions -------------------------------------------------------------------------------


@access_app.command("vetting")
@logged_in("register.vetting")
def vetting_command(
    username: Annotated[str, typer.Argument(help="Whose vetting.")],
    level: Annotated[str, typer.Option(help="NPPV1, NPPV2 or NPPV3.")],
    granted: Annotated[str, typer.Option(help="Date granted (ISO).")],
    expires: Annotated[str, typer.Option(help="Date it expires (ISO).")],
    reference: Annotated[str, typer.Option(help="Vetting unit reference.")] = "",
    url: UrlOption = None,
) -> None:
    """Record a vetting clearance (an administrator or the ISO; never their own)."""
    granted_on = day(granted, "--granted") or ""
    expires_on = day(expires, "--expires") or ""
    with as_me(url) as access:
        print(access.record_vetting(username, level, granted_on, expires_on, reference))


@access_app.command("declaration")
@logged_in("register.declaration")
def declaration_command(
    username: Annotated[str, typer.Argument(help="Who signed.")],
    kind: Annotated[
        str, typer.Option(help="confidentiality, data_protection or security_operating_procedures.")
    ],
    signed: Annotated[str | None, typer.Option(help="Date signed (default today).")] = None,
    url: UrlOption = None,
) -> None:
    """Sign a declaration yourself (an administrator may record someone else's)."""
    with as_me(url) as access:
        print(access.declare(username, kind, day(signed, "--signed")))


@access_app.command("training")
@logged_in("register.training")
def training_command(
    username: Annotated[str, typer.Argument(help="Who completed it.")],
    kind: Annotated[str, typer.Option(help="gateway_training or information_security_induction.")],
    completed: Annotated[str | None, typer.Option(help="Date completed (default today).")] = None,
    url: UrlOption = None,
) -> None:
    """Record completed training or the information-security induction."""
    with as_me(url) as access:
        print(access.record_training(username, kind, day(completed, "--completed")))


@access_app.command("mou")
@logged_in("register.memorandum")
def mou_command(
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    reference: Annotated[str, typer.Option(help="The memorandum's reference.")],
    signed: Annotated[str, typer.Option(help="Date signed (ISO).")],
    expires: Annotated[str | None, typer.Option(help="Date it ends (ISO), if any.")] = None,
    applicant: Annotated[
        str | None, typer.Option("--for", help="An applicant's own memorandum (their username).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Record an organisation's signed memorandum of understanding, or (--for) an applicant's."""
    signed_on = day(signed, "--signed") or ""
    with as_me(url) as access:
        print(
            access.record_memorandum(
                organisation, reference, signed_on, day(expires, "--expires"), applicant
            )
        )


@access_app.command("declare-coc")
@logged_in("register.code_of_connection")
def declare_coc_command(
    organisation: Annotated[str, typer.Argument(help="Organisation code.")],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The SPOC's annual code-of-connection declaration for their organisation."""
    with as_me(url) as access:
        print(f"code of connection {access.declare_code_of_connection(organisation, comment)}")


# --- requests -----------------------------------------------------------------------------------


@request_app.command("submit")
@logged_in("access.submit")
def request_submit_command(
    purpose: Annotated[list[str], typer.Option(help="CODE=description (repeatable).")],
    duties: Annotated[str, typer.Option(help="The applicant's key duties.")],
    product: Annotated[list[str], typer.Option(help="A product to be produced (repeatable).")],
    disseminate: Annotated[list[str], typer.Option(help="Who receives the products (repeatable).")],
    level: Annotated[str, typer.Option(help="general or enhanced.")] = "general",
    applicant: Annotated[
        str | None, typer.Option("--for", help="Applicant (admins only; default: you).")
    ] = None,
    area: Many = None,
    table: Many = None,
    unmask: Many = None,
    extra_area: Many = None,
    why: Annotated[str, typer.Option(help="Enhanced: why each addition is needed.")] = "",
    method: Annotated[
        str,
        typer.Option(
            help="Enhanced: why direct enhanced access is the most appropriate method "
            "(the alternatives considered)."
        ),
    ] = "",
    starts: Annotated[str | None, typer.Option(help="First day (default today).")] = None,
    ends: Annotated[str | None, typer.Option(help="Last day (required for enhanced).")] = None,
    deputy_for: Annotated[
        str | None, typer.Option(help="The analyst this applicant deputises for.")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Submit a general or enhanced access request (enhanced: --table/--unmask/--extra-area + --why)."""
    if level not in ("general", "enhanced"):
        raise InputError("--level must be general or enhanced")
    form: dict[str, Any] = {
        "level": level,
        "purposes": [_purpose(p) for p in purpose],
        "key_duties": duties,
        "products": list(product),
        "dissemination": list(disseminate),
        "applicant": applicant,
        "areas": list(area or ()),
        "starts": day(starts, "--starts"),
        "ends": day(ends, "--ends"),
        "deputy_for": deputy_for,
    }
    if level == "enhanced":
        form |= {
            "tables": list(table or ()),
            "unmask": list(unmask or ()),
            "extra_areas": list(extra_area or ()),
            "justification": why,
            "method": method,
        }
    with as_me(url) as access:
        print(access.submit(form)["request_id"])


@request_app.command("show")
@logged_in("access.see_request")
def request_show_command(
    request_id: Annotated[str, typer.Argument(help="AR-…")], url: UrlOption = None
) -> None:
    """A request with its form and full history."""
    with as_me(url) as access:
        _show(access.request(request_id))


@request_app.command("list")
@logged_in("access.see_request")
def request_list_command(
    user: Annotated[str | None, typer.Option(help="Only this applicant's.")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only undecided requests.")] = False,
    everyone: Annotated[
        bool, typer.Option("--all", help="Every request you may see, not only yours.")
    ] = False,
    url: UrlOption = None,
) -> None:
    """Your requests (with --all or --user: every one you may see), oldest first."""
    with as_me(url) as access:
        for r in access.requests(open_only=open_only, everyone=everyone, applicant=user):
            print(_brief(r))


RequestId = Annotated[str, typer.Argument(help="The request (AR-…).")]


def _act(url: str | None, request_id: str, action: str, comment: str) -> None:
    with as_me(url) as access:
        request = access.act(request_id, action, comment)
    waiting = f"; next: {request['waiting_for']}" if request["waiting_for"] else ""
    print(f"{request['request_id']} {request['state']}{waiting}")


@access_app.command("endorse")
@logged_in("access.take_step")
def endorse_command(
    request_id: RequestId, comment: CommentOption = "", url: UrlOption = None
) -> None:
    """Endorse as the applicant's line manager, then as the local policing superintendent."""
    _act(url, request_id, "endorse", comment)


@access_app.command("review")
@logged_in("access.take_step")
def review_command(
    request_id: RequestId, comment: CommentOption = "", url: UrlOption = None
) -> None:
    """Review as the analysis manager, then as the information security officer."""
    _act(url, request_id, "review", comment)


@access_app.command("authorise")
@logged_in("access.take_step")
def authorise_command(
    request_id: RequestId, comment: CommentOption = "", url: UrlOption = None
) -> None:
    """Authorise as head of intelligence: the grant is issued."""
    _act(url, request_id, "authorise", comment)


@access_app.command("refuse")
@logged_in("access.take_step")
def refuse_command(
    request_id: RequestId,
    comment: Annotated[str, typer.Option("--comment", help="The reason (required).")],
    url: UrlOption = None,
) -> None:
    """Refuse at the step the request waits for (the reason is recorded)."""
    _act(url, request_id, "refuse", comment)


@access_app.command("withdraw")
@logged_in("access.withdraw")
def withdraw_command(
    request_id: RequestId, comment: CommentOption = "", url: UrlOption = None
) -> None:
    """Withdraw your own request."""
    _act(url, request_id, "withdraw", comment)


@access_app.command("pending")
@logged_in("access.take_step")
def pending_command(
    role: Annotated[
        str | None,
        typer.Option(
            help="One of your roles: line_manager, superintendent, analysis_manager, "
            "information_security_officer or head_of_intelligence (default: all of them)."
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Requests whose next step you may take, oldest first."""
    with as_me(url) as access:
        for r in access.pending(role):
            a = r["applicant"]
            print(
                f"{r['request_id']}  {r['level']:<9} {a['username']} ({a['organisation']}), "
                f"awaits {r['waiting_for']}"
            )


@access_app.command("status")
@logged_in("access.see_status")
def status_command(
    username: Annotated[str | None, typer.Argument(help="Whose (default: yours).")] = None,
    url: UrlOption = None,
) -> None:
    """What is missing before USERNAME (or you) can start (exit 1 while anything is)."""
    with as_me(url) as access:
        status = access.status(username)
    purposes = f", purposes {', '.join(status['purposes'])}" if status["purposes"] else ""
    print(f"{status['username']} ({status['organisation']}): level {status['level']}{purposes}")
    if status["ready"]:
        print("ready: nothing missing")
        return
    for item in status["missing"]:
        print(f"  - [{item['code']}] {item['message']}")
    raise typer.Exit(1)


# --- suspension, revocation, reviews ------------------------------------------------------------


@access_app.command("suspend")
@logged_in("access.suspend")
def suspend_command(
    username: Annotated[str, typer.Argument(help="Whom.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    kind: Annotated[str, typer.Option(help="misuse or administrative.")] = "misuse",
    url: UrlOption = None,
) -> None:
    """Suspend at once: the next request with their token is refused."""
    with as_me(url) as access:
        print(access.suspend(username, reason, kind))


@access_app.command("reinstate")
@logged_in("access.reinstate")
def reinstate_command(
    username: Annotated[str, typer.Argument(help="Whom.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (recorded).")],
    url: UrlOption = None,
) -> None:
    """Lift a suspension."""
    with as_me(url) as access:
        print(access.reinstate(username, comment))


@access_app.command("revoke")
@logged_in("access.revoke")
def revoke_command(
    username: Annotated[str, typer.Argument(help="Whose access.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    leaver: Annotated[bool, typer.Option(help="They have left: close the account too.")] = False,
    url: UrlOption = None,
) -> None:
    """Revoke every grant (and with --leaver, close the account)."""
    with as_me(url) as access:
        print(f"{username}: {access.revoke(username, reason, leaver=leaver)}")


@access_app.command("review-cycle")
@logged_in("access.review_cycle")
def review_cycle_command(url: UrlOption = None) -> None:
    """Open due access reviews, suspend users unconfirmed past the deadline, flag inactivity."""
    with as_me(url) as access:
        result = access.review_cycle()
    for what, items in result.items():
        print(f"{what}: {', '.join(items) or '-'}")


@access_app.command("inactive")
@logged_in("register.see")
def inactive_command(url: UrlOption = None) -> None:
    """Users with access and no query for the inactivity period."""
    with as_me(url) as access:
        for user in access.inactive():
            seen = (user["last_activity"] or "never")[:10]
            print(f"{user['username']:<14} last query {seen}")


@review_app.command("open")
@logged_in("access.open_review")
def access_review_open_command(
    organisation: Annotated[str, typer.Argument(help="Organisation code.")], url: UrlOption = None
) -> None:
    """Open an access review for an organisation now."""
    with as_me(url) as access:
        review = access.open_review(organisation)
    users = ", ".join(e["username"] for e in review["entries"]) or "no users"
    print(f"{review['review_id']} due {review['due']}: {users}")


@review_app.command("confirm")
@logged_in("access.decide_review_entry")
def access_review_confirm_command(
    review_id: Annotated[str, typer.Argument(help="RV-…")],
    username: Annotated[str, typer.Argument(help="The user.")],
    keep: Annotated[
        bool, typer.Option("--keep/--remove", help="Still needs access, or remove it.")
    ],
    comment: CommentOption = "",
    url: UrlOption = None,
) -> None:
    """The SPOC's decision for one user (removal revokes at once)."""
    with as_me(url) as access:
        print(access.confirm_review(review_id, username, keep=keep, comment=comment))


@review_app.command("list")
@logged_in("access.see_reviews")
def access_review_list_command(
    organisation: Annotated[str | None, typer.Option(help="Only this organisation's.")] = None,
    url: UrlOption = None,
) -> None:
    """Access reviews with their undecided users."""
    with as_me(url) as access:
        for review in access.reviews(organisation):
            state = (
                f"closed {review['closed_at'][:10]}"
                if review["closed_at"]
                else f"due {review['due']}"
            )
            waiting = ", ".join(e["username"] for e in review["entries"] if e["decision"] is None)
            print(f"{review['review_id']}  {state}  undecided: {waiting or '-'}")
