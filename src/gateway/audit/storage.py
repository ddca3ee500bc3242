"""What the SQL audit stores share, whatever the database: the event filters as SQL, reading in
pages by ``seq``, the retention cut-off and what a disposal record says.

Pure: each store (:mod:`gateway.audit.sqlite`, :mod:`gateway.audit.postgresql`) runs the SQL
with its own driver and parameter style (``?`` or ``%s``).

Example:
    >>> from datetime import UTC, datetime
    >>> conditions = event_conditions(["query.started"], "s.patel", None, None, "?")
    >>> conditions.sql, conditions.params
    (' AND kind IN (?) AND actor = ?', ('query.started', 's.patel'))
    >>> pages = {0: [(1,), (2,)], 2: [(3,)]}
    >>> [row[0] for row in paged(lambda last, size: pages[last], page_rows=2)]
    [1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.audit.chain import format_time

__all__ = ["EventConditions", "cutoff_seq", "disposal_details", "event_conditions", "paged"]

Row = Sequence[Any]


@dataclass(frozen=True)
class EventConditions:
    """Extra ``AND …`` conditions on ``audit_event`` and their parameters, in order."""

    sql: str
    params: tuple[Any, ...]


def event_conditions(
    kinds: Collection[str] | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    placeholder: str,
) -> EventConditions | None:
    """The filters of :meth:`gateway.audit.store.AuditStore.events` as SQL (None: an empty
    ``kinds`` matches nothing, so there is nothing to read)."""
    where: list[str] = []
    params: list[Any] = []
    if kinds is not None:
        kinds = list(kinds)
        if not kinds:
            return None
        where.append(f"kind IN ({', '.join([placeholder] * len(kinds))})")
        params.extend(kinds)
    if actor is not None:
        where.append(f"actor = {placeholder}")
        params.append(actor)
    if since is not None:
        where.append(f"time >= {placeholder}")
        params.append(format_time(since))
    if until is not None:
        where.append(f"time < {placeholder}")
        params.append(format_time(until))
    return EventConditions("".join(f" AND {w}" for w in where), tuple(params))


def paged(
    fetch: Callable[[int, int], Sequence[Row]],
    *,
    page_rows: int,
    after_seq: int = 0,
    limit: int | None = None,
) -> Iterator[Row]:
    """Rows in ``seq`` order (the first column), read ``page_rows`` at a time by
    ``fetch(after_seq, page_size)``, at most ``limit`` of them."""
    remaining = limit
    last = after_seq
    while remaining is None or remaining > 0:
        page = page_rows if remaining is None else min(page_rows, remaining)
        rows = fetch(last, page)
        yield from rows
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < page:
            return
        last = int(rows[-1][0])


def cutoff_seq(first_kept: int | None, last: int | None) -> int:
    """What a retention cut-off may dispose of, from the first ``seq`` at or after the cut-off
    time and the last ``seq``: everything before the first kept record (0: nothing)."""
    if first_kept is not None:
        return int(first_kept) - 1
    return int(last) if last is not None else 0


def disposal_details(
    details: Mapping[str, Any],
    *,
    first_seq: int,
    through_seq: int,
    through_hash: str,
    through_event_id: str,
) -> dict[str, Any]:
    """What the ``audit.disposed`` record says about what it removed: the first and last
    ``seq`` disposed of, the last one's hash and event id (what remains chains on from it, see
    :mod:`gateway.audit.disposal`) and how many records went."""
    return {
        **details,
        "first_seq": first_seq,
        "through_seq": through_seq,
        "through_hash": through_hash,
        "through_event_id": through_event_id,
        "records": through_seq - first_seq + 1,
    }
