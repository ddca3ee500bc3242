"""The pure parts: field-name shortening, record-vs-aggregate, options, settings, approval state."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.analysis.classify import classify_rewrite
from gateway.audit.chain import GENESIS_HASH, seal
from gateway.catalog import Catalog
from gateway.errors import ConfigurationError, InputError
from gateway.exports import parse_options
from gateway.exports.approval import export_records, needs_approval
from gateway.exports.fieldnames import shorten_names
from gateway.exports.options import resolve_geometry
from gateway.policy.exports import ExportSettings, parse_export_settings
from gateway.principal import AccessGrant
from tests.exports.helpers import ENHANCED, REWRITE_MODES, rewritten

# --- field names --------------------------------------------------------------------------


def test_mapinfo_names_are_cut_to_31_without_collisions() -> None:
    names = [
        "offence_description_recorded_in_2025",
        "offence_description_recorded_in_2026",
        "offence_description_recorded_in",
        "n",
    ]
    out = shorten_names(names, 31)
    assert out == [  # readable: words shortened, the years kept whole, no "__2"
        "off_desc_recorded_2025",
        "off_desc_recorded_2026",
        "offence_description_recorded_in",
        "n",
    ]
    assert shorten_names(names, 31) == out  # deterministic


def test_names_are_legalised_and_reserved_names_avoided() -> None:
    assert shorten_names(
        ["count(*)", "1st", "geometry", "Geometry_2"], 10, reserved=["geometry"]
    ) == [
        "count___",
        "f_1st",
        "geometry_3",
        "Geometry_2",
    ]


@given(st.lists(st.text(min_size=0, max_size=40), max_size=30), st.sampled_from([None, 10, 31]))
def test_shortened_names_are_unique_legal_and_short(names: list[str], limit: int | None) -> None:
    out = shorten_names(names, limit, reserved=["geometry", "fid"])
    assert len(out) == len(names)
    lowered = [n.lower() for n in out]
    assert len(set(lowered)) == len(out)
    assert not ({"geometry", "fid"} & set(lowered))
    for name in out:
        assert name
        assert name[0].isalpha() or name[0] == "_"
        assert all((c.isalnum() and c.isascii()) or c == "_" for c in name)
        assert limit is None or len(name) <= limit


# --- record-level vs aggregate --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT lsoa_code, count(*) AS n FROM crime GROUP BY ALL", "aggregate"),
        ("SELECT count(*) FROM crime", "aggregate"),
        (
            "SELECT date_trunc('month', recorded_at) AS m, count(*) FROM crime GROUP BY m",
            "aggregate",
        ),
        ("SELECT lsoa_code, count(*) FROM crime GROUP BY ROLLUP (lsoa_code)", "aggregate"),
        (
            "SELECT * FROM (SELECT lsoa_code, count(*) AS n FROM crime GROUP BY ALL) WHERE n >= 10",
            "aggregate",
        ),
        (
            "WITH t AS (SELECT ward_code, count(*) AS n FROM crime GROUP BY 1) SELECT * FROM t",
            "aggregate",
        ),
        # Map-point coordinates trace to the public map_point table: counts per point are aggregate.
        (
            "SELECT l.easting, l.northing, count(*) FROM crime c JOIN location l USING (location_id) GROUP BY ALL",
            "aggregate",
        ),
        ("SELECT crime_id FROM crime", "record"),
        ("SELECT crime_id, count(*) FROM crime GROUP BY 1", "record"),
        (
            "WITH t AS (SELECT crime_id AS k FROM crime) SELECT k, count(*) FROM t GROUP BY k",
            "record",
        ),
        ("SELECT recorded_at, count(*) FROM crime GROUP BY recorded_at", "record"),
        ("SELECT person_id, count(*) FROM crime_person GROUP BY ALL", "record"),
        ("SELECT address, count(*) FROM location GROUP BY 1", "record"),
        ("SELECT DISTINCT lsoa_code FROM crime", "record"),
        ("SELECT crime_id, count(*) OVER () FROM crime", "record"),
        (
            "SELECT lsoa_code, n + 1 FROM (SELECT lsoa_code, count(*) AS n FROM crime GROUP BY ALL)",
            "record",
        ),
        (
            "SELECT lsoa_code, count(*) FROM crime GROUP BY ALL UNION ALL SELECT lsoa_code, incident_id FROM incident",
            "record",
        ),
        ("SELECT * FROM lsoa", "reference"),
        ("SELECT m.name, o.description FROM map_point m, offence_type o", "reference"),
    ],
)
@pytest.mark.parametrize("mode", REWRITE_MODES)
def test_classification(catalog: Catalog, sql: str, expected: str, mode: str) -> None:
    verdict = classify_rewrite(rewritten(sql, catalog, mode=mode), catalog)
    assert verdict.data_class == expected, verdict.reason


@pytest.mark.parametrize("mode", REWRITE_MODES)
def test_unmasked_coordinates_make_a_grouping_record_level(catalog: Catalog, mode: str) -> None:
    sql = "SELECT l.easting, count(*) FROM crime c JOIN location l USING (location_id) GROUP BY 1"
    verdict = classify_rewrite(rewritten(sql, catalog, ENHANCED, "JAG-2026", mode=mode), catalog)
    assert verdict.data_class == "record"
    assert "location.easting (exact_location)" in verdict.reason
    assert isinstance(ENHANCED.grants[0], AccessGrant)


# --- options and settings -------------------------------------------------------------------


def test_auto_geometry_prefers_points_then_the_finest_area() -> None:
    spec = parse_options("gpkg", {}).geometry
    assert resolve_geometry(spec, ["easting", "northing", "lsoa_code"]).kind == "points"
    assert resolve_geometry(spec, ["ward_code", "lsoa_code", "n"]).area_column == "lsoa_code"
    lonlat = resolve_geometry(spec, ["longitude", "latitude"])
    assert (lonlat.x, lonlat.source_crs) == ("longitude", 4326)
    with pytest.raises(InputError, match="area code column"):
        resolve_geometry(spec, ["n"])
    with pytest.raises(InputError, match="no column 'weight_col'"):
        resolve_geometry(
            parse_options("gpkg", {"geometry": "grid", "weight": "weight_col"}).geometry,
            ["easting", "northing"],
        )


def test_options_accept_text_values_from_the_command_line() -> None:
    opts = parse_options("MapInfo", {"crs": "EPSG:4326", "cell_size": "250", "csv_comment": "no"})
    assert (opts.format.name, opts.crs, opts.geometry.cell_size, opts.csv_marking) == (
        "tab",
        4326,
        250.0,
        None,
    )


def test_export_settings_validation() -> None:
    assert parse_export_settings(None) == ExportSettings()
    with pytest.raises(ConfigurationError, match=r"exports\.marking"):
        parse_export_settings({"marking": ""})
    with pytest.raises(ConfigurationError, match="require_approval_for_record_level"):
        parse_export_settings({"require_approval_for_record_level": "yes"})
    with pytest.raises(ConfigurationError, match="force_extent"):
        parse_export_settings({"force_extent": [1, 2, 0, 3]})
    custom = parse_export_settings(
        {"marking": "OFFICIAL", "approval_levels": ["general", "enhanced"]}
    )
    assert needs_approval(
        ExportSettings(
            require_approval_for_record_level=True, approval_levels=custom.approval_levels
        ),
        "enhanced",
        "record",
    )
    # on by default, for both levels (policy 198 appendix 2); aggregates never held
    assert needs_approval(ExportSettings(), "general", "record")
    assert needs_approval(ExportSettings(), "enhanced", "record")
    assert not needs_approval(ExportSettings(), "enhanced", "aggregate")
    assert not needs_approval(
        ExportSettings(require_approval_for_record_level=False), "general", "record"
    )
    with pytest.raises(ConfigurationError, match="query_record_max_rows"):
        parse_export_settings({"query_record_max_rows": -1})
    with pytest.raises(ConfigurationError, match="query_record_max_bytes"):
        parse_export_settings({"query_record_max_bytes": True})
    assert parse_export_settings({"query_record_max_rows": 0}).query_record_max_rows == 0


def test_export_state_is_folded_from_audit_events() -> None:
    t = datetime(2026, 5, 1, tzinfo=UTC)
    registered = {
        "query_id": "q1",
        "format": "gpkg",
        "file_name": "x.gpkg",
        "file_sha256": "a" * 64,
        "bytes": 10,
        "marking": "OFFICIAL-SENSITIVE",
        "approval": "pending",
    }
    events = [
        seal(1, "E1", t, "export.registered", "a.khan", "MBC", registered, GENESIS_HASH),
        # A decision about a different file hash does not release this one.
        seal(
            2,
            "E2",
            t,
            "export.approved",
            "s.patel",
            "CP",
            {"query_id": "q1", "file_sha256": "b" * 64},
            "x",
        ),
    ]
    assert export_records(events)["q1"].approval == "pending"
    events.append(
        seal(
            3,
            "E3",
            t,
            "export.rejected",
            "s.patel",
            "CP",
            {"query_id": "q1", "file_sha256": "a" * 64, "comment": "no"},
            "y",
        )
    )
    events.append(
        seal(
            4,
            "E4",
            t,
            "export.approved",
            "r.jones",
            "CP",
            {"query_id": "q1", "file_sha256": "a" * 64},
            "z",
        )
    )
    record = export_records(events)["q1"]
    assert (record.approval, record.decided_by, record.comment) == ("rejected", "s.patel", "no")


def test_xlsx_continues_on_new_sheets_and_never_writes_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl
    import pyarrow as pa

    from gateway.exports.provenance import Provenance
    from gateway.exports.writers import tabular

    monkeypatch.setattr(tabular, "XLSX_MAX_ROWS", 10)  # 6 data rows per sheet
    table = pa.table({"n": list(range(15)), "text": ['=HYPERLINK("x")'] + ["ok"] * 14})
    provenance = Provenance(
        query_id="q1", user="a.khan", organisation="MBC", level="general", purpose="SA",
        created_at=datetime(2026, 5, 1, tzinfo=UTC), policy_hash="ab" * 32,
        marking="OFFICIAL-SENSITIVE", format="xlsx", rows=15,
    )  # fmt: skip
    seen: list[int] = []
    tabular.write_xlsx(table, tmp_path / "x.xlsx", provenance=provenance, progress=seen.append)
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert book.sheetnames == ["Data", "Data 2", "Data 3", "Provenance"]
    values = [
        row[0]
        for sheet in book.worksheets[:3]
        for row in sheet.iter_rows(min_row=5, values_only=True)
    ]
    assert values == list(range(15))
    for sheet in book.worksheets:
        assert sheet["A1"].value == "OFFICIAL-SENSITIVE"
    cell = book["Data"]["B5"]
    assert cell.value == '=HYPERLINK("x")'
    assert cell.data_type == "s"  # text, not a formula
    assert seen[-1] == 15


def test_gis_libraries_load_only_when_a_map_export_runs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, gateway.exports, gateway.publish, gateway.api.routes.exports; "
        "print(sorted(m for m in ('pyogrio', 'shapely', 'pyproj', 'openpyxl', 'geopandas') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
