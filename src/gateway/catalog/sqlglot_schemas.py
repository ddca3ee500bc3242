"""sqlglot's schema objects for the column shapes the catalog and the policy views give, built
once per shape and shared.

sqlglot's qualifier and type annotator take ``{db: {table: {column: type}}}``, but turn it into
a :class:`~sqlglot.schema.MappingSchema` on every call, normalising every table and column name
first: 2.7 ms for the warehouse's, more than qualifying a template-sized query against it, and
paid by every query whose text the caches have not seen (an analyst's ad-hoc SQL). The shapes
repeat (one per level, purpose and set of extra schemas), so each is built once here.

A schema object keeps its own caches of the tables it has looked up, which grow with the
distinct table references it meets; so a shared one is rebuilt after :data:`USES` uses, and at
most :data:`KEPT` shapes are kept. Its look-ups are pure functions of the shape (what it caches
is what it would compute again), so threads share it safely.

Example:
    >>> first = mapping_schema({"main": {"crime": {"crime_id": "BIGINT"}}})
    >>> first is mapping_schema({"main": {"crime": {"crime_id": "BIGINT"}}})
    True
    >>> first.column_names("crime")
    ['crime_id']
    >>> first is mapping_schema({"main": {"crime": {"crime_id": "VARCHAR"}}})
    False
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot.schema import MappingSchema

from gateway.lru import LruCache

__all__ = ["KEPT", "USES", "mapping_schema"]

#: Shapes kept at once (least recently used dropped first).
KEPT = 64
#: Uses after which a shared schema object is built afresh (its look-up caches start empty).
USES = 1000

Shape = tuple[tuple[str, tuple[tuple[str, tuple[tuple[str, str], ...]], ...]], ...]

_built: LruCache[Shape, tuple[MappingSchema, int]] = LruCache(KEPT)  # with its uses


def mapping_schema(schema: Mapping[str, Mapping[str, Mapping[str, str]]]) -> MappingSchema:
    """The DuckDB-dialect :class:`~sqlglot.schema.MappingSchema` of ``schema``
    (``{db: {table: {column: type}}}``), shared with every caller giving the same shape."""
    shape: Shape = tuple(
        (str(db), tuple((str(t), tuple(cols.items())) for t, cols in tables.items()))
        for db, tables in schema.items()
    )
    found = _built.get(shape)
    if found is not None and found[1] < USES:
        # Two threads may count one use between them: the bound on uses is approximate.
        _built.put(shape, (found[0], found[1] + 1))
        return found[0]
    built = MappingSchema(
        {db: {t: dict(cols) for t, cols in tables.items()} for db, tables in schema.items()},
        dialect="duckdb",
    )
    _built.put(shape, (built, 1))
    return built
