"""Token administration (``admin`` role): issue, list and revoke API tokens.

POST   /v1/tokens               issue (the secret is in this answer only)
GET    /v1/tokens               list (optionally one user's)
DELETE /v1/tokens/{token_id}    revoke
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.schemas import IssuedTokenOut, TokenIssueBody, TokenOut
from gateway.auth.admin import issue_token, revoke_token
from gateway.auth.permissions import Action, require
from gateway.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/tokens", tags=["administration"])


@router.post(
    "", status_code=201, responses=errors(400, 401, 403, 404, 429), summary="Issue a token"
)
def issue(body: TokenIssueBody, principal: PrincipalDep, runtime: RuntimeDep) -> IssuedTokenOut:
    """Issue a token for a known user; the secret is shown in this answer only."""
    require(principal, Action.ADMINISTER)
    if body.username not in runtime.directory.usernames():
        raise NotFound(f"there is no user {body.username!r}")
    days = body.expires_in_days
    issued = issue_token(
        runtime.tokens,
        runtime.service.audit,
        body.username,
        issued_by=principal.username,
        organisation=principal.organisation,
        label=body.label,
        expires_in=timedelta(days=days) if days else runtime.token_lifetime,
        max_lifetime=runtime.service.policy.tokens.max_lifetime,
    )
    out = TokenOut.of(issued.record, runtime.service.clock())
    return IssuedTokenOut(**out.model_dump(), token=issued.token)


@router.get("", responses=errors(401, 403, 429), summary="List tokens")
def list_tokens(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    username: Annotated[str | None, Query(max_length=200, description="Only this user's.")] = None,
) -> list[TokenOut]:
    """Every token (never the secrets), oldest first."""
    require(principal, Action.ADMINISTER)
    now = runtime.service.clock()
    return [TokenOut.of(r, now) for r in runtime.tokens.list(username)]


@router.delete("/{token_id}", responses=errors(401, 403, 404, 429), summary="Revoke a token")
def revoke(token_id: str, principal: PrincipalDep, runtime: RuntimeDep) -> TokenOut:
    """Revoke a token at once (it fails authentication from the next request)."""
    require(principal, Action.ADMINISTER)
    record = revoke_token(
        runtime.tokens,
        runtime.service.audit,
        token_id,
        revoked_by=principal.username,
        organisation=principal.organisation,
    )
    return TokenOut.of(record, runtime.service.clock())
