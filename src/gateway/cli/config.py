"""``gateway login`` and ``gateway config …``: where the client commands find the gateway.

The settings live in the saved login profile (:mod:`gateway.client.profile`), which every
client entry point reads — these commands, ``connect()`` in a notebook, and every command that
talks to a server (a saved login makes ``audit report``/``audit verify`` go through it, as
``--url`` does). The token is never taken from the command line, where it would land in shell
history::

    gateway login --server http://127.0.0.1:8000   # asks for the token, checks it, saves both
    gateway config set purpose SA-2026
    gateway config show
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated, Literal

import typer

from gateway.cli import app, command_group
from gateway.client import Connection
from gateway.client.profile import (
    DEFAULT_URL,
    ClientConfig,
    config_path,
    configured_url,
    load_config,
    render_config,
    resolve_profile,
    save_config,
)
from gateway.errors import InputError

__all__ = [
    "DEFAULT_URL",
    "ClientConfig",
    "UrlOption",
    "config_path",
    "configured_url",
    "connection",
    "load_config",
    "render_config",
    "save_config",
]

ConfigKey = Literal["url", "token", "purpose"]

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Gateway URL (default: GATEWAY_URL, the config file, or local)."),
]

config_app = command_group("config", "Show or change the client settings.")


def connection(url: str | None, *, purpose: str | None = None) -> Connection:
    """A client connection from the option, environment and saved profile.

    Raises:
        ConfigurationError: no token anywhere (or only one saved for another server).
    """
    profile = resolve_profile(url, purpose=purpose)
    return Connection(profile.url, profile.token, purpose=profile.purpose)


def _mask(token: str | None) -> str:
    return f"{token[:8]}…" if token else "(none)"


@app.command("login")
def login_command(
    url: Annotated[
        str | None,
        typer.Option(
            "--server",
            "--url",
            help="Gateway URL (default: GATEWAY_URL, the config file, or local).",
        ),
    ] = None,
) -> None:
    """Check your own token against the gateway and save it with the URL in your profile
    (mode 0600): every command that acts — governance, approvals, publication,
    administration — then acts as you."""
    url = url or os.environ.get("GATEWAY_URL") or load_config().url or DEFAULT_URL
    token = os.environ.get("GATEWAY_TOKEN") or typer.prompt("API token", hide_input=True)
    token = token.strip()
    with Connection(url, token) as gw:
        me = gw.me()
    saved = load_config()
    first_purpose = next(iter(me.get("purposes", [])), None)
    path = save_config(replace(saved, url=url, token=token, purpose=saved.purpose or first_purpose))
    print(f"logged in to {url} as {me['username']} ({me['level']}, {me['organisation']})")
    print(f"saved to {path}")


@config_app.command("set")
def config_set(
    key: Annotated[ConfigKey, typer.Argument(help="url, token or purpose.")],
    value: Annotated[str, typer.Argument(help="The new value ('' to clear).")],
) -> None:
    """Change one client setting."""
    if key == "url" and value and not value.startswith(("http://", "https://")):
        raise InputError(f"{value!r} is not an http(s) URL")
    path = save_config(replace(load_config(), **{key: value or None}))
    print(f"{key} saved to {path}")


@config_app.command("show")
def config_show() -> None:
    """Print the client settings (the token masked)."""
    saved = load_config()
    print(f"file:    {config_path()}")
    print(f"url:     {saved.url or '(default ' + DEFAULT_URL + ')'}")
    print(f"token:   {_mask(saved.token)}")
    print(f"purpose: {saved.purpose or '(none)'}")
