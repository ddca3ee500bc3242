"""``gateway tokens issue|revoke|list --data-dir DIR``: token administration on the data dir.

For administrators on the gateway's host (the API's ``/v1/tokens`` does the same remotely).
Issuing and revoking are audited, with the operating-system user as the actor unless ``--by``
names someone.

    gateway tokens issue a.khan --data-dir /srv/gw --days 90 --label notebook
    gateway tokens list --data-dir /srv/gw [--user a.khan]
    gateway tokens revoke tok_3f9a1c0b2d4e --data-dir /srv/gw
"""

from __future__ import annotations

import getpass
import sys
from datetime import timedelta
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.options import DataDirOption
from gateway.clock import utc_now

__all__ = ["tokens_app"]

tokens_app = command_group("tokens", "Issue, list and revoke API tokens (administrators).")

ByOption = Annotated[
    str | None, typer.Option("--by", help="Who is acting (default: your login name).")
]


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


@tokens_app.command("issue")
def issue_command(
    username: Annotated[str, typer.Argument(help="The user the token is for.")],
    data_dir: DataDirOption,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            max=3650,
            help="Lifetime in days (at most the policy's [tokens] max_lifetime_days, "
            "default 90; longer is refused).",
        ),
    ] = 90,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    by: ByOption = None,
) -> None:
    """Issue a token; it is printed once and never stored."""
    from gateway.auth import issue_token
    from gateway.deployment import Deployment
    from gateway.errors import NotFound

    with Deployment.open(data_dir, engine=False) as deployment:
        if username not in deployment.directory.usernames():
            raise NotFound(f"there is no user {username!r} in this deployment")
        issued = issue_token(
            deployment.tokens,
            deployment.audit,
            username,
            issued_by=_actor(by),
            label=label,
            expires_in=timedelta(days=days),
            max_lifetime=deployment.policy.tokens.max_lifetime,
        )
    record = issued.record
    expires = f"{record.expires_at:%Y-%m-%d}" if record.expires_at else "never"
    print(issued.token)
    print(
        f"token {record.token_id} for {username}, expires {expires}: copy it now, "
        "it is not shown again",
        file=sys.stderr,
    )


@tokens_app.command("revoke")
def revoke_command(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_…).")],
    data_dir: DataDirOption,
    by: ByOption = None,
) -> None:
    """Revoke a token at once."""
    from gateway.auth import revoke_token
    from gateway.deployment import Deployment

    with Deployment.open(data_dir, engine=False) as deployment:
        record = revoke_token(deployment.tokens, deployment.audit, token_id, revoked_by=_actor(by))
    print(f"revoked {record.token_id} ({record.username})")


@tokens_app.command("list")
def list_command(
    data_dir: DataDirOption,
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """List tokens (ids, owners, states; never the secrets)."""
    from gateway.deployment import Deployment

    now = utc_now()
    with Deployment.open(data_dir, engine=False) as deployment:
        records = deployment.tokens.list(user)
    print(f"{'token_id':<18} {'user':<16} {'state':<8} {'issued':<10} {'expires':<10} label")
    for r in records:
        expires = f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "never"
        print(
            f"{r.token_id:<18} {r.username:<16} {r.state(now):<8} {r.issued_at:%Y-%m-%d} "
            f"{expires:<10} {r.label}"
        )
