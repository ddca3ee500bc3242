"""Victims of sensitive crimes are not linkable: row filters derived from the catalog's links.

A level's ``[levels.<name>.unlinkable_victims]`` rule (:class:`UnlinkableVictims`) says which
crimes are sensitive and in which roles a person may stay linked to one. This module turns it
into a row-filter predicate for every table on a person-to-crime path — the paths
:func:`~gateway.catalog.links.link_paths` finds in the catalog, so a link added there is
covered without anyone listing it:

* the crime's own link table (``crime_person``, a *direct* path) keeps a row when its role is
  linkable or its crime is not sensitive;
* every other path (``custody``; ``incident_person`` through ``incident.crime_id``) keeps a
  row when the crime it reaches is absent or not sensitive, or else when the path's own role
  (if it has one) is linkable *and* the direct link records the same person on that crime in a
  linkable role.

Row filters only see rows the level can see, so a victim row the direct link hides cannot be
named in another table's filter. The rule is therefore written the other way round — keep what
is known to be linkable — and anything unknown fails closed: a crime the level cannot see, a
NULL flag, a detained person or caller the crime does not record as suspect. Pure: no I/O.

Example:
    >>> from gateway.catalog import load_catalog
    >>> rule = UnlinkableVictims("domestic_abuse", ("suspect",))
    >>> filters = victim_filters(load_catalog(), rule, {"crime", "crime_person"})
    >>> print(filters["crime_person"])
    role IN ('suspect') OR (crime_id IS NULL OR crime_id IN (SELECT __sv_crime.crime_id FROM crime AS __sv_crime WHERE (__sv_crime.domestic_abuse) IS FALSE))
"""

from __future__ import annotations

from collections.abc import Collection

import sqlglot
from sqlglot import exp

from gateway.catalog import Catalog, LinkPath, link_paths
from gateway.errors import ConfigurationError
from gateway.policy.model import UnlinkableVictims

__all__ = ["SOURCE", "TARGET", "victim_filters", "victim_paths"]

#: Whose links are protected, and to what.
SOURCE = "person"
TARGET = "crime"

_PREFIX = "__sv_"


def victim_paths(catalog: Catalog) -> tuple[LinkPath, ...]:
    """Every path from a person to a crime that the catalog declares.

    Example:
        >>> from gateway.catalog import load_catalog
        >>> [p.table for p in victim_paths(load_catalog())]
        ['custody', 'crime_person', 'incident_person']
    """
    return link_paths(catalog, SOURCE, TARGET)


def victim_filters(
    catalog: Catalog, rule: UnlinkableVictims, visible: Collection[str]
) -> dict[str, str]:
    """Table name → the predicate that enforces ``rule`` there, for a level seeing ``visible``.

    Paths that start at a table the level cannot see are skipped (nothing is linked there).
    ``rule.sensitive`` must already be a validated predicate over ``crime``.

    Raises:
        ConfigurationError: ``crime``, or a table a visible path runs through, is not visible
            (the rule could not be checked on that path).
    """
    if TARGET not in visible:
        raise ConfigurationError(f"it reads {TARGET!r}, which this level cannot see")
    paths = [p for p in victim_paths(catalog) if p.table in visible]
    for path in paths:
        hidden = [t for t in path.tables if t not in visible]
        if hidden:
            raise ConfigurationError(
                f"the link {path} runs through {hidden[0]!r}, which this level cannot see"
            )
    registers = [p for p in paths if p.direct and p.capacity_column]
    conditions: dict[str, list[exp.Expr]] = {}
    for path in paths:
        keep = _reaches_no_sensitive_crime(path, rule)
        if path.direct:
            if path.capacity_column:
                keep = exp.or_(_role_in(path.capacity_column, rule), keep)
        elif registers:
            recorded = exp.or_(*(_recorded_as_linkable(path, r, rule) for r in registers))
            if path.capacity_column:
                recorded = exp.and_(_role_in(path.capacity_column, rule), recorded)
            keep = exp.or_(keep, exp.paren(recorded))
        conditions.setdefault(path.table, []).append(keep)
    return {
        table: exp.and_(*(exp.paren(c) for c in found)).sql(dialect="duckdb")
        if len(found) > 1
        else found[0].sql(dialect="duckdb")
        for table, found in conditions.items()
    }


def _open_crimes(key: str, rule: UnlinkableVictims) -> exp.Select:
    """``SELECT key FROM crime WHERE (sensitive) IS FALSE``: NULL counts as sensitive."""
    alias = f"{_PREFIX}{TARGET}"
    sensitive = sqlglot.parse_one(rule.sensitive, read="duckdb")
    for column in list(sensitive.find_all(exp.Column)):
        if not column.table and column.find_ancestor(exp.Query) is None:
            column.set("table", exp.to_identifier(alias))
    return (
        exp.select(exp.column(key, table=alias))
        .from_(exp.to_table(TARGET).as_(alias))
        .where(exp.Is(this=exp.paren(sensitive), expression=exp.false()))
    )


def _reaches_no_sensitive_crime(path: LinkPath, rule: UnlinkableVictims) -> exp.Expr:
    """Every key on the way is NULL (no link) or leads to a crime that is not sensitive.

    Built from the crime backwards: ``c0 IS NULL OR c0 IN (SELECT k1 FROM r1 WHERE c1 IS NULL
    OR c1 IN (… SELECT crime_id FROM crime WHERE (sensitive) IS FALSE))``.
    """
    inner: exp.Select = _open_crimes(path.hops[-1].references.column, rule)
    for depth in range(len(path.hops) - 1, 0, -1):
        hop, owner = path.hops[depth], _alias(path, depth)
        key = exp.column(hop.column, table=owner)
        inner = (
            exp.select(exp.column(path.hops[depth - 1].references.column, table=owner))
            .from_(exp.to_table(hop.table).as_(owner))
            .where(exp.or_(key.is_(exp.null()), _in(key.copy(), inner)))
        )
    key = exp.column(path.hops[0].column)
    return exp.or_(key.is_(exp.null()), _in(key.copy(), inner))


def _recorded_as_linkable(path: LinkPath, register: LinkPath, rule: UnlinkableVictims) -> exp.Expr:
    """``(first key, person)`` is among the crime's direct links in a linkable role.

    The direct link is reached through the same hops as ``path``: for ``incident_person``,
    ``{incident_id, person_id} IN (SELECT {i.incident_id, l.person_id} FROM incident AS i JOIN
    crime_person AS l ON l.crime_id = i.crime_id WHERE l.role IN (…))``.
    """
    assert register.capacity_column is not None
    link = f"{_PREFIX}{register.table}"
    (to_crime,) = register.hops
    if to_crime.references != path.hops[-1].references:  # a different key of the crime
        return exp.false()
    first = path.hops[0]
    if len(path.hops) == 1:  # the path's own column is the crime key
        select = exp.select(exp.column(to_crime.column, table=link)).from_(
            exp.to_table(register.table).as_(link)
        )
    else:
        select = exp.select(exp.column(first.references.column, table=_alias(path, 1))).from_(
            exp.to_table(path.hops[1].table).as_(_alias(path, 1))
        )
        for depth in range(2, len(path.hops)):
            came_by = path.hops[depth - 1]
            select = select.join(
                exp.to_table(path.hops[depth].table).as_(_alias(path, depth)),
                on=exp.column(came_by.references.column, table=_alias(path, depth)).eq(
                    exp.column(came_by.column, table=_alias(path, depth - 1))
                ),
            )
        last = path.hops[-1]
        select = select.join(
            exp.to_table(register.table).as_(link),
            on=exp.column(to_crime.column, table=link).eq(
                exp.column(last.column, table=_alias(path, len(path.hops) - 1))
            ),
        )
    keys = select.expressions[0], exp.column(register.source_column, table=link)
    select = select.select(_pair(*keys), append=False).where(
        _role_in(register.capacity_column, rule, link)
    )
    return _in(_pair(exp.column(first.column), exp.column(path.source_column)), select)


def _pair(key: exp.Expr, person: exp.Expr) -> exp.Struct:
    """``{'key': …, 'person': …}``: DuckDB plans ``struct IN (SELECT struct …)`` as a hash
    join even under OR, where a row value ``(a, b) IN (…)`` becomes a nested loop (seconds
    instead of milliseconds on a full warehouse). Struct equality treats NULL fields as equal;
    the direct link's keys are primary-key columns (never NULL), and a NULL key on the path
    means no crime, which the path's own condition keeps anyway.
    """
    return exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("key"), expression=key),
            exp.PropertyEQ(this=exp.to_identifier(SOURCE), expression=person),
        ]
    )


def _in(value: exp.Expr, query: exp.Select) -> exp.In:
    return exp.In(this=value, query=exp.Subquery(this=query))


def _role_in(column: str, rule: UnlinkableVictims, table: str | None = None) -> exp.Expr:
    if not rule.linkable_roles:
        return exp.false()
    return exp.column(column, table=table).isin(
        *(exp.Literal.string(r) for r in rule.linkable_roles)
    )


def _alias(path: LinkPath, depth: int) -> str:
    return f"{_PREFIX}{path.hops[depth].table}_{depth}"
