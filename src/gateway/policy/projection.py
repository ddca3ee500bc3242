"""Masked projections, the pure part: how a policy subquery's materialisation is named and found.

A projection is a policy subquery the rewriter generates, materialised as a table named after the
SHA-256 of its exact text (:mod:`gateway.projections` builds them). The rewriter asks a
:class:`ProjectionIndex` for the table of the text it would run; only an exact match is used.

Example:
    >>> projection_name("SELECT 1") == projection_name("SELECT 1")
    True
    >>> projection_name("SELECT 1") == projection_name("SELECT 2")
    False
    >>> ProjectionIndex("v1", frozenset({projection_name("SELECT 1")})).lookup("SELECT 2") is None
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

__all__ = [
    "PROJECTION_CATALOG",
    "SORT_COLUMN",
    "ProjectionIndex",
    "ProjectionSource",
    "materialisable",
    "projection_name",
]

#: Name the projections file is attached under in engine sessions.
PROJECTION_CATALOG = "projections"
#: The column projections are sorted by when the table has it (the area row filters' column).
SORT_COLUMN = "local_authority_code"
_VOLATILE: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "CurrentDate",
        "CurrentDatetime",
        "CurrentTime",
        "CurrentTimestamp",
        "Rand",
        "Randn",
        "Uuid",
    )
    if hasattr(exp, name)
)
_VOLATILE_NAMES = frozenset(
    {
        "now",
        "today",
        "random",
        "setseed",
        "uuid",
        "gen_random_uuid",
        "current_date",
        "current_time",
        "current_timestamp",
        "current_localtime",
        "current_localtimestamp",
        "get_current_time",
        "get_current_timestamp",
        "transaction_timestamp",
    }
)


def projection_name(policy_sql: str) -> str:
    """The table that materialises ``policy_sql`` (a hash of its exact text)."""
    return "p_" + hashlib.sha256(policy_sql.encode()).hexdigest()[:40]


def materialisable(policy_sql: str) -> bool:
    """Whether ``policy_sql`` gives the same rows whenever it runs on an unchanged warehouse
    (no clock, no randomness: an age band computed today is wrong tomorrow).

    Example:
        >>> materialisable("SELECT a FROM main.t LIMIT 5")
        True
        >>> materialisable("SELECT date_sub('year', a, CURRENT_DATE) FROM main.t")
        False
    """
    tree = sqlglot.parse_one(policy_sql, dialect="duckdb")
    if any(True for _ in tree.find_all(*_VOLATILE)):
        return False
    return not any(
        str(node.name).lower() in _VOLATILE_NAMES for node in tree.find_all(exp.Func)
    ) and not any(str(node.name).lower() in _VOLATILE_NAMES for node in tree.find_all(exp.Column))


@dataclass(frozen=True)
class ProjectionSource:
    """One policy subquery to materialise: its table and exact generated SQL."""

    table: str
    sql: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ProjectionIndex:
    """The projections one file holds, by the policy subquery text they materialise.

    Attributes:
        version: the stamp of what the file was built from.
        names: the projection table names the file holds.
        catalog: the name the file is attached under.
    """

    version: str
    names: frozenset[str]
    catalog: str = PROJECTION_CATALOG

    def lookup(self, policy_sql: str) -> str | None:
        """The table materialising exactly ``policy_sql``, or None (run it live)."""
        name = projection_name(policy_sql)
        return name if name in self.names else None
