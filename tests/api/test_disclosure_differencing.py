"""Issue 14 over real HTTP, the raw warehouse (the same query without control) as ground
truth: counts surfaced as keys are refused (finding 1), every count-like column is perturbed
by the cell key method so that subtracting two of them gives noise, not the suppressed count
(finding 2), the same cell gets the same value whatever query produced it, and the audit
record keeps the method, its parameters and the cells protected."""

from __future__ import annotations

from tests.api.test_disclosure import _completed, _query

WEAPONS = "police_uk_category = 'possession-of-weapons'"


def test_counts_as_grouping_keys_are_refused(live_gateway):  # type: ignore[no-untyped-def]
    sql = (
        "SELECT x.lsoa_code, x.n, count(*) AS c FROM (SELECT lsoa_code, count(*) AS n FROM crime "
        f"WHERE {WEAPONS} GROUP BY 1) x GROUP BY ALL"
    )
    for mode in ("publication", "policy"):
        answer = _query(live_gateway, {"sql": sql, "disclosure": mode})
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "not_protectable"
        assert "grouping column computed from counts" in error["message"]
        denied = _completed(live_gateway, error["query_id"], kind="query.denied")
        assert denied["reason"] == "not_protectable"  # refused before anything ran
