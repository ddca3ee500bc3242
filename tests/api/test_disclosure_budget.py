"""The averaging attack over allowed sets, against the differencing budget, over real HTTP
(issue 14).

Under the cell key method different record sets get independent noise, and the cell rules
(gateway.rewrite.cells) still allow lists of areas and ranges of months: an analyst may ask
for ``lsoa_code IN (target, A)``, ``IN (target, B)``, … and for ``A``, ``B``, … alone, and
average the differences to recover the target's count. The budget (gateway.disclosure.ledger)
refuses the next different list that overlaps ``[disclosure.budget] overlapping`` lists
already released to the analyst (403 ``disclosure_budget_exhausted``, audited as a denial):
the attack gets that many draws and no more. Asking again, and published areas and periods,
cost nothing.

The attacker has a gateway of their own (their ledger is not the shared server's), and the
raw warehouse is the ground truth. ``pytest -s`` prints how many draws the attack got and how
close their mean came.

On the same gateway the enhanced level's control is cell suppression, whose cost grows fast
with the cells: its large tables are protected in a child process of the server
(gateway.disclosure.isolation), and a request whose client goes away stops that child's work
at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import duckdb
import pytest

from gateway.cli.demo import SA_PURPOSE, demo_users, users_toml
from gateway.datadir import DataDir
from gateway.disclosure.control import DISCLOSURE_MAX_ROWS, SUPPRESSION_MAX_CELLS
from gateway.policy.disclosure import DisclosureBudgetRules
from tests.gateway_server import LiveGateway, generated_source, prepare_data_dir, start_gateway

ATTACKER = "b.averager"
RECOMBINER = "c.recombiner"  # recombines lists already released (a budget of their own)
LIMIT = DisclosureBudgetRules().overlapping  # the default policy's budget


@pytest.fixture(scope="module")
def budget_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """A gateway of the attack's own: the demo users plus the attacker, a general analyst of
    one authority."""
    root = tmp_path_factory.mktemp("budget") / "data"
    root.mkdir(parents=True)
    users = demo_users(date.today())
    attackers = [replace(users[0], username=name) for name in (ATTACKER, RECOMBINER)]
    DataDir(root).users.write_text(users_toml([*users, *attackers]), "utf-8")
    prepare_data_dir(generated_source(request), root)
    policy = DataDir(root).policy
    text = policy.read_text("utf-8")
    enhanced = text.index("[disclosure.levels.enhanced]")
    switched = text[enhanced:].replace('method = "cell_key"', 'method = "suppression"', 1)
    policy.write_text(text[:enhanced] + switched, "utf-8")
    gateway = start_gateway(root)
    yield gateway
    gateway.stop()


def _ask(gateway: LiveGateway, sql: str, who: str = ATTACKER) -> Any:
    with gateway.client(who) as http:
        return http.post(
            "/v1/query",
            json={"sql": sql, "purpose": SA_PURPOSE, "disclosure": "policy"},
        )


def _count(gateway: LiveGateway, sql: str) -> int | None:
    answer = _ask(gateway, sql)
    assert answer.status_code == 200, answer.text
    row = answer.json()["rows"][0]
    return None if row[1] else int(row[0])  # (n, n_suppressed)


def _denied(gateway: LiveGateway, query_id: str, who: str = ATTACKER) -> dict[str, Any]:
    with gateway.client("s.patel") as http:
        answer = http.get(
            "/v1/audit/events", params={"kind": "query.denied", "actor": who, "limit": 1000}
        )
    assert answer.status_code == 200, answer.text
    (event,) = [e for e in answer.json()["events"] if e["details"].get("query_id") == query_id]
    details: dict[str, Any] = event["details"]
    return details


def _truth(gateway: LiveGateway, area: str) -> tuple[str, str, int, list[str]]:
    """A small target (category, LSOA, true count 2–9) and LSOAs whose counts are always
    published, from the raw warehouse."""
    con = duckdb.connect(str(DataDir(gateway.data_dir).warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT police_uk_category, lsoa_code, count(*) FROM crime "
            "WHERE local_authority_code = ? GROUP BY ALL",
            [area],
        ).fetchall()
    finally:
        con.close()
    best: tuple[str, str, int, list[str]] | None = None
    for category in sorted({r[0] for r in rows}):
        counts = {r[1]: r[2] for r in rows if r[0] == category}
        small = sorted(k for k, n in counts.items() if 2 <= n <= 9)
        large = sorted(k for k, n in counts.items() if n >= 13)  # published: 13 - 2 >= 10
        if small and (best is None or len(large) > len(best[3])):
            best = (category, small[0], counts[small[0]], large)
    assert best is not None, "no target for the attack"
    assert len(best[3]) > LIMIT, "too few areas to pair the target with"
    return best


def test_averaging_area_lists_around_a_target_is_refused_before_it_pins_it(
    budget_gateway: LiveGateway,
) -> None:
    area = demo_users(date.today())[0].areas[0]
    category, target, true, partners = _truth(budget_gateway, area)
    base = f"SELECT count(*) AS n FROM crime WHERE police_uk_category = '{category}' AND "
    draws: list[int] = []
    refused: dict[str, Any] | None = None
    for partner in partners[: LIMIT + 4]:
        around = _ask(budget_gateway, base + f"lsoa_code IN ('{target}', '{partner}')")
        if around.status_code != 200:
            refused = around.json()["error"]
            break
        row = around.json()["rows"][0]
        alone = _count(budget_gateway, base + f"lsoa_code = '{partner}'")  # one area: free
        assert not row[1]
        assert alone is not None
        draws.append(int(row[0]) - alone)

    mean = statistics.fmean(draws)
    print(
        f"\naveraging attack: {len(draws)} draws allowed (budget {LIMIT}), then refused; "
        f"mean {mean:.2f} (sd of the mean ≈ {statistics.pstdev(draws) / len(draws) ** 0.5:.2f}) "
        f"for a true {true}; draws {draws}"
    )
    assert len(draws) == LIMIT
    assert refused is not None
    assert refused["code"] == "disclosure_budget_exhausted"
    assert "overlaps" in refused["message"]
    denial = _denied(budget_gateway, refused["query_id"])
    assert denial["reason"] == "disclosure_budget_exhausted"

    # Asking again costs nothing (and gives the same answer: same records, same noise);
    # published areas are never refused.
    first = base + f"lsoa_code IN ('{target}', '{partners[0]}')"
    assert _ask(budget_gateway, first).json()["rows"][0][0] == draws[0] + _count(
        budget_gateway, base + f"lsoa_code = '{partners[0]}'"
    )
    assert _ask(budget_gateway, base + f"lsoa_code = '{target}'").status_code == 200
    # A different list around the target stays refused, in another shape too.
    shaped = (
        f"SELECT count(*) FILTER (WHERE lsoa_code IN ('{target}', '{partners[-1]}')) AS n "
        f"FROM crime WHERE police_uk_category = '{category}'"
    )
    assert _ask(budget_gateway, shaped).json()["error"]["code"] == "disclosure_budget_exhausted"


def test_averaging_month_ranges_around_a_month_is_refused(budget_gateway: LiveGateway) -> None:
    """Ranges of months all holding one month: the next different one after the budget is
    refused; single months, quarters and calendar years stay free."""
    statuses = []
    for back in range(1, LIMIT + 3):  # July 2025 and the `back` months before it
        start = date(2025 - (back > 6), (6 - back) % 12 + 1, 1)
        sql = (
            "SELECT count(*) AS n FROM crime WHERE police_uk_category = 'drugs' AND "
            f"recorded_at >= DATE '{start}' AND recorded_at < DATE '2025-08-01'"
        )
        statuses.append(_ask(budget_gateway, sql).status_code)
    assert statuses == [200] * LIMIT + [403] * 2
    for low, high in (("2025-06-01", "2025-07-01"), ("2025-04-01", "2025-07-01"),
                      ("2025-01-01", "2026-01-01")):  # fmt: skip
        sql = (
            "SELECT count(*) AS n FROM crime WHERE police_uk_category = 'drugs' AND "
            f"recorded_at >= DATE '{low}' AND recorded_at < DATE '{high}'"
        )
        assert _ask(budget_gateway, sql).status_code == 200, (low, high)


def test_recombining_released_area_and_category_lists_is_refused(
    budget_gateway: LiveGateway,
) -> None:
    """Area lists and category lists around one target cell, each list within the budget on
    its own: released together on the diagonal (area list i with category list i), then
    recombined (list 1 with list 2) — a new record set around the target, refused although
    every list in it was already released: draws add up per column instead of multiplying."""
    area = demo_users(date.today())[0].areas[0]
    category, target, _, partners = _truth(budget_gateway, area)
    others = [c for c in _categories(budget_gateway) if c != category][:LIMIT]
    assert len(others) == LIMIT

    def release(i: int, j: int) -> Any:
        sql = (
            "SELECT count(*) AS n FROM crime WHERE "
            f"lsoa_code IN ('{target}', '{partners[i]}') "
            f"AND police_uk_category IN ('{category}', '{others[j]}')"
        )
        return _ask(budget_gateway, sql, RECOMBINER)

    assert [release(i, i).status_code for i in range(LIMIT)] == [200] * LIMIT
    assert release(0, 0).status_code == 200  # asking again costs nothing
    recombined = release(0, 1)
    assert recombined.status_code == 403, recombined.text
    error = recombined.json()["error"]
    assert error["code"] == "disclosure_budget_exhausted"
    assert "together" in error["message"]
    assert _denied(budget_gateway, error["query_id"], RECOMBINER)["reason"] == (
        "disclosure_budget_exhausted"
    )


def _categories(gateway: LiveGateway) -> list[str]:
    con = duckdb.connect(str(DataDir(gateway.data_dir).warehouse), read_only=True)
    try:
        rows = con.execute("SELECT DISTINCT police_uk_category FROM crime ORDER BY 1").fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (None: gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except FileNotFoundError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def _protection_child(server: int) -> int:
    """The server's protection process: a child of its fork server that, unlike the engine's
    workers, has no warehouse open."""
    for child in _children(server):
        if "forkserver" not in open(f"/proc/{child}/cmdline").read():  # noqa: SIM115
            continue
        for candidate in _children(child):
            files = []
            for fd in os.listdir(f"/proc/{candidate}/fd"):
                with contextlib.suppress(FileNotFoundError):
                    files.append(os.readlink(f"/proc/{candidate}/fd/{fd}"))
            if not any(f.endswith("warehouse.duckdb") for f in files):
                return candidate
    raise AssertionError("the server has no protection process")


def test_a_withdrawn_request_stops_its_disclosure_control_at_once(
    budget_gateway: LiveGateway,
) -> None:
    """e.okafor (enhanced: cell suppression here) asks for a category × day table, larger than
    suppression may take in the server's own process; the client goes away while the child
    works; its CPU stops growing at once and the query is audited as cancelled."""
    child = _protection_child(budget_gateway.process.pid)
    before = _cpu(child)
    assert before is not None
    sql = (
        "SELECT police_uk_category, CAST(recorded_at AS DATE) AS day, count(*) AS crimes "
        "FROM crime GROUP BY ALL"
    )  # ~1,500 cells: about 0.45 s of secondary suppression
    body = json.dumps({"sql": sql, "purpose": SA_PURPOSE, "disclosure": "policy"}).encode()
    host, port = budget_gateway.url.removeprefix("http://").split(":")
    request = (
        f"POST /v1/query HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {budget_gateway.token('e.okafor')}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sock = socket.create_connection((host, int(port)))
    sock.sendall(request)
    deadline = time.monotonic() + 30
    sock.settimeout(0.005)
    while (_cpu(child) or 0) - before < 0.05:  # the child is working on the table
        with contextlib.suppress(TimeoutError):
            answer = sock.recv(4096)
            raise AssertionError(f"answered before the child worked: {answer[:300]!r}")
        assert time.monotonic() < deadline, "the protection child never worked"
    sock.close()  # the client goes away
    withdrawn = time.monotonic()
    time.sleep(0.3)  # the server notices (every 50 ms) and tells the child to stop
    settled = _cpu(child)
    time.sleep(0.3)
    after = _cpu(child)
    print(
        f"\nwithdrawn: the child's CPU {(settled or 0) - before:.2f} s by "
        f"{time.monotonic() - withdrawn - 0.3:.1f} s after, then "
        f"{'gone' if after is None else f'+{after - (settled or 0):.3f} s over 0.3 s'}"
    )
    assert after is None or settled is None or after - settled < 0.02
    outcomes: list[str] = []
    for _ in range(50):  # the completed record is written once the work has returned
        with budget_gateway.client("s.patel") as http:
            events = http.get(
                "/v1/audit/events",
                params={"kind": "query.completed", "actor": "e.okafor", "limit": 1000},
            ).json()["events"]
        outcomes = [e["details"]["outcome"] for e in events]
        if "cancelled" in outcomes:
            break
        time.sleep(0.1)
    assert outcomes == ["cancelled"]


def test_a_table_too_large_for_suppression_is_refused_before_any_protection_work(
    budget_gateway: LiveGateway,
) -> None:
    """e.okafor (enhanced: cell suppression here) asks for an LSOA × day table of more cells
    than suppression protects within its time limit: 413 ``too_many_cells`` at once, and the
    server's protection process spent no CPU on it (never a time-out after a second of work)."""
    sql = (
        "SELECT lsoa_code, CAST(reported_at AS DATE) AS day, count(*) AS incidents "
        "FROM incident GROUP BY ALL"
    )
    child = _protection_child(budget_gateway.process.pid)
    before = _cpu(child)
    started = time.monotonic()
    answer = _ask(budget_gateway, sql, who="e.okafor")
    took = time.monotonic() - started
    assert answer.status_code == 413, answer.text
    error = answer.json()["error"]
    assert error["code"] == "too_many_cells"
    cells = int(error["message"].split("this table has ")[1].split(";")[0].replace(",", ""))
    assert SUPPRESSION_MAX_CELLS < cells <= DISCLOSURE_MAX_ROWS
    assert f"{SUPPRESSION_MAX_CELLS:,}" in error["message"]
    assert (_cpu(child) or 0) - (before or 0) < 0.02
    print(f"\n{cells:,} cells refused in {took:.3f} s")
    assert _ask(budget_gateway, sql).status_code == 200  # a general analyst: cell key method
