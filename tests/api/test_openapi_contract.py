"""The OpenAPI contract, tested by schemathesis against the live server: generated requests
(valid and invalid) never get a 500, and every answer matches the documented schema."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.gateway_server import LiveGateway


@pytest.fixture(scope="session")
def api_schema(live_gateway: LiveGateway):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_url(f"{live_gateway.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")

# Generated SQL is almost never a valid query for the policy, so "valid by the schema" data is
# rightly refused with 400: that check does not apply to a SQL endpoint.
EXCLUDED = [positive_data_acceptance]


def excluded_checks(case):  # type: ignore[no-untyped-def]
    """The checks that cannot judge ``case``.

    The tests replace the generated Authorization header with a real token. When schemathesis
    generated that header as the case's invalid part, the request we send is no longer the
    invalid one it reasons about (its other "invalid" parts are often valid once serialised
    into a query string, e.g. ``true`` for a string), so "invalid data must be rejected" does
    not apply to it. Cases whose invalid part is the query or body keep every check.
    """
    components = case.meta.components if case.meta is not None else {}
    header = components.get(ParameterLocation.HEADER)
    if header is not None and header.mode == GenerationMode.NEGATIVE:
        return [*EXCLUDED, negative_data_rejection]
    return EXCLUDED


@schema.parametrize()
@hypothesis.settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_api_contract_as_senior_analyst(case, live_gateway):  # type: ignore[no-untyped-def]
    case.call_and_validate(
        headers=live_gateway.headers("s.patel"), excluded_checks=excluded_checks(case)
    )


@schema.include(path_regex="^/v1/(tokens|users|me)").parametrize()
@hypothesis.settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_api_contract_as_administrator(case, live_gateway):  # type: ignore[no-untyped-def]
    case.call_and_validate(
        headers=live_gateway.headers("gw.admin"), excluded_checks=excluded_checks(case)
    )
