"""The policy's ``[login.oidc]`` table: signing in through the force's OpenID Connect provider.

Optional: without it the web application signs people in with their gateway password only.
With it, the sign-in page also offers the provider (authorisation code flow with PKCE, a
nonce and a state). The provider only says *who* the person is: the gateway username is the
``username_claim`` of the provider's ID token, and that person must already be in the gateway's
directory (the register) — nobody gets access by having an account at the provider. Locks,
suspensions, network and precondition checks, idle sign-off and the SyOPs at each sign-in apply
as they do to a password sign-in.

The client secret never sits in the policy file: ``client_secret_env`` names the environment
variable that holds it (empty: a public client, PKCE only).

Example:
    >>> settings = parse_oidc_settings({
    ...     "issuer": "https://login.force.example",
    ...     "client_id": "partnership-gateway",
    ...     "redirect_url": "https://gateway.force.example/login/oidc/callback",
    ... })
    >>> settings.username_claim, settings.algorithms
    ('preferred_username', ('RS256', 'PS256', 'ES256'))
    >>> parse_oidc_settings({"issuer": "http://login.force.example", "client_id": "x",
    ...                      "redirect_url": "https://g.example/login/oidc/callback"})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: login.oidc.issuer: must be an https:// URL (http:// only on a loopback address)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from gateway.errors import ConfigurationError

__all__ = ["OidcSettings", "parse_oidc_settings", "secure_url"]

#: Signature algorithms an ID token may use: asymmetric only (never ``none`` or a shared-secret
#: HMAC, which anyone holding the client secret could forge).
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_CLAIM = 64


@dataclass(frozen=True)
class OidcSettings:
    """``[login.oidc]``.

    Attributes:
        issuer: the provider's issuer URL (its ``/.well-known/openid-configuration`` is read
            from it, and every ID token's ``iss`` must equal it exactly).
        client_id: the gateway's client id at the provider (every ID token's ``aud``).
        redirect_url: the gateway's callback, as registered at the provider
            (``https://<gateway>/login/oidc/callback``).
        client_secret_env: the environment variable holding the client secret ("" = none).
        username_claim: the ID token claim that is the gateway username.
        scopes: requested scopes (``openid`` is always among them).
        algorithms: signature algorithms accepted (asymmetric only).
        required_acr: if set, the authentication context (``acr``) must be one of these
            (e.g. the provider's multi-factor level); it is asked for too.
        label: the sign-in button's text.
    """

    issuer: str
    client_id: str
    redirect_url: str
    client_secret_env: str = "GATEWAY_OIDC_CLIENT_SECRET"  # noqa: S105 (a variable's name)
    username_claim: str = "preferred_username"
    scopes: tuple[str, ...] = ("openid", "profile")
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    required_acr: tuple[str, ...] = ()
    label: str = "Sign in with your organisation's account"


def secure_url(url: str) -> bool:
    """An ``https://`` URL, or ``http://`` to a loopback address (a provider on the same
    host, as in tests); nothing else may carry codes and tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _text(path: str, value: Any, limit: int = 300) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ConfigurationError(f"{path}: must be text of 1 to {limit} characters")
    return value.strip()


def _names(path: str, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{path}: must be a list of names")
    if allowed is not None and (bad := sorted(set(value) - set(allowed))):
        raise ConfigurationError(f"{path}: {', '.join(bad)} not allowed (one of {allowed})")
    return tuple(dict.fromkeys(value))


def parse_oidc_settings(raw: Any, *, source: str = "policy.toml") -> OidcSettings:
    """Validate a raw ``[login.oidc]`` table.

    Raises:
        ConfigurationError: ``<source>: login.oidc.<key>: <problem>``.
    """
    base = f"{source}: login.oidc"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{base}: must be a table")
    known = {f.name for f in fields(OidcSettings)}
    for key in raw:
        if key not in known:
            raise ConfigurationError(f"{base}.{key}: unknown key (expected one of {sorted(known)})")
    for key in ("issuer", "client_id", "redirect_url"):
        if key not in raw:
            raise ConfigurationError(f"{base}.{key}: required")
    values: dict[str, Any] = {}
    for key in ("issuer", "redirect_url"):
        url = _text(f"{base}.{key}", raw[key])
        if not secure_url(url):
            raise ConfigurationError(
                f"{base}.{key}: must be an https:// URL (http:// only on a loopback address)"
            )
        values[key] = url
    values["client_id"] = _text(f"{base}.client_id", raw["client_id"])
    if "client_secret_env" in raw:
        name = raw["client_secret_env"]
        if not isinstance(name, str) or len(name) > 100:
            raise ConfigurationError(f"{base}.client_secret_env: must be a variable name or ''")
        values["client_secret_env"] = name
    if "username_claim" in raw:
        values["username_claim"] = _text(f"{base}.username_claim", raw["username_claim"], _CLAIM)
    if "label" in raw:
        values["label"] = _text(f"{base}.label", raw["label"], 80)
    if "scopes" in raw:
        values["scopes"] = tuple(
            dict.fromkeys(("openid", *_names(f"{base}.scopes", raw["scopes"])))
        )
    if "algorithms" in raw:
        values["algorithms"] = _names(f"{base}.algorithms", raw["algorithms"], ASYMMETRIC)
        if not values["algorithms"]:
            raise ConfigurationError(f"{base}.algorithms: name at least one")
    if "required_acr" in raw:
        values["required_acr"] = _names(f"{base}.required_acr", raw["required_acr"])
    return OidcSettings(**values)
