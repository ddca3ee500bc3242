"""The formula-injection guard: CSV and XLSX text a spreadsheet would run as a formula gets a
leading apostrophe (read back from the files); numbers are untouched; it can be switched off."""

from __future__ import annotations

import csv
import io

import openpyxl
import pyarrow as pa
import pytest

from gateway.datadir import DataDir
from gateway.errors import InputError
from gateway.exports import export_query, parse_options
from gateway.exports.formulas import guard_formulas
from gateway.service import QueryService
from tests.exports.helpers import ANALYST

#: Crafted text in every triggering position, harmless text, and negative numbers.
CRAFTED_SQL = (
    "SELECT '=HYPERLINK(\"http://evil.example\")' AS eq, '+1+1' AS plus, '-2+3' AS minus, "
    "'@SUM(A1)' AS at, $tab AS tab, $cr AS cr, 'a=b' AS fine, '''=quoted' AS quoted, "
    '-5 AS n, -1.5 AS x, name AS "=name" FROM local_authority ORDER BY name LIMIT 2'
)
PARAMS = {"tab": "\t=1+1", "cr": "\r=1+1"}
GUARDED = {
    "eq": '\'=HYPERLINK("http://evil.example")',
    "plus": "'+1+1",
    "minus": "'-2+3",
    "at": "'@SUM(A1)",
    "tab": "'\t=1+1",
    "fine": "a=b",
    "quoted": "'=quoted",  # already starts with an apostrophe: left alone
}


def test_only_text_that_could_start_a_formula_is_guarded() -> None:
    table = pa.table(
        {
            "plain": pa.array(["=1", "ok", None], pa.string()),
            "large": pa.array(["+1", "-x", "@y"], pa.large_string()),
            "view": pa.array(["\tz", "\rz", "z"], pa.string_view()),
            "coded": pa.array(["=a", "b", "=a"]).dictionary_encode(),
            "n": pa.array([-1, 2, -3], pa.int64()),
            "x": pa.array([-0.5, 1.0, None], pa.float64()),
            "-name": pa.array([True, False, None]),
        }
    )
    out = guard_formulas(table)
    assert out.column_names == ["plain", "large", "view", "coded", "n", "x", "'-name"]
    assert out.column("plain").to_pylist() == ["'=1", "ok", None]
    assert out.column("large").to_pylist() == ["'+1", "'-x", "'@y"]
    assert out.column("view").to_pylist() == ["'\tz", "'\rz", "z"]
    assert out.column("coded").to_pylist() == ["'=a", "b", "'=a"]
    for name in ("n", "x"):
        assert out.column(name).equals(table.column(name))  # numbers are never touched
    assert out.schema.field("n").type == pa.int64()
    untouched = pa.table({"a": ["x", "y"], "n": [-1, 2]})
    assert guard_formulas(untouched) is untouched


def _csv_rows(path) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = path.read_text("utf-8")  # no comment line: a plain RFC 4180 file
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_export_guards_crafted_text(service: QueryService, export_dir: DataDir) -> None:
    exported = export_query(
        service, ANALYST, CRAFTED_SQL, "SA-2026", format="csv", data_dir=export_dir, params=PARAMS
    )
    rows = _csv_rows(exported.path)
    assert len(rows) == 2
    for row in rows:
        for column, expected in GUARDED.items():
            assert row[column] == expected, column
        assert row["cr"] in ("'\r=1+1", "'\n=1+1")  # the reader may normalise the newline
        assert (row["n"], row["x"]) == ("-5", "-1.5")  # numbers as they are
        assert row["'=name"] in ("Hartlepool", "Middlesbrough", "Redcar and Cleveland")
    raw = export_query(
        service,
        ANALYST,
        CRAFTED_SQL,
        "SA-2026",
        format="csv",
        data_dir=export_dir,
        params=PARAMS,
        options={"formula_guard": False},
    )
    (first, _) = _csv_rows(raw.path)
    assert (first["eq"], first["minus"], first["at"]) == (
        '=HYPERLINK("http://evil.example")',
        "-2+3",
        "@SUM(A1)",
    )


def test_xlsx_export_guards_crafted_text(service: QueryService, export_dir: DataDir) -> None:
    exported = export_query(
        service, ANALYST, CRAFTED_SQL, "SA-2026", format="xlsx", data_dir=export_dir, params=PARAMS
    )
    sheet = openpyxl.load_workbook(exported.path)["Data"]
    header, *rows = sheet.iter_rows(min_row=4, values_only=True)
    assert header[-1] == "'=name"
    for values in rows:
        row = dict(zip(header, values, strict=True))
        for column, expected in GUARDED.items():
            assert row[column] == expected, column
        assert (row["n"], row["x"]) == (-5, -1.5)  # still numbers
    for cell in next(sheet.iter_rows(min_row=5, max_row=5)):
        assert cell.data_type != "f"  # nothing is a formula
    raw = export_query(
        service,
        ANALYST,
        CRAFTED_SQL,
        "SA-2026",
        format="xlsx",
        data_dir=export_dir,
        params=PARAMS,
        options={"formula_guard": "false"},
    )
    cell = openpyxl.load_workbook(raw.path)["Data"]["A5"]
    assert cell.value == '=HYPERLINK("http://evil.example")'
    assert cell.data_type == "s"  # unguarded, yet written as text, never as a formula


def test_formula_guard_option_is_checked() -> None:
    assert parse_options("csv", None).formula_guard is True
    assert parse_options("xlsx", {"formula_guard": "no"}).formula_guard is False
    with pytest.raises(InputError, match="formula_guard"):
        parse_options("csv", {"formula_guard": "sometimes"})
