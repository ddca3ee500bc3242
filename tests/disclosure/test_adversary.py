"""The differencing adversary against the template library (issue 14).

One general analyst runs the crime templates for their authority at every geography (LSOA,
ward, authority) and period (a year, single months, the monthly series with last year and the
rolling 12 months, the calendar year by category), for each crime category. Everything that
was released — each output checked against the audit log's record of it (method and
fingerprint) — goes to :class:`tests.disclosure.adversary.Adversary`, which bounds every
released count above zero by linear programming over all of them together. Ground truth: the
raw warehouse.

The test fails if any count is pinned exactly, or bounded to fewer than ``max_noise + 1``
consecutive values (the policy publishes each count within ±max_noise; combining outputs may
narrow that a little, never to less than half of it). The figures (outputs, cells attacked,
narrowest interval) are printed: ``pytest -s``.

Runtime: the runs go through the real service (≈0.1 s each) and each count costs two LPs
(≈10 ms each), so the default samples three categories (small ones, where differencing worked
before); ``GATEWAY_ADVERSARY_ALL=1`` attacks every category (a few minutes).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

from gateway.policy.disclosure import DisclosureRules
from gateway.service import QueryService
from gateway.templates import TemplateRun, TemplateRunner
from tests.disclosure.adversary import Adversary, Release, reading
from tests.templates.fixtures import PURPOSE, USERS, Raw

USER = USERS["a.khan"]
AREA = USER.areas[0]
YEAR = ("2025-11", "2026-10")
SINGLE_MONTHS = ("2026-08", "2026-09", "2026-10")
CALENDAR_YEAR = 2025
SAMPLED = ("possession-of-weapons", "robbery", "burglary")


def _months(first: str, last: str) -> list[str]:
    out, (y, m) = [], map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _shift(month: str, by: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + m - 1 + by
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


class Released:
    """Releases per category, built from template outputs and the raw warehouse's atoms
    (category, lsoa, ward, month)."""

    def __init__(self, raw: Raw) -> None:
        frame = raw.frame(
            "SELECT police_uk_category AS cat, lsoa_code, ward_code, "
            "strftime(recorded_at, '%Y-%m') AS month, count(*) AS n FROM crime "
            "WHERE local_authority_code = $a GROUP BY ALL",
            a=AREA,
        )
        self.truth: dict[tuple[str, str, str, str], int] = {
            (r["cat"], r["lsoa_code"], r["ward_code"], r["month"]): r["n"]
            for r in frame.iter_rows(named=True)
        }
        self.places = sorted({(lsoa, ward) for _, lsoa, ward, _ in self.truth})
        self.releases: dict[str, list[Release]] = defaultdict(list)

    def add(
        self, cat: str, label: str, places: list[tuple[str, str]], months: list[str],
        shown: Any, flag: bool, rules: DisclosureRules,
    ) -> None:  # fmt: skip
        if shown is None and not flag:
            return  # nothing published (e.g. no month a year earlier)
        atoms = frozenset((cat, lsoa, ward, m) for lsoa, ward in places for m in months)
        true = sum(self.truth.get(a, 0) for a in atoms)  # type: ignore[call-overload]
        low, high = reading(shown, flag, rules)
        assert low <= true <= high, (label, shown, flag, true)  # the reading is sound
        self.releases[cat].append(Release(label, atoms, low, high, true))

    def by_area(self, run: TemplateRun, cat: str, geography: str, rules: DisclosureRules) -> None:
        start, end = run.params["start_month"], run.params["end_month"]
        start, end = str(start)[:7], str(end)[:7]
        months = _months(start, end)
        before = [_shift(m, -len(months)) for m in months]
        column = 0 if geography == "lsoa" else 1
        for row in run.table.to_pylist():
            places = [p for p in self.places if p[column] == row["area_code"]]
            label = f"{geography} {row['area_code']} {start}..{end}"
            self.add(cat, label, places, months, row["crimes"], row["crimes_suppressed"], rules)
            self.add(cat, label + " previous", places, before, row["crimes_previous_period"],
                     row["crimes_previous_period_suppressed"], rules)  # fmt: skip

    def by_month(self, run: TemplateRun, cat: str, rules: DisclosureRules) -> None:
        rows = run.table.to_pylist()
        for position, row in enumerate(rows):
            m = row["month"]
            self.add(cat, f"authority {m}", self.places, [m], row["crimes"],
                     row["crimes_suppressed"], rules)  # fmt: skip
            self.add(cat, f"authority {m} last year", self.places, [_shift(m, -12)],
                     row["crimes_last_year"], row["crimes_last_year_suppressed"], rules)  # fmt: skip
            # The rolling 12 months carry nothing new: the sum of the published months, or
            # withheld.
            window = rows[position - 11 : position + 1] if position >= 11 else []
            if row["rolling_12m"] is not None:
                assert row["rolling_12m"] == sum(r["crimes"] for r in window), m
            else:
                assert row["rolling_12m_suppressed"]

    def by_category(self, run: TemplateRun, cats: tuple[str, ...], rules: DisclosureRules) -> None:
        year = _months(f"{CALENDAR_YEAR}-01", f"{CALENDAR_YEAR}-12")
        last = _months(f"{CALENDAR_YEAR - 1}-01", f"{CALENDAR_YEAR - 1}-12")
        for row in run.table.to_pylist():
            cat = row["police_uk_category"]
            if cat not in cats:
                continue  # "all" sums every category: categories are attacked one at a time
            self.add(cat, f"authority {CALENDAR_YEAR}", self.places, year, row["crimes"],
                     row["crimes_suppressed"], rules)  # fmt: skip
            self.add(cat, f"authority {CALENDAR_YEAR - 1}", self.places, last,
                     row["crimes_previous_year"], row["crimes_previous_year_suppressed"], rules)  # fmt: skip


def _categories(raw: Raw) -> tuple[str, ...]:
    if os.environ.get("GATEWAY_ADVERSARY_ALL"):
        every = raw.frame("SELECT DISTINCT police_uk_category AS c FROM offence_type ORDER BY 1")
        return tuple(every["c"])
    return SAMPLED


def _runs(runner: TemplateRunner, cats: tuple[str, ...]) -> Iterator[tuple[str, str, TemplateRun]]:
    """Every output the analyst asks for: (what, category, run)."""
    for cat in cats:
        for geography in ("lsoa", "ward"):
            periods = [YEAR, *((m, m) for m in SINGLE_MONTHS)]
            for start, end in periods:
                params = {"geography": geography, "start_month": start, "end_month": end,
                          "category": cat}  # fmt: skip
                yield geography, cat, runner.run(USER, "crime-by-area", params, purpose=PURPOSE)
        params = {"end_month": YEAR[1], "category": cat}
        yield "month", cat, runner.run(USER, "crime-by-month", params, purpose=PURPOSE)
    yield "category", "", runner.run(USER, "crime-rates", {"year": CALENDAR_YEAR}, purpose=PURPOSE)


def test_differencing_everything_released_pins_no_count(
    runner: TemplateRunner,
    template_service: QueryService,
    raw: Raw,
) -> None:
    # The template data directory's keyed-hash secret is fixed, so that a failure can be
    # replayed (another: set GATEWAY_ADVERSARY_SECRET; tests/templates/fixtures.py).
    began = time.perf_counter()
    rules = runner.rules(USER.level, "policy")
    assert rules.perturbs  # the default policy: the cell key method
    cats = _categories(raw)
    released = Released(raw)
    runs = list(_runs(runner, cats))
    for what, cat, run in runs:
        if what in ("lsoa", "ward"):
            released.by_area(run, cat, what, rules)
        elif what == "month":
            released.by_month(run, cat, rules)
        else:
            released.by_category(run, cats, rules)
    ran = time.perf_counter() - began

    # What was released is what the audit log says was released, with the method applied.
    audited = {q.query_id: q for q in template_service.audit.queries()}
    for _, _, run in runs:
        record = audited[run.query_id].result
        assert record["fingerprint"] == run.fingerprint
        assert record["disclosure"]["method"] == "cell_key"
        assert record["disclosure"]["max_noise"] == rules.max_noise

    attacked, narrowest = 0, 10**9
    pinned: list[str] = []
    too_narrow: list[str] = []
    for releases in released.releases.values():
        adversary = Adversary(releases)
        targets = {r.atoms: r for r in releases if r.true > 0}  # zeros are not protected
        for atoms, release in targets.items():
            low, high = adversary.bounds(atoms)
            assert low <= release.true <= high, release  # the solver is sound
            attacked += 1
            narrowest = min(narrowest, high - low)
            if low == high:
                pinned.append(f"{release.label} = {low}")
            elif high - low < rules.max_noise:
                too_narrow.append(f"{release.label} in [{low}, {high}]")
    outputs = len(runs)
    cells = sum(len(r) for r in released.releases.values())
    print(
        f"\nadversary: {outputs} outputs, {cells} released counts, {attacked} counts above "
        f"zero attacked ({len(cats)} categories), narrowest interval {narrowest + 1} values; "
        f"runs {ran:.1f} s, total {time.perf_counter() - began:.1f} s"
    )
    assert attacked > 100  # not vacuous
    assert not pinned, pinned
    assert not too_narrow, too_narrow


def test_the_periods_are_in_the_small_warehouse(raw: Raw) -> None:
    """Guard for the test above: the year and months it asks for hold crimes."""
    last = raw.frame("SELECT max(recorded_at) AS m FROM crime").item()
    assert last.date() >= date(2026, 10, 1)


def test_the_same_records_under_other_labels_get_the_same_value(
    template_service: QueryService,
) -> None:
    from gateway.disclosure import parse_disclosure_request
    from gateway.disclosure.control import DisclosureControl

    published = set()
    for label in range(8):
        sql = (
            f"SELECT 'label {label}' AS label, count(*) AS n FROM crime "
            "WHERE police_uk_category = 'violent-crime'"
        )
        control = DisclosureControl.for_service(
            template_service, parse_disclosure_request("policy")
        )
        outcome = template_service.run_query(USER, sql, PURPOSE, control=control)
        published.add(outcome.result.to_table().column("n")[0].as_py())
        outcome.result.discard()
    assert len(published) == 1, published
