"""The differencing budget's ledger (gateway.disclosure.ledger): per analyst, durable across
restarts, one charge at a time under concurrent requests, and a period that ends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.disclosure.footprint import Selection
from gateway.disclosure.ledger import ReleaseLedger
from gateway.errors import DisclosureBudgetExhausted
from gateway.policy.disclosure import DisclosureBudgetRules

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULES = DisclosureBudgetRules(overlapping=3, days=30)


def around(target: str, other: str) -> Selection:
    """An area list holding the target and one other area."""
    return Selection("area", "values", tuple(sorted((f"lsoa_code={target}", f"lsoa_code={other}"))))


def test_different_overlapping_selections_are_refused_once_the_budget_is_spent(
    tmp_path: Path,
) -> None:
    with ReleaseLedger.open(tmp_path / "ledger.sqlite") as ledger:
        charges = [ledger.charge("a", {around("T", x)}, NOW, RULES) for x in "ABC"]
        assert [(c.new, c.overlapping) for c in charges] == [(1, 0), (1, 1), (1, 2)]
        with pytest.raises(DisclosureBudgetExhausted) as refused:
            ledger.charge("a", {around("T", "D")}, NOW, RULES)
        assert refused.value.status == 403
        assert "overlaps 3 different selections" in refused.value.message
        # Asking again is free; a selection overlapping none of them is free of overlap;
        # another analyst has a budget of their own.
        assert ledger.charge("a", {around("T", "A")}, NOW, RULES).new == 0
        assert ledger.charge("a", {around("X", "Y")}, NOW, RULES).overlapping == 0
        assert ledger.charge("b", {around("T", "D")}, NOW, RULES).new == 1


def test_one_release_with_many_selections_is_charged_like_many_releases(tmp_path: Path) -> None:
    """Many FILTERs around one target in one statement: refused, and nothing recorded."""
    with ReleaseLedger.open(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(DisclosureBudgetExhausted):
            ledger.charge("a", {around("T", x) for x in "ABCD"}, NOW, RULES)
        assert ledger.released("a") == []


def test_the_ledger_survives_a_restart_and_forgets_after_its_period(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with ReleaseLedger.open(path) as ledger:
        for x in "ABC":
            ledger.charge("a", {around("T", x)}, NOW, RULES)
    with ReleaseLedger.open(path) as reopened:
        assert len(reopened.released("a")) == 3
        with pytest.raises(DisclosureBudgetExhausted):
            reopened.charge("a", {around("T", "D")}, NOW + timedelta(days=29), RULES)
        later = NOW + timedelta(days=31)
        assert reopened.charge("a", {around("T", "D")}, later, RULES).overlapping == 0


def test_concurrent_requests_of_one_analyst_are_charged_one_after_another(
    tmp_path: Path,
) -> None:
    """Sixteen requests at once, through two connections (as two server processes would):
    exactly the budget's worth are admitted."""
    path = tmp_path / "ledger.sqlite"
    ledgers = [ReleaseLedger.open(path), ReleaseLedger.open(path)]
    admitted: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(16)

    def ask(i: int) -> None:
        start.wait()
        try:
            ledgers[i % 2].charge("a", {around("T", f"P{i}")}, NOW, RULES)
            admitted.append(f"P{i}")
        except DisclosureBudgetExhausted:
            refused.append(f"P{i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ledger in ledgers:
        ledger.close()
    assert len(admitted) == RULES.overlapping
    assert len(refused) == 16 - RULES.overlapping
    with ReleaseLedger.open(path) as ledger:
        assert len(ledger.released("a")) == RULES.overlapping


def test_no_budget_when_the_policy_sets_none(tmp_path: Path) -> None:
    with ReleaseLedger.open(tmp_path / "ledger.sqlite") as ledger:
        off = DisclosureBudgetRules(overlapping=0)
        for x in "ABCDEFG":
            assert ledger.charge("a", {around("T", x)}, NOW, off).new == 0


def among(*categories: str) -> Selection:
    return Selection("police_uk_category", "values", tuple(sorted(categories)))


def test_known_selections_recombined_are_new_draws(tmp_path: Path) -> None:
    """Area lists and category lists, each within the budget on its own: recombining them
    (list 1 with list 2 …) defines new record sets around the same cell, refused once the
    releases overlapping it reach the budget — draws add up per column, never multiply."""
    areas = [around("T", x) for x in "ABC"]
    kinds = [among("x", y) for y in "yzw"]
    with ReleaseLedger.open(tmp_path / "ledger.sqlite") as ledger:
        for area, kind in zip(areas, kinds, strict=True):
            ledger.charge("a", {area, kind}, NOW, RULES)  # the diagonal: 3 releases
        assert {s for s in ledger.released("a")} == {*areas, *kinds}
        with pytest.raises(DisclosureBudgetExhausted) as refused:
            ledger.charge("a", {areas[0], kinds[1]}, NOW, RULES)  # both already known
        assert "together" in refused.value.message
        assert ledger.charge("a", {areas[0], kinds[0]}, NOW, RULES).new == 0  # asked again
        # the same selections with a column of their own besides are charged by that column
        assert ledger.charge("b", {areas[0]}, NOW, RULES).overlapping == 0
        assert ledger.charge("b", {areas[0], kinds[0]}, NOW, RULES).overlapping == 0
