"""``GET /v1/users`` (``admin`` role): everyone the directory knows, with their access."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.schemas import UserOut
from gateway.auth.permissions import Action, require

__all__ = ["router"]

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["administration"])


@router.get("", responses=errors(401, 403, 429), summary="List users")
def list_users(principal: PrincipalDep, runtime: RuntimeDep) -> list[UserOut]:
    """Users with their level, areas, purposes, roles, grants, expiry and suspension."""
    require(principal, Action.ADMINISTER)
    now = runtime.service.clock()
    found = (runtime.directory.principal(name, now) for name in runtime.directory.usernames())
    return [UserOut.of(p) for p in found if p is not None]
