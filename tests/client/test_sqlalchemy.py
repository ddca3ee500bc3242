"""The SQLAlchemy dialect (``gateway://``) against a live gateway: pandas.read_sql gives the
client's frame, reflection shows only the user's view, refusals keep their code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Engine

from gateway.client import connect as client_connect
from gateway.client import dbapi

registry.register("gateway", "gateway.client.sqlalchemy_dialect", "GatewayDialect")

README = Path(__file__).resolve().parents[2] / "README.md"


def engine_url(live_gateway, user: str, purpose: str = "SA-2026") -> str:  # type: ignore[no-untyped-def]
    netloc = urlsplit(live_gateway.url).netloc
    return f"gateway://:{live_gateway.token(user)}@{netloc}/?purpose={purpose}"


@pytest.fixture
def engine(live_gateway) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = sa.create_engine(engine_url(live_gateway, "a.khan"))
    yield engine
    engine.dispose()


def test_read_sql_gives_the_clients_frame(engine, live_gateway):  # type: ignore[no-untyped-def]
    sql = (
        "SELECT crime_id, recorded_at, police_uk_category FROM crime "
        "WHERE police_uk_category = :category ORDER BY crime_id"
    )
    frame = pd.read_sql(sa.text(sql), engine, params={"category": "burglary"})
    with client_connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026") as gw:
        expected = gw.query(sql.replace(":category", "$category"), params={"category": "burglary"})
    pd.testing.assert_frame_equal(frame, expected.to_pandas(), check_dtype=False)
    assert len(frame) > 10


def test_expressions_compile_to_sql_the_gateway_runs(engine):  # type: ignore[no-untyped-def]
    crime = sa.Table("crime", sa.MetaData(), autoload_with=engine)
    since = crime.c.recorded_at >= sa.literal("2025-01-01").cast(sa.DateTime)
    query = (
        sa.select(crime.c.police_uk_category, sa.func.count().label("n"))
        .where(since)
        .group_by(crime.c.police_uk_category)
        .order_by(crime.c.police_uk_category)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(
            sa.select(sa.func.count()).select_from(crime).where(since)
        ).scalar_one()
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert sum(r[1] for r in rows) == total


def test_the_inspector_lists_only_the_users_view(engine, live_gateway):  # type: ignore[no-untyped-def]
    inspector = sa.inspect(engine)
    tables = inspector.get_table_names()
    with client_connect(live_gateway.url, live_gateway.token("a.khan"), purpose="SA-2026") as gw:
        visible = sorted(t["name"] for t in gw.catalog()["tables"] if "." not in t["name"])
    assert tables == visible
    assert "crime" in tables
    assert "intelligence_report" not in tables
    assert inspector.get_schema_names() == ["main"]
    assert inspector.get_table_names(schema="main") == tables
    assert not inspector.has_table("intelligence_report")
    assert inspector.has_table("crime")
    columns = {c["name"]: c for c in inspector.get_columns("person")}
    assert "person_id" in columns
    crime_columns = {c["name"]: c["type"] for c in inspector.get_columns("crime")}
    assert isinstance(crime_columns["recorded_at"], sa.DateTime)
    with pytest.raises(sa.exc.NoSuchTableError):
        inspector.get_columns("intelligence_report")
    with pytest.raises(sa.exc.NoSuchTableError):
        sa.Table("intelligence_report", sa.MetaData(), autoload_with=engine)
    # the enhanced analyst's view of the same warehouse is wider
    enhanced = sa.create_engine(engine_url(live_gateway, "e.okafor", "JAG-2026-07"))
    try:
        assert sa.inspect(enhanced).has_table("intelligence_report")
    finally:
        enhanced.dispose()


def test_refusals_keep_their_code(engine):  # type: ignore[no-untyped-def]
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as refused:
        conn.execute(sa.text("SELECT * FROM intelligence_report"))
    original = refused.value.orig
    assert isinstance(original, dbapi.ProgrammingError)
    assert original.code == "table_not_permitted"
    assert original.query_id


def test_the_readme_section_runs(live_gateway, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    text = README.read_text("utf-8")
    section = text.split("## Connect from Python tools", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    assert "dbapi.connect" in code
    assert "create_engine" in code
    code = code.replace("http://127.0.0.1:8000", live_gateway.url)
    code = code.replace("127.0.0.1:8000", urlsplit(live_gateway.url).netloc)
    code = code.replace("pgw_…", live_gateway.token("h.lee"))
    monkeypatch.setenv("GATEWAY_CONFIG", str(tmp_path / "config.toml"))
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) > 0
