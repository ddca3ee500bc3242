"""``GET /v1/me``: who the token belongs to, their level, areas, purposes, roles and grants, and
whether the gateway's access is ``governed`` (the governance register) or ``ungoverned``
(``users.toml``: none of the governance checks apply)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from gateway.api.deps import PrincipalDep, RuntimeDep
from gateway.api.routes.common import API_PREFIX, errors
from gateway.api.schemas import MeOut
from gateway.governance.failclosed import GovernanceMode, governance_mode

__all__ = ["MeAnswer", "router"]

router = APIRouter(prefix=API_PREFIX, tags=["me"])


class MeAnswer(MeOut):
    governance: GovernanceMode = Field(
        description="governed: access comes from the governance register (requests, "
        "endorsements, vetting, declarations, training, origin checks); ungoverned: from "
        "users.toml, without those checks."
    )


@router.get("/me", responses=errors(401, 403, 429), summary="Who you are to the gateway")
def me(principal: PrincipalDep, runtime: RuntimeDep) -> MeAnswer:
    """Your level, areas, approved purposes, roles and enhanced grants with their end dates,
    and whether this gateway's access is governed."""
    return MeAnswer(
        **MeOut.of(principal).model_dump(), governance=governance_mode(runtime.directory)
    )
