"""Run one analyst query for a serving channel (``POST /v1/query``, Arrow Flight SQL): the
steps both take around :meth:`~gateway.service.QueryService.run_query`, in one place.

Before the query runs it claims its level's ``max_result_bytes`` of the user's disk quota
(429 ``disk_quota`` when that is spent) and one of the user's concurrent-query slots; the
finished result then holds its real size until the caller releases the claim (its answer was
sent, or will never be). Inside the service a record-level result larger than the release
limits is refused as ``export_required`` (:func:`gateway.exports.approval.query_release_check`),
and so is one the channel cannot send (``sendable``), so the completed audit record says so.

Example:
    >>> outcome, claim = run_released(runtime, resources, principal, "SELECT 1",
    ...                               "SA-2026", client=client, cancel=cancel)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.api.resources import QuotaClaim, ServingResources
from gateway.api.runtime import GatewayRuntime
from gateway.engines.base import Cancellation, QueryResult
from gateway.exports.approval import query_release_check
from gateway.principal import Principal
from gateway.rewrite import RewriteResult
from gateway.service import ClientInfo, QueryOutcome, ResultControl

__all__ = ["run_released"]


def run_released(
    runtime: GatewayRuntime,
    resources: ServingResources,
    principal: Principal,
    sql: str,
    purpose: str,
    params: Mapping[str, object] | None = None,
    *,
    client: ClientInfo,
    cancel: Cancellation,
    control: ResultControl | None = None,
    sendable: Callable[[QueryResult], None] | None = None,
    max_rows: int | None = None,
) -> tuple[QueryOutcome, QuotaClaim]:
    """Run ``sql`` under quota, slot and release rules; the audited outcome and its claim.

    The caller sends ``outcome.result`` and then calls ``claim.release()`` (and discards the
    result if it will not be sent). ``max_rows`` caps the result lower than the level's (a
    sample).

    Raises:
        GatewayError: as :meth:`~gateway.service.QueryService.run_query`, plus 429 for the
            quota or the user's concurrent queries (nothing ran, nothing held).
    """
    service = runtime.service
    released = query_release_check(service.policy.exports, service.catalog, principal.level)

    def deliverable(result: QueryResult, rewrite: RewriteResult) -> None:
        released(result, rewrite)
        if sendable is not None:
            sendable(result)

    claim = resources.quota.claim(
        principal.username, resources.reservation(service.policy, principal.level)
    )
    outcome: QueryOutcome | None = None
    try:
        with runtime.limits.queries.slot(principal.username):
            outcome = service.run_query(
                principal,
                sql,
                purpose,
                params,
                client=client,
                max_rows=max_rows,
                control=control,
                cancel=cancel,
                deliverable=deliverable,
            )
        claim.settle(outcome.result)
    except BaseException:
        if outcome is not None:  # audited, but it will not be sent: do not keep it
            outcome.result.discard()
        claim.release()
        raise
    return outcome, claim
