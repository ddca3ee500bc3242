"""The small warehouse behaves like a force's data: mix, timing, repeats, flags, outcomes, demand."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import pytest

from tests.generate.conftest import scalar

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
POLICE_UK = {
    "anti-social-behaviour", "bicycle-theft", "burglary", "criminal-damage-arson", "drugs",
    "other-theft", "possession-of-weapons", "public-order", "robbery", "shoplifting",
    "theft-from-the-person", "vehicle-crime", "violent-crime", "other-crime",
}  # fmt: skip


def share(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    return float(scalar(con, sql))


def test_offence_codes_are_valid_and_mapped(warehouse: duckdb.DuckDBPyConnection) -> None:
    shipped = {
        r["ho_offence_code"]: r for r in csv.DictReader((DATASETS / "offence_codes.csv").open())
    }
    types = warehouse.execute(
        "SELECT ho_offence_code, police_uk_category, sensitive FROM offence_type"
    ).fetchall()
    assert {code for code, _, _ in types} == set(shipped)
    assert {category for _, category, _ in types} <= POLICE_UK
    assert {code for code, _, sensitive in types if sensitive} >= {"19C", "20A", "88E"}
    mismatched = scalar(
        warehouse,
        """SELECT count(*) FROM crime c JOIN offence_type o USING (ho_offence_code)
           WHERE c.police_uk_category <> o.police_uk_category OR c.offence_description <> o.description""",
    )
    assert mismatched == 0


def test_category_mix_is_plausible(warehouse: duckdb.DuckDBPyConnection) -> None:
    mix = dict(
        warehouse.execute(
            "SELECT police_uk_category, count(*) / sum(count(*)) OVER () FROM crime GROUP BY 1"
        ).fetchall()
    )
    assert set(mix) == POLICE_UK - {"anti-social-behaviour"}  # ASB is an incident, not a crime
    assert 0.30 <= mix["violent-crime"] <= 0.45
    assert 0.06 <= mix["shoplifting"] <= 0.16
    assert 0.06 <= mix["criminal-damage-arson"] <= 0.15
    assert 0.03 <= mix["burglary"] <= 0.09
    assert 0.03 <= mix["vehicle-crime"] <= 0.09
    assert mix["violent-crime"] == max(mix.values())
    assert mix["theft-from-the-person"] < 0.02


def test_violence_peaks_in_summer(warehouse: duckdb.DuckDBPyConnection) -> None:
    by_month = dict(
        warehouse.execute(
            """SELECT month(recorded_at), count(*) / count(DISTINCT year(recorded_at))
               FROM crime WHERE police_uk_category = 'violent-crime' GROUP BY 1"""
        ).fetchall()
    )
    summer = sum(by_month[m] for m in (6, 7, 8)) / 3
    winter = sum(by_month[m] for m in (12, 1, 2)) / 3
    assert summer > 1.1 * winter


def test_night_time_economy_violence_is_friday_and_saturday_nights(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    weekend_nights = share(
        warehouse,
        """SELECT avg(CASE WHEN (isodow(committed_from) = 5 AND hour(committed_from) >= 20)
                             OR (isodow(committed_from) = 6)
                             OR (isodow(committed_from) = 7 AND hour(committed_from) < 5)
                           THEN 1 ELSE 0 END)
           FROM crime c JOIN location l USING (location_id)
           WHERE c.police_uk_category = 'violent-crime' AND l.location_type = 'licensed_premises'""",
    )
    assert weekend_nights > 0.45  # 2 of 7 days hold well over 2/7 of it
    late = share(
        warehouse,
        """SELECT avg(CASE WHEN hour(committed_from) >= 20 OR hour(committed_from) < 4 THEN 1 ELSE 0 END)
           FROM crime c JOIN location l USING (location_id)
           WHERE c.police_uk_category = 'violent-crime' AND l.location_type = 'licensed_premises'""",
    )
    assert late > 0.5


def test_shoplifting_happens_in_shop_hours_at_shops(warehouse: duckdb.DuckDBPyConnection) -> None:
    open_hours = share(
        warehouse,
        "SELECT avg(CASE WHEN hour(committed_from) BETWEEN 8 AND 20 THEN 1 ELSE 0 END) FROM crime "
        "WHERE ho_offence_code = '46'",
    )
    assert open_hours > 0.85
    at_shops = share(
        warehouse,
        """SELECT avg(CASE WHEN l.location_type = 'commercial' THEN 1 ELSE 0 END)
           FROM crime c JOIN location l USING (location_id) WHERE c.ho_offence_code = '46'""",
    )
    assert at_shops == 1.0


def test_repeat_victims_take_a_large_share(warehouse: duckdb.DuckDBPyConnection) -> None:
    top_decile = share(
        warehouse,
        """WITH v AS (SELECT person_id, count(*) AS n FROM crime_person WHERE role = 'victim' GROUP BY 1),
                r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rank, count(*) OVER () AS total FROM v)
           SELECT sum(n) FILTER (WHERE rank <= total * 0.1) / sum(n) FROM r""",
    )
    assert top_decile >= 0.30
    assert scalar(warehouse, "SELECT count(*) FROM crime_person WHERE role = 'victim'") > scalar(
        warehouse, "SELECT count(DISTINCT person_id) FROM crime_person WHERE role = 'victim'"
    )


def test_prolific_offenders(warehouse: duckdb.DuckDBPyConnection) -> None:
    counts = [
        n
        for (n,) in warehouse.execute(
            """SELECT count(*) FROM crime_person WHERE role IN ('suspect', 'offender')
               GROUP BY person_id ORDER BY 1 DESC"""
        ).fetchall()
    ]
    top = counts[: max(1, len(counts) // 20)]
    assert sum(top) / sum(counts) >= 0.25
    assert counts[0] >= 20
    assert (
        scalar(warehouse, "SELECT count(*) FROM custody GROUP BY person_id ORDER BY 1 DESC LIMIT 1")
        >= 5
    )


def test_repeat_locations_and_hotspots(warehouse: duckdb.DuckDBPyConnection) -> None:
    top_places = share(
        warehouse,
        """WITH v AS (SELECT location_id, count(*) AS n FROM crime GROUP BY 1),
                r AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rank, count(*) OVER () AS total FROM v)
           SELECT sum(n) FILTER (WHERE rank <= total * 0.05) / sum(n) FROM r""",
    )
    assert top_places >= 0.2
    # Hotspots: crime per resident varies widely between LSOAs (town centres, deprivation).
    rates = [
        r
        for (r,) in warehouse.execute(
            """SELECT count(c.crime_id) / any_value(l.population) FROM lsoa l
               LEFT JOIN crime c USING (lsoa_code) GROUP BY l.lsoa_code ORDER BY 1"""
        ).fetchall()
    ]
    assert rates[int(len(rates) * 0.9)] > 3 * rates[int(len(rates) * 0.1)]


def test_domestic_abuse_and_hate_flags(warehouse: duckdb.DuckDBPyConnection) -> None:
    domestic, hate = warehouse.execute(
        "SELECT avg(domestic_abuse::INT), avg(hate_crime::INT) FROM crime"
    ).fetchone() or (0, 0)
    assert 0.10 <= domestic <= 0.25
    assert 0.01 <= hate <= 0.08
    aggravated = share(
        warehouse,
        "SELECT avg(hate_crime::INT) FROM crime WHERE ho_offence_code IN ('8P', '105B', '9B', '58J')",
    )
    assert aggravated == 1.0
    at_home = share(
        warehouse,
        """SELECT avg(CASE WHEN l.location_type = 'dwelling' THEN 1 ELSE 0 END)
           FROM crime c JOIN location l USING (location_id) WHERE c.domestic_abuse""",
    )
    assert at_home > 0.5


def test_sensitive_offences_have_linked_victims(warehouse: duckdb.DuckDBPyConnection) -> None:
    sensitive = scalar(
        warehouse,
        "SELECT count(*) FROM crime JOIN offence_type USING (ho_offence_code) WHERE sensitive",
    )
    assert sensitive >= 20
    without_victim = scalar(
        warehouse,
        """SELECT count(*) FROM crime c JOIN offence_type o USING (ho_offence_code)
           WHERE o.sensitive AND NOT EXISTS
             (SELECT 1 FROM crime_person p WHERE p.crime_id = c.crime_id AND p.role = 'victim')""",
    )
    assert without_victim == 0


def test_outcomes_and_their_dates(warehouse: duckdb.DuckDBPyConnection) -> None:
    shipped = {r["outcome"] for r in csv.DictReader((DATASETS / "outcomes.csv").open())}
    outcomes = {o for (o,) in warehouse.execute("SELECT DISTINCT outcome FROM crime").fetchall()}
    assert outcomes <= shipped
    assert {"charged", "under-investigation", "no-further-action"} <= outcomes
    bad = scalar(
        warehouse,
        """SELECT count(*) FROM crime WHERE (outcome = 'under-investigation') <> (outcome_at IS NULL)
           OR outcome_at < recorded_at OR outcome_at >= TIMESTAMP '2026-11-01'""",
    )
    assert bad == 0
    recent_open = share(
        warehouse,
        "SELECT avg((outcome = 'under-investigation')::INT) FROM crime WHERE recorded_at >= '2026-10-01'",
    )
    old_open = share(
        warehouse,
        "SELECT avg((outcome = 'under-investigation')::INT) FROM crime WHERE recorded_at < '2025-06-01'",
    )
    assert recent_open > 0.3 > old_open
    charged_without_offender = scalar(
        warehouse,
        """SELECT count(*) FROM crime c WHERE outcome = 'charged' AND NOT EXISTS
             (SELECT 1 FROM crime_person p WHERE p.crime_id = c.crime_id AND p.role = 'offender')""",
    )
    assert charged_without_offender == 0


def test_committed_and_recorded_times_are_consistent(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            warehouse,
            "SELECT count(*) FROM crime WHERE NOT (committed_from <= committed_to AND committed_to <= recorded_at)",
        )
        == 0
    )


def test_response_times_honour_the_grades(warehouse: duckdb.DuckDBPyConnection) -> None:
    # Grade 1: within 15 minutes (urban) or 20 minutes (rural), most of the time.
    grade1 = share(
        warehouse,
        """SELECT avg(CASE WHEN arrived_at <= reported_at + INTERVAL 20 MINUTE THEN 1 ELSE 0 END)
           FROM incident WHERE grade = 1 AND arrived_at IS NOT NULL""",
    )
    assert 0.75 <= grade1 < 1.0
    grade2 = share(
        warehouse,
        """SELECT avg(CASE WHEN arrived_at <= reported_at + INTERVAL 60 MINUTE THEN 1 ELSE 0 END)
           FROM incident WHERE grade = 2 AND arrived_at IS NOT NULL""",
    )
    assert 0.7 <= grade2 < 1.0
    grade3 = share(
        warehouse,
        """SELECT avg(CASE WHEN arrived_at <= reported_at + INTERVAL 48 HOUR THEN 1 ELSE 0 END)
           FROM incident WHERE grade = 3 AND arrived_at IS NOT NULL""",
    )
    assert grade3 > 0.95
    assert (
        scalar(
            warehouse, "SELECT count(*) FROM incident WHERE grade = 5 AND arrived_at IS NOT NULL"
        )
        == 0
    )
    assert (
        scalar(
            warehouse,
            "SELECT count(*) FROM incident WHERE arrived_at < reported_at OR closed_at < coalesce(arrived_at, reported_at)",
        )
        == 0
    )
    medians = dict(
        warehouse.execute(
            "SELECT grade, median(epoch(arrived_at - reported_at)) FROM incident GROUP BY 1"
        ).fetchall()
    )
    assert medians[1] < medians[2] < medians[3] < medians[4]


def test_asb_split_and_crime_links(warehouse: duckdb.DuckDBPyConnection) -> None:
    split = dict(
        warehouse.execute(
            "SELECT asb_type, count(*) FROM incident WHERE asb_type IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    assert set(split) == {"personal", "nuisance", "environmental"}
    assert split["nuisance"] > split["personal"] > split["environmental"]
    assert (
        scalar(
            warehouse,
            "SELECT count(*) FROM incident WHERE (asb_type IS NULL) = opening_code LIKE 'ASB%'",
        )
        == 0
    )
    linked = share(warehouse, "SELECT avg((crime_id IS NOT NULL)::INT) FROM incident")
    assert 0.1 < linked < 0.4
    assert (
        scalar(
            warehouse,
            "SELECT count(*) FROM incident i JOIN crime c USING (crime_id) WHERE i.reported_at > c.recorded_at "
            "OR i.closing_code <> 'CRIME_RECORDED'",
        )
        == 0
    )


def test_volumes_follow_the_scale(warehouse: duckdb.DuckDBPyConnection) -> None:
    years, scale = 2, 0.05
    for table, per_year in (("crime", 70_000), ("incident", 200_000), ("custody", 25_000)):
        count = scalar(warehouse, f"SELECT count(*) FROM {table}")
        assert 0.85 * per_year * years * scale < count < 1.15 * per_year * years * scale, table


def test_custody_timings_follow_pace(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            warehouse,
            """SELECT count(*) FROM custody WHERE NOT (
             arrested_at < arrived_at AND arrived_at <= arrested_at + INTERVAL 4 HOUR
             AND (detention_authorised_at IS NULL OR detention_authorised_at BETWEEN arrived_at AND arrived_at + INTERVAL 4 HOUR)
             AND released_at > arrived_at AND released_at <= arrived_at + INTERVAL 96 HOUR)""",
        )
        == 0
    )
    within_24h = share(
        warehouse, "SELECT avg((released_at <= arrived_at + INTERVAL 24 HOUR)::INT) FROM custody"
    )
    assert 0.85 < within_24h < 0.995
    assert scalar(
        warehouse, "SELECT count(*) FROM custody WHERE released_at > arrived_at + INTERVAL 36 HOUR"
    ) <= scalar(
        warehouse, "SELECT count(*) FROM custody WHERE released_at > arrived_at + INTERVAL 24 HOUR"
    )
    disposals = {
        d for (d,) in warehouse.execute("SELECT DISTINCT disposal FROM custody").fetchall()
    }
    assert {"charged", "released_under_investigation", "no_further_action", "bailed"} <= disposals
    linked = share(warehouse, "SELECT avg((crime_id IS NOT NULL)::INT) FROM custody")
    assert 0.3 < linked < 0.9
    assert (
        scalar(
            warehouse,
            """SELECT count(*) FROM custody k JOIN crime c USING (crime_id)
           WHERE k.arrested_at < c.committed_to OR k.arrest_offence_code <> c.ho_offence_code
              OR NOT EXISTS (SELECT 1 FROM crime_person p WHERE p.crime_id = k.crime_id
                             AND p.person_id = k.person_id AND p.role IN ('suspect', 'offender'))""",
        )
        == 0
    )


def test_people_look_real_and_arrested_people_have_pnc_ids(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    forenames = {r["forename"] for r in csv.DictReader((DATASETS / "forenames.csv").open())}
    surnames = {r["surname"] for r in csv.DictReader((DATASETS / "surnames.csv").open())}
    rows = warehouse.execute(
        "SELECT forename, surname, gender, ethnicity, pnc_id FROM person"
    ).fetchall()
    assert {f for f, *_ in rows} <= forenames
    assert {s for _, s, *_ in rows} <= surnames
    assert {g for _, _, g, *_ in rows} <= {"male", "female", "unknown"}
    assert {e for *_, e, _ in rows} <= {"IC1", "IC2", "IC3", "IC4", "IC5", "IC6", "IC9"}
    pnc = re.compile(r"^\d{2}/\d{6}[A-Z]$")
    assert all(pnc.match(p) for *_, p in rows if p is not None)
    assert (
        scalar(
            warehouse,
            "SELECT count(*) FROM custody JOIN person USING (person_id) WHERE pnc_id IS NULL",
        )
        == 0
    )
    ages = warehouse.execute(
        "SELECT min(date_diff('year', date_of_birth, DATE '2026-10-31')), max(date_diff('year', date_of_birth, DATE '2026-10-31')) FROM person"
    ).fetchone()
    assert ages is not None
    assert ages[0] >= 3
    assert ages[1] <= 100


def test_registrations_and_postcodes_have_uk_formats(warehouse: duckdb.DuckDBPyConnection) -> None:
    vrm = re.compile(r"^[A-Z]{2}\d{2} [A-HJ-PR-Z]{3}$")
    marks = [v for (v,) in warehouse.execute("SELECT vrm FROM vehicle").fetchall()]
    assert marks
    assert all(vrm.match(v) for v in marks)
    assert len(set(marks)) == len(marks)
    postcode = re.compile(r"^TS\d{1,2} \d[ABD-HJLNP-UW-Z]{2}$")
    codes = [p for (p,) in warehouse.execute("SELECT DISTINCT postcode FROM location").fetchall()]
    assert all(postcode.match(p) for p in codes)


def test_property_values_and_recovery(warehouse: duckdb.DuckDBPyConnection) -> None:
    low, high, recovered = warehouse.execute(
        "SELECT min(value_gbp), max(value_gbp), avg(recovered::INT) FROM property"
    ).fetchone() or (0, 0, 0)
    assert 0 < low < 50 < 1000 < high
    assert 0.02 < recovered < 0.5
    vehicles_recovered = share(
        warehouse, "SELECT avg(recovered::INT) FROM property WHERE property_type = 'Vehicle'"
    )
    cash_recovered = share(
        warehouse, "SELECT avg(recovered::INT) FROM property WHERE property_type = 'Cash'"
    )
    assert vehicles_recovered > cash_recovered


@pytest.mark.parametrize(
    ("table", "column", "link"),
    [
        ("crime", "modus_operandi", "SELECT crime_id AS id, person_id FROM crime_person"),
        ("incident", "narrative", "SELECT incident_id AS id, person_id FROM incident_person"),
    ],
)
def test_free_text_sometimes_names_a_linked_person_or_the_address(
    warehouse: duckdb.DuckDBPyConnection, table: str, column: str, link: str
) -> None:
    key = f"{table}_id"
    named = scalar(
        warehouse,
        f"""SELECT count(DISTINCT t.{key}) FROM {table} t JOIN ({link}) x ON x.id = t.{key}
            JOIN person p USING (person_id)
            WHERE contains(t.{column}, p.forename || ' ' || p.surname)""",
    )
    addressed = scalar(
        warehouse,
        f"""SELECT count(*) FROM {table} t JOIN location l USING (location_id)
            WHERE l.location_type = 'dwelling' AND contains(t.{column}, l.address)""",
    )
    total = scalar(warehouse, f"SELECT count(*) FROM {table}")
    assert 0.02 * total < named < 0.6 * total
    assert 0.02 * total < addressed < 0.6 * total


def test_intelligence_reports_are_graded_and_name_subjects(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    gradings = {
        g
        for (g,) in warehouse.execute("SELECT DISTINCT grading FROM intelligence_report").fetchall()
    }
    assert gradings <= {f"{s}{a}" for s in "123" for a in "ABCDE"}
    assert len(gradings) >= 10
    naming = share(
        warehouse,
        """SELECT avg(contains(r.report_text, p.forename || ' ' || p.surname)::INT)
           FROM intelligence_report r JOIN person p ON p.person_id = r.subject_person_id""",
    )
    assert naming > 0.75  # one template in eight is about a vehicle, not a person


# Home Office "Crime outcomes in England and Wales" (years ending March 2023 and 2024):
# charged/summonsed share of recorded crimes, by offence group, with bands wide enough for a
# small synthetic sample. England and Wales overall: about 6–7 %.
CHARGE_SUMMONS_BANDS = {
    "violent-crime": (0.03, 0.09),
    "shoplifting": (0.10, 0.22),
    "criminal-damage-arson": (0.02, 0.08),
    "public-order": (0.03, 0.10),
    "other-theft": (0.01, 0.06),
    "vehicle-crime": (0.0, 0.05),
    "burglary": (0.015, 0.08),
    "drugs": (0.12, 0.40),
    "other-crime": (0.03, 0.25),
}
COURT_OUTCOMES = (
    "charged", "awaiting-court-result", "sent-to-crown-court", "imprisoned", "community-penalty",
    "fined", "conditional-discharge", "suspended-sentence", "not-guilty",
)  # fmt: skip


def test_charge_rates_match_home_office_outcome_statistics(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    court = ", ".join(f"'{o}'" for o in COURT_OUTCOMES)
    settled = "recorded_at < TIMESTAMP '2026-01-01'"  # outcomes mostly final by the data's end
    overall = share(
        warehouse, f"SELECT avg((outcome IN ({court}))::INT) FROM crime WHERE {settled}"
    )
    assert 0.05 <= overall <= 0.085
    by_group = {
        category: (n, rate)
        for category, n, rate in warehouse.execute(
            f"""SELECT police_uk_category, count(*), avg((outcome IN ({court}))::INT)
                FROM crime WHERE {settled} GROUP BY 1"""
        ).fetchall()
    }
    for category, (low, high) in CHARGE_SUMMONS_BANDS.items():
        n, rate = by_group[category]
        assert n >= 100, category
        assert low <= rate <= high, (category, rate)
    # Offences found by the police (drugs, weapons) are charged far more often than volume crime.
    assert by_group["drugs"][1] > 3 * by_group["violent-crime"][1]
    assert by_group["possession-of-weapons"][1] > 3 * by_group["vehicle-crime"][1]
