"""The differencing budget: every custom selection released to each analyst, kept durably.

**What is counted.** A perturbed (cell key) release is charged its custom selections
(:mod:`gateway.disclosure.footprint`): the lists of two or more values, exclusions, ranges
other than one calendar month/quarter/year, and template numbers and dates that define its
cells. A selection the analyst was already given (the same attribute, the same constants)
within the period costs nothing — the same records get the same noise, so asking again tells
nothing new. A **new** selection is refused (403 ``disclosure_budget_exhausted``, audited as a
denial, nothing runs) when it overlaps ``overlapping`` *different* selections of the same
attribute already released to the analyst within ``days`` days (``[disclosure.budget]``);
otherwise it is recorded. The selections of one release are charged one after another, so one
statement with many FILTERs is charged like many statements.

**Why it bounds averaging.** Averaging needs many different record sets that all contain the
target cell; under the cell rules (:mod:`gateway.rewrite.cells`) they differ only in the
constants their selections compare attributes with. Every such set containing the target
overlaps every other one on the attribute that varies, so once ``overlapping`` of them were
released the next is refused: an analyst gets at most ``overlapping`` independent draws around
one cell per attribute. One draw (a list with the target minus the list without it) is the
count plus the difference of two noises (±``max_noise``, triangular: standard deviation 1.63
for max_noise 2, exact about 1 time in 4); the mean of k draws has a standard deviation of
about ``1.63 / sqrt(k)``: 0.82 with the default 4, so rounding it gives the count a little
under half the time, and the analyst cannot tell when (unbounded, 10 draws gave 7.10 for a
true 7). **Releases as a whole.** Selections already given are free on their own, but
recombined (area list 1 with category list 2, …) they define new record sets around the same
cells: so each release's selections are also recorded together (its *footprint*), and a new
footprint is refused when it overlaps ``overlapping`` footprints already released that differ
as seen on its own columns (two overlap when, on every column both select on, some of their
selections overlap, and on at least one of those columns they select differently:
:func:`footprints_overlap`). Draws around one cell are then bounded by ``overlapping`` per
column selected on (area lists alone, then category lists alone),
added, not multiplied: 4 area lists × 4 category lists give at most 8 draws, not 16. One
column read at two granularities (a day list and a month range) is one column. Nesting of
area levels is not worked out (lists at different levels are taken to overlap, which costs an
honest analyst more, never an attacker less).

**What an honest analyst pays.** A strategic assessment runs templates at LSOA, ward and
neighbourhood for single months, calendar years and the 12 months to date: single values and
published periods are free, each template's numbers are charged once, and the 12- and
24-month periods overlap each other once: the whole library, 82 runs, met at most 1 different
overlapping selection (``tests/disclosure/test_budget_library.py``), leaving 3 of the default
4 for the analyst's own lists and ranges.

**State.** ``DIR/disclosure-ledger.sqlite`` beside the audit log (WAL, synchronous FULL) — or,
when the register is shared (``GATEWAY_REGISTER_STORE``), a table of its PostgreSQL schema, so
every gateway host charges the same budget — one row per analyst and selection with when it
was released: it survives restarts, and the check and the charge happen in one ``BEGIN IMMEDIATE`` transaction, so
concurrent requests of one analyst (threads or processes) are charged one after another. A
selection is charged when the release is authorised (before the query runs): a query that then
fails still counts — a refund would let a timed-out query probe for free. The charge also goes
into the completed audit record (``disclosure.budget``), and a refusal into the denial.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.disclosure.footprint import Selection
    >>> from gateway.policy.disclosure import DisclosureBudgetRules
    >>> ledger = ReleaseLedger.open(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite")
    >>> around = [Selection("area", "values", ("lsoa_code=T", f"lsoa_code={x}")) for x in "ABC"]
    >>> rules, now = DisclosureBudgetRules(overlapping=2), datetime(2026, 1, 5, tzinfo=UTC)
    >>> [ledger.charge("a.khan", {s}, now, rules).new for s in around[:2]]
    [1, 1]
    >>> ledger.charge("a.khan", {around[0]}, now, rules).new   # asked again: free
    0
    >>> ledger.charge("a.khan", {around[2]}, now, rules)
    Traceback (most recent call last):
    ...
    gateway.errors.DisclosureBudgetExhausted: disclosure budget: ...
    >>> ledger.close()
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.disclosure.footprint import Selection, base_attribute
from gateway.errors import AuditUnavailable, DisclosureBudgetExhausted
from gateway.lifetime import ClosesOnExit
from gateway.policy.disclosure import DisclosureBudgetRules
from gateway.register_store import connect, transaction

__all__ = ["BudgetCharge", "ReleaseLedger"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS released_selection (
        username    TEXT NOT NULL,
        attribute   TEXT NOT NULL,
        selection   TEXT NOT NULL,
        released_at TEXT NOT NULL,
        PRIMARY KEY (username, selection, released_at))""",
    "CREATE INDEX IF NOT EXISTS released_by_user ON released_selection (username, released_at)",
    """CREATE TABLE IF NOT EXISTS released_footprint (
        username    TEXT NOT NULL,
        footprint   TEXT NOT NULL,
        released_at TEXT NOT NULL,
        PRIMARY KEY (username, footprint, released_at))""",
    "CREATE INDEX IF NOT EXISTS footprint_by_user ON released_footprint (username, released_at)",
)


def _footprint_json(selections: frozenset[Selection]) -> str:
    return json.dumps([s.to_json() for s in sorted(selections)], ensure_ascii=False)


def _footprint_from_json(text: str) -> frozenset[Selection]:
    return frozenset(Selection.from_json(s) for s in json.loads(text))


def footprints_overlap(one: frozenset[Selection], other: frozenset[Selection]) -> bool:
    """Whether two releases are different draws around a common cell: on every column both
    select on, some selection of one overlaps one of the other, and on at least one of those
    columns they select differently (the same selections on every common column, with
    selections on other columns besides, are charged by those columns' own selections).

    Example:
        >>> a1 = Selection("area", "values", ("lsoa_code=T", "lsoa_code=A"))
        >>> a2 = Selection("area", "values", ("lsoa_code=T", "lsoa_code=B"))
        >>> c1 = Selection("police_uk_category", "values", ("x", "y"))
        >>> c2 = Selection("police_uk_category", "values", ("z", "w"))
        >>> footprints_overlap(frozenset({a1, c1}), frozenset({a2, c1})), footprints_overlap(
        ...     frozenset({a1, c1}), frozenset({a2, c2}))
        (True, False)
        >>> footprints_overlap(frozenset({a1}), frozenset({a1, c1}))
        False
    """
    by_column_one, by_column_other = _by_column(one), _by_column(other)
    different = False
    for column in by_column_one.keys() & by_column_other.keys():
        mine, theirs = by_column_one[column], by_column_other[column]
        if not any(a.overlaps(b) for a in mine for b in theirs):
            return False  # no record can be in both
        different = different or mine != theirs
    return different


def _by_column(selections: frozenset[Selection]) -> dict[str, frozenset[Selection]]:
    out: dict[str, set[Selection]] = {}
    for selection in selections:
        out.setdefault(base_attribute(selection.attribute), set()).add(selection)
    return {column: frozenset(found) for column, found in out.items()}


@dataclass(frozen=True)
class BudgetCharge:
    """What one release cost (for the completed audit record).

    Attributes:
        selections: the release's custom selections.
        new: how many of them were new to the analyst (charged).
        overlapping: the most different earlier selections any one of them overlapped.
        rules: the budget applied.
    """

    selections: frozenset[Selection]
    new: int
    overlapping: int
    rules: DisclosureBudgetRules = field(default_factory=DisclosureBudgetRules)

    def to_dict(self) -> dict[str, Any]:
        return {
            "selections": [s.describe() for s in sorted(self.selections)],
            "new": self.new,
            "overlapping": self.overlapping,
            "limit": self.rules.overlapping,
            "days": self.rules.days,
        }


class ReleaseLedger(ClosesOnExit):
    """The custom selections released to each analyst: the SQLite file ``path``, or the shared
    register's PostgreSQL schema when ``GATEWAY_REGISTER_STORE`` names one (then every gateway
    host charges one budget per analyst). One connection per operation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # one charge at a time within the process

    @classmethod
    def open(cls, path: Path) -> ReleaseLedger:
        """Open (creating) the ledger.

        Raises:
            AuditUnavailable: it cannot be opened (nothing disclosure-controlled runs).
        """
        ledger = cls(path)
        try:
            with closing(connect(path)) as conn, transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"the disclosure ledger cannot be opened: {exc}") from exc
        return ledger

    def charge(
        self,
        username: str,
        selections: Iterable[Selection],
        now: datetime,
        rules: DisclosureBudgetRules,
    ) -> BudgetCharge:
        """Charge a release's custom selections to ``username``, or refuse it.

        Raises:
            DisclosureBudgetExhausted: a new selection overlaps ``rules.overlapping`` different
                selections already released within ``rules.days`` (nothing is recorded).
            AuditUnavailable: the ledger cannot be read or written.
        """
        wanted = frozenset(selections)
        if not wanted or not rules.active:
            return BudgetCharge(wanted, 0, 0, rules)
        since = (now - timedelta(days=rules.days)).astimezone(UTC).isoformat()
        try:
            with self._lock, closing(connect(self.path)) as conn, transaction(conn):
                rows = conn.execute(
                    "SELECT DISTINCT selection FROM released_selection "
                    "WHERE username = ? AND released_at >= ?",
                    (username, since),
                ).fetchall()
                known = {Selection.from_json(r[0]) for r in rows}
                released = {
                    _footprint_from_json(r[0])
                    for r in conn.execute(
                        "SELECT DISTINCT footprint FROM released_footprint "
                        "WHERE username = ? AND released_at >= ?",
                        (username, since),
                    ).fetchall()
                }
                new, most = self._admit(wanted, known, rules)
                most = max(most, self._admit_footprint(wanted, released, rules))
                stamp = now.astimezone(UTC).isoformat()
                if wanted not in released:
                    conn.execute(
                        "INSERT INTO released_footprint VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (username, _footprint_json(wanted), stamp),
                    )
                for selection in new:
                    conn.execute(
                        "INSERT INTO released_selection VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (username, selection.attribute, selection.to_json(), stamp),
                    )
        except sqlite3.Error as exc:
            raise AuditUnavailable(f"the disclosure ledger cannot be written: {exc}") from exc
        return BudgetCharge(wanted, len(new), most, rules)

    @staticmethod
    def _admit_footprint(
        wanted: frozenset[Selection],
        released: set[frozenset[Selection]],
        rules: DisclosureBudgetRules,
    ) -> int:
        """The release as a whole (its selections together define its record sets): a new
        combination is refused when it overlaps ``rules.overlapping`` different releases
        already made — so known selections recombined (4 area lists × 4 category lists) are
        new draws, charged like any other."""
        if wanted in released:
            return 0
        columns = _by_column(wanted).keys()
        overlapping = len(
            {
                frozenset(s for s in r if base_attribute(s.attribute) in columns)
                for r in released
                if footprints_overlap(wanted, r)
            }
        )  # as seen on this release's columns: the same period with other templates is one
        if overlapping >= rules.overlapping:
            described = "; ".join(s.describe() for s in sorted(wanted))
            raise DisclosureBudgetExhausted(
                f"disclosure budget: this release's selections together ({described}) overlap "
                f"{overlapping} different releases already made to you in the last "
                f"{rules.days} days (the policy allows {rules.overlapping}): recombining "
                "selections gives new record sets around the same cells, and averaging them "
                "would undo the protection. Repeat a release you already have (asking again "
                "costs nothing), or use published areas and periods"
            )
        return overlapping

    @staticmethod
    def _admit(
        wanted: frozenset[Selection], known: set[Selection], rules: DisclosureBudgetRules
    ) -> tuple[list[Selection], int]:
        new: list[Selection] = []
        most = 0
        for selection in sorted(wanted - known):
            overlapping = sum(1 for k in known if k.overlaps(selection))
            if overlapping >= rules.overlapping:
                raise DisclosureBudgetExhausted(
                    f"disclosure budget: this release selects on {selection.attribute!r} "
                    f"({selection.describe()}), which overlaps {overlapping} different "
                    f"selections on it already released to you in the last {rules.days} days "
                    f"(the policy allows {rules.overlapping}): averaging many overlapping "
                    "record sets would undo the protection. Reuse a selection you already "
                    "have (asking again costs nothing), or use published areas and periods "
                    "(one area, one month, quarter or calendar year)"
                )
            most = max(most, overlapping)
            known.add(selection)
            new.append(selection)
        return new, most

    def released(self, username: str) -> list[Selection]:
        """Every selection recorded for ``username`` (for reports and tests)."""
        with closing(connect(self.path)) as conn, transaction(conn, write=False):
            rows = conn.execute(
                "SELECT DISTINCT selection FROM released_selection WHERE username = ?",
                (username,),
            ).fetchall()
        return sorted(Selection.from_json(r[0]) for r in rows)

    def close(self) -> None:
        """Nothing held open between operations."""
