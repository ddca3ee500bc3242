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
        # fixed finer partitions: each day, week, hour or weekday is one fixed record set
        "date_trunc('day', recorded_at) = DATE '2025-01-15'",
        "CAST(recorded_at AS DATE) = DATE '2025-01-15'",
        "recorded_at::DATE IN (DATE '2025-01-15', DATE '2025-01-16')",
        "date_trunc('week', recorded_at) = DATE '2025-01-13'",
        "hour(recorded_at) IN (22, 23, 0)",
        "extract(dow FROM recorded_at) = 6",
        "isodow(recorded_at) = 7",
        "strftime(recorded_at, '%Y-%m-%d') = '2025-01-15'",
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
        # a day, an hour: equality with constants only — a range of them chooses records
        "CAST(recorded_at AS DATE) >= DATE '2025-01-15'",
        "CAST(recorded_at AS DATE) BETWEEN DATE '2025-01-03' AND DATE '2025-01-20'",
        "hour(recorded_at) >= 20",
        # anything finer than an hour, or arithmetic on a time, carves arbitrary records
        "minute(recorded_at) = 7",
        "extract(second FROM recorded_at) IN (1, 2)",
        "date_trunc('minute', recorded_at) = TIMESTAMP '2025-01-15 10:07:00'",
        "strftime(recorded_at, '%Y-%m-%d %H:%M') = '2025-01-15 10:07'",
        "strftime(recorded_at, '%S') = '07'",
        "CAST(recorded_at AS VARCHAR) = '2025-01-15 10:07:00'",
        "CAST(recorded_at AS DATE) + 3 = DATE '2025-01-18'",
        "epoch(recorded_at) % 40 = 3",
        "CAST(recorded_at AS DATE) = DATE '2025-01-15' OR lsoa_code = 'E01000001'",
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


@pytest.mark.parametrize(
    "key",
    [
        "CAST(recorded_at AS DATE)",
        "date_trunc('day', recorded_at)",
        "date_trunc('week', recorded_at)",
        "hour(recorded_at)",
        "dayofweek(recorded_at)",
        "strftime(recorded_at, '%Y-%m-%d')",
    ],
)
def test_grouping_by_a_fixed_time_partition_passes(key: str) -> None:
    """Finding 4's day × flag table: each day (week, hour, weekday) is a fixed record set with
    its own consistent noise, so it may be a grouping key under the cell key method."""
    _controlled(f"SELECT {key} AS t, domestic_abuse, count(*) AS n FROM crime GROUP BY ALL")


@pytest.mark.parametrize(
    "key",
    [
        "recorded_at",
        "minute(recorded_at)",
        "date_trunc('second', recorded_at)",
        "strftime(recorded_at, '%H:%M')",
        "CAST(recorded_at AS DATE) + 1",
    ],
)
def test_grouping_by_a_finer_time_is_refused(key: str) -> None:
    with pytest.raises(NotProtectable):
        _controlled(f"SELECT {key} AS t, count(*) AS n FROM crime GROUP BY ALL")
