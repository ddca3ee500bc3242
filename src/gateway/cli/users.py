"""``gateway users list --data-dir DIR``: who has access, as the gateway sees them now.

Reads the deployment's principal directory (``DIR/users.toml``).
"""

from __future__ import annotations

from gateway.cli import command_group
from gateway.cli.options import DataDirOption
from gateway.clock import utc_now

__all__ = ["users_app"]

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
