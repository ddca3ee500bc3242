"""``GET /v1/me``: who the token belongs to, their level, areas, purposes, roles and grants."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import PrincipalDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.schemas import MeOut

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["me"])


@router.get("/me", responses=errors(401, 403, 429), summary="Who you are to the gateway")
def me(principal: PrincipalDep) -> MeOut:
    """Your level, areas, approved purposes, roles and enhanced grants with their end dates."""
    return MeOut.of(principal)
