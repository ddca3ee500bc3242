"""Issue 14, finding 4 over real HTTP: a day × flag table of thousands of cells is protected,
not refused and not left to a cubic search. Each day is a fixed record set, so under the cell
key method every count gets its own consistent noise (one table look-up per cell); the
answer is checked cell by cell against the raw query as ground truth, and the audit record
says how it was protected.
"""

from __future__ import annotations

import time

from tests.api.test_disclosure import _completed, _query
from tests.disclosure.guarantee import GENERAL, check_table

#: Finding 4's shape, a day × flag table of thousands of cells: each day × LSOA × flag on the
#: (small) test warehouse.
DAY_BY_FLAGS = (
    "SELECT CAST(recorded_at AS DATE) AS day, lsoa_code AS lsoa, "
    "domestic_abuse AS domestic, count(*) AS crimes FROM crime GROUP BY ALL"
)


def test_finding_4_day_by_flag_table_is_protected_cell_by_cell(live_gateway):  # type: ignore[no-untyped-def]
    raw = _query(live_gateway, {"sql": DAY_BY_FLAGS})
    assert raw.status_code == 200, raw.text
    true = {(r[0], r[1], r[2]): r[3] for r in raw.json()["rows"]}
    assert len(true) >= 2_181, f"the test table needs finding 4's size, has {len(true)} cells"

    started = time.monotonic()
    answer = _query(live_gateway, {"sql": DAY_BY_FLAGS, "disclosure": "policy"})
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    body = answer.json()
    published = {(r[0], r[1], r[2]): (r[3], r[4]) for r in body["rows"]}
    cells = list(true)
    hidden, moved = check_table(true, published, GENERAL)
    assert hidden  # on the small test warehouse most day cells are small

    audited = _completed(live_gateway, body["query_id"])["disclosure"]
    assert (audited["method"], audited["max_noise"], audited["modulus"]) == ("cell_key", 2, 256)
    assert (audited["cells"], audited["primary"], audited["perturbed"]) == (
        len(cells),
        hidden,
        moved,
    )
    print(f"finding 4: {len(cells):,} cells protected over HTTP in {elapsed:.2f} s")


#: An hour-of-day × flag table (large enough counts to be published).
HOUR_BY_FLAG = (
    "SELECT hour(recorded_at) AS hour, domestic_abuse AS domestic, count(*) AS crimes "
    "FROM crime GROUP BY ALL"
)


def test_an_hour_cell_asked_for_alone_gets_its_value_in_the_table(live_gateway):  # type: ignore[no-untyped-def]
    """The same records get the same noise: an hour × flag cell asked for alone, with its hour
    as a parameter, has the value it has in the whole table — nothing new to average."""
    whole = _query(live_gateway, {"sql": HOUR_BY_FLAG, "disclosure": "policy"}).json()
    hour, domestic, shown, _ = next(r for r in whole["rows"] if r[2] is not None)
    alone = _query(
        live_gateway,
        {
            "sql": (
                "SELECT count(*) AS crimes FROM crime WHERE hour(recorded_at) = $hour "
                "AND domestic_abuse = $domestic"
            ),
            "params": {"hour": hour, "domestic": domestic},
            "disclosure": "policy",
        },
    )
    assert alone.status_code == 200, alone.text
    assert alone.json()["rows"][0][0] == shown
