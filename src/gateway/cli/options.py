"""Command-line options several command groups share (``def …(data_dir: DataDirOption)``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.errors import InputError

__all__ = [
    "AuditStoreOption",
    "DataDirOption",
    "PurposeOption",
    "RegisterStoreOption",
    "json_or_text",
    "name_value_pairs",
    "use_audit_store",
    "use_register_store",
]

#: ``--data-dir DIR`` (required): the deployment on this machine.
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="The deployment's data directory.", file_okay=False)
]

#: ``--purpose CODE``: one of the caller's approved purposes (default: the config file's).
PurposeOption = Annotated[
    str | None, typer.Option(help="Approved purpose code (default: the config file's).")
]


#: ``--audit-store postgresql://…[#schema]``: a shared audit log (default: DIR/audit.sqlite).
AuditStoreOption = Annotated[
    str | None,
    typer.Option(
        "--audit-store",
        envvar="GATEWAY_AUDIT_STORE",
        help="A PostgreSQL audit log shared by several gateway hosts: postgresql://…[#schema] "
        "(default: the data directory's audit.sqlite).",
    ),
]


def use_audit_store(location: str | None) -> None:
    """Make ``--audit-store`` the setting of this process and the processes it starts."""
    if location:
        os.environ["GATEWAY_AUDIT_STORE"] = location


#: ``--register-store postgresql://…[#schema]``: a shared governance register (tokens,
#: accounts, sessions too; default: DIR/governance.sqlite).
RegisterStoreOption = Annotated[
    str | None,
    typer.Option(
        "--register-store",
        envvar="GATEWAY_REGISTER_STORE",
        help="A PostgreSQL governance register (with the API tokens, sign-in accounts and web "
        "sessions) shared by several gateway hosts: postgresql://…[#schema] (default: the data "
        "directory's governance.sqlite).",
    ),
]


def use_register_store(location: str | None) -> None:
    """Make ``--register-store`` the setting of this process and the processes it starts."""
    if location:
        os.environ["GATEWAY_REGISTER_STORE"] = location


def name_value_pairs(pairs: list[str], option: str) -> list[tuple[str, str]]:
    """``["k=v", …]`` given to ``option`` → ``[("k", "v"), …]`` (names stripped).

    Raises:
        InputError: an item without ``=`` or without a name.
    """
    found = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{option} {pair!r}: write it as name=value")
        found.append((key.strip(), value))
    return found


def json_or_text(value: str) -> Any:
    """The JSON value ``value`` spells, or the text itself when it is not JSON.

    Example:
        >>> json_or_text("10"), json_or_text("2024-01-01"), json_or_text("[1]")
        (10, '2024-01-01', [1])
    """
    try:
        return json.loads(value)
    except ValueError:
        return value
