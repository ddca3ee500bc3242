"""A small, hand-crafted warehouse for enforcement tests.

Unlike the realistic generated warehouse, every hidden value here is chosen to give an
attacker an oracle if the policy leaked: rows outside the analyst's area carry text that
fails a numeric cast (``outcome = 'x-secret-…'``), a marker string (``SECRET``) sits in every
masked or hidden column, sensitive-offence victims are distinct people, and a few rows hold
values that overflow arithmetic. Visible rows hold values that never error.

The analyst under test works for Middlesbrough (``E06000002``); Hartlepool (``E06000001``) is
the hidden area.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from gateway.catalog import Catalog

VISIBLE = "E06000002"
HIDDEN = "E06000001"
SECRET = "SECRET"
N_CRIMES = 2000  # even ids visible, odd ids hidden
HIDDEN_CRIME = 1  # a hidden crime id
SENSITIVE_CRIME = 2  # a visible crime whose offence is sensitive (19C)
SENSITIVE_VICTIM = 900001  # only linked as the victim of SENSITIVE_CRIME


def build(path: Path, catalog: Catalog) -> Path:
    con = duckdb.connect(str(path))
    for table in catalog:
        con.execute(table.ddl())
    con.execute(
        """
        INSERT INTO local_authority VALUES
          ('E06000001', 'Hartlepool', 92338, 93.7), ('E06000002', 'Middlesbrough', 143924, 53.9),
          ('E06000003', 'Redcar and Cleveland', 136531, 245.1), ('E06000004', 'Stockton-on-Tees', 196595, 204.9);
        INSERT INTO neighbourhood VALUES ('N1', 'Town Centre', 'E06000002', 10000), ('N2', 'Headland', 'E06000001', 9000);
        INSERT INTO ward VALUES ('W1', 'Central', 'N1', 'E06000002', 5000), ('W2', 'Headland', 'N2', 'E06000001', 5000);
        INSERT INTO lsoa VALUES ('L1', 'Middlesbrough 001A', 'M1', 'W1', 'N1', 'E06000002', 1500, 1),
                                ('L2', 'Hartlepool 001A', 'M2', 'W2', 'N2', 'E06000001', 1500, 2);
        INSERT INTO offence_type VALUES
          ('8N', 'Assault with injury', 'violent-crime', 'Violence and sexual offences', false),
          ('19C', 'Rape of a female aged 16 and over', 'violent-crime', 'Violence and sexual offences', true),
          ('46', 'Shoplifting', 'shoplifting', 'Shoplifting', false);
        INSERT INTO map_point VALUES
          (1, 'Linthorpe Road', 'street', 449100, 519800, 'L1', 'E06000002', 12),
          (2, 'Church Street', 'street', 451300, 533100, 'L2', 'E06000001', 9);
        """
    )
    con.execute(
        f"""
        INSERT INTO location
        SELECT i, CASE WHEN i % 3 = 0 THEN 'commercial' ELSE 'dwelling' END,
               i || ' {SECRET} Street', '{SECRET} Street', 'Town', 'TS1 3AB',
               449000 + i, 519000 + i, CASE WHEN i % 2 = 0 THEN 1 ELSE 2 END,
               CASE WHEN i % 2 = 0 THEN 'L1' ELSE 'L2' END, CASE WHEN i % 2 = 0 THEN 'W1' ELSE 'W2' END,
               CASE WHEN i % 2 = 0 THEN 'N1' ELSE 'N2' END,
               CASE WHEN i % 2 = 0 THEN '{VISIBLE}' ELSE '{HIDDEN}' END
        FROM range(1, 201) r(i);

        INSERT INTO crime
        SELECT i, 'CR/' || lpad(i::VARCHAR, 6, '0') || '/26',
               TIMESTAMP '2026-01-01' + to_hours(i), TIMESTAMP '2026-01-01' + to_hours(i),
               TIMESTAMP '2026-01-01' + to_hours(i + 1),
               CASE WHEN i = {SENSITIVE_CRIME} THEN '19C' WHEN i % 5 = 0 THEN '46' ELSE '8N' END,
               'offence', 'violent-crime',
               CASE WHEN i % 2 = 0 THEN 2 + (i % 100) * 2 ELSE 1 + (i % 100) * 2 END,
               CASE WHEN i % 2 = 0 THEN '{VISIBLE}' ELSE '{HIDDEN}' END,
               CASE WHEN i % 2 = 0 THEN 'L1' ELSE 'L2' END, CASE WHEN i % 2 = 0 THEN 'W1' ELSE 'W2' END,
               CASE WHEN i % 2 = 0 THEN 'N1' ELSE 'N2' END,
               i % 7 = 0, i % 11 = 0,
               '{SECRET} modus operandi ' || i,
               CASE WHEN i % 2 = 0 THEN (i % 9)::VARCHAR ELSE 'x-{SECRET}-' || i END,
               NULL
        FROM range(1, {N_CRIMES + 1}) r(i);

        INSERT INTO person
        SELECT i, '{SECRET}fore' || i, '{SECRET}sur' || i, DATE '1980-01-01' + to_days(i % 9000),
               CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END, 'W1', 1 + i % 200, '{SECRET}/' || i
        FROM range(1, 401) r(i);
        INSERT INTO person VALUES ({SENSITIVE_VICTIM}, '{SECRET}Victim', '{SECRET}Victim', DATE '1999-09-09',
                                   'female', 'W1', 2, NULL);

        INSERT INTO crime_person
        SELECT i, 1 + (i * 7) % 400, CASE WHEN i % 3 = 0 THEN 'suspect' ELSE 'victim' END
        FROM range(1, {N_CRIMES + 1}) r(i) WHERE i <> {SENSITIVE_CRIME};
        INSERT INTO crime_person VALUES ({SENSITIVE_CRIME}, {SENSITIVE_VICTIM}, 'victim'), ({SENSITIVE_CRIME}, 5, 'suspect');

        INSERT INTO vehicle SELECT i, 'NE' || lpad(i::VARCHAR, 2, '0') || ' {SECRET}', 'Ford', 'Focus', 'Blue', 'car'
        FROM range(1, 51) r(i);
        INSERT INTO crime_vehicle SELECT i, 1 + i % 50, 'stolen' FROM range(1, 301) r(i);

        INSERT INTO property SELECT i, i, 'phone', '{SECRET} description', 100 + i, i % 2 = 0
        FROM range(1, 301) r(i);

        INSERT INTO incident
        SELECT i, 'INC-' || i, TIMESTAMP '2026-01-01' + to_minutes(i * 30), 'ASB', 'RESOLVED', 1 + i % 5,
               TIMESTAMP '2026-01-01' + to_minutes(i * 30 + 12), TIMESTAMP '2026-01-01' + to_minutes(i * 30 + 90),
               'nuisance', 1 + i % 200, CASE WHEN i % 2 = 0 THEN '{VISIBLE}' ELSE '{HIDDEN}' END,
               CASE WHEN i % 2 = 0 THEN 'L1' ELSE 'L2' END, NULL, '{SECRET} narrative'
        FROM range(1, 501) r(i);
        INSERT INTO incident_person SELECT i, 1 + (i * 3) % 400, 'caller' FROM range(1, 501) r(i);
        INSERT INTO incident_vehicle SELECT i, 1 + i % 50 FROM range(1, 101) r(i);

        INSERT INTO custody
        SELECT i, 'CU-' || i, 1 + (i * 13) % 400, TIMESTAMP '2026-02-01' + to_hours(i),
               TIMESTAMP '2026-02-01' + to_hours(i) + INTERVAL 40 MINUTE,
               TIMESTAMP '2026-02-01' + to_hours(i) + INTERVAL 55 MINUTE,
               TIMESTAMP '2026-02-01' + to_hours(i + 9), '8N', 'Middlesbrough', 'charged', i,
               1 + i % 200, CASE WHEN i % 2 = 0 THEN '{VISIBLE}' ELSE '{HIDDEN}' END
        FROM range(1, 301) r(i);

        INSERT INTO intelligence_report
        SELECT i, TIMESTAMP '2026-03-01' + to_hours(i), 1 + i % 400, 1 + i % 200, 'B2',
               CASE WHEN i % 2 = 0 THEN '{VISIBLE}' ELSE '{HIDDEN}' END, '{SECRET} intelligence'
        FROM range(1, 101) r(i);
        """
    )
    con.close()
    return path
