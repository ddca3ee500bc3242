"""What an honest strategic assessment costs against the differencing budget (issue 14).

One general analyst runs the whole template library for their authority — every template with
a disclosure spec at its defaults, and the crime templates at every geography (LSOA, ward,
neighbourhood) for the 12 months to date, three single months and a calendar year, for all
crime and for each sampled category, plus the monthly series — through the real service with
a ledger of its own. Nothing may be refused, and the most different overlapping selections
any run met must leave room under the default budget. ``pytest -s`` prints the figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.disclosure.ledger import ReleaseLedger
from gateway.disclosure.resources import DisclosureResources
from gateway.policy.disclosure import DisclosureBudgetRules
from gateway.service import QueryService
from gateway.templates import TemplateLibrary, TemplateRunner
from tests.templates.fixtures import PURPOSE, USERS, Raw

USER = USERS["a.khan"]
YEAR = ("2025-11", "2026-10")
SINGLE_MONTHS = ("2026-08", "2026-09", "2026-10")
CATEGORIES = ("all", "possession-of-weapons", "robbery", "burglary")


@pytest.fixture
def own_ledger(template_service: QueryService, tmp_path: Path) -> Iterator[ReleaseLedger]:
    """The session's service with a fresh ledger for this test (the shared one restored)."""
    shared = template_service.disclosure
    ledger = ReleaseLedger.open(tmp_path / "ledger.sqlite")
    template_service.disclosure = DisclosureResources(ledger)
    try:
        yield ledger
    finally:
        template_service.disclosure = shared
        ledger.close()


def _assessment(library: TemplateLibrary, raw: Raw) -> Iterator[tuple[str, dict[str, object]]]:
    wards = list(
        raw.frame(
            "SELECT DISTINCT ward_code AS w FROM crime WHERE local_authority_code = $a ORDER BY 1",
            a=USER.areas[0],
        )["w"]
    )
    for template in library:
        if template.disclosure is not None and template.level == "general":
            given: dict[str, object] = {}
            if template.name == "before-after":  # an evaluation: two wards and a start day
                given = {"intervention": wards[0], "comparison": wards[1], "start": "2026-03-16"}
            yield template.name, given
    for category in CATEGORIES:
        for geography in ("lsoa", "ward", "neighbourhood"):
            for start, end in (YEAR, ("2025-01", "2025-12"), *((m, m) for m in SINGLE_MONTHS)):
                yield (
                    "crime-by-area",
                    {
                        "geography": geography,
                        "start_month": start,
                        "end_month": end,
                        "category": category,
                    },
                )
        yield "crime-by-month", {"end_month": YEAR[1], "category": category}


def test_the_whole_template_library_fits_the_default_budget(
    runner: TemplateRunner,
    library: TemplateLibrary,
    template_service: QueryService,
    own_ledger: ReleaseLedger,
    raw: Raw,
) -> None:
    budget = template_service.policy.disclosure.budget
    assert budget == DisclosureBudgetRules()  # the default policy's budget
    began = time.perf_counter()
    ids = [
        runner.run(USER, name, params, purpose=PURPOSE).query_id  # a refusal would raise
        for name, params in _assessment(library, raw)
    ]
    audited = {q.query_id: q for q in template_service.audit.queries(actor=USER.username)}
    spent = [audited[i].result["disclosure"]["budget"] for i in ids]
    most = max(s["overlapping"] for s in spent)
    charged, runs = sum(s["new"] for s in spent), len(ids)
    held = own_ledger.released(USER.username)
    print(
        f"\nstrategic assessment: {runs} template runs in {time.perf_counter() - began:.1f} s; "
        f"{len(held)} custom selections charged ({charged} new charges): "
        f"{[s.describe() for s in held]}; the most any run overlapped: {most} "
        f"(budget {budget.overlapping})"
    )
    assert most < budget.overlapping
