"""The cell key method: bounded, consistent perturbation by cell keys (sums of record keys,
computed by the engine: tests/disclosure/test_record_keys.py)."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from gateway.disclosure import parse_disclosure_spec, protect
from gateway.disclosure.cellkey import PerturbationTable
from gateway.errors import NotProtectable
from gateway.policy.disclosure import DisclosureRules, parse_disclosure_settings

RULES = DisclosureRules(min_count=10, label="publication", method="cell_key", max_noise=2)
SPEC = parse_disclosure_spec({"dimensions": ["area"], "counts": ["n"]})


def test_noise_is_bounded_centred_and_never_negative() -> None:
    table = PerturbationTable(max_noise=2, modulus=256)
    noises = [table.noise(50, k) for k in range(256)]
    assert set(noises) == {-2, -1, 0, 1, 2}
    assert abs(sum(noises)) <= 8  # centred
    assert all(v + table.noise(v, k) >= 1 for v in (1, 2, 3) for k in range(256))  # never 0
    assert table.noise(0, 5) == 0


def test_a_published_value_never_narrows_its_truth_below_the_noise() -> None:
    """Whatever the cell key, a published ``p`` is consistent with every true value from
    ``p - max_noise`` to ``p + max_noise`` (the threshold is applied to the perturbed value,
    so publishing ``min_count - max_noise`` cannot mean exactly ``min_count``), and a
    suppressed cell with every true value from 0 to ``min_count - 1 + max_noise`` (an empty
    cell is suppressed too, so "suppressed" never says "at least one")."""
    table = PerturbationTable(max_noise=2, modulus=256)
    truths: dict[int | None, set[int]] = {}
    for value in range(0, 40):
        for key in range(256):
            truths.setdefault(table.publish(value, key, 10, 0), set()).add(value)
    assert 0 not in truths  # nothing is published as zero under a threshold
    assert truths.pop(None) == set(range(0, 12))
    for published, values in truths.items():
        assert published >= 10
        if published <= 37:  # away from the end of the values tried
            assert values == set(range(published - 2, published + 3)), published


def _keys(n: int, seed: int = 1) -> list[int | None]:
    draw = random.Random(seed)
    return [draw.randrange(256) for _ in range(n)]


def test_the_same_value_and_cell_key_give_the_same_published_value_whatever_the_label() -> None:
    keys = _keys(300)
    counts = [(i * 7) % 60 for i in range(300)]
    one = protect(pa.table({"area": [f"a{i}" for i in range(300)], "n": counts}), SPEC, RULES,
                  cell_keys={"n": keys})  # fmt: skip
    other = protect(pa.table({"area": [f"label {i}" for i in range(300)], "n": counts}), SPEC,
                    RULES, cell_keys={"n": keys})  # fmt: skip
    assert one.table.column("n").to_pylist() == other.table.column("n").to_pylist()


def test_a_suppressed_count_of_one_cannot_be_pinned_by_a_total_minus_a_part() -> None:
    """Issue 14's finding-2 shape: ``n_all`` and ``n_other`` published, the part between them
    (one crime) suppressed. Over every pair of cell keys, what the three releases allow for
    the part is never the single value 1 (it was, for about 1 pair in 81, when a suppressed
    cell meant "at least one")."""
    table = PerturbationTable(max_noise=2, modulus=256)
    reading = {None: (0, 11)}
    for other in range(20, 60):
        for key_all in range(0, 256, 3):
            for key_other in range(1, 256, 5):
                shown_all = table.publish(other + 1, key_all, 10, 0)
                shown_other = table.publish(other, key_other, 10, 0)
                part = table.publish(1, (key_all - key_other) % 256, 10, 0)
                assert shown_all is not None
                assert shown_other is not None
                low, high = reading.get(part, (part, part))  # type: ignore[arg-type]
                low = max(low, shown_all - 2 - (shown_other + 2))
                high = min(high, shown_all + 2 - (shown_other - 2))
                assert low < high, (other, key_all, key_other)


def test_a_count_without_cell_keys_is_refused() -> None:
    table = pa.table({"area": ["a", "b"], "n": [12, 30]})
    with pytest.raises(NotProtectable, match="cannot tell which records 'n' counts"):
        protect(table, SPEC, RULES)
    with pytest.raises(NotProtectable, match="has no cell key"):
        protect(table, SPEC, RULES, cell_keys={"n": [None, 3]})  # records but no key


def test_protect_perturbs_every_count_and_suppresses_small_ones() -> None:
    areas = [f"a{i}" for i in range(300)]
    counts = [(i * 7) % 60 for i in range(300)]
    table = pa.table({"area": areas, "n": counts})
    keys = _keys(300)
    out = protect(table, SPEC, RULES, cell_keys={"n": keys}).table
    again = protect(table.slice(0, 150), SPEC, RULES, cell_keys={"n": keys[:150]}).table
    shown = out.column("n").to_pylist()
    assert shown[:150] == again.column("n").to_pylist()  # consistent across outputs
    moved = hidden = 0
    for true, value in zip(counts, shown, strict=True):
        if value is None:  # suppressed: the perturbed value was from 0 to 9
            assert true < 10 + 2
            hidden += 1
        else:
            assert value >= 10
            assert abs(value - true) <= 2
            moved += value != true
        if 0 < true < 10 - 2:
            assert value is None
    assert moved > 50
    assert hidden >= sum(0 < t < 8 for t in counts)
    report = protect(table, SPEC, RULES, cell_keys={"n": keys}).report
    assert report.perturbed == moved
    assert report.to_dict()["method"] == "cell_key"


def test_policy_parameters_are_validated() -> None:
    settings = parse_disclosure_settings(
        {"publication": {"method": "cell_key", "max_noise": 3, "modulus": 512, "min_count": 10}}
    )
    assert (settings.publication.method, settings.publication.max_noise) == ("cell_key", 3)
