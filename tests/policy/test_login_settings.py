"""The policy's [login] section: defaults, every key validated with a precise message."""

from __future__ import annotations

import pytest

from gateway.catalog import load_catalog
from gateway.errors import ConfigurationError
from gateway.policy import load_default_policy
from gateway.policy.login import LoginSettings, parse_login_settings


def test_the_packaged_policy_states_the_policy_198_defaults() -> None:
    login = load_default_policy(load_catalog()).login
    assert (login.min_length, login.history, login.max_failures) == (12, 3, 3)
    assert login.idle_minutes == 15
    assert login.first_login_change


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_failures": 0}, "login.max_failures: must be a whole number from 1 to 100"),
        ({"max_failures": True}, "login.max_failures"),
        ({"idle_minutes": 0}, "login.idle_minutes: must be a number"),
        ({"min_length": 4}, "login.min_length"),
        ({"first_login_change": "yes"}, "login.first_login_change: must be true or false"),
        ({"syops_text": ""}, "login.syops_text"),
        ({"idle_minute": 5}, "login.idle_minute: unknown key"),
        ([1], "login: must be a table"),
    ],
)
def test_bad_values_are_refused(raw: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_login_settings(raw)


def test_values_are_kept() -> None:
    settings = parse_login_settings({"idle_minutes": 0.05, "unlock_after_minutes": 0})
    assert settings.idle_timeout.total_seconds() == 3
    assert settings.unlock_after is None
    assert settings == LoginSettings(idle_minutes=0.05, unlock_after_minutes=0)
