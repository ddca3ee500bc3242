"""SQL-in/SQL-out fixtures, one file per stage of the rewrite (see fixture_files.py)."""

from __future__ import annotations

import json

import pytest

from gateway.catalog import Catalog
from gateway.errors import GatewayError
from gateway.policy import Policy
from gateway.rewrite import rewrite
from gateway.rewrite.analyse import analyse_columns
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.guard import guard
from gateway.rewrite.parse import parse_statement
from gateway.rewrite.resolve import resolve_tables
from tests.rewrite.conftest import FIXTURES, fixture_view
from tests.rewrite.fixture_files import Case, read_cases

AUDIT_SCHEMA = {"audit": {"queries": {"query_id": "VARCHAR", "user": "VARCHAR"}}}
CASES = [case for path in sorted(FIXTURES.glob("*.sql")) for case in read_cases(path)]


def run_case(case: Case, policy: Policy, catalog: Catalog) -> str:
    view = fixture_view(
        policy, catalog, case.headers.get("as", "general"), case.headers.get("purpose", "SA")
    )
    params = json.loads(case.headers.get("params", "{}"))
    try:
        if case.file == "rewrite":
            max_rows = int(case.headers["max_rows"]) if "max_rows" in case.headers else None
            return rewrite(
                case.sql,
                view,
                catalog,
                params=params,
                extra_schemas=AUDIT_SCHEMA,
                max_rows=max_rows,
            ).sql
        ctx = RewriteContext(sql=case.sql, view=view, catalog=catalog, extra_schemas=AUDIT_SCHEMA)
        tree = guard(parse_statement(case.sql), ctx)
        if case.file == "guard":
            return "OK"
        tree = analyse_columns(resolve_tables(tree, ctx), ctx)
        return tree.sql(dialect="duckdb")
    except GatewayError as exc:
        return f"ERROR {exc.code}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fixture(case: Case, fixture_policy: Policy, catalog: Catalog) -> None:
    assert run_case(case, fixture_policy, catalog) == case.expected
