"""``gateway tokens issue|revoke|list``: API tokens, issued by a logged-in administrator.

Through the server (the administrator's own login, ``POST /v1/tokens``), or — for bootstrap
and recovery only — break-glass on the host (``--data-dir DIR --reason …``): recorded as
``host:<operating-system user>`` with the reason, and only for an administrator-only account
(a token for an approver, senior analyst or SPOC is issued by an administrator through the
server, never on the host).

    gateway tokens issue a.khan --days 90 --label notebook          # logged in as an admin
    gateway tokens list [--user a.khan]
    gateway tokens revoke tok_3f9a1c0b2d4e
    gateway tokens issue root --data-dir /srv/gw --reason "CHG-1001 first administrator"
    gateway tokens revoke tok_3f9a1c0b2d4e --data-dir /srv/gw --reason "INC-9 token leaked"
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli import command_group
from gateway.cli.access import NO_NAMED_ACTOR, as_me
from gateway.cli.config import UrlOption
from gateway.clock import utc_now
from gateway.errors import InputError

__all__ = ["tokens_app"]

tokens_app = command_group("tokens", "Issue, list and revoke API tokens (administrators).")

HostDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Break-glass on the gateway's host (needs --reason): bootstrap and recovery only.",
        file_okay=False,
    ),
]
HostReason = Annotated[
    str | None, typer.Option("--reason", help="With --data-dir: why (recorded).")
]
RefusedBy = Annotated[str | None, typer.Option("--by", hidden=True)]


def _no_by(by: str | None) -> None:
    if by is not None:
        raise InputError(NO_NAMED_ACTOR)


def _expiry(value: str | None) -> str:
    return value[:10] if value else "never"


@tokens_app.command("issue")
def issue_command(
    username: Annotated[str, typer.Argument(help="The user the token is for.")],
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
    data_dir: HostDataDir = None,
    reason: HostReason = None,
    url: UrlOption = None,
    by: RefusedBy = None,
) -> None:
    """Issue a token; it is printed once and never stored."""
    _no_by(by)
    if data_dir is not None:
        token, token_id, expires = _issue_on_host(data_dir, reason or "", username, days, label)
    else:
        with as_me(url) as access:
            issued = access.issue_token(username, days=days, label=label)
        token, token_id, expires = issued["token"], issued["token_id"], issued["expires_at"]
    print(token)
    print(
        f"token {token_id} for {username}, expires {_expiry(expires)}: copy it now, "
        "it is not shown again",
        file=sys.stderr,
    )


def _issue_on_host(
    data_dir: Path, reason: str, username: str, days: int, label: str
) -> tuple[str, str, str | None]:
    from gateway.auth import issue_token
    from gateway.auth.breakglass import HostOperator
    from gateway.auth.permissions import Action, require
    from gateway.deployment import Deployment
    from gateway.errors import NotFound

    host = HostOperator.current(reason)
    with Deployment.open(data_dir, engine=False) as deployment:
        account = deployment.directory.principal(username, utc_now())
        if account is None:
            raise NotFound(f"there is no user {username!r} in this deployment")
        require(host, Action.HOST_ISSUE_TOKEN, account)
        issued = issue_token(
            deployment.tokens,
            deployment.audit,
            username,
            issued_by=host.username,
            organisation=host.organisation,
            label=label or host.reason,
            expires_in=timedelta(days=days),
            max_lifetime=deployment.policy.tokens.max_lifetime,
            context={"break_glass": host.record()},
        )
    expires = issued.record.expires_at
    return issued.token, issued.record.token_id, expires.isoformat() if expires else None


@tokens_app.command("revoke")
def revoke_command(
    token_id: Annotated[str, typer.Argument(help="The token's id (tok_…).")],
    data_dir: HostDataDir = None,
    reason: HostReason = None,
    url: UrlOption = None,
    by: RefusedBy = None,
) -> None:
    """Revoke a token at once."""
    _no_by(by)
    if data_dir is None:
        with as_me(url) as access:
            record = access.revoke_token(token_id)
        print(f"revoked {record['token_id']} ({record['username']})")
        return
    from gateway.auth import revoke_token
    from gateway.auth.breakglass import HostOperator
    from gateway.auth.permissions import Action, require
    from gateway.deployment import Deployment

    host = HostOperator.current(reason or "")
    require(host, Action.HOST_REVOKE_TOKEN)
    with Deployment.open(data_dir, engine=False) as deployment:
        revoked = revoke_token(
            deployment.tokens,
            deployment.audit,
            token_id,
            revoked_by=host.username,
            organisation=host.organisation,
            reason=host.reason,
            context={"break_glass": host.record()},
        )
    print(f"revoked {revoked.token_id} ({revoked.username}; break-glass by {host.username})")


@tokens_app.command("list")
def list_command(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Read the host's token store directly.", file_okay=False),
    ] = None,
    url: UrlOption = None,
) -> None:
    """List tokens (ids, owners, states; never the secrets)."""
    print(f"{'token_id':<18} {'user':<16} {'state':<8} {'issued':<10} {'expires':<10} label")
    if data_dir is None:
        with as_me(url) as access:
            rows = [
                (t["token_id"], t["username"], t["state"], t["issued_at"][:10],
                 _expiry(t["expires_at"]), t["label"])
                for t in access.tokens(user)
            ]  # fmt: skip
    else:
        rows = _list_on_host(data_dir, user, utc_now())
    for token_id, username, state, issued, expires, label in rows:
        print(f"{token_id:<18} {username:<16} {state:<8} {issued:<10} {expires:<10} {label}")


def _list_on_host(
    data_dir: Path, user: str | None, now: datetime
) -> list[tuple[str, str, str, str, str, str]]:
    from gateway.deployment import Deployment

    with Deployment.open(data_dir, engine=False) as deployment:
        records = deployment.tokens.list(user)
    return [
        (
            r.token_id,
            r.username,
            r.state(now),
            f"{r.issued_at:%Y-%m-%d}",
            f"{r.expires_at:%Y-%m-%d}" if r.expires_at else "never",
            r.label,
        )
        for r in records
    ]
