"""What the cell key method promises for one published count, checked against the truth.

Used by every test that compares a protected output with the raw warehouse: they assert the
guarantee, never a value.

- a published count differs from the truth by at most ``max_noise`` (plus half the rounding
  step) and is at least ``min_count``;
- a suppressed count is at most ``min_count - 1 + max_noise`` (zero included: a suppressed cell
  does not say "at least one"), and every count from 0 to ``min_count - 1 - max_noise`` is
  suppressed (whatever its noise);
- a suppressed count is NULL and flagged; nothing is dropped.
"""

from __future__ import annotations

from typing import Any

from gateway.disclosure import round_count
from gateway.policy.disclosure import DisclosureRules


def check_count(true: int | None, shown: int | None, hidden: bool, rules: DisclosureRules) -> None:
    """Assert the guarantee for one cell (``hidden``: its ``_suppressed`` flag)."""
    assert rules.perturbs, rules
    if true is None:
        assert shown is None
        assert not hidden
        return
    if hidden:
        assert shown is None
        assert 0 <= true < rules.min_count + rules.max_noise, (true, rules)
        return
    assert shown is not None
    assert true > 0 or rules.min_count <= 1, (true, shown)  # an empty cell is suppressed
    slack = rules.max_noise + (rules.round_to // 2 if rules.round_to > 1 else 0)
    assert abs(shown - true) <= slack, (true, shown, rules)
    assert shown >= round_count(rules.min_count, rules.round_to), (true, shown)
    assert not 0 <= true < rules.min_count - rules.max_noise, (true, shown)


def check_column(
    true: list[Any], shown: list[Any], flags: list[bool], rules: DisclosureRules
) -> tuple[int, int]:
    """Assert the guarantee for a column; returns (cells suppressed, cells changed)."""
    assert len(true) == len(shown) == len(flags)
    hidden = moved = 0
    for t, s, f in zip(true, shown, flags, strict=True):
        check_count(t, s, f, rules)
        hidden += f
        moved += not f and s != t
    return hidden, moved


def check_table(
    true: dict[Any, Any], published: dict[Any, tuple[Any, bool]], rules: DisclosureRules
) -> tuple[int, int]:
    """Assert the guarantee for a table of cells: every true cell is published (a value and
    its suppressed flag), none dropped; returns (cells suppressed, cells changed)."""
    assert published.keys() == true.keys()  # every cell is still there: marked, not dropped
    cells = list(true)
    return check_column(
        [true[c] for c in cells],
        [published[c][0] for c in cells],
        [published[c][1] for c in cells],
        rules,
    )


#: The default policy's rules for general-level outputs (tests/disclosure/test_rules.py checks
#: the default policy says exactly this).
GENERAL = DisclosureRules(
    min_count=10, label="general", method="cell_key", max_noise=2, modulus=256
)
