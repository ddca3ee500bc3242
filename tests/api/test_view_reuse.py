"""The service remembers an analyst's policy view between queries, never their access.

Building a view (every visible column of every table, with its mask) cost ~0.15 ms per query,
so :class:`~gateway.service.QueryService` keeps it per principal, purpose and day. The
principal's own checks still run on every query: access that expires at noon is refused at
noon, even with the view from the morning remembered. A changed principal (another area, a
suspension, a new grant) is another key, so it gets a view built for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import AccessExpired, AccountSuspended, PurposeNotApproved
from gateway.principal import Principal
from gateway.service import QueryService

NOON = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)
SQL = "SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1 ORDER BY 1"


@pytest.fixture
def at(service: QueryService) -> Iterator[Callable[[datetime], None]]:
    """Set the service's clock (restored afterwards)."""
    original = service.clock

    def set_clock(moment: datetime) -> None:
        service.clock = lambda: moment

    yield set_clock
    service.clock = original


def _areas(service: QueryService, principal: Principal) -> set[str]:
    outcome = service.run_query(principal, SQL, "SA-2026")
    try:
        return set(outcome.result.to_table().column("local_authority_code").to_pylist())
    finally:
        outcome.result.discard()


def test_access_that_ends_is_refused_although_the_view_is_remembered(
    service: QueryService,
    principal_of: Callable[[str], Principal],
    at: Callable[[datetime], None],
) -> None:
    analyst = replace(principal_of("a.khan"), expires_at=NOON)
    at(NOON - timedelta(hours=2))
    first = service.view(analyst, "SA-2026")
    assert service.view(analyst, "SA-2026") is first  # remembered
    assert _areas(service, analyst) <= set(analyst.areas)
    at(NOON + timedelta(minutes=1))  # the same day: the same key
    with pytest.raises(AccessExpired):
        service.view(analyst, "SA-2026")
    with pytest.raises(AccessExpired):
        service.run_query(analyst, SQL, "SA-2026")
    with pytest.raises(PurposeNotApproved):  # the purpose is checked on every query too
        service.view(replace(analyst, expires_at=None), "NOT-APPROVED")


def test_a_changed_principal_gets_a_view_of_its_own(
    service: QueryService,
    principal_of: Callable[[str], Principal],
    at: Callable[[datetime], None],
) -> None:
    at(NOON)
    analyst = principal_of("a.khan")
    wider = replace(analyst, areas=("E06000001", "E06000002"))
    assert set(service.view(wider, "SA-2026").areas) == {"E06000001", "E06000002"}
    narrower = replace(analyst, areas=("E06000002",))
    assert service.view(narrower, "SA-2026").areas == ("E06000002",)
    assert _areas(service, narrower) == {"E06000002"}
    with pytest.raises(AccountSuspended):
        service.view(replace(narrower, suspended=True), "SA-2026")


def test_a_principal_that_cannot_be_a_key_still_gets_its_view(
    service: QueryService, principal_of: Callable[[str], Principal]
) -> None:
    # A caller that built the principal with a list (not a tuple) of areas: the view is built
    # for it each time instead of failing the query.
    analyst = principal_of("a.khan")
    unhashable = replace(analyst, areas=list(analyst.areas))  # type: ignore[arg-type]
    assert tuple(service.view(unhashable, "SA-2026").areas) == tuple(analyst.areas)
    assert _areas(service, unhashable) <= set(analyst.areas)
