"""``gateway access org …`` for partner organisations as a whole, as the person logged in.

    gateway access org agreements                              the published list (anyone)
    gateway access org isa MBC --reference ISA-MBC-2026 --signed 2026-01-05 --copied-to root
    gateway access org sponsor HSG --sponsor HBC               the sponsoring CSP's SPOC
    gateway access org authorise MBC [--comment …]             the system owner
    gateway access org suspend MBC --reason …                  every account stopped at once
    gateway access org reinstate MBC --reason …                the suspension lifted
    gateway access org terminate MBC --reason …                final: every grant revoked

Each goes through the server (``/v1/access/agreements``, ``/v1/access/organisations/{code}/…``,
:mod:`gateway.api.routes.partners`), which takes the actor from the caller's own token.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.access import as_me, day, logged_in, org_app
from gateway.cli.config import UrlOption

__all__ = ["agreements_command"]

Code = Annotated[str, typer.Argument(help="Organisation code.")]
Reason = Annotated[str, typer.Option(help="Why (recorded).")]
Comment = Annotated[str, typer.Option("--comment", help="What you say (recorded).")]


@org_app.command("agreements")
def agreements_command(url: UrlOption = None) -> None:
    """Organisations with their information sharing agreement in force and what they need."""
    with as_me(url) as access:
        for org in access.agreements():
            isa = org["agreement"]
            held = (
                f"{isa['reference']} (signed {isa['signed']}, copy: {isa['copied_to']})"
                if isa
                else "no ISA"
            )
            state = org["stopped"] or ("authorised" if org["authorised"] else "not authorised")
            missing = ", ".join(org["missing"]) or "-"
            print(f"{org['code']:<8} {state:<15} {held}  missing: {missing}  {org['name']}")


@org_app.command("isa")
@logged_in("register.sharing_agreement")
def isa_command(
    organisation: Code,
    reference: Annotated[str, typer.Option(help="The agreement's reference.")],
    signed: Annotated[str, typer.Option(help="Date signed (ISO).")],
    copied_to: Annotated[str, typer.Option(help="The system administrator holding the copy.")],
    expires: Annotated[str | None, typer.Option(help="Date it ends (ISO), if any.")] = None,
    url: UrlOption = None,
) -> None:
    """Record an organisation's information sharing agreement (administrators)."""
    signed_on = day(signed, "--signed") or ""
    with as_me(url) as access:
        print(
            access.record_sharing_agreement(
                organisation, reference, signed_on, copied_to, day(expires, "--expires")
            )
        )


@org_app.command("sponsor")
@logged_in("register.sponsor_organisation")
def sponsor_command(
    organisation: Code,
    sponsor: Annotated[str, typer.Option(help="Your CSP's organisation code.")],
    comment: Comment = "",
    url: UrlOption = None,
) -> None:
    """Sponsor a new organisation for your community safety partnership (its SPOC)."""
    with as_me(url) as access:
        body = {"sponsor": sponsor, "comment": comment}
        print(access.organisation_action(organisation, "sponsorship", body))


@org_app.command("authorise")
@logged_in("register.authorise_organisation")
def authorise_command(organisation: Code, comment: Comment = "", url: UrlOption = None) -> None:
    """Authorise an organisation's connection (the system owner; its ISA must be in place)."""
    with as_me(url) as access:
        print(access.organisation_action(organisation, "authorisation", {"comment": comment}))


@org_app.command("suspend")
@logged_in("access.suspend_organisation")
def suspend_command(organisation: Code, reason: Reason, url: UrlOption = None) -> None:
    """Suspend every account of an organisation at once (reversible)."""
    with as_me(url) as access:
        print(access.organisation_action(organisation, "suspend", {"reason": reason}))


@org_app.command("reinstate")
@logged_in("access.reinstate_organisation")
def reinstate_command(organisation: Code, reason: Reason, url: UrlOption = None) -> None:
    """Lift an organisation's suspension."""
    with as_me(url) as access:
        print(access.organisation_action(organisation, "reinstate", {"reason": reason}))


@org_app.command("terminate")
@logged_in("access.terminate_organisation")
def terminate_command(organisation: Code, reason: Reason, url: UrlOption = None) -> None:
    """End an organisation's access for good (every grant revoked)."""
    with as_me(url) as access:
        print(access.organisation_action(organisation, "terminate", {"reason": reason}))
