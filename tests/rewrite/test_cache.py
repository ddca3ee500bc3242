"""Rewrite results are reused only for the same SQL, view, cap and parameter shape."""

from __future__ import annotations

import pytest

from gateway.catalog import Catalog
from gateway.errors import ParameterError
from gateway.policy import Policy
from gateway.rewrite import RewriteCache, rewrite
from tests.rewrite.conftest import fixture_view

SQL = "SELECT crime_id FROM crime WHERE ho_offence_code IN ($codes)"


def test_hit_reuses_sql_but_binds_new_values(fixture_policy: Policy, catalog: Catalog) -> None:
    cache = RewriteCache()
    view = fixture_view(fixture_policy, catalog, "general")
    first = rewrite(SQL, view, catalog, params={"codes": ["8N"]}, cache=cache)
    second = rewrite(SQL, view, catalog, params={"CODES": ["46", "8N"]}, cache=cache)
    assert second.sql == first.sql
    assert second.params == {"codes": ["46", "8N"]}
    with pytest.raises(ParameterError):
        rewrite(SQL, view, catalog, params={"codes": [object()]}, cache=cache)


def test_other_view_cap_or_shape_is_rewritten(fixture_policy: Policy, catalog: Catalog) -> None:
    cache = RewriteCache()
    general = fixture_view(fixture_policy, catalog, "general")
    other = fixture_view(fixture_policy, catalog, "other_area")
    as_list = rewrite(SQL, general, catalog, params={"codes": ["8N"]}, cache=cache)
    assert "E06000001" in rewrite(SQL, other, catalog, params={"codes": ["8N"]}, cache=cache).sql
    assert (
        "LIMIT 11"
        in rewrite(SQL, general, catalog, params={"codes": ["8N"]}, max_rows=10, cache=cache).sql
    )
    as_value = rewrite(SQL, general, catalog, params={"codes": "8N"}, cache=cache)
    assert "ARRAY_CONTAINS" in as_list.sql
    assert "ARRAY_CONTAINS" not in as_value.sql
