"""``[markings]``: the policy's protective marking per data class, raised never lowered."""

from __future__ import annotations

import pytest

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, MarkingLowered, MarkingUnknown
from gateway.policy import load_default_policy
from gateway.policy.markings import MarkingSettings, data_classes, parse_marking_settings


def test_default_policy_marks_each_class() -> None:
    m = MarkingSettings()
    assert m.for_classes([]) == "OFFICIAL"  # SELECT 1: nothing read
    assert m.for_classes(["reference"]) == "OFFICIAL"
    assert m.for_classes(["reference", "record"]) == "OFFICIAL-SENSITIVE"
    assert m.for_classes(["audit"]) == "OFFICIAL-SENSITIVE"
    assert m.of_class("publication") == "OFFICIAL"
    assert data_classes(["link", "entity"]) == ["record"]
    assert data_classes(["reference"], audit=True) == ["audit", "reference"]


def test_the_packaged_policy_states_the_markings(catalog: Catalog) -> None:
    policy = load_default_policy(catalog)
    assert policy.markings == MarkingSettings()


@pytest.mark.parametrize(
    ("requested", "floor", "expected"),
    [
        (None, "OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("official sensitive", "OFFICIAL-SENSITIVE", "OFFICIAL-SENSITIVE"),
        ("Secret", "OFFICIAL-SENSITIVE", "SECRET"),
        ("top_secret", "OFFICIAL", "TOP SECRET"),
    ],
)
def test_a_marking_may_be_raised(requested: str | None, floor: str, expected: str) -> None:
    assert MarkingSettings().resolve(requested, floor=floor) == expected


@pytest.mark.parametrize(
    ("requested", "floor", "error"),
    [
        ("NOT PROTECTIVELY MARKED", "OFFICIAL", MarkingLowered),
        ("OFFICIAL", "OFFICIAL-SENSITIVE", MarkingLowered),
        ("", "OFFICIAL", MarkingLowered),
        ("   ", "OFFICIAL", MarkingLowered),
        ("RESTRICTED", "OFFICIAL", MarkingUnknown),
        ("OFFICIAL-SENSITIVE\n", "SECRET", MarkingLowered),
    ],
)
def test_a_marking_is_never_lowered_or_removed(
    requested: str, floor: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        MarkingSettings().resolve(requested, floor=floor)
    assert getattr(caught.value, "status", None) == 400


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"colour": "red"}, "markings.colour: unknown key"),
        ({"record": "HUSH"}, "markings.record: 'HUSH' is not on the scale"),
        ({"scale": ["A", "a"]}, "markings.scale: a marking is listed twice"),
        ({"scale": []}, "markings.scale: must be a list"),
        ({"reference": "OFFICIAL\u00e9"}, "markings.reference: must be printable ASCII"),
        ({"audit": ""}, "markings.audit: must be non-empty text"),
    ],
)
def test_bad_markings_stop_the_policy_loading(raw: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_marking_settings(raw, source="p.toml")
    assert fragment in str(caught.value)


def test_exports_markings_are_the_defaults_for_their_classes() -> None:
    m = parse_marking_settings(None, record="SECRET", publication="OFFICIAL-SENSITIVE")
    assert (m.record, m.publication, m.reference) == ("SECRET", "OFFICIAL-SENSITIVE", "OFFICIAL")
    custom = parse_marking_settings(
        {"scale": ["PUBLIC", "CONFIDENTIAL"], "reference": "public", "record": "CONFIDENTIAL",
         "audit": "CONFIDENTIAL", "publication": "PUBLIC"}
    )  # fmt: skip
    assert custom.for_classes(["reference"]) == "PUBLIC"
    with pytest.raises(MarkingLowered):
        custom.resolve("PUBLIC", floor=custom.record)


def test_an_aggregate_release_takes_the_aggregate_marking_never_below_another_class() -> None:
    m = parse_marking_settings({"aggregate": "OFFICIAL"})
    assert m.for_release(["record"], aggregate=True) == "OFFICIAL"
    assert m.for_release(["record"], aggregate=False) == "OFFICIAL-SENSITIVE"  # records
    assert m.for_release(["audit", "record"], aggregate=True) == "OFFICIAL-SENSITIVE"
    strict = parse_marking_settings({"reference": "OFFICIAL-SENSITIVE", "aggregate": "OFFICIAL"})
    assert strict.for_release(["reference", "record"], aggregate=True) == "OFFICIAL-SENSITIVE"
    # unset, the aggregate marking is the reference data's (on any scale)
    custom = parse_marking_settings(
        {
            "scale": ["PUBLIC", "CONFIDENTIAL"],
            "reference": "PUBLIC",
            "record": "CONFIDENTIAL",
            "audit": "CONFIDENTIAL",
            "publication": "PUBLIC",
        }
    )
    assert custom.aggregate == "PUBLIC"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"aggregate": "RESTRICTED"}, "markings.aggregate"),
        ({"csv_marking": "filename"}, "markings.csv_marking"),
        ({"csv_marking": "none"}, "needs allow_unmarked_csv"),
        ({"allow_unmarked_csv": "yes"}, "markings.allow_unmarked_csv"),
    ],
)
def test_bad_aggregate_and_csv_settings_stop_the_policy_loading(
    raw: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_marking_settings(raw)
