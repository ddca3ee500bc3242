"""Command-line options several command groups share (``def …(data_dir: DataDirOption)``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.errors import InputError

__all__ = ["DataDirOption", "PurposeOption", "json_or_text", "name_value_pairs"]

#: ``--data-dir DIR`` (required): the deployment on this machine.
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="The deployment's data directory.", file_okay=False)
]

#: ``--purpose CODE``: one of the caller's approved purposes (default: the config file's).
PurposeOption = Annotated[
    str | None, typer.Option(help="Approved purpose code (default: the config file's).")
]


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
