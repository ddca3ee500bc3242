"""The saved login profile every client entry point reads: ``connect()``, and every ``gateway``
command that talks to a server.

``gateway login`` writes it; the URL comes from the caller, else ``GATEWAY_URL``, else the
profile, else ``http://127.0.0.1:8000``; the token from the caller (``connect(token=…)``), else
``GATEWAY_TOKEN``, else the profile; the purpose from the caller, else the profile. A saved
token is only ever sent to the URL it was saved with. The file is
``~/.config/partnership-gateway/config.toml`` (``$XDG_CONFIG_HOME`` honoured; ``GATEWAY_CONFIG``
names another file), written with mode 0600::

    url = "http://127.0.0.1:8000"
    token = "pgw_…"
    purpose = "SA-2026"

Example:
    >>> render_config(ClientConfig(url="http://gw", purpose="SA"))
    'url = "http://gw"\\npurpose = "SA"\\n'
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigurationError

__all__ = [
    "DEFAULT_URL",
    "ClientConfig",
    "Login",
    "config_path",
    "configured_url",
    "load_config",
    "render_config",
    "resolve_profile",
    "save_config",
]

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ClientConfig:
    """What the client remembers between runs (or, resolved, what a connection uses)."""

    url: str | None = None
    token: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class Login:
    """What one connection uses: where, as whom, and the default purpose."""

    url: str
    token: str
    purpose: str | None = None


def config_path() -> Path:
    """The profile file: ``GATEWAY_CONFIG``, else the XDG config directory."""
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


def configured_url(url: str | None = None) -> str | None:
    """The gateway URL given, in ``GATEWAY_URL`` or saved by ``gateway login`` (None: none).

    Commands that work either on a local data directory or through a server use this to
    decide: a saved login means "through the server", as an explicit ``--url`` does.
    """
    return url or os.environ.get("GATEWAY_URL") or load_config().url


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def resolve_profile(
    url: str | None = None, token: str | None = None, purpose: str | None = None
) -> Login:
    """What a connection uses: the values given, else the environment, else the profile.

    Raises:
        ConfigurationError: no token anywhere, or only one saved for another server.
    """
    saved = load_config()
    url = url or os.environ.get("GATEWAY_URL") or saved.url or DEFAULT_URL
    token = token or os.environ.get("GATEWAY_TOKEN")
    if not token and saved.token:
        if saved.url and not _same_server(url, saved.url):
            raise ConfigurationError(
                f"no token for {url}: the saved token is for {saved.url}; "
                f"run `gateway login --server {url}` or set GATEWAY_TOKEN"
            )
        token = saved.token
    if not token:
        raise ConfigurationError(
            "no token: run `gateway login --server URL` first, or set GATEWAY_TOKEN"
        )
    return Login(url=url, token=token, purpose=purpose or saved.purpose)
