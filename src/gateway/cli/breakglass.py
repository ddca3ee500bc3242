"""Break-glass on the gateway's host: bootstrap and recovery, when no administrator can log in.

Whoever can open the data directory acts as a host operator
(:class:`~gateway.auth.breakglass.HostOperator`): recorded as ``host:<operating-system user>``
with the uid and a required ``--reason``, every action audited as break-glass. Only bootstrap
and recovery are possible; an approval, endorsement, review, authorisation, publication or
release decision is refused (and the attempt recorded) — those are taken by the person
themselves, logged in::

    gateway access bootstrap --data-dir DIR --reason "CHG-1001 new deployment" \\
        --username root --full-name … --email … --org-code CLE --org-name "Cleveland Police" …
    gateway tokens issue root --data-dir DIR --reason "CHG-1001 first administrator's token"
    gateway access break-glass settings --data-dir DIR --reason … --allow-loopback
    gateway access break-glass add-admin r.admin --data-dir DIR --reason "INC-7 all admins left" …
    gateway access break-glass unlock root --data-dir DIR --reason "INC-8 locked out"

Then the administrator logs in (``gateway login --server URL``) and does the rest as themselves.
"""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from gateway.cli import command_group
from gateway.cli.access import access_app
from gateway.cli.host import governance, host_operator
from gateway.cli.options import DataDirOption
from gateway.errors import InputError
from gateway.governance.model import Organisation, OrganisationKind, Person

__all__ = ["ReasonOption", "break_glass_app"]

break_glass_app = command_group(
    "break-glass",
    "On the gateway's host, without a login: recovery only (audited with your OS user and reason).",
    parent=access_app,
)

#: ``--reason`` (required): why break-glass is needed, recorded with the operating-system user.
ReasonOption = Annotated[
    str,
    typer.Option(
        "--reason", help="Why break-glass is needed (an incident or change reference; recorded)."
    ),
]
Many = Annotated[list[str] | None, typer.Option()]


@access_app.command("bootstrap")
def bootstrap_command(
    data_dir: DataDirOption,
    reason: ReasonOption,
    username: Annotated[str, typer.Option(help="The first administrator's username.")],
    full_name: Annotated[str, typer.Option(help="Their name.")],
    email: Annotated[str, typer.Option(help="Their e-mail address.")],
    org_code: Annotated[str, typer.Option(help="Their organisation's code (e.g. CLE).")],
    org_name: Annotated[str, typer.Option(help="Their organisation's name.")],
    org_kind: Annotated[str, typer.Option(help="local_authority, csp, force or other.")] = "force",
    area: Many = None,
    title: Annotated[str, typer.Option(help="Their role title.")] = "System administrator",
) -> None:
    """Break-glass: create the first administrator (and their organisation); runs once."""
    host = host_operator(reason)
    org = Organisation(org_code, org_name, _kind(org_kind), tuple(area or ()))
    with governance(data_dir) as service:
        service.bootstrap(Person(username, full_name, org_code, title, email), org, by=host)
    print(f"administrator {username} created in {org_name} (break-glass by {host.username})")
    print(f"next: gateway tokens issue {username} --data-dir {data_dir} --reason …")


def _kind(text: str) -> OrganisationKind:
    for kind in get_args(OrganisationKind):
        if kind == text:
            return kind  # type: ignore[no-any-return]
    raise InputError(f"organisation kind must be one of {', '.join(get_args(OrganisationKind))}")


@break_glass_app.command("add-admin")
def add_admin_command(
    username: Annotated[str, typer.Argument(help="The new administrator's username.")],
    data_dir: DataDirOption,
    reason: ReasonOption,
    full_name: Annotated[str, typer.Option(help="Their name.")],
    email: Annotated[str, typer.Option(help="Their e-mail address.")],
    org: Annotated[str, typer.Option(help="Their organisation's code.")],
    title: Annotated[str, typer.Option(help="Their role title.")] = "System administrator",
) -> None:
    """Register a new administrator-only account (no approver role), e.g. when every
    administrator has left."""
    host = host_operator(reason)
    with governance(data_dir) as service:
        service.add_administrator(host, Person(username, full_name, org, title, email))
    print(f"administrator {username} added (break-glass by {host.username})")


@break_glass_app.command("unlock")
def unlock_command(
    username: Annotated[str, typer.Argument(help="The suspended administrator.")],
    data_dir: DataDirOption,
    reason: ReasonOption,
) -> None:
    """Lift the suspensions of an administrator-only account."""
    host = host_operator(reason)
    with governance(data_dir) as service:
        lifted = service.unlock(host, username)
    print(f"{username}: {lifted} suspension(s) lifted (break-glass by {host.username})")


@break_glass_app.command("settings")
def settings_command(
    data_dir: DataDirOption,
    reason: ReasonOption,
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
) -> None:
    """Change the origin checks (e.g. when they lock every administrator out)."""
    if allow_loopback is None and enforce_origin is None:
        raise InputError("say what to change: --allow-loopback/--enforce-origin (or --no-…)")
    host = host_operator(reason)
    with governance(data_dir) as service:
        changed = service.settings().with_origin(
            enforce=enforce_origin, allow_loopback=allow_loopback
        )
        service.set_settings(host, changed)
    print(changed.to_json())
