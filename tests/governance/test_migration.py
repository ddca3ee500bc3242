"""A register written by schema version 1 opens with this gateway: migrated in place, every
record kept, the new fields empty — so what they now require shows as missing, never as given."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.governance.partnership import SharingAgreement
from gateway.governance.preconditions import shortfalls
from gateway.governance.schema import SCHEMA_VERSION, TABLES
from gateway.governance.store import GovernanceStore

#: The register as a file (migrated, or a session fixture copied between tests).
pytestmark = pytest.mark.register_file

V1 = Path(__file__).parent / "fixtures" / "governance_v1.sql"
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)


def v1_file(tmp_path: Path) -> Path:
    path = tmp_path / "governance.sqlite"
    con = sqlite3.connect(path)
    con.executescript(V1.read_text(encoding="utf-8"))
    con.close()
    return path


def version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT version FROM governance_schema").fetchone()[0])
    finally:
        con.close()


def test_a_version_1_register_is_migrated_with_its_records(tmp_path: Path) -> None:
    path = v1_file(tmp_path)
    assert version(path) == 1
    store = GovernanceStore(path)
    assert version(path) == SCHEMA_VERSION == 2
    with store.reading() as r:
        khan = r.require_person("a.khan")
        assert (khan.line_manager, khan.phone) == ("m.jones", "01642 300002")
        assert (khan.senior_analyst, khan.deputies, khan.local_supervisor) == (None, (), None)
        [memo] = r.memoranda("MBC", "a.khan")
        assert (memo.reference, memo.username) == ("MOU-MBC-2026", None)  # the organisation's
        request = r.require_request("AR-20260105-ABCDEF")
        assert request.history[0].phone == ""
        records = r.precondition_records(khan, AT)
        tables = {row[0] for row in r.conn.execute("SELECT name FROM sqlite_master")}
    assert set(TABLES) <= tables
    assert records.partnership is not None
    assert records.partnership.agreements == ()
    found = {s.code for s in shortfalls(records, "general", AT.date())}
    assert {"isa_missing", "senior_analyst_missing", "local_supervisor_missing"} <= found
    # the new tables take records at once
    with store.writing() as tx:
        tx.add_sharing_agreement(
            SharingAgreement("MBC", "ISA-MBC", AT.date(), None, "root"), by="root", at=AT
        )
    with store.reading() as r:
        assert [a.reference for a in r.sharing_agreements("MBC")] == ["ISA-MBC"]
    GovernanceStore(path)  # opening again changes nothing
    assert version(path) == 2


def test_a_register_from_a_newer_gateway_is_refused(tmp_path: Path) -> None:
    path = v1_file(tmp_path)
    con = sqlite3.connect(path)
    con.execute("UPDATE governance_schema SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(ConfigurationError, match="schema version 99"):
        GovernanceStore(path)
