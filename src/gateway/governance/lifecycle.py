"""Keeping access current: six-monthly access reviews, code of connection, inactivity. Pure.

- **Access review** (per organisation, every ``review_interval_months``): the organisation's
  SPOC confirms, for each user holding access, that they still need it (or asks for removal).
  Users not confirmed by the review's deadline are suspended.
- **Code of connection**: each partner organisation's SPOC declares compliance yearly.
- **Inactivity**: users holding access who ran no query for ``inactivity_months`` are flagged
  (activity comes from the audit log).

Example:
    >>> from datetime import date, datetime, timezone
    >>> add_months(date(2026, 8, 31), -6)
    datetime.date(2026, 2, 28)
    >>> review = AccessReview("RV-1", "MBC", "s.poc", datetime(2026, 5, 1, tzinfo=timezone.utc),
    ...                       date(2026, 5, 29), entries=(ReviewEntry("a.khan"),))
    >>> review.unconfirmed(), review.overdue(date(2026, 5, 30))
    (('a.khan',), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from gateway.governance.preconditions import CodeOfConnection

__all__ = [
    "AccessReview",
    "InactiveUser",
    "ReviewDecision",
    "ReviewEntry",
    "add_months",
    "coc_due",
    "inactive_users",
    "review_due",
]

ReviewDecision = Literal["confirmed", "removed"]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    next_first = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_first - timedelta(days=1)).day))


@dataclass(frozen=True)
class ReviewEntry:
    """One user in an access review and the SPOC's decision (None = not yet decided)."""

    username: str
    decision: ReviewDecision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str = ""


@dataclass(frozen=True)
class AccessReview:
    """A six-monthly access review of one organisation.

    Attributes:
        review_id: ``RV-…``.
        organisation: organisation code.
        opened_by, opened_at: who opened it and when.
        due: last day for the SPOC's confirmations.
        entries: the users holding access when it opened.
        closed_at: when it was enforced and closed.
    """

    review_id: str
    organisation: str
    opened_by: str
    opened_at: datetime
    due: date
    entries: tuple[ReviewEntry, ...] = ()
    closed_at: datetime | None = None

    def entry(self, username: str) -> ReviewEntry | None:
        return next((e for e in self.entries if e.username == username), None)

    def unconfirmed(self) -> tuple[str, ...]:
        """Users the SPOC has not confirmed (undecided)."""
        return tuple(e.username for e in self.entries if e.decision is None)

    def removed(self) -> tuple[str, ...]:
        return tuple(e.username for e in self.entries if e.decision == "removed")

    def overdue(self, today: date) -> bool:
        return self.closed_at is None and today > self.due


def review_due(last_opened: datetime | None, at: datetime, interval_months: int) -> bool:
    """Whether an organisation needs a new access review at ``at``.

    Example:
        >>> from datetime import timezone
        >>> opened = datetime(2026, 1, 10, tzinfo=timezone.utc)
        >>> review_due(opened, datetime(2026, 7, 9, tzinfo=timezone.utc), 6)
        False
        >>> review_due(opened, datetime(2026, 7, 10, tzinfo=timezone.utc), 6)
        True
    """
    if last_opened is None:
        return True
    return at.date() >= add_months(last_opened.date(), interval_months)


def coc_due(declarations: Iterable[CodeOfConnection], today: date, *, warn_days: int = 30) -> str:
    """``current``, ``due`` (lapses within ``warn_days``), ``lapsed`` or ``missing``.

    Example:
        >>> coc = CodeOfConnection("MBC", "p.spoc", date(2026, 1, 5), date(2027, 1, 5))
        >>> coc_due([coc], date(2026, 6, 1)), coc_due([coc], date(2026, 12, 20)), coc_due([], date(2026, 6, 1))
        ('current', 'due', 'missing')
    """
    latest = max(declarations, key=lambda c: c.valid_until, default=None)
    if latest is None:
        return "missing"
    if latest.valid_until < today:
        return "lapsed"
    if latest.valid_until - today <= timedelta(days=warn_days):
        return "due"
    return "current"


@dataclass(frozen=True)
class InactiveUser:
    """A user with access and no query since ``last_activity`` (None = never)."""

    username: str
    last_activity: datetime | None


def inactive_users(
    users: Iterable[str],
    last_activity: Mapping[str, datetime],
    at: datetime,
    months: int,
    holding_since: Mapping[str, datetime] | None = None,
) -> list[InactiveUser]:
    """Users who ran no query in the ``months`` before ``at``, never-active first.

    Someone who has held access for less than ``months`` (``holding_since``) is not flagged
    for having had no time to use it.

    Example:
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 12, 1, tzinfo=timezone.utc)
        >>> [u.username for u in inactive_users(["a", "b"], {"a": at.replace(month=11)}, at, 6)]
        ['b']
    """
    cutoff = datetime.combine(add_months(at.date(), -months), at.timetz())
    since = holding_since or {}
    out = []
    for user in sorted(set(users)):
        known = [m for m in (last_activity.get(user), since.get(user)) if m is not None]
        if not known or max(known) < cutoff:
            out.append(InactiveUser(user, last_activity.get(user)))
    return sorted(out, key=lambda i: (i.last_activity is not None, i.last_activity or at))
