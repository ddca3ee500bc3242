"""The cell key method: bounded, consistent perturbation keyed by a secret."""

from __future__ import annotations

import pyarrow as pa

from gateway.disclosure import parse_disclosure_spec, protect
from gateway.disclosure.cellkey import PerturbationTable, cell_key
from gateway.policy.disclosure import DisclosureRules, parse_disclosure_settings

RULES = DisclosureRules(min_count=10, label="publication", method="cell_key", max_noise=2)
SPEC = parse_disclosure_spec({"dimensions": ["area"], "counts": ["n"]})


def test_noise_is_bounded_centred_and_never_negative() -> None:
    table = PerturbationTable(max_noise=2, modulus=256)
    noises = [table.noise(50, k) for k in range(256)]
    assert set(noises) == {-2, -1, 0, 1, 2}
    assert abs(sum(noises)) <= 8  # centred
    assert all(1 + table.noise(1, k) >= 0 for k in range(256))
    assert table.noise(0, 5) == 0


def test_same_cell_same_value_different_secret_different_keys() -> None:
    values = list(range(10, 400))
    one = [cell_key(b"a", ("x", "y"), v, 256) for v in values]
    assert one == [cell_key(b"a", ("y", "x"), v, 256) for v in values]
    assert one != [cell_key(b"b", ("x", "y"), v, 256) for v in values]


def test_protect_perturbs_every_count_and_suppresses_small_ones() -> None:
    areas = [f"a{i}" for i in range(300)]
    counts = [(i * 7) % 60 for i in range(300)]
    table = pa.table({"area": areas, "n": counts})
    out = protect(table, SPEC, RULES, secret=b"s").table
    again = protect(table.slice(0, 150), SPEC, RULES, secret=b"s").table
    shown = out.column("n").to_pylist()
    assert shown[:150] == again.column("n").to_pylist()  # consistent across outputs
    moved = 0
    for true, value in zip(counts, shown, strict=True):
        if 0 < true < 10:
            assert value is None
        elif true == 0:
            assert value == 0
        else:
            assert abs(value - true) <= 2
            moved += value != true
    assert moved > 50
    report = protect(table, SPEC, RULES, secret=b"s").report
    assert report.perturbed == moved
    assert report.to_dict()["method"] == "cell_key"


def test_policy_parameters_are_validated() -> None:
    settings = parse_disclosure_settings(
        {"publication": {"method": "cell_key", "max_noise": 3, "modulus": 512, "min_count": 10}}
    )
    assert (settings.publication.method, settings.publication.max_noise) == ("cell_key", 3)
