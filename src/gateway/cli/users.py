"""``gateway users …``: who has access, and their web sign-in.

    gateway users list --data-dir DIR                 who has access, as the gateway sees them now
    gateway users set-password NAME --data-dir DIR    a new password (generated, or read from
                                                      standard input with --stdin), to be changed
                                                      at first sign-in; printed once
    gateway users unlock NAME --data-dir DIR          unlock an account locked by failed sign-ins

Reads the deployment's principal directory (``DIR/users.toml`` or the governance register);
every change is audited (``access.password_set``, ``access.account_unlocked``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.options import DataDirOption
from gateway.clock import utc_now

__all__ = ["users_app"]

UsernameArgument = Annotated[str, typer.Argument(help="The user.")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who is acting (default: your login name).")
]

users_app = command_group("users", "Users and their access (administrators).")


@users_app.command("list")
def list_command(
    data_dir: DataDirOption,
) -> None:
    """One line per user: level, roles, areas, purposes, grants, expiry, suspension."""
    from gateway.deployment import Deployment

    now = utc_now()
    with Deployment.open(data_dir, engine=False) as deployment:
        directory = deployment.directory
    print(f"{'user':<14} {'level':<9} {'roles':<16} {'areas':<22} {'purposes':<24} status")
    for name in directory.usernames():
        p = directory.principal(name, now)
        if p is None:
            continue
        status = (
            "suspended"
            if p.suspended
            else ("expired" if p.expires_at and p.expires_at <= now else "active")
        )
        if p.grants:
            status += f", grants {','.join(g.grant_id for g in p.grants)}"
        print(
            f"{p.username:<14} {p.level:<9} {','.join(sorted(p.roles)) or '-':<16} "
            f"{','.join(p.areas) or '-':<22} {','.join(p.purposes) or '-':<24} {status}"
        )


def _actor(by: str | None) -> str:
    import getpass

    return by or f"cli:{getpass.getuser()}"


@users_app.command("set-password")
def set_password_command(
    username: UsernameArgument,
    data_dir: DataDirOption,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from standard input.")
    ] = False,
    by: ByOption = None,
) -> None:
    """Set a web sign-in password (changed at first sign-in when the policy says so)."""
    from gateway.deployment import Deployment

    password = sys.stdin.readline().rstrip("\n") if stdin else None
    with Deployment.open(data_dir, engine=False) as deployment:
        chosen = deployment.signin.set_password(username, password, by=_actor(by))
        must_change = deployment.policy.login.first_login_change
    if password is None:
        print(chosen)
    then = "; it must be changed at the first sign-in" if must_change else ""
    print(f"password set for {username}{then}", file=sys.stderr)


@users_app.command("unlock")
def unlock_command(
    username: UsernameArgument,
    data_dir: DataDirOption,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    by: ByOption = None,
) -> None:
    """Unlock an account locked after failed sign-in attempts (its API tokens work again)."""
    from gateway.deployment import Deployment

    with Deployment.open(data_dir, engine=False) as deployment:
        deployment.signin.unlock(username, by=_actor(by), reason=reason)
    print(f"unlocked {username}")
