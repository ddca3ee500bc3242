"""The ``gateway`` command line.

Each sub-command lives in its own module and registers itself on :data:`app`; this module only
assembles them and turns :class:`~gateway.errors.GatewayError` into a one-line message and a
non-zero exit (never a traceback).
"""

from __future__ import annotations

import importlib
import sys

import typer

from gateway.errors import GatewayError

__all__ = ["app", "command_group", "main"]

app = typer.Typer(
    name="gateway",
    help="Partnership Analytics Gateway: safe, audited access to the police analytical warehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def command_group(name: str, help: str, *, parent: typer.Typer = app) -> typer.Typer:
    """A group of sub-commands, ``gateway NAME …`` (or under ``parent``); bare NAME shows its help.

    Example:
        >>> group = command_group("users", "Users and their access.", parent=typer.Typer())
        >>> group.info.name, group.info.no_args_is_help
        ('users', True)
    """
    group = typer.Typer(name=name, help=help, no_args_is_help=True, rich_markup_mode=None)
    parent.add_typer(group, name=name)
    return group


#: Command modules, each adding its commands to ``app`` when imported.
COMMAND_MODULES = (
    "access",
    "audit",
    "audit_duties",
    "breakglass",
    "catalog",
    "config",
    "demo",
    "export",
    "generate",
    "partners",
    "product",
    "publish",
    "query",
    "serve",
    "template",
    "tokens",
    "users",
    "warehouse",
)
#: Packages only the ``[server]`` extra installs: a light (client-only) install skips the
#: commands that need them instead of failing to start.
SERVER_PACKAGES = frozenset(
    {
        "duckdb",
        "sqlglot",
        "fastapi",
        "starlette",
        "uvicorn",
        "geopandas",
        "shapely",
        "pyogrio",
        "pyproj",
        "openpyxl",
        "scipy",
        "numpy",
        "pydantic",
    }
)


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(f"gateway.cli.{name}")
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
                raise


def main() -> None:
    _register()
    try:
        result = app(standalone_mode=False)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare ``gateway``: show the help
            print(exc.format_message(), file=sys.stderr)
        else:  # usage errors (unknown option, bad value, missing option): one line, no box
            print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if isinstance(result, int) and not isinstance(result, bool) and result != 0:
        raise SystemExit(result)
