"""What the routers share: the API version prefix and OpenAPI descriptions of error answers.

Example:
    >>> sorted(errors(404))
    [400, 401, 403, 404, 429]
"""

from __future__ import annotations

from typing import Any

from gateway.api.schemas import ErrorBody

__all__ = ["API_PREFIX", "errors"]

#: Every data endpoint lives under this prefix (routers carry it in their own prefix, so
#: route templates in metrics read ``/v1/query``).
API_PREFIX = "/v1"

_WHY = {
    400: "Bad request: invalid SQL, parameters or body.",
    401: "No valid token.",
    403: "Refused: by policy, a suspended or expired account, or a missing role.",
    404: "Not found.",
    409: "Conflict with the current state (e.g. already approved, already exists).",
    413: "Request or result too large.",
    429: "Rate limit or concurrent-query cap reached (see Retry-After).",
    503: "The engine is busy or unavailable, or the audit log is (nothing ran; see Retry-After).",
    422: "The query was stopped by its own limits (time, memory): retrying gives the same answer.",
}


#: Any authenticated endpoint can answer these (bad parameters, no token, refused, rate limit).
_ALWAYS = (400, 401, 403, 429)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the common error statuses and these ones."""
    return {
        s: {"model": ErrorBody, "description": _WHY.get(s, "Error.")}
        for s in sorted({*_ALWAYS, *statuses})
    }
