"""The cell rules of analyst-written disclosure-controlled statements (gateway.rewrite.cells),
on the rewrite alone: what defines a cell, at which granularity, and that they apply only
when asked for."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.catalog import load_catalog
from gateway.errors import NotProtectable
from gateway.policy import load_default_policy
from gateway.policy.view import view_for
from gateway.principal import Principal
from gateway.rewrite import rewrite

CATALOG = load_catalog()
ANALYST = Principal(
    username="a.khan",
    organisation="Middlesbrough Council",
    level="general",
    areas=("E06000002",),
    purposes=("SA-2026",),
)
VIEW = view_for(load_default_policy(CATALOG), CATALOG, ANALYST, "SA-2026", date(2026, 5, 1))
COUNT = "SELECT count(*) AS n FROM crime WHERE "


def _controlled(sql: str, **params: object) -> None:
    rewrite(sql, VIEW, CATALOG, params=params, cell_keys=True, cell_rules=True)


@pytest.mark.parametrize(
    "condition",
    [
        "recorded_at >= DATE '2025-01-01' AND recorded_at < DATE '2025-04-01'",
        "recorded_at >= TIMESTAMP '2025-01-01' + INTERVAL 3 MONTH",
        "recorded_at BETWEEN '2025-01-01' AND '2025-02-01'",
        "date_trunc('quarter', recorded_at) = DATE '2025-04-01'",
        "year(recorded_at) IN (2024, 2025)",
    ],
)
def test_dates_at_published_granularity_pass(condition: str) -> None:
    _controlled(COUNT + condition)


@pytest.mark.parametrize(
    "condition",
    [
        "recorded_at >= DATE '2025-01-15'",
        "recorded_at < TIMESTAMP '2025-02-01 12:00:00'",
        "recorded_at >= TIMESTAMP '2025-01-01' + INTERVAL 3 DAY",
        "date_trunc('day', recorded_at) = DATE '2025-01-15'",
        "CAST(recorded_at AS DATE) = DATE '2025-01-15'",
    ],
)
def test_finer_dates_are_refused(condition: str) -> None:
    with pytest.raises(NotProtectable):
        _controlled(COUNT + condition)


def test_a_parameter_is_judged_by_its_value() -> None:
    _controlled(COUNT + "recorded_at >= $start", start="2025-03-01")
    with pytest.raises(NotProtectable):
        _controlled(COUNT + "recorded_at >= $start", start="2025-03-02")


def test_the_rules_apply_only_when_asked_for() -> None:
    sql = COUNT + "crime_id % 40 = 3"
    rewrite(sql, VIEW, CATALOG, cell_keys=True)  # a template run: reviewed SQL
    with pytest.raises(NotProtectable):
        _controlled(sql)
