"""Access governance from the client, as the logged-in person: ``gw.access``.

Every call is made with the connection's own token, and the server takes the actor from it —
there is no way to name someone else. The methods follow ``/v1/access/…`` (see
:mod:`gateway.api.routes.access` and :mod:`gateway.api.routes.register`) and return the
server's JSON answers; refusals raise the server's own errors (``WrongRole``,
``SelfApproval``, ``StepOutOfOrder`` …).

    >>> gw = connect()                                          # after `gateway login` # doctest: +SKIP
    >>> gw.access.pending()                                     # what waits for me     # doctest: +SKIP
    >>> gw.access.act("AR-20260601-3FA9C1", "endorse", "supports the SA")              # doctest: +SKIP
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from gateway.client.connection import Connection

__all__ = ["AccessClient"]

_BASE = "/v1/access"


def _part(value: str) -> str:
    """One path segment, escaped (a username or id can never reach another route)."""
    return quote(value, safe="")


def _iso(day: date | str | None) -> str | None:
    return day.isoformat() if isinstance(day, date) else day


class AccessClient:
    """The access-governance routes, called as the connection's user."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self._conn._json("GET", f"{_BASE}{path}", params=query or None)

    def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        return self._conn._json(method, f"{_BASE}{path}", json=body)

    # --- applicants and approvers -------------------------------------------------------------

    def status(self, username: str | None = None) -> dict[str, Any]:
        """Your checklist ("what is missing"), or ``username``'s where you may see it."""
        answer: dict[str, Any] = self._get(f"/status/{_part(username)}" if username else "/status")
        return answer

    def submit(self, form: dict[str, Any]) -> dict[str, Any]:
        """Submit an access request (the body of ``POST /v1/access/requests``)."""
        answer: dict[str, Any] = self._send("POST", "/requests", form)
        return answer

    def requests(
        self, *, open_only: bool = False, everyone: bool = False, applicant: str | None = None
    ) -> list[dict[str, Any]]:
        """Your requests; with ``everyone`` or ``applicant``, those you may see."""
        answer: list[dict[str, Any]] = self._get(
            "/requests",
            open="true" if open_only else None,
            all="true" if everyone else None,
            applicant=applicant,
        )
        return answer

    def request(self, request_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._get(f"/requests/{_part(request_id)}")
        return answer

    def act(self, request_id: str, action: str, comment: str = "") -> dict[str, Any]:
        """``endorse``, ``review``, ``authorise``, ``refuse`` or ``withdraw`` — as yourself."""
        path = f"/requests/{_part(request_id)}/{_part(action)}"
        answer: dict[str, Any] = self._send("POST", path, {"comment": comment})
        return answer

    def pending(self, role: str | None = None) -> list[dict[str, Any]]:
        """Open requests whose next step you may take (for ``role``, or any of yours)."""
        answer: list[dict[str, Any]] = self._get("/pending", role=role)
        return answer

    def declare(self, username: str, kind: str, signed: date | str | None = None) -> str:
        """Sign a declaration (your own; an administrator records someone else's)."""
        body = {"kind": kind, "signed": _iso(signed)}
        return str(self._send("POST", f"/users/{_part(username)}/declarations", body)["detail"])

    # --- oversight ------------------------------------------------------------------------------

    def suspend(self, username: str, reason: str, kind: str = "misuse") -> str:
        body = {"reason": reason, "kind": kind}
        return str(self._send("POST", f"/users/{_part(username)}/suspend", body)["detail"])

    def reinstate(self, username: str, comment: str) -> str:
        body = {"comment": comment}
        return str(self._send("POST", f"/users/{_part(username)}/reinstate", body)["detail"])

    def revoke(self, username: str, reason: str, *, leaver: bool = False) -> str:
        body = {"reason": reason, "leaver": leaver}
        return str(self._send("POST", f"/users/{_part(username)}/revoke", body)["detail"])

    def declare_code_of_connection(self, organisation: str, comment: str = "") -> str:
        path = f"/organisations/{_part(organisation)}/code-of-connection"
        return str(self._send("POST", path, {"comment": comment})["detail"])

    def reviews(self, organisation: str | None = None) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._get("/reviews", organisation=organisation)
        return answer

    def open_review(self, organisation: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._send("POST", "/reviews", {"organisation": organisation})
        return answer

    def confirm_review(
        self, review_id: str, username: str, *, keep: bool, comment: str = ""
    ) -> str:
        path = f"/reviews/{_part(review_id)}/users/{_part(username)}"
        return str(self._send("POST", path, {"keep": keep, "comment": comment})["detail"])

    def review_cycle(self) -> dict[str, list[str]]:
        answer: dict[str, list[str]] = self._send("POST", "/review-cycle", {})
        return answer

    def inactive(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._get("/inactive")
        return answer

    # --- the register ---------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._get("/settings")
        return answer

    def change_settings(
        self,
        *,
        allow_loopback: bool | None = None,
        enforce_origin: bool | None = None,
        comment: str = "",
    ) -> dict[str, Any]:
        body = {"allow_loopback": allow_loopback, "enforce_origin": enforce_origin}
        answer: dict[str, Any] = self._send("PATCH", "/settings", body | {"comment": comment})
        return answer

    def organisations(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._get("/organisations")
        return answer

    def add_organisation(
        self, code: str, name: str, kind: str = "local_authority", areas: tuple[str, ...] = ()
    ) -> str:
        body = {"code": code, "name": name, "kind": kind, "areas": list(areas)}
        return str(self._send("POST", "/organisations", body)["detail"])

    def add_network(self, organisation: str, cidr: str, description: str = "") -> str:
        path = f"/organisations/{_part(organisation)}/networks"
        return str(self._send("POST", path, {"cidr": cidr, "description": description})["detail"])

    def remove_network(self, organisation: str, cidr: str, comment: str = "") -> str:
        path = f"/organisations/{_part(organisation)}/networks/remove"
        return str(self._send("POST", path, {"cidr": cidr, "comment": comment})["detail"])

    def record_memorandum(
        self,
        organisation: str,
        reference: str,
        signed: date | str,
        expires: date | str | None = None,
        username: str | None = None,
    ) -> str:
        """The organisation's memorandum, or (``username``) an applicant's own."""
        path = f"/organisations/{_part(organisation)}/memoranda"
        body = {
            "reference": reference,
            "signed": _iso(signed),
            "expires": _iso(expires),
            "username": username,
        }
        return str(self._send("POST", path, body)["detail"])

    # --- partner organisations as a whole -----------------------------------------------------

    def agreements(self) -> list[dict[str, Any]]:
        """The published list: organisations, their ISA in force, authorisation, what is missing."""
        answer: list[dict[str, Any]] = self._get("/agreements")
        return answer

    def record_sharing_agreement(
        self,
        organisation: str,
        reference: str,
        signed: date | str,
        copied_to: str,
        expires: date | str | None = None,
    ) -> str:
        """An organisation's ISA, and the system administrator holding its copy."""
        body = {
            "reference": reference,
            "signed": _iso(signed),
            "expires": _iso(expires),
            "copied_to": copied_to,
        }
        path = f"/organisations/{_part(organisation)}/agreements"
        return str(self._send("POST", path, body)["detail"])

    def organisation_action(self, organisation: str, action: str, body: dict[str, Any]) -> str:
        """``sponsorship``, ``authorisation``, ``suspend``, ``reinstate`` or ``terminate``."""
        path = f"/organisations/{_part(organisation)}/{_part(action)}"
        return str(self._send("POST", path, body)["detail"])

    def people(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._get("/users")
        return answer

    def add_person(self, person: dict[str, Any]) -> str:
        """Register a person (the body of ``POST /v1/access/users``)."""
        return str(self._send("POST", "/users", person)["detail"])

    def update_person(self, username: str, changes: dict[str, Any]) -> str:
        """Change roles, line manager, areas or workstations (only what is given)."""
        return str(self._send("PATCH", f"/users/{_part(username)}", changes)["detail"])

    def record_vetting(
        self,
        username: str,
        level: str,
        granted: date | str,
        expires: date | str,
        reference: str = "",
    ) -> str:
        body = {
            "level": level,
            "granted": _iso(granted),
            "expires": _iso(expires),
            "reference": reference,
        }
        return str(self._send("POST", f"/users/{_part(username)}/vetting", body)["detail"])

    def record_training(self, username: str, kind: str, completed: date | str | None = None) -> str:
        body = {"kind": kind, "completed": _iso(completed)}
        return str(self._send("POST", f"/users/{_part(username)}/training", body)["detail"])

    # --- API tokens (administrators) ------------------------------------------------------------

    def issue_token(
        self, username: str, *, days: int | None = None, label: str = ""
    ) -> dict[str, Any]:
        """Issue a token for ``username``; the answer's ``token`` is the secret (shown once)."""
        body = {"username": username, "label": label, "expires_in_days": days}
        answer: dict[str, Any] = self._conn._json("POST", "/v1/tokens", json=body)
        return answer

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._conn._json("DELETE", f"/v1/tokens/{_part(token_id)}")
        return answer

    def tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        params = {"username": username} if username else None
        answer: list[dict[str, Any]] = self._conn._json("GET", "/v1/tokens", params=params)
        return answer
