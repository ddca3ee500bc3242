"""``/admin/accounts``: sign-in accounts for administrators — who is locked, failures,
when each password was changed — and unlocking, as the signed-in administrator
(:meth:`gateway.auth.signin.SignIn.unlock_as`, audited ``access.account_unlocked``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from gateway.api.deps import RuntimeDep
from gateway.auth.permissions import Action, Permissions
from gateway.errors import GatewayError
from gateway.web.pages import page
from gateway.web.routes.console import common_context
from gateway.web.security import read_form, require_csrf
from gateway.web.session import PageUserDep, WebUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _accounts_page(
    user: WebUser, runtime: RuntimeDep, *, error: str = "", status: int = 200
) -> Response:
    signin = runtime.deployment.signin
    permissions = Permissions.of(runtime.service.policy)
    if not permissions.allows(user.principal, Action.ADMINISTER):
        return page(
            "error.html",
            status=403,
            title="Not permitted",
            message="Only administrators manage sign-in accounts.",
            **common_context(user, runtime),
        )
    now = signin.clock()
    accounts = [
        {
            "username": a.username,
            "failures": a.failures,
            "locked": a.locked(now, signin.rules.unlock_after),
            "locked_at": a.locked_at.strftime("%Y-%m-%d %H:%M:%S") if a.locked_at else "",
            "changed_at": a.changed_at.strftime("%Y-%m-%d %H:%M:%S"),
            "must_change": a.must_change,
        }
        for a in signin.accounts_overview()
    ]
    return page(
        "accounts.html",
        status=status,
        title="Sign-in accounts",
        accounts=accounts,
        error=error,
        **common_context(user, runtime),
    )


@router.get("/admin/accounts")
def accounts(user: PageUserDep, runtime: RuntimeDep) -> Response:
    return _accounts_page(user, runtime)


@router.post("/admin/accounts/{username}/unlock")
async def unlock(
    request: Request,
    user: PageUserDep,
    runtime: RuntimeDep,
    username: Annotated[str, Path(max_length=100)],
) -> Response:
    form = await read_form(request)
    require_csrf(user.csrf_token, request, form)
    try:
        runtime.deployment.signin.unlock_as(
            user.principal,
            username,
            permissions=Permissions.of(runtime.service.policy),
            reason=form.get("reason", ""),
        )
    except GatewayError as exc:
        return _accounts_page(user, runtime, error=str(exc), status=exc.status)
    return RedirectResponse("/admin/accounts", status_code=303)
