"""Look-ups of individual people: predicates that pin an identifying column to a literal.

Partnership analysts work with aggregates; a query that asks for one person — by id, name,
PNC id, date of birth, postcode or address — is worth a reviewer's look. This module reads
the SQL *as submitted* (sqlglot, DuckDB dialect) and finds comparisons of the forms

    column = literal        column IN (literal, …)        column [I]LIKE literal
    f(column) = literal     regexp_matches(column, literal)

(either side; a query parameter such as ``:pid`` or ``$1`` counts as a literal) where the
column's catalog sensitivity is ``person_key``, ``direct_identifier``, ``quasi_identifier`` or
``exact_location``. Joins (column = column) and comparisons with subqueries do not count.

Quasi-identifiers with a handful of values (``person.gender``, ``person.ethnicity``) pin a
group, not a person: by default they are ignored (:data:`GROUP_COLUMNS`).

Column resolution is deliberately forgiving (the SQL may have been refused): a qualified
column whose qualifier is a catalog table or its alias resolves to that table; any other
column resolves to every catalog table in the query that has a column of that name.

Example:
    >>> from gateway.catalog import load_catalog
    >>> found = pinned_predicates(
    ...     "SELECT * FROM person p WHERE lower(p.surname) = 'smith'", load_catalog())
    >>> [(f.column, f.sensitivity.value) for f in found]
    [('person.surname', 'direct_identifier')]
    >>> pinned_predicates("SELECT count(*) FROM person WHERE gender = 'female'", load_catalog())
    ()
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from gateway.catalog import Catalog, Sensitivity

__all__ = ["GROUP_COLUMNS", "PERSON_SENSITIVITIES", "PinnedPredicate", "pinned_predicates"]

PERSON_SENSITIVITIES = frozenset(
    {
        Sensitivity.PERSON_KEY,
        Sensitivity.DIRECT_IDENTIFIER,
        Sensitivity.QUASI_IDENTIFIER,
        Sensitivity.EXACT_LOCATION,
    }
)
GROUP_COLUMNS = frozenset({"person.gender", "person.ethnicity"})


@dataclass(frozen=True)
class PinnedPredicate:
    """One comparison that pins an identifying column to a literal.

    Attributes:
        column: ``table.column`` pinned.
        sensitivity: its catalog sensitivity.
        operator: ``=``, ``IN``, ``LIKE``, ``ILIKE`` or ``REGEXP``.
        predicate: the comparison as SQL (it contains the literal: for reviewers only).
    """

    column: str
    sensitivity: Sensitivity
    operator: str
    predicate: str


_OPERATORS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.In: "IN",
    exp.Like: "LIKE",
    exp.ILike: "ILIKE",
    exp.RegexpLike: "REGEXP",
}


def _is_literal(node: exp.Expr | None) -> bool:
    """No column, no subquery, and at least one literal or parameter inside."""
    if node is None or node.find(exp.Column, exp.Select) is not None:
        return False
    return node.find(exp.Literal, exp.Placeholder, exp.Parameter) is not None


def _pinned_sides(node: exp.Expr) -> list[exp.Expr]:
    """The column-bearing side(s) of ``node`` that are compared with a literal."""
    if isinstance(node, exp.In):
        values = node.expressions
        if node.args.get("query") or not values or not all(_is_literal(v) for v in values):
            return []
        return [node.this]
    left, right = node.this, node.expression
    if isinstance(node, exp.EQ) and _is_literal(left):
        left, right = right, left
    return [left] if left.find(exp.Column) is not None and _is_literal(right) else []


class _Resolver:
    def __init__(self, tree: exp.Expr, catalog: Catalog) -> None:
        self.catalog = catalog
        self.aliases: dict[str, str] = {}
        for table in tree.find_all(exp.Table):
            name = table.name.lower()
            if name in catalog:
                self.aliases[table.alias_or_name.lower()] = name
                self.aliases.setdefault(name, name)
        self.in_query = sorted(set(self.aliases.values()))

    def tables_for(self, column: exp.Column) -> list[str]:
        name = column.name.lower()
        qualifier = column.table.lower()
        if qualifier and qualifier in self.aliases:
            candidates = [self.aliases[qualifier]]
        else:
            candidates = self.in_query
        return [t for t in candidates if name in self.catalog.table(t).column_names]


def pinned_predicates(
    sql: str,
    catalog: Catalog,
    *,
    sensitivities: Collection[Sensitivity] = PERSON_SENSITIVITIES,
    ignore: Collection[str] = GROUP_COLUMNS,
) -> tuple[PinnedPredicate, ...]:
    """Every comparison in ``sql`` that pins an identifying column to a literal.

    Args:
        sql: the SQL as submitted (DuckDB dialect). Unparseable SQL yields nothing.
        catalog: the warehouse catalog (column sensitivities).
        sensitivities: which sensitivity classes identify a person.
        ignore: ``table.column`` names that never count (group-level quasi-identifiers).
    """
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except SqlglotError:
        return ()
    found: list[PinnedPredicate] = []
    for tree in statements:
        if tree is None:
            continue
        resolver = _Resolver(tree, catalog)
        for node in tree.find_all(*_OPERATORS):
            predicate = node.sql(dialect="duckdb")
            for side in _pinned_sides(node):
                for column in side.find_all(exp.Column):
                    for table in resolver.tables_for(column):
                        qualified = f"{table}.{column.name.lower()}"
                        sensitivity = catalog.table(table).column(column.name.lower()).sensitivity
                        if sensitivity in sensitivities and qualified not in ignore:
                            found.append(
                                PinnedPredicate(
                                    qualified, sensitivity, _OPERATORS[type(node)], predicate
                                )
                            )
    return tuple(dict.fromkeys(found))
