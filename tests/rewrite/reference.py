"""An independent, hand-written materialisation of the default policy's general view.

The gateway builds policy views from policy.toml through the rewriter. This module writes the
same view by hand — plain SQL over the raw warehouse plus Python functions for the masks — so
the attack suite can compare "what the gateway returned" with "what this analyst is allowed to
see" without trusting the code under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import duckdb

from gateway.policy.masks import pseudonym_python

_POSTCODE = re.compile(r"^\s*([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)\s*([0-9])[A-Za-z]{2}\s*$")
_BANDS = [0, 10, 18, 25, 35, 45, 55, 65]


def _age_band(dob: dt.date | None) -> str | None:
    if dob is None:
        return None
    today = dt.date.today()
    age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    if age < 0:
        return None
    for low, high in itertools.pairwise(_BANDS):
        if age < high:
            return f"{low}-{high - 1}"
    return f"{_BANDS[-1]}+"


def _last4(text: str | None) -> str | None:
    if text is None:
        return None
    return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]


def _sector(postcode: str | None) -> str | None:
    if postcode is None:
        return None
    match = _POSTCODE.match(postcode)
    return f"{match.group(1)} {match.group(2)}".upper() if match else None


def reference_connection(
    warehouse: Path, key: bytes, areas: tuple[str, ...]
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose tables are the general view of ``areas`` (default policy)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS src (READ_ONLY)")
    con.create_function(
        "pseudo",
        lambda domain, value, prefix: (
            None if value is None else pseudonym_python(key, domain, value, prefix)
        ),
        ["VARCHAR", "VARCHAR", "VARCHAR"],
        "VARCHAR",
    )
    con.create_function("age_band", _age_band, ["DATE"], "VARCHAR")
    con.create_function("last4", _last4, ["VARCHAR"], "VARCHAR")
    con.create_function("sector", _sector, ["VARCHAR"], "VARCHAR")
    area_list = ", ".join(f"'{a}'" for a in areas)
    statements = f"""
    CREATE TABLE local_authority AS SELECT * FROM src.local_authority;
    CREATE TABLE neighbourhood AS SELECT * FROM src.neighbourhood;
    CREATE TABLE ward AS SELECT * FROM src.ward;
    CREATE TABLE lsoa AS SELECT * FROM src.lsoa;
    CREATE TABLE offence_type AS SELECT * FROM src.offence_type;
    CREATE TABLE map_point AS SELECT * FROM src.map_point;
    CREATE TABLE crime AS
      SELECT crime_id, last4(crime_ref) AS crime_ref, recorded_at, committed_from, committed_to,
             ho_offence_code, offence_description, police_uk_category, location_id,
             local_authority_code, lsoa_code, ward_code, neighbourhood_code, domestic_abuse,
             hate_crime, NULL::VARCHAR AS modus_operandi, outcome, outcome_at
      FROM src.crime WHERE local_authority_code IN ({area_list});
    CREATE TABLE incident AS
      SELECT incident_id, last4(incident_ref) AS incident_ref, reported_at, opening_code, closing_code,
             grade, arrived_at, closed_at, asb_type, location_id, local_authority_code, lsoa_code,
             crime_id, NULL::VARCHAR AS narrative
      FROM src.incident WHERE local_authority_code IN ({area_list});
    -- crimes in the areas that are not sensitive (unknown counts as sensitive), and the people
    -- they record in a role that stays linkable on a sensitive crime
    CREATE TABLE open_crime AS
      SELECT c.crime_id FROM src.crime c JOIN src.offence_type o USING (ho_offence_code)
      WHERE c.local_authority_code IN ({area_list}) AND NOT (c.domestic_abuse OR o.sensitive);
    CREATE TABLE linkable_person AS
      SELECT cp.crime_id, cp.person_id FROM src.crime_person cp JOIN src.crime c USING (crime_id)
      WHERE c.local_authority_code IN ({area_list}) AND cp.role IN ('suspect', 'offender', 'witness');
    CREATE TABLE custody AS
      SELECT custody_id, last4(custody_ref) AS custody_ref, pseudo('person', person_id::VARCHAR, 'P') AS person_id,
             arrested_at, arrived_at, detention_authorised_at, released_at, arrest_offence_code,
             custody_suite, disposal, crime_id, arrest_location_id, local_authority_code
      FROM src.custody k WHERE local_authority_code IN ({area_list})
        -- a sensitive crime's detained person only when the crime records them as a suspect,
        -- offender or witness (a victim detained for it stays unlinkable)
        AND (k.crime_id IS NULL OR k.crime_id IN (SELECT crime_id FROM open_crime)
             OR (k.crime_id, k.person_id) IN (SELECT crime_id, person_id FROM linkable_person));
    CREATE TABLE location AS
      SELECT l.location_id, l.location_type,
             CASE WHEN l.location_type <> 'dwelling' THEN l.address ELSE 'On or near ' || m.name END AS address,
             l.street, l.town, sector(l.postcode) AS postcode, m.easting, m.northing, l.map_point_id,
             l.lsoa_code, l.ward_code, l.neighbourhood_code, l.local_authority_code
      FROM src.location l LEFT JOIN src.map_point m USING (map_point_id)
      WHERE l.local_authority_code IN ({area_list});
    CREATE TABLE crime_person AS
      SELECT cp.crime_id, pseudo('person', cp.person_id::VARCHAR, 'P') AS person_id, cp.role
      FROM src.crime_person cp JOIN src.crime c USING (crime_id) JOIN src.offence_type o USING (ho_offence_code)
      WHERE c.local_authority_code IN ({area_list})
        AND NOT (cp.role = 'victim' AND (c.domestic_abuse OR o.sensitive));
    CREATE TABLE incident_person AS
      SELECT ip.incident_id, pseudo('person', ip.person_id::VARCHAR, 'P') AS person_id, ip.role
      FROM src.incident_person ip JOIN src.incident i USING (incident_id)
      WHERE i.local_authority_code IN ({area_list})
        AND (i.crime_id IS NULL OR i.crime_id IN (SELECT crime_id FROM open_crime)
             OR (ip.role IN ('suspect', 'offender', 'witness')
                 AND (i.crime_id, ip.person_id) IN (SELECT crime_id, person_id FROM linkable_person)));
    CREATE TABLE person AS
      SELECT pseudo('person', p.person_id::VARCHAR, 'P') AS person_id, NULL::VARCHAR AS forename,
             NULL::VARCHAR AS surname, age_band(p.date_of_birth) AS date_of_birth, p.gender, p.ethnicity,
             NULL::BIGINT AS home_location_id, NULL::VARCHAR AS pnc_id
      FROM src.person p
      WHERE pseudo('person', p.person_id::VARCHAR, 'P') IN (
        SELECT person_id FROM crime_person UNION SELECT person_id FROM incident_person
        UNION SELECT person_id FROM custody);
    CREATE TABLE crime_vehicle AS
      SELECT cv.* FROM src.crime_vehicle cv WHERE cv.crime_id IN (SELECT crime_id FROM crime);
    CREATE TABLE incident_vehicle AS
      SELECT iv.* FROM src.incident_vehicle iv WHERE iv.incident_id IN (SELECT incident_id FROM incident);
    CREATE TABLE vehicle AS
      SELECT vehicle_id, pseudo('vehicle', vrm, 'V') AS vrm, make, model, colour, vehicle_type
      FROM src.vehicle
      WHERE vehicle_id IN (SELECT vehicle_id FROM crime_vehicle UNION SELECT vehicle_id FROM incident_vehicle);
    CREATE TABLE property AS
      SELECT property_id, crime_id, property_type, NULL::VARCHAR AS description, value_gbp, recovered
      FROM src.property WHERE crime_id IN (SELECT crime_id FROM crime);
    DROP TABLE open_crime;
    DROP TABLE linkable_person;
    DETACH src;
    """
    for statement in statements.split(";"):
        if statement.strip():
            con.execute(statement)
    return con
