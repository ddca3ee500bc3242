"""``gateway login`` and ``gateway config …``: where the client commands find the gateway.

The URL comes from ``--url``, else ``GATEWAY_URL``, else the config file, else
``http://127.0.0.1:8000``; the token from ``GATEWAY_TOKEN``, else the config file (never from
the command line, where it would land in shell history). The file is
``~/.config/partnership-gateway/config.toml`` (``$XDG_CONFIG_HOME`` honoured; ``GATEWAY_CONFIG``
names another file), written with mode 0600::

    url = "http://127.0.0.1:8000"
    token = "pgw_…"
    purpose = "SA-2026"

    gateway login --url http://127.0.0.1:8000      # asks for the token, checks it, saves both
    gateway config set purpose SA-2026
    gateway config show

Example:
    >>> render_config(ClientConfig(url="http://gw", purpose="SA"))
    'url = "http://gw"\\npurpose = "SA"\\n'
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import typer

from gateway.cli import app, command_group
from gateway.client import Connection
from gateway.errors import ConfigurationError, InputError

__all__ = [
    "DEFAULT_URL",
    "ClientConfig",
    "UrlOption",
    "config_path",
    "connection",
    "load_config",
    "render_config",
    "save_config",
]

DEFAULT_URL = "http://127.0.0.1:8000"
ConfigKey = Literal["url", "token", "purpose"]

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Gateway URL (default: GATEWAY_URL, the config file, or local)."),
]

config_app = command_group("config", "Show or change the client settings.")


@dataclass(frozen=True)
class ClientConfig:
    """What the client commands remember between runs."""

    url: str | None = None
    token: str | None = None
    purpose: str | None = None


def config_path() -> Path:
    """The config file: ``GATEWAY_CONFIG``, else the XDG config directory."""
    named = os.environ.get("GATEWAY_CONFIG")
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "partnership-gateway" / "config.toml"


def load_config(path: Path | None = None) -> ClientConfig:
    """The saved settings (empty when there is no file).

    Raises:
        ConfigurationError: the file is not valid TOML.
    """
    path = path or config_path()
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return ClientConfig()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path} is not a valid config file: {exc}") from exc
    return ClientConfig(
        **{k: str(raw[k]) for k in ("url", "token", "purpose") if isinstance(raw.get(k), str)}
    )


def render_config(config: ClientConfig) -> str:
    """The file's text (JSON string escapes are valid TOML basic strings)."""
    lines = [
        f"{key} = {json.dumps(value)}"
        for key, value in (
            ("url", config.url),
            ("token", config.token),
            ("purpose", config.purpose),
        )
        if value
    ]
    return "\n".join(lines) + "\n"


def save_config(config: ClientConfig, path: Path | None = None) -> Path:
    """Write the file (mode 0600, replaced atomically)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_config(config))
    os.replace(tmp, path)
    return path


def connection(url: str | None, *, purpose: str | None = None) -> Connection:
    """A client connection from the option, environment and config file.

    Raises:
        ConfigurationError: no token anywhere.
    """
    saved = load_config()
    token = os.environ.get("GATEWAY_TOKEN") or saved.token
    if not token:
        raise ConfigurationError(
            "no token: set GATEWAY_TOKEN or run `gateway login --url URL` first"
        )
    return Connection(
        url or os.environ.get("GATEWAY_URL") or saved.url or DEFAULT_URL,
        token,
        purpose=purpose or saved.purpose,
    )


def _mask(token: str | None) -> str:
    return f"{token[:8]}…" if token else "(none)"


@app.command("login")
def login_command(url: UrlOption = None) -> None:
    """Check a token against the gateway and save it with the URL in the config file."""
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
