"""Signing in through an OpenID Connect provider: the relying party's half of the code flow.

    PendingSignIn      what the browser carries between the two legs: state, nonce and the
                       PKCE verifier (a short-lived cookie; only its owner's browser sends it)
    OidcProvider       the provider's metadata and keys (fetched, cached) →
                       ``authorization_url(pending)`` to send the browser to, and
                       ``verified_username(code, pending)``: the code exchanged at the token
                       endpoint and the ID token checked — signature by the provider's published
                       key under an allowed asymmetric algorithm, ``iss`` exactly the issuer,
                       ``aud`` the gateway (``azp`` too when there are several audiences),
                       ``exp``/``iat`` with a minute's leeway, the ``nonce`` of this sign-in,
                       the ``acr`` the policy requires — then the username claim

Anything that does not prove the person raises :class:`~gateway.errors.IdentityRejected`
(401); a provider that cannot be reached, :class:`~gateway.errors.IdentityProviderUnavailable`
(503). What the gateway then does with the username (directory, locks, SyOPs) is
:meth:`gateway.auth.signin.SignIn.sign_in_verified`'s.

Provider URLs must be ``https://`` (or ``http://`` on loopback, for tests); redirects are not
followed and answers over 1 MiB are refused, so a provider cannot be made to point the gateway
elsewhere.

Example:
    >>> pending = PendingSignIn.new()
    >>> PendingSignIn.from_cookie(pending.cookie_value()) == pending
    True
    >>> PendingSignIn.from_cookie("made.up") is None
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jwt

from gateway.errors import IdentityProviderUnavailable, IdentityRejected
from gateway.policy.oidc import OidcSettings, secure_url

__all__ = ["Fetch", "OidcProvider", "PendingSignIn", "http_fetch"]

_MAX_ANSWER = 1 << 20
_TIMEOUT_S = 10.0
_LEEWAY_S = 60
#: The provider's keys are fetched again for an unknown key id at most this often.
_KEYS_REFRESH_S = 60.0
_PART = 43  # 32 random bytes, base64url without padding


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PendingSignIn:
    """One sign-in in progress: ``state`` ties the callback to this browser, ``nonce`` ties the
    ID token to this sign-in, ``verifier`` is the PKCE secret behind the code challenge."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> PendingSignIn:
        return cls(*(secrets.token_urlsafe(32) for _ in range(3)))

    @property
    def challenge(self) -> str:
        """The S256 code challenge sent with the authorisation request."""
        return _b64(hashlib.sha256(self.verifier.encode("ascii")).digest())

    def cookie_value(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def from_cookie(cls, value: str) -> PendingSignIn | None:
        parts = value.split(".")
        ok = len(parts) == 3 and all(
            len(p) == _PART and p.replace("-", "").replace("_", "").isalnum() for p in parts
        )
        return cls(*parts) if ok else None

    def matches(self, state: str) -> bool:
        return hmac.compare_digest(self.state.encode(), state.encode("utf-8", "replace"))


#: ``fetch(url, form, headers)`` → the decoded JSON object (``form`` given: a POST).
Fetch = Callable[[str, Mapping[str, str] | None, Mapping[str, str]], dict[str, Any]]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_fetch(
    url: str, form: Mapping[str, str] | None, headers: Mapping[str, str]
) -> dict[str, Any]:
    """GET (or POST ``form``) a JSON object from the provider.

    Raises:
        IdentityProviderUnavailable: unreachable, not 200, too large, or not a JSON object.
    """
    if not secure_url(url):
        raise IdentityProviderUnavailable("the identity provider gave an address that is not https")
    data = urlencode(form).encode("ascii") if form is not None else None
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=data, headers={"Accept": "application/json", **headers}
    )
    try:
        with _OPENER.open(request, timeout=_TIMEOUT_S) as answer:
            body = answer.read(_MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        raise IdentityProviderUnavailable(f"the identity provider answered {status}") from None
    except (OSError, ValueError) as exc:
        raise IdentityProviderUnavailable("the identity provider could not be reached") from exc
    if len(body) > _MAX_ANSWER:
        raise IdentityProviderUnavailable("the identity provider's answer is too large")
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise IdentityProviderUnavailable("the identity provider's answer is not a JSON object")
    return value


class OidcProvider:
    """The provider named by ``[login.oidc]``, its metadata and keys cached.

    Args:
        settings: the policy's ``[login.oidc]``.
        fetch: how JSON is fetched (:func:`http_fetch`).
        environ: where the client secret's variable is read.
        now: seconds since the epoch (for the key cache).
    """

    def __init__(
        self,
        settings: OidcSettings,
        *,
        fetch: Fetch = http_fetch,
        environ: Mapping[str, str] = os.environ,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._fetch = fetch
        self._environ = environ
        self._now = now
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_at = -_KEYS_REFRESH_S

    # --- the provider's published facts ---------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """``/.well-known/openid-configuration``: its issuer must be the policy's exactly."""
        with self._lock:
            if self._metadata is None:
                issuer = self.settings.issuer
                well_known = f"{issuer.rstrip('/')}/.well-known/openid-configuration"
                found = self._fetch(well_known, None, {})
                if found.get("issuer") != issuer:
                    raise IdentityProviderUnavailable(
                        "the identity provider's metadata names another issuer"
                    )
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(key), str) or not secure_url(found[key]):
                        raise IdentityProviderUnavailable(
                            f"the identity provider's {key} is missing or not https"
                        )
                self._metadata = found
            return self._metadata

    def _key(self, kid: str | None) -> jwt.PyJWK:
        with self._lock:
            if kid not in self._keys and self._now() - self._keys_at >= _KEYS_REFRESH_S:
                self._keys_at = self._now()
                self._keys = self._load_keys()
            keys = self._keys
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        if kid not in keys:
            raise IdentityRejected("the ID token is signed by a key the provider does not publish")
        return keys[kid]

    def _load_keys(self) -> dict[str, jwt.PyJWK]:
        jwks_uri = self._metadata["jwks_uri"] if self._metadata else self.metadata()["jwks_uri"]
        found = self._fetch(jwks_uri, None, {})
        keys: dict[str, jwt.PyJWK] = {}
        for raw in found.get("keys", []) if isinstance(found.get("keys"), list) else []:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(raw)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError):
                continue  # a key of a kind we cannot use is skipped, never trusted
            keys[str(raw.get("kid"))] = key
        if not keys:
            raise IdentityProviderUnavailable("the identity provider publishes no signing keys")
        return keys

    # --- the two legs ----------------------------------------------------------------------

    def authorization_url(self, pending: PendingSignIn) -> str:
        """Where the browser goes to sign in at the provider."""
        settings = self.settings
        query = {
            "response_type": "code",
            "client_id": settings.client_id,
            "redirect_uri": settings.redirect_url,
            "scope": " ".join(settings.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        if settings.required_acr:
            query["acr_values"] = " ".join(settings.required_acr)
        endpoint: str = self.metadata()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query, quote_via=quote)}"

    def _client_authentication(self) -> tuple[dict[str, str], dict[str, str]]:
        """(form fields, headers): client_secret_basic when a secret is configured."""
        settings = self.settings
        secret = (
            self._environ.get(settings.client_secret_env, "") if settings.client_secret_env else ""
        )
        if not secret:
            return {"client_id": settings.client_id}, {}
        pair = f"{quote(settings.client_id, safe='')}:{quote(secret, safe='')}"
        basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return {}, {"Authorization": f"Basic {basic}"}

    def verified_username(self, code: str, pending: PendingSignIn) -> tuple[str, str]:
        """Exchange ``code`` and check the ID token.

        Returns:
            (the gateway username from the username claim, the token's ``sub``).

        Raises:
            IdentityRejected: the answer proves nothing (see the module docstring).
            IdentityProviderUnavailable: the provider could not be asked.
        """
        settings = self.settings
        fields, headers = self._client_authentication()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.redirect_url,
            "code_verifier": pending.verifier,
            **fields,
        }
        try:
            answer = self._fetch(self.metadata()["token_endpoint"], form, headers)
        except IdentityProviderUnavailable as exc:
            # the provider refusing the code (400) is the code's fault, not the provider's
            raise IdentityRejected(
                f"the identity provider did not accept the sign-in: {exc}"
            ) from exc
        token = answer.get("id_token")
        if not isinstance(token, str) or len(token) > 16384:
            raise IdentityRejected("the identity provider gave no ID token")
        claims = self._claims(token)
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), pending.nonce.encode()):
            raise IdentityRejected("the ID token is not for this sign-in (nonce)")
        audience = claims["aud"]
        if (
            isinstance(audience, list)
            and len(audience) > 1
            and claims.get("azp") != settings.client_id
        ):
            raise IdentityRejected("the ID token was issued to another client (azp)")
        if settings.required_acr and claims.get("acr") not in settings.required_acr:
            raise IdentityRejected(
                "the identity provider did not use the authentication level the policy requires"
            )
        username = claims.get(settings.username_claim)
        if not isinstance(username, str) or not username.strip() or len(username) > 100:
            raise IdentityRejected(f"the ID token has no usable {settings.username_claim} claim")
        return username.strip(), str(claims["sub"])

    def _claims(self, token: str) -> dict[str, Any]:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise IdentityRejected("the ID token is not a signed token") from exc
        algorithm = header.get("alg")
        if algorithm not in settings.algorithms:
            raise IdentityRejected(
                f"the ID token's signature algorithm {algorithm!r} is not allowed"
            )
        kid = header.get("kid")
        key = self._key(kid if isinstance(kid, str) else None)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=settings.client_id,
                issuer=settings.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except jwt.PyJWTError as exc:
            raise IdentityRejected(f"the ID token was refused: {exc}") from exc
        return claims
