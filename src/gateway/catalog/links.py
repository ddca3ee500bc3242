"""Link paths: every way the catalog's foreign keys tie a row about one thing to another.

A :class:`LinkPath` starts at a table holding a key of the *source* (say a ``person_id``) and
follows foreign keys forward — each hop from a column to the one row it names — until it
reaches the *target* (say ``crime.crime_id``). Following keys forward only means every path
names exactly one target row per starting row ("this incident's crime"); a shared entity such as
a location is not a link between the records that mention it.

:func:`link_paths` enumerates the paths from the declaration alone, so a table or foreign key
added to ``warehouse.toml`` is covered without anyone listing it (the policy's sensitive-victim
protection is built on this).

Example:
    >>> from gateway.catalog import load_catalog
    >>> for path in link_paths(load_catalog(), "person", "crime"):
    ...     print(path)
    custody.person_id: custody.crime_id -> crime.crime_id
    crime_person.person_id: crime_person.crime_id -> crime.crime_id
    incident_person.person_id: incident_person.incident_id -> incident.incident_id, incident.crime_id -> crime.crime_id
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog.model import Catalog, ForeignKey, Table, TableKind

__all__ = ["Hop", "LinkPath", "link_paths"]


@dataclass(frozen=True)
class Hop:
    """One foreign key followed: ``table.column`` names a row of ``references``."""

    table: str
    column: str
    references: ForeignKey

    def __str__(self) -> str:
        return f"{self.table}.{self.column} -> {self.references.table}.{self.references.column}"


@dataclass(frozen=True)
class LinkPath:
    """A way a row of ``table`` ties the source key in ``source_column`` to one target row.

    Attributes:
        table: the table holding the source key (``incident_person``).
        source_column: its column referring to the source (``person_id``).
        hops: the foreign keys followed from ``table`` to the target, in order; the last one
            refers to the target table.
        direct: ``table`` is a link table between source and target (``crime_person``): the
            record that says in which capacity the source is linked to the target.
        capacity_column: when ``table`` is a link table, the column that says in which
            capacity the two are linked (``role``): the primary-key column that is not a
            foreign key (the same two rows may be linked more than once, once per capacity).
    """

    table: str
    source_column: str
    hops: tuple[Hop, ...]
    direct: bool
    capacity_column: str | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables the path runs through, from ``table`` to the target."""
        return (self.table, *(hop.references.table for hop in self.hops))

    def __str__(self) -> str:
        return f"{self.table}.{self.source_column}: " + ", ".join(str(h) for h in self.hops)


def link_paths(catalog: Catalog, source: str, target: str) -> tuple[LinkPath, ...]:
    """Every foreign-key path from a table holding a ``source`` key to a ``target`` row.

    A path may not pass through the source or target table on its way (it would be a path
    from them instead) nor visit a table twice. Paths come in catalog order of their starting
    table, shortest first for the same table.

    Example:
        >>> from gateway.catalog import load_catalog
        >>> [(p.table, p.direct) for p in link_paths(load_catalog(), "vehicle", "crime")]
        [('crime_vehicle', True), ('incident_vehicle', False)]
    """
    paths: list[LinkPath] = []
    for table in catalog:
        if table.name in (source, target):
            continue
        for column in table.columns:
            if column.references is None or column.references.table != source:
                continue
            capacity = _capacity_column(table)
            for hops in _hops_to(catalog, table.name, target, seen=(source,)):
                direct = table.kind is TableKind.LINK and len(hops) == 1
                paths.append(LinkPath(table.name, column.name, hops, direct, capacity))
    return tuple(sorted(paths, key=lambda p: (_position(catalog, p.table), len(p.hops))))


def _hops_to(
    catalog: Catalog, table: str, target: str, *, seen: tuple[str, ...]
) -> list[tuple[Hop, ...]]:
    """Foreign-key chains from ``table`` to ``target`` that avoid the ``seen`` tables."""
    found: list[tuple[Hop, ...]] = []
    for column in catalog.table(table).columns:
        ref = column.references
        if ref is None or ref.table in seen or ref.table == table:
            continue
        hop = Hop(table, column.name, ref)
        if ref.table == target:
            found.append((hop,))
            continue
        for rest in _hops_to(catalog, ref.table, target, seen=(*seen, table)):
            found.append((hop, *rest))
    return found


def _capacity_column(table: Table) -> str | None:
    if table.kind is not TableKind.LINK:
        return None
    keys = [c for c in table.primary_key if table.column(c).references is None]
    return keys[0] if len(keys) == 1 else None


def _position(catalog: Catalog, table: str) -> int:
    return list(catalog.tables).index(table)
