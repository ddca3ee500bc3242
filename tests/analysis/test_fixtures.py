"""The SQL analyses, from SQL-in/facts-out fixture files (one per analysis, as sqlglot keeps
one per optimizer rule in ``tests/fixtures/optimizer``).

Each file under ``fixtures/`` holds cases separated by blank lines: ``--`` comment lines, the
SQL (ending with ``;``) and the expected facts, as :data:`ANALYSES` renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.analysis.classify import classify_sql, output_roles
from gateway.analysis.lookups import analyse_lookups, pinned_predicates
from gateway.catalog import Catalog, load_catalog
from gateway.errors import GatewayError

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG: Catalog = load_catalog()


def _classification(sql: str) -> str:
    verdict = classify_sql(sql, CATALOG)
    return f"{verdict.data_class}: {verdict.reason}"


def _roles(sql: str) -> str:
    try:
        columns = output_roles(sql, CATALOG)
    except GatewayError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ", ".join(f"{c.name} {c.role}" for c in columns)


def _lookups(sql: str) -> str:
    analysis = analyse_lookups(sql, CATALOG)
    if not analysis.complete:
        return analysis.status
    found = pinned_predicates(sql, CATALOG)
    assert analysis.pinned == tuple(dict.fromkeys(f.column for f in found))
    lines = [f"{f.operator} {f.column} ({f.sensitivity.value}): {f.predicate}" for f in found]
    return "\n".join(lines) or "none"


#: fixture file → the analysis rendered as text.
ANALYSES: dict[str, Callable[[str], str]] = {
    "classify.sql": _classification,
    "output_roles.sql": _roles,
    "lookups.sql": _lookups,
}


def read_cases(path: Path) -> list[tuple[int, str, str]]:
    """(line, SQL, expected) for each case of a fixture file."""
    text = path.read_text(encoding="utf-8")
    cases = []
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if not line.startswith("--")]
        if not lines:
            continue
        end = next(i for i, line in enumerate(lines) if line.rstrip().endswith(";"))
        sql = " ".join(lines[: end + 1]).rstrip().removesuffix(";")
        line = text.count("\n", 0, text.index(lines[0])) + 1
        cases.append((line, sql, "\n".join(lines[end + 1 :]).strip()))
    return cases


CASES = [
    pytest.param(name, sql, expected, id=f"{name}:{line}")
    for name in ANALYSES
    for line, sql, expected in read_cases(FIXTURES / name)
]


def test_every_fixture_file_has_an_analysis() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.sql")) == sorted(ANALYSES)


@pytest.mark.parametrize(("fixture", "sql", "expected"), CASES)
def test_fixture(fixture: str, sql: str, expected: str) -> None:
    got = ANALYSES[fixture](sql)
    if expected.startswith(("NotProtectable:", "ParameterError:")):
        assert got.startswith(expected), got  # refusals: the error and the start of its message
    else:
        assert got == expected
