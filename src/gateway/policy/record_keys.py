"""Record keys: the secret number the cell key method gives every record and every person.

The cell key method (:mod:`gateway.disclosure.cellkey`) needs a fixed **record key** for each
record, so that a published cell's key — the sum of its records' keys — depends only on which
records it counts, never on how the query labels them. The key of a record is the first 60
bits of HMAC-SHA256, under the deployment's keyed-hash secret, of ``#cell-key:<entity>:<id>``:
``<entity>`` is the table a key column names (``crime`` for ``crime.crime_id`` and for
``crime_person.crime_id``; ``person`` for every ``person_id``), ``<id>`` its raw value (the parts of
a composite primary key joined by ``|``). So a crime has the same key whether it is counted as
a ``crime`` row or as a distinct ``crime_id`` of a link table, and a person the same key in
every table.

The engine computes them (the trusted HMAC macro of :mod:`gateway.policy.masks`, which only
policy subqueries may call) as extra columns of the policy subquery of a disclosure-controlled
statement (:func:`gateway.rewrite.substitute.policy_subquery`); the analyst's SQL cannot name
them (they are not in the catalog), and the rewrite refuses stars and whole-row references in
such statements (:mod:`gateway.rewrite.cellkeys`), so no value of one ever reaches a result.
A pseudonym's message is ``<identifier>:<value>``; a record key's starts with ``#``, which no
pseudonym domain can, so no published pseudonym is ever a record key.

Example:
    >>> from sqlglot import exp
    >>> expression = record_key("crime", [exp.column("crime_id", table="b")])
    >>> "GW_HMAC_SHA256('#cell-key:crime:' || CAST(b.crime_id AS TEXT))" in expression.sql("duckdb")
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from gateway.catalog import Table
from gateway.policy.masks import PSEUDONYM_FUNCTION

__all__ = [
    "KEYABLE_MASKS",
    "RECORD_KEY",
    "key_column",
    "key_entity",
    "record_key",
]

#: The policy subquery column holding the record key of each row.
RECORD_KEY = "__gw_record_key"
#: Masks under which equal shown values mean equal records (so a distinct count of the shown
#: values counts the same records the keys do).
KEYABLE_MASKS = frozenset({"show", "pseudonym", "null"})
_HEX_DIGITS = 15  # 60 bits: a BIGINT, and sums of millions of them stay exact


def key_column(column: str) -> str:
    """The policy subquery column holding the key of the record that ``column`` names."""
    return f"__gw_key_{column}"


def key_entity(table: Table, column: str) -> str | None:
    """The table whose records ``table.column`` names (itself for a one-column primary key),
    or None when the column names no record.

    Example:
        >>> from gateway.catalog import load_catalog
        >>> catalog = load_catalog()
        >>> key_entity(catalog.table("crime_person"), "person_id")
        'person'
        >>> key_entity(catalog.table("crime"), "crime_id"), key_entity(catalog.table("crime"), "outcome")
        ('crime', None)
    """
    reference = table.column(column).references
    if reference is not None:
        return reference.table
    if table.primary_key == (column,):
        return table.name
    return None


def record_key(entity: str, raw: Sequence[exp.Expr]) -> exp.Expr:
    """The record key of the ``entity`` record whose identity is ``raw`` (NULL for a NULL)."""
    message: exp.Expr = exp.Literal.string(f"#cell-key:{entity}:")
    for position, value in enumerate(raw):
        if position:
            message = exp.DPipe(this=message, expression=exp.Literal.string("|"), safe=True)
        text = exp.Cast(this=value.copy(), to=exp.DataType.build("VARCHAR"))
        message = exp.DPipe(this=message, expression=text, safe=True)
    digest = exp.Anonymous(this=PSEUDONYM_FUNCTION, expressions=[message])
    hexed = exp.DPipe(
        this=exp.Literal.string("0x"),
        expression=exp.Left(this=digest, expression=exp.Literal.number(_HEX_DIGITS)),
        safe=True,
    )
    return exp.Cast(this=hexed, to=exp.DataType.build("BIGINT"))
