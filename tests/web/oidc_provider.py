"""A small OpenID Connect provider on loopback, for the sign-in tests: a real HTTP server.

It does what a force's identity provider does for the code flow — discovery, its signing keys
(JWKS), ``/authorize`` (the person is already signed in at the provider: :attr:`user`) and
``/token`` (client secret, one use per code, redirect URI and PKCE checked) — and can be told
to misbehave in the ways an attacker or a broken provider would: :attr:`tamper` changes the ID
token's claims, :attr:`signing` signs it with another key, with ``none`` or with HS256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "partnership-gateway"
CLIENT_SECRET = "test-client-secret-not-used-anywhere-else"
KEY_ID = "test-key-1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class _Grant:
    user: str
    nonce: str
    challenge: str
    redirect_uri: str
    used: bool = False


@dataclass
class LoopbackProvider:
    """The provider: :attr:`issuer` is its URL once :meth:`start` ran."""

    redirect_uri: str
    user: str = ""
    tamper: dict[str, Any] = field(default_factory=dict)
    signing: str = "own"  # own | other | none | hs256
    issuer: str = ""
    codes: dict[str, _Grant] = field(default_factory=dict)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server: ThreadingHTTPServer | None = None

    # --- the tokens ------------------------------------------------------------------------

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": f"sub-{hashlib.sha256(grant.user.encode()).hexdigest()[:12]}",
            "preferred_username": grant.user,
            "nonce": grant.nonce,
            "iat": now,
            "exp": now + 300,
        }
        for key, value in self.tamper.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        if self.signing == "none":
            return jwt.encode(claims, key=None, algorithm="none")
        if self.signing == "hs256":
            return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256", headers={"kid": KEY_ID})
        key = self.key if self.signing == "own" else self.other_key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    # --- the server ------------------------------------------------------------------------

    def start(self) -> LoopbackProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata())
                elif parts.path == "/jwks":
                    self._json(200, provider.jwks())
                elif parts.path == "/authorize":
                    self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
                else:
                    self._json(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                ok = (
                    query.get("client_id") == CLIENT_ID
                    and query.get("redirect_uri") == provider.redirect_uri
                    and query.get("response_type") == "code"
                    and query.get("code_challenge_method") == "S256"
                    and "openid" in query.get("scope", "").split()
                )
                if not ok:
                    self._json(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(24)
                provider.codes[code] = _Grant(
                    provider.user, query["nonce"], query["code_challenge"], query["redirect_uri"]
                )
                back = urlencode({"code": code, "state": query["state"]})
                self.send_response(302)
                self.send_header("Location", f"{provider.redirect_uri}?{back}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                provider.token_requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._json(401, {"error": "invalid_client"})
                    return
                grant = provider.codes.get(form.get("code", ""))
                verifier = form.get("code_verifier", "")
                challenge = _b64(hashlib.sha256(verifier.encode()).digest())
                if (
                    grant is None
                    or grant.used
                    or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != grant.redirect_uri
                    or challenge != grant.challenge
                ):
                    self._json(400, {"error": "invalid_grant"})
                    return
                grant.used = True
                self._json(200, {"id_token": provider.id_token(grant), "token_type": "Bearer"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
