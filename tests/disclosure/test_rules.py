"""Disclosure rules from the policy's [disclosure] section: defaults, per level, validation."""

from __future__ import annotations

import pytest

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, ParameterError
from gateway.policy import load_default_policy
from gateway.policy.disclosure import (
    PUBLICATION_RULES,
    DisclosureRules,
    DisclosureSettings,
    parse_disclosure_settings,
)


def test_default_policy_section(catalog: Catalog) -> None:
    policy = load_default_policy(catalog)
    settings = policy.disclosure
    # the cell key method in both modes (issue 14), small counts (and zeros) suppressed
    assert settings.rules_for("general") == DisclosureRules(
        min_count=10, label="general", method="cell_key", max_noise=2, modulus=256
    )
    assert settings.rules_for("general", publication=True) == PUBLICATION_RULES
    assert PUBLICATION_RULES.method == "cell_key"
    assert PUBLICATION_RULES.perturbs
    assert settings.publication.round_to == 5
    assert "general" in settings.optional


def test_no_section_means_publication_defaults_and_no_level_control() -> None:
    settings = parse_disclosure_settings(None)
    assert settings.rules_for("general").active is False
    assert settings.rules_for("enhanced", publication=True) == PUBLICATION_RULES


def test_modes() -> None:
    settings = DisclosureSettings(
        levels={"general": DisclosureRules(min_count=5, label="general")},
        optional=frozenset(),
    )
    assert settings.resolve("general", "policy").min_count == 5
    assert settings.resolve("general", "publication") == PUBLICATION_RULES
    with pytest.raises(ParameterError, match="switch disclosure control off"):
        settings.resolve("general", "none")
    assert settings.resolve("enhanced", "none").active is False  # nothing to switch off
    with pytest.raises(ParameterError, match="unknown mode 'loose'"):
        settings.resolve("general", "loose")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"colour": 1}, "disclosure.colour: unknown key"),
        ({"publication": {"min_count": -1}}, "disclosure.publication.min_count"),
        ({"publication": {"min_count": True}}, "disclosure.publication.min_count"),
        ({"levels": {"general": {"round_to": "5"}}}, "disclosure.levels.general.round_to"),
        ({"levels": {"general": {"optional": "yes"}}}, "disclosure.levels.general.optional"),
        ({"levels": {"general": {"threshold": 5}}}, "disclosure.levels.general.threshold"),
        ({"levels": {"wizard": {"min_count": 5}}}, "disclosure.levels.wizard: no such level"),
        ({"levels": []}, "disclosure.levels: must be a table"),
    ],
)
def test_validation_errors_name_the_setting(raw: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        parse_disclosure_settings(raw, levels=("general", "enhanced"))


def test_describe() -> None:
    assert PUBLICATION_RULES.describe() == (
        "counts perturbed by the cell key method (at most ±2); "
        "counts from 1 to 9 after perturbation suppressed; counts rounded to the nearest 5"
    )
    assert DisclosureRules(min_count=10, round_to=5).describe() == (
        "counts from 1 to 9 suppressed (with secondary suppression); "
        "counts rounded to the nearest 5"
    )
    assert DisclosureRules().describe() == "no disclosure control"
