"""What the SQL analyses report, as plain frozen values a record can hold and read back.

No sqlglot here: the audit log stores a :class:`LookupAnalysis` with each query and reads it
back (verification, tables, reports) where the analysers themselves — and the server extra —
may not be installed. The analyses that make these values live beside them
(:mod:`gateway.analysis.lookups`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["LOOKUP_STATUSES", "LookupAnalysis", "LookupStatus"]


#: How an analysis of submitted SQL for person look-ups ended (see :class:`LookupAnalysis`).
LookupStatus = Literal["ok", "unparseable", "too_large", "too_deep", "failed"]
LOOKUP_STATUSES: tuple[LookupStatus, ...] = get_args(LookupStatus)


@dataclass(frozen=True)
class LookupAnalysis:
    """Whether a query's submitted SQL pins a person to a literal, as analysed once.

    Made by :func:`gateway.analysis.lookups.analyse_lookups` when the query is submitted and
    stored with the request (:class:`gateway.audit.facts.QueryRequest`), so review reports
    never re-parse hostile SQL. An analysis that could not finish says why instead of
    pretending the query found nothing.

    Example:
        >>> a = LookupAnalysis("ok", pinned=("person.surname",), predicates=("surname = 'X'",))
        >>> LookupAnalysis.from_details(a.details()) == a
        True
        >>> LookupAnalysis.from_details({"status": "exploded"}).status
        'failed'

    Attributes:
        status: ``ok`` (analysed: ``pinned`` may be empty) or why not: ``unparseable`` (not
            SQL that sqlglot reads), ``too_large``, ``too_deep`` (beyond the analyser's bounds
            on size and nesting) or ``failed`` (any other error).
        pinned: ``table.column`` pinned to a literal.
        predicates: those comparisons as SQL (capped in number and length; for reviewers).
        detail: why the analysis did not finish (``""`` when ``ok``).
    """

    status: LookupStatus
    pinned: tuple[str, ...] = ()
    predicates: tuple[str, ...] = ()
    detail: str = ""

    @property
    def complete(self) -> bool:
        return self.status == "ok"

    def details(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "pinned": list(self.pinned),
            "predicates": list(self.predicates),
            "detail": self.detail,
        }

    @classmethod
    def from_details(cls, value: object) -> LookupAnalysis:
        """Read an analysis back from a record; anything malformed reads as ``failed``."""
        if isinstance(value, dict):
            status, pinned = value.get("status"), value.get("pinned", [])
            predicates, detail = value.get("predicates", []), value.get("detail", "")
            if (
                status in LOOKUP_STATUSES
                and isinstance(pinned, list)
                and isinstance(predicates, list)
                and all(isinstance(v, str) for v in (*pinned, *predicates, detail))
            ):
                return cls(status, tuple(pinned), tuple(predicates), detail)
        return cls("failed", detail="the stored look-up analysis is malformed")
