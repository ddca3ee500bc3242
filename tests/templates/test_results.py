"""Every template runs for every demo analyst it is meant for, and its numbers match an
independent computation over the same data.

Independent means: not the template's SQL. Where masks do not matter, the expected values come
from the raw warehouse restricted to the analyst's area (plain reads into polars, computed in
Python); where they do (pseudonyms, hidden victims, map points), the raw rows are masked here
in Python the way the policy says (keyed pseudonyms from the deployment's key, sensitive and
domestic-abuse victims dropped, places snapped to their map point). Runs use disclosure
control "none" (the default policy lets both levels opt out), so exact values are compared;
tests/templates/test_disclosure_on_templates.py checks the protected outputs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

import polars as pl
import pytest

from gateway.policy.masks import pseudonym_python
from gateway.principal import Principal
from gateway.templates import TemplateRunner
from tests.templates.fixtures import ANALYSTS, PURPOSE, Raw

START, END = date(2025, 11, 1), date(2026, 10, 1)  # a 12-month period (END inclusive)
END_EXCLUSIVE = date(2026, 11, 1)
YEAR = 2025
SENSITIVE_FREE = """
    c.crime_id NOT IN (
        SELECT crime_id FROM crime WHERE domestic_abuse
        UNION SELECT c2.crime_id FROM crime c2 JOIN offence_type o USING (ho_offence_code)
        WHERE o.sensitive)
"""

analysts = pytest.mark.parametrize("user", ANALYSTS, ids=lambda u: f"{u.username}-{u.level}")


def area_of(user: Principal) -> str:
    return user.areas[0]


def run(runner: TemplateRunner, user: Principal, name: str, **params: Any) -> pl.DataFrame:
    result = runner.run(user, name, params, purpose=PURPOSE, disclosure="none")
    frame = pl.from_arrow(result.table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select([c for c in frame.columns if not c.endswith("_suppressed")])


def months(first: date, count: int) -> list[str]:
    index = first.year * 12 + first.month - 1
    return [f"{(index + k) // 12}-{(index + k) % 12 + 1:02d}" for k in range(count)]


def crimes(raw: Raw, area: str) -> pl.DataFrame:
    return raw.frame(
        "SELECT crime_id, recorded_at, committed_from, police_uk_category, lsoa_code, ward_code,"
        " neighbourhood_code, location_id, outcome, domestic_abuse, hate_crime"
        " FROM crime WHERE local_authority_code = $area",
        area=area,
    ).with_columns(month=pl.col("recorded_at").dt.strftime("%Y-%m"))


def in_period(frame: pl.DataFrame, column: str = "recorded_at") -> pl.DataFrame:
    return frame.filter(
        (pl.col(column) >= pl.lit(START).cast(pl.Datetime))
        & (pl.col(column) < pl.lit(END_EXCLUSIVE).cast(pl.Datetime))
    )


def change(now: int | None, before: int | None) -> Any:
    """The percentage change, to compare with a value rounded to one decimal place."""
    if now is None or not before:
        return None
    return pytest.approx((now - before) * 100.0 / before, abs=0.051)


# --- counts, rates, trends -------------------------------------------------------------------


@analysts
def test_crime_rates(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    area = area_of(user)
    got = run(runner, user, "crime-rates", year=YEAR)
    frame = crimes(raw, area).with_columns(year=pl.col("recorded_at").dt.year())
    population = raw.frame(
        "SELECT population FROM local_authority WHERE local_authority_code = $a", a=area
    ).item()
    this = Counter(frame.filter(pl.col("year") == YEAR)["police_uk_category"].to_list())
    last = Counter(frame.filter(pl.col("year") == YEAR - 1)["police_uk_category"].to_list())
    expected = {c: (this[c], last[c]) for c in set(this) | set(last)}
    expected["all"] = (sum(this.values()), sum(last.values()))
    rows = {r["police_uk_category"]: r for r in got.to_dicts()}
    assert set(rows) == set(expected)
    for category, (now, before) in expected.items():
        row = rows[category]
        assert (row["crimes"], row["crimes_previous_year"]) == (now, before), category
        assert row["change_pct"] == change(now, before)
        assert row["rate_per_1000"] == pytest.approx(now * 1000 / population, abs=0.006)
        assert row["population"] == population
    assert rows["all"]["police_uk_label"] == "All recorded crime"


@analysts
def test_crime_by_month(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    area = area_of(user)
    got = run(runner, user, "crime-by-month", end_month="2026-10")
    counts = Counter(crimes(raw, area)["month"].to_list())
    first_month = min(counts)
    shown = months(START, 12)
    assert got["month"].to_list() == shown
    for row in got.to_dicts():
        m = row["month"]
        assert row["crimes"] == counts[m]
        year, month = (int(p) for p in m.split("-"))
        previous = f"{year - 1}-{month:02d}"
        assert row["crimes_last_year"] == (counts[previous] if previous >= first_month else None)
        assert row["change_pct"] == change(counts[m], row["crimes_last_year"])
        window = months(date(year - 1, month, 1), 13)[1:]  # the 12 months ending with m
        full = window[0] >= first_month
        assert row["rolling_12m"] == (sum(counts[w] for w in window) if full else None)


@analysts
def test_crime_by_month_one_category(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "crime-by-month", end_month="2026-10", category="burglary")
    frame = crimes(raw, area_of(user)).filter(pl.col("police_uk_category") == "burglary")
    counts = Counter(frame["month"].to_list())
    assert got["crimes"].to_list() == [counts[m] for m in months(START, 12)]


@analysts
@pytest.mark.parametrize("geography", ["lsoa", "ward", "neighbourhood"])
def test_crime_by_area(runner: TemplateRunner, raw: Raw, user: Principal, geography: str) -> None:
    area = area_of(user)
    got = run(
        runner,
        user,
        "crime-by-area",
        geography=geography,
        start_month="2025-11",
        end_month="2026-10",
    )
    frame = crimes(raw, area)
    column = f"{geography}_code"
    now = Counter(in_period(frame)[column].to_list())
    before = Counter(
        frame.filter(
            (pl.col("recorded_at") >= pl.lit(date(2024, 11, 1)).cast(pl.Datetime))
            & (pl.col("recorded_at") < pl.lit(START).cast(pl.Datetime))
        )[column].to_list()
    )
    areas = raw.frame(
        f"SELECT {geography}_code AS code, population FROM {geography} WHERE local_authority_code = $a",
        a=area,
    )
    population = dict(zip(areas["code"], areas["population"], strict=True))
    rows = {r["area_code"]: r for r in got.to_dicts()}
    assert set(rows) == set(population)  # every area listed, zeros included
    for code, row in rows.items():
        assert row["crimes"] == now[code]
        assert row["crimes_previous_period"] == before[code]
        assert row["change_pct"] == change(now[code], before[code])
        assert row["rate_per_1000"] == pytest.approx(now[code] * 1000 / population[code], abs=0.006)
    rates = got["rate_per_1000"].to_list()
    assert rates == sorted(rates, reverse=True)


@analysts
def test_seasonality(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "seasonality", start_month="2024-11", end_month="2026-10")
    frame = crimes(raw, area_of(user)).with_columns(moy=pl.col("recorded_at").dt.month())
    by_month = Counter(frame["moy"].to_list())
    total = sum(by_month.values())
    assert got["month_of_year"].to_list() == list(range(1, 13))
    for row in got.to_dicts():
        m = row["month_of_year"]
        assert row["years"] == 2
        assert row["crimes"] == by_month[m]
        assert row["mean_per_year"] == pytest.approx(by_month[m] / 2, abs=0.051)
        assert row["seasonal_index"] == pytest.approx(by_month[m] * 100 / (total / 12), abs=0.051)


@analysts
def test_hour_weekday(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "hour-weekday", start_month="2025-11", end_month="2026-10")
    frame = in_period(crimes(raw, area_of(user)))
    expected = Counter(
        zip(
            frame["committed_from"].dt.weekday().to_list(),
            frame["committed_from"].dt.hour().to_list(),
            strict=True,
        )
    )
    actual = {(r["weekday_number"], r["hour"]): r["crimes"] for r in got.to_dicts()}
    assert actual == dict(expected)
    names = dict(zip(got["weekday_number"], got["weekday"], strict=False))
    assert names.get(1) == "Monday"
    assert names.get(7) == "Sunday"


# --- hotspots and repeat locations --------------------------------------------------------------


@analysts
def test_hotspot_lsoas(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "hotspot-lsoas", start_month="2025-11", end_month="2026-10", top=10)
    counts = Counter(in_period(crimes(raw, area_of(user)))["lsoa_code"].to_list())
    assert got.height == min(10, len(counts))
    for row in got.to_dicts():
        assert row["crimes"] == counts[row["lsoa_code"]]
    top = sorted(counts.values(), reverse=True)[: got.height]
    assert got["crimes"].to_list() == top
    assert got["rank"].to_list()[0] == 1


@pytest.fixture(scope="module")
def placed(raw: Raw) -> pl.DataFrame:
    """Every crime with the map point its place is shown at under the default policy."""
    return raw.frame(
        "SELECT c.crime_id, c.local_authority_code, c.recorded_at, c.police_uk_category,"
        " l.map_point_id, m.easting AS point_e, m.northing AS point_n"
        " FROM crime c JOIN location l USING (location_id)"
        " LEFT JOIN map_point m ON m.map_point_id = l.map_point_id"
    )


@analysts
@pytest.mark.parametrize("cell", [250, 1000])
def test_hotspot_grid_uses_map_points(
    runner: TemplateRunner, placed: pl.DataFrame, user: Principal, cell: int
) -> None:
    got = run(
        runner, user, "hotspot-grid", start_month="2025-11", end_month="2026-10", cell_metres=cell
    )
    frame = in_period(placed.filter(pl.col("local_authority_code") == area_of(user))).drop_nulls(
        "point_e"
    )
    expected = Counter(
        (int(e // cell * cell), int(n // cell * cell))
        for e, n in zip(frame["point_e"], frame["point_n"], strict=True)
    )
    actual = {
        (int(r["easting"] - cell / 2), int(r["northing"] - cell / 2)): r["crimes"]
        for r in got.to_dicts()
    }
    assert actual == dict(expected)
    assert all(
        r["cell_id"] == f"E{int(r['easting'] - cell / 2)}N{int(r['northing'] - cell / 2)}"
        for r in got.to_dicts()
    )


@analysts
def test_hotspot_map_points(runner: TemplateRunner, placed: pl.DataFrame, user: Principal) -> None:
    got = run(
        runner, user, "hotspot-map-points", start_month="2025-11", end_month="2026-10", top=15
    )
    frame = in_period(placed.filter(pl.col("local_authority_code") == area_of(user))).drop_nulls(
        "map_point_id"
    )
    counts = Counter(frame["map_point_id"].to_list())
    assert got["crimes"].to_list() == sorted(counts.values(), reverse=True)[: got.height]
    for row in got.to_dicts():
        assert row["crimes"] == counts[row["map_point_id"]]
        assert row["map_point_name"].startswith("On or near ")


@analysts
def test_repeat_locations(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(
        runner, user, "repeat-locations", start_month="2025-11", end_month="2026-10", min_crimes=3
    )
    frame = in_period(crimes(raw, area_of(user)))
    counts = Counter(frame["location_id"].to_list())
    expected = {loc: n for loc, n in counts.items() if n >= 3}
    assert dict(zip(got["location_id"], got["crimes"], strict=True)) == expected
    places = raw.frame("SELECT location_id, location_type, address FROM location")
    kind = dict(zip(places["location_id"], places["location_type"], strict=True))
    exact = dict(zip(places["location_id"], places["address"], strict=True))
    for row in got.to_dicts():
        categories = sorted(
            set(frame.filter(pl.col("location_id") == row["location_id"])["police_uk_category"])
        )
        assert row["categories"] == ", ".join(categories)
        if kind[row["location_id"]] == "dwelling":  # never the exact dwelling
            assert row["address"] != exact[row["location_id"]]


# --- people: pseudonyms, hidden victims ---------------------------------------------------------


def victim_links(raw: Raw, area: str) -> pl.DataFrame:
    """Victim links the default policy lets analysts see (no sensitive or domestic-abuse
    victims), with the raw person id."""
    return raw.frame(
        "SELECT cp.person_id, c.crime_id, c.recorded_at, c.police_uk_category FROM crime_person cp"
        " JOIN crime c USING (crime_id) WHERE cp.role = 'victim' AND c.local_authority_code = $a"
        f" AND {SENSITIVE_FREE}",
        a=area,
    )


@analysts
def test_repeat_victims_through_pseudonyms(
    runner: TemplateRunner, raw: Raw, user: Principal, pseudonym_key: bytes
) -> None:
    got = run(
        runner, user, "repeat-victims", start_month="2025-11", end_month="2026-10", min_crimes=2
    )
    links = in_period(victim_links(raw, area_of(user)))
    per_person = links.group_by("person_id").agg(pl.col("crime_id").n_unique().alias("n"))
    expected = {
        pseudonym_python(pseudonym_key, "person", pid, "P"): n
        for pid, n in zip(per_person["person_id"], per_person["n"], strict=True)
        if n >= 2
    }
    assert dict(zip(got["victim"], got["crimes"], strict=True)) == expected
    assert got.height > 0


@analysts
def test_repeat_victimisation_summary(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "repeat-victimisation", start_month="2025-11", end_month="2026-10")
    links = in_period(victim_links(raw, area_of(user)))
    per_person = links.group_by("person_id").agg(pl.col("crime_id").n_unique().alias("n"))
    band = Counter("6 or more" if n >= 6 else "4-5" if n >= 4 else str(n) for n in per_person["n"])
    assert dict(zip(got["times_victimised"], got["victims"], strict=True)) == dict(band)


def offender_links(raw: Raw, area: str) -> pl.DataFrame:
    return raw.frame(
        "SELECT cp.person_id, c.crime_id, c.recorded_at FROM crime_person cp JOIN crime c USING (crime_id)"
        " WHERE cp.role IN ('offender', 'suspect') AND c.local_authority_code = $a",
        a=area,
    )


@analysts
def test_repeat_offenders_through_pseudonyms(
    runner: TemplateRunner, raw: Raw, user: Principal, pseudonym_key: bytes
) -> None:
    area = area_of(user)
    got = run(
        runner, user, "repeat-offenders", start_month="2025-11", end_month="2026-10", min_crimes=3
    )
    links = in_period(offender_links(raw, area))
    per_person = links.group_by("person_id").agg(pl.col("crime_id").n_unique().alias("n"))
    arrests = Counter(
        in_period(
            raw.frame(
                "SELECT person_id, arrived_at FROM custody WHERE local_authority_code = $a", a=area
            ),
            "arrived_at",
        )["person_id"].to_list()
    )
    expected = {
        pseudonym_python(pseudonym_key, "person", pid, "P"): (n, arrests[pid])
        for pid, n in zip(per_person["person_id"], per_person["n"], strict=True)
        if n >= 3
    }
    actual = {r["offender"]: (r["crimes"], r["arrests"]) for r in got.to_dicts()}
    assert actual == expected


@analysts
def test_repeat_offending_summary(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "repeat-offending", start_month="2025-11", end_month="2026-10")
    links = in_period(offender_links(raw, area_of(user)))
    per_person = links.group_by("person_id").agg(pl.col("crime_id").n_unique().alias("n"))
    band = Counter(
        "10 or more" if n >= 10 else "5-9" if n >= 5 else str(n) for n in per_person["n"]
    )
    assert dict(zip(got["crimes_linked"], got["offenders"], strict=True)) == dict(band)


# --- ASB, outcomes, flags, night-time economy -------------------------------------------------


@analysts
def test_asb_by_type(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "asb-by-type", start_month="2025-11", end_month="2026-10")
    frame = in_period(
        raw.frame(
            "SELECT asb_type, reported_at FROM incident WHERE local_authority_code = $a AND asb_type IS NOT NULL",
            a=area_of(user),
        ),
        "reported_at",
    ).with_columns(month=pl.col("reported_at").dt.strftime("%Y-%m"))
    expected = Counter(zip(frame["asb_type"], frame["month"], strict=True))
    expected.update(Counter(("all", m) for m in frame["month"]))
    actual = {(r["asb_type"], r["month"]): r["incidents"] for r in got.to_dicts()}
    assert actual == dict(expected)
    assert set(got["asb_type"]) <= {"personal", "nuisance", "environmental", "all"}


CHARGED = {"charged", "awaiting-court-result", "sent-to-crown-court", "imprisoned", "community-penalty",
           "fined", "conditional-discharge", "suspended-sentence", "not-guilty"}  # fmt: skip
POSITIVE = CHARGED | {
    "cautioned",
    "penalty-notice-issued",
    "drugs-possession-warning",
    "local-resolution",
}


@analysts
def test_outcome_rates(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "outcome-rates", start_month="2025-11", end_month="2026-10")
    frame = in_period(crimes(raw, area_of(user)))
    groups: dict[str, list[str]] = defaultdict(list)
    for category, outcome in zip(frame["police_uk_category"], frame["outcome"], strict=True):
        groups[category].append(outcome)
        groups["all"].append(outcome)
    rows = {r["police_uk_category"]: r for r in got.to_dicts()}
    assert set(rows) == set(groups)
    for category, outcomes in groups.items():
        row = rows[category]
        charged = sum(o in CHARGED for o in outcomes)
        positive = sum(o in POSITIVE for o in outcomes)
        assert row["crimes"] == len(outcomes)
        assert row["charged"] == charged
        assert row["positive_outcomes"] == positive
        assert row["no_suspect"] == outcomes.count("no-further-action")
        assert row["under_investigation"] == outcomes.count("under-investigation")
        assert row["charge_rate_pct"] == pytest.approx(charged * 100 / len(outcomes), abs=0.051)
        assert row["positive_rate_pct"] == pytest.approx(positive * 100 / len(outcomes), abs=0.051)


@analysts
def test_flagged_crime_trends(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "flagged-crime-trends", end_month="2026-10")
    frame = crimes(raw, area_of(user))
    first_month = frame["month"].min()
    for flag, column in (("domestic abuse", "domestic_abuse"), ("hate crime", "hate_crime")):
        counts = Counter(frame.filter(pl.col(column))["month"].to_list())
        rows = got.filter(pl.col("flag") == flag).to_dicts()
        assert [r["month"] for r in rows] == months(START, 12)
        for row in rows:
            year, month = (int(p) for p in row["month"].split("-"))
            previous = f"{year - 1}-{month:02d}"
            assert row["crimes"] == counts[row["month"]]
            assert row["crimes_last_year"] == (
                counts[previous] if previous >= first_month else None
            )


def is_nte(weekday: int, hour: int) -> bool:
    """Friday and Saturday nights, 20:00 to 05:59 (Monday = 1)."""
    return (
        (weekday == 5 and hour >= 20)
        or (weekday == 6 and (hour < 6 or hour >= 20))
        or (weekday == 7 and hour < 6)
    )


@analysts
def test_nte_violence(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "nte-violence", start_month="2025-11", end_month="2026-10")
    frame = in_period(
        raw.frame(
            "SELECT c.recorded_at, c.committed_from, c.domestic_abuse, l.location_type FROM crime c"
            " LEFT JOIN location l USING (location_id)"
            " WHERE c.local_authority_code = $a AND c.police_uk_category = 'violent-crime'",
            a=area_of(user),
        )
    ).with_columns(month=pl.col("recorded_at").dt.strftime("%Y-%m"))
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in frame.to_dicts():
        counts = expected[row["month"]]
        counts[2] += 1
        when = row["committed_from"]
        place = row["location_type"]
        if (
            not row["domestic_abuse"]
            and place is not None
            and place != "dwelling"
            and is_nte(when.isoweekday(), when.hour)
        ):
            counts[0] += 1
            counts[1] += place == "licensed_premises"
    actual = {
        r["month"]: [r["nte_violence"], r["at_licensed_premises"], r["violence"]]
        for r in got.to_dicts()
    }
    assert actual == dict(expected)


# --- custody and incidents -------------------------------------------------------------------


@analysts
def test_custody_throughput(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "custody-throughput", start_month="2025-11", end_month="2026-10")
    frame = in_period(
        raw.frame(
            "SELECT person_id, arrived_at, released_at, disposal FROM custody WHERE local_authority_code = $a",
            a=area_of(user),
        ),
        "arrived_at",
    ).with_columns(
        month=pl.col("arrived_at").dt.strftime("%Y-%m"),
        hours=(pl.col("released_at") - pl.col("arrived_at")).dt.total_minutes() / 60.0,
    )
    expected = (
        frame.group_by("month")
        .agg(
            detentions=pl.len(),
            people=pl.col("person_id").n_unique(),
            charged=(pl.col("disposal") == "charged").sum(),
            median_hours=pl.col("hours").median(),
            p90_hours=pl.col("hours").quantile(0.9, interpolation="linear"),
            over_24_hours=(pl.col("hours") > 24).sum(),
        )
        .sort("month")
    )
    assert got["month"].to_list() == expected["month"].to_list()
    for mine, theirs in zip(got.to_dicts(), expected.to_dicts(), strict=True):
        for key in ("detentions", "people", "charged", "over_24_hours"):
            assert mine[key] == theirs[key], key
        assert mine["median_hours"] == pytest.approx(theirs["median_hours"], abs=0.051)
        assert mine["p90_hours"] == pytest.approx(theirs["p90_hours"], abs=0.051)


TARGETS = {1: 15, 2: 60, 3: 48 * 60}


@analysts
def test_incident_response(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    got = run(runner, user, "incident-response", start_month="2025-11", end_month="2026-10")
    frame = in_period(
        raw.frame(
            "SELECT grade, reported_at, arrived_at FROM incident WHERE local_authority_code = $a",
            a=area_of(user),
        ),
        "reported_at",
    )
    cells: dict[tuple[int, str], list[float | None]] = defaultdict(list)
    for row in frame.to_dicts():
        minutes = (
            None
            if row["arrived_at"] is None
            else (row["arrived_at"] - row["reported_at"]).total_seconds() / 60
        )
        cells[(row["grade"], row["reported_at"].strftime("%Y-%m"))].append(minutes)
    rows = {(r["grade"], r["month"]): r for r in got.to_dicts()}
    assert set(rows) == set(cells)
    for (grade, month), minutes in cells.items():
        row = rows[(grade, month)]
        attended = [m for m in minutes if m is not None]
        assert row["incidents"] == len(minutes)
        assert row["attended"] == len(attended)
        target = TARGETS.get(grade)
        if target is None:
            assert row["within_target"] is None
            assert row["compliance_pct"] is None
        else:
            within = sum(m <= target for m in attended)
            assert row["within_target"] == within
            assert row["compliance_pct"] == pytest.approx(within * 100 / len(minutes), abs=0.051)
        assert row["within_rural_target"] == (
            sum(m <= 20 for m in attended) if grade == 1 else None
        )


# --- before/after and the enhanced-only template -----------------------------------------------


@analysts
def test_before_after(runner: TemplateRunner, raw: Raw, user: Principal) -> None:
    area = area_of(user)
    wards = raw.frame(
        "SELECT ward_code FROM ward WHERE local_authority_code = $a ORDER BY ward_code", a=area
    )["ward_code"].to_list()
    intervention, comparison = wards[0], wards[1]
    got = run(
        runner,
        user,
        "before-after",
        intervention=intervention,
        comparison=comparison,
        start="2026-04-01",
        months=6,
    )
    frame = crimes(raw, area)
    for role, code in (("intervention", intervention), ("comparison", comparison)):
        mine = frame.filter(pl.col("ward_code") == code)
        before = mine.filter(
            pl.col("recorded_at").is_between(
                pl.datetime(2025, 10, 1), pl.datetime(2026, 4, 1), closed="left"
            )
        ).height
        after = mine.filter(
            pl.col("recorded_at").is_between(
                pl.datetime(2026, 4, 1), pl.datetime(2026, 10, 1), closed="left"
            )
        ).height
        row = got.filter(pl.col("role") == role).to_dicts()[0]
        assert (row["area_code"], row["crimes_before"], row["crimes_after"]) == (
            code,
            before,
            after,
        )
        assert row["change_pct"] == change(after, before)


def test_intelligence_by_month_for_the_enhanced_analyst_with_a_grant(
    runner: TemplateRunner, raw: Raw
) -> None:
    from tests.templates.fixtures import USERS

    user = USERS["e.okafor"]
    run_ = runner.run(user, "intelligence-by-month", {"start_month": "2025-11", "end_month": "2026-10"},
                      purpose="JAG-2026-07", disclosure="none")  # fmt: skip
    frame = in_period(
        raw.frame(
            "SELECT grading, submitted_at FROM intelligence_report WHERE local_authority_code = $a",
            a=user.areas[0],
        ),
        "submitted_at",
    )
    expected = Counter(
        zip(frame["grading"], frame["submitted_at"].dt.strftime("%Y-%m"), strict=True)
    )
    table = run_.table.to_pylist()
    assert {(r["grading"], r["month"]): r["reports"] for r in table} == dict(expected)
