"""Shared sqlglot schema objects (gateway.catalog.sqlglot_schemas): one per shape, rebuilt after
a bounded number of uses, and the same qualification as a schema built for the call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlglot
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import Schema

from gateway.catalog import sqlglot_schemas
from gateway.catalog.sqlglot_schemas import mapping_schema

SHAPE = {"main": {"crime": {"crime_id": "BIGINT", "recorded_at": "TIMESTAMP"}}}


def test_one_object_per_shape_rebuilt_after_its_uses() -> None:
    first = mapping_schema(SHAPE)
    assert mapping_schema({"main": {"crime": dict(SHAPE["main"]["crime"])}}) is first
    assert mapping_schema({"main": {"crime": {"crime_id": "BIGINT"}}}) is not first
    seen = {id(mapping_schema(SHAPE)) for _ in range(sqlglot_schemas.USES + 2)}
    assert len(seen) == 2  # its look-up caches do not grow for ever


def test_a_shared_schema_qualifies_as_a_fresh_one_from_many_threads() -> None:
    sql = "SELECT c.crime_id, recorded_at FROM crime AS c WHERE crime_id > {n}"

    def qualified(n: int, shared: bool) -> str:
        fresh: dict[str, object] = {k: dict(v) for k, v in SHAPE.items()}
        schema: Schema | dict[str, object] = mapping_schema(SHAPE) if shared else fresh
        tree = sqlglot.parse_one(sql.format(n=n), dialect="duckdb")
        return qualify(tree, dialect="duckdb", schema=schema, quote_identifiers=False).sql("duckdb")

    with ThreadPoolExecutor(4) as pool:
        shared = list(pool.map(lambda n: qualified(n, True), range(200)))
    assert shared == [qualified(n, False) for n in range(200)]
    assert "c.recorded_at" in shared[0]
