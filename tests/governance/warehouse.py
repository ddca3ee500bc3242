"""A tiny warehouse for enforcement tests: two areas, marker values in every maskable column.

Crimes 1-2 are in Middlesbrough (``E06000002``), 3-4 in Hartlepool (``E06000001``); their
``modus_operandi`` reads ``MO-<area>-<id>``; intelligence reports carry ``INTEL-<id>``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from gateway.catalog import Catalog

MBRO_CRIMES = 2
MO_MARKER = "MO-"


def build(path: Path, catalog: Catalog) -> Path:
    con = duckdb.connect(str(path))
    try:
        for table in catalog:
            con.execute(table.ddl())
        con.execute(
            """
            INSERT INTO local_authority VALUES
              ('E06000001', 'Hartlepool', 92338, 93.7), ('E06000002', 'Middlesbrough', 143924, 53.9);
            INSERT INTO offence_type VALUES
              ('28E', 'Burglary - residential', 'burglary', 'Burglary', false);
            INSERT INTO crime
            SELECT i, 'CR/' || lpad(i::VARCHAR, 6, '0') || '/26',
                   TIMESTAMP '2026-03-01' + to_hours(i), TIMESTAMP '2026-03-01' + to_hours(i),
                   TIMESTAMP '2026-03-01' + to_hours(i + 1), '28E', 'Burglary', 'burglary', NULL,
                   CASE WHEN i <= 2 THEN 'E06000002' ELSE 'E06000001' END, NULL, NULL, NULL,
                   false, false,
                   'MO-' || CASE WHEN i <= 2 THEN 'MBRO' ELSE 'HPOOL' END || '-' || i,
                   'under-investigation', NULL
            FROM range(1, 5) r(i);
            INSERT INTO person VALUES
              (1, 'Alan', 'Surname-One', DATE '1990-01-01', 'male', 'W1', NULL, 'PNC/1'),
              (2, 'Beth', 'Surname-Two', DATE '1985-05-05', 'female', 'W1', NULL, 'PNC/2');
            INSERT INTO crime_person VALUES (1, 1, 'suspect'), (3, 2, 'suspect');
            INSERT INTO intelligence_report VALUES
              (1, TIMESTAMP '2026-03-02', 1, NULL, 'B2', 'E06000002', 'INTEL-1'),
              (2, TIMESTAMP '2026-03-02', 2, NULL, 'B2', 'E06000001', 'INTEL-2');
            """
        )
    finally:
        con.close()
    return path
