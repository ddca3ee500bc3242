"""The pseudonym vault holds exactly the HMAC pseudonyms, and is rebuilt when its inputs change."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from gateway.catalog import Catalog
from gateway.policy import load_default_policy
from gateway.policy.masks import pseudonym_python
from gateway.pseudonym_vault import ensure_vault, vault_domains
from tests.rewrite import crafted

KEY = b"k" * 32


def _digests(path: Path, domain: str) -> dict[object, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return dict(con.sql(f"SELECT value, digest FROM {domain}").fetchall())
    finally:
        con.close()


def test_domains_cover_every_pseudonymised_column_and_its_target(catalog: Catalog) -> None:
    domains = vault_domains(load_default_policy(catalog), catalog)
    assert sorted(domains) == ["person", "vehicle"]
    person = domains["person"]
    assert ("person", "person_id") in person.sources
    assert ("crime_person", "person_id") in person.sources
    assert ("intelligence_report", "subject_person_id") in person.sources
    assert person.value_type == "BIGINT"
    assert domains["vehicle"].sources == (("vehicle", "vrm"),)


def test_vault_matches_hmac_and_rebuilds_on_change(tmp_path: Path, catalog: Catalog) -> None:
    warehouse = crafted.build(tmp_path / "warehouse.duckdb", catalog)
    domains = vault_domains(load_default_policy(catalog), catalog)
    vault = ensure_vault(tmp_path / "pseudonyms.duckdb", warehouse, KEY, domains)
    people = _digests(vault, "person")
    assert len(people) == 401  # 400 people + the sensitive-offence victim
    for value in (1, 17, crafted.SENSITIVE_VICTIM):
        assert "P" + people[value] == pseudonym_python(KEY, "person", value)
    vehicles = _digests(vault, "vehicle")
    some_vrm = next(iter(vehicles))
    assert "V" + vehicles[some_vrm] == pseudonym_python(KEY, "vehicle", some_vrm, "V")

    stamp = os.stat(vault).st_mtime_ns
    ensure_vault(vault, warehouse, KEY, domains)
    assert os.stat(vault).st_mtime_ns == stamp  # up to date: not rebuilt

    ensure_vault(vault, warehouse, b"another key" * 3, domains)
    assert _digests(vault, "person")[1] != people[1]  # new key: rebuilt
