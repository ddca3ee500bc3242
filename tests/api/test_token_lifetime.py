"""Token lifetime is capped by the policy ([tokens] max_lifetime_days, default 90): a longer
request is refused with a clear 400 (never quietly shortened) and audited as nothing issued;
the CLI refuses the same; an invalid cap is refused when the policy loads."""

from __future__ import annotations

import pytest

from gateway.catalog import Catalog
from gateway.errors import ConfigurationError
from gateway.policy import load_default_policy
from gateway.policy.tokens import parse_token_settings
from tests.cli.test_cli import gateway
from tests.gateway_server import LiveGateway


def _issued_for(live_gateway: LiveGateway, username: str) -> int:
    with live_gateway.client("gw.admin") as admin:
        return len(admin.get("/v1/tokens", params={"username": username}).json())


def test_the_default_policy_caps_tokens_at_90_days(catalog: Catalog) -> None:
    assert load_default_policy(catalog).tokens.max_lifetime_days == 90


@pytest.mark.parametrize("days", [91, 365, 3650])
def test_a_token_longer_than_the_policy_allows_is_refused(
    live_gateway: LiveGateway, days: int
) -> None:
    before = _issued_for(live_gateway, "j.taylor")
    with live_gateway.client("gw.admin") as admin:
        answer = admin.post("/v1/tokens", json={"username": "j.taylor", "expires_in_days": days})
    assert answer.status_code == 400, answer.text
    assert "at most 90 days" in answer.text
    assert "pgw_" not in answer.text
    assert _issued_for(live_gateway, "j.taylor") == before  # nothing was issued


def test_a_token_within_the_cap_and_the_default_are_issued(live_gateway: LiveGateway) -> None:
    with live_gateway.client("gw.admin") as admin:
        exactly = admin.post("/v1/tokens", json={"username": "j.taylor", "expires_in_days": 90})
        default = admin.post("/v1/tokens", json={"username": "j.taylor"})
    assert exactly.status_code == 201, exactly.text
    assert default.status_code == 201, default.text
    for answer in (exactly, default):
        body = answer.json()
        assert body["expires_at"] is not None


def test_the_cli_refuses_a_token_longer_than_the_policy_allows(
    live_gateway: LiveGateway, demo_data_dir
) -> None:  # type: ignore[no-untyped-def]
    done = gateway(
        "tokens", "issue", "gw.admin", "--data-dir", str(demo_data_dir.root),
        "--days", "365", "--reason", "CHG-3 recovery",
    )  # fmt: skip
    assert done.returncode != 0
    assert "at most 90 days" in done.stderr
    assert "Traceback" not in done.stderr
    assert "pgw_" not in done.stdout


@pytest.mark.parametrize("raw", [{"max_lifetime_days": 0}, {"max_lifetime_days": "90"},
                                 {"max_lifetime_days": True}, {"forever": True}])  # fmt: skip
def test_an_invalid_cap_is_refused_at_load(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="tokens"):
        parse_token_settings(raw)
