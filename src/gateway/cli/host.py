"""The host operator's side of the CLI: the deployment's governance opened on the data
directory, for break-glass (:mod:`gateway.cli.breakglass`) and for refusing any other command
given ``--data-dir`` (:func:`refuse_on_host`, used by :func:`gateway.cli.access.logged_in`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import Action
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import InputError
from gateway.governance.service import GovernanceService

__all__ = ["governance", "host_operator", "refuse_on_host"]


@contextmanager
def governance(data_dir: Path) -> Iterator[GovernanceService]:
    """The deployment's governance service, with its audit log closed afterwards."""
    if not DataDir(data_dir).root.is_dir():
        raise InputError(f"no data directory at {data_dir}")
    with Deployment.open(data_dir, engine=False) as deployment:
        yield deployment.governance


def host_operator(reason: str) -> HostOperator:
    """The operating-system user running this command, in break-glass mode."""
    return HostOperator.current(reason)


def refuse_on_host(data_dir: Path, reason: str, permission: str) -> None:
    """A ``gateway access`` command given ``--data-dir``: the permission point refuses it for
    the host operator (recorded as a break-glass attempt); one it would allow (settings) is
    sent to its break-glass command.

    Raises:
        BreakGlassRefused: always, unless ``permission`` is a break-glass action.
        InputError: a break-glass action: use its ``gateway access break-glass`` command.
    """
    host = host_operator(reason or "(no reason given)")
    with governance(data_dir) as service:
        service.attempt(host, Action(permission))
    raise InputError(
        "on the host, without a login, use `gateway access break-glass … --data-dir DIR "
        "--reason …`; otherwise log in (`gateway login --server URL`) and drop --data-dir"
    )
