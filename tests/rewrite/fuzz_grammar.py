"""A hypothesis grammar of hostile-but-plausible analyst SQL, for the differential fuzzer.

It leans on what has broken SQL rewriters before: quoting (doubled quotes, quoted keywords,
unicode and escaped identifiers), string escapes and dollar quoting, comments in odd places,
type names (built-in, quoted, user-defined, with SQL in them), date-part keywords with SQL in
them, casts in every spelling, nested subqueries in every clause, CTEs, set operations,
struct/list literals, lambdas and DuckDB's friendlier syntax (FROM-first, GROUP BY ALL,
EXCLUDE, COLUMNS-like stars). Every generated statement is deterministic (no LIMIT without
ORDER BY, no random()), so the gateway's answer can be compared with the reference view's.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Tables of the general view and the columns the grammar reads from each.
TABLES: dict[str, tuple[str, ...]] = {
    "crime": (
        "crime_id",
        "local_authority_code",
        "lsoa_code",
        "ho_offence_code",
        "police_uk_category",
        "outcome",
        "recorded_at",
        "modus_operandi",
        "domestic_abuse",
    ),
    "person": ("person_id", "forename", "surname", "date_of_birth", "pnc_id", "gender"),
    "location": ("location_id", "address", "postcode", "easting", "northing", "lsoa_code"),
    "crime_person": ("crime_id", "person_id", "role"),
    "incident": ("incident_id", "local_authority_code", "narrative", "crime_id", "grade"),
    "offence_type": ("ho_offence_code", "description", "sensitive"),
}
#: Names that must never be readable in the raw: forbidden tables, the vault, catalogs.
RAW = (
    "intelligence_report",
    "main.person",
    "warehouse.main.person",
    "pseudonyms.person",
    "pseudonyms.main.person",
    "system.main.duckdb_settings",
    "information_schema.tables",
    "temp.main.x",
)
#: SQL an injection tries to smuggle into raw text.
PAYLOADS = (
    ") AS one, forename, surname, pnc_id FROM person --",
    ") AS y, (SELECT max(surname) FROM person) AS s --",
    " FROM crime) UNION ALL SELECT report_text FROM intelligence_report --",
    "); SELECT * FROM person; --",
    ") AS x FROM pseudonyms.person --",
    "\n) FROM read_csv('/etc/passwd') --",
    "*/ FROM person /*",
)

TYPES = (
    "INTEGER",
    "BIGINT",
    "VARCHAR",
    "DOUBLE",
    "DATE",
    "TIMESTAMP",
    "DECIMAL(10, 2)",
    "INTEGER[]",
    "STRUCT(a INTEGER)",
    '"INTEGER"',
    '"varchar"',
    '"my_type"',
    "my_type",
    "pseudonyms.main.t",
    "TEXT",
    "UUID",
    "INTERVAL",
)
UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "DOW", "QUARTER", "WEEK", '"YEAR"', "'month'")
FUNCTIONS = (
    "lower",
    "upper",
    "length",
    "coalesce",
    "abs",
    "round",
    "left",
    "md5",
    "hash",
    "concat",
    "nullif",
    "greatest",
    "getvariable",
    "current_setting",
    "query",
    "gw_hmac_sha256",
    "read_csv",
    "error",
    "sleep_ms",
    "range",
)


def quoted_identifier(name: str) -> st.SearchStrategy[str]:
    """One name in several spellings: bare, upper case, quoted, mixed case, unicode escape."""
    escaped = "".join(f"\\{ord(c):04X}" for c in name)
    return st.sampled_from([name, name.upper(), f'"{name}"', f'"{name.title()}"', f'U&"{escaped}"'])


@st.composite
def hostile_text(draw: st.DrawFn) -> str:
    """Free text an analyst controls, often carrying SQL."""
    base = draw(
        st.one_of(
            st.sampled_from(PAYLOADS),
            st.text(
                alphabet=st.characters(
                    codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"
                ),
                max_size=12,
            ),
        )
    )
    return base


@st.composite
def string_literal(draw: st.DrawFn) -> str:
    text = draw(hostile_text())
    style = draw(st.sampled_from(["plain", "escape", "dollar"]))
    if style == "dollar" and "$" not in text:
        return f"$${text}$$"
    if style == "escape":
        return "E'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"


@st.composite
def type_name(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(TYPES))
    inner = draw(hostile_text()).replace('"', '""')
    return f'"""INTEGER""{inner}"' if draw(st.booleans()) else f'"INTEGER{inner}"'


def comment() -> st.SearchStrategy[str]:
    return st.sampled_from(["", " ", " /* c */ ", " /* ; */ ", " -- c\n", "\n", "\t"])


@st.composite
def column(draw: st.DrawFn, table: str, alias: str) -> str:
    name = draw(st.sampled_from(TABLES[table]))
    spelt = draw(quoted_identifier(name))
    return f"{alias}.{spelt}" if draw(st.booleans()) else spelt


@st.composite
def expression(draw: st.DrawFn, table: str, alias: str, depth: int) -> str:
    """A scalar expression over one table's columns."""
    leaf = st.one_of(
        column(table, alias),
        string_literal(),
        st.integers(-5, 5).map(str),
        st.sampled_from(["NULL", "true", "DATE '2025-01-01'", "[1, 2]", "{'a': 1}"]),
    )
    if depth <= 0:
        return draw(leaf)
    sub = expression(table, alias, depth - 1)
    kind = draw(
        st.sampled_from(
            [
                "leaf",
                "cast",
                "coloncast",
                "trycast",
                "extract",
                "interval",
                "func",
                "binary",
                "case",
                "subquery",
                "exists",
                "in",
                "lambda",
                "comment",
            ]
        )
    )
    if kind == "leaf":
        return draw(leaf)
    if kind == "cast":
        return f"CAST({draw(sub)} AS {draw(type_name())})"
    if kind == "coloncast":
        return f"({draw(sub)})::{draw(type_name())}"
    if kind == "trycast":
        return f"TRY_CAST({draw(sub)} AS {draw(type_name())})"
    if kind == "extract":
        unit = draw(st.one_of(st.sampled_from(UNITS), type_name()))
        return f"EXTRACT({unit} FROM {draw(column(table, alias))})"
    if kind == "interval":
        unit = draw(st.one_of(st.sampled_from(UNITS), type_name()))
        return f"(DATE '2025-01-01' + INTERVAL {draw(st.integers(0, 9))} {unit})"
    if kind == "func":
        args = ", ".join(draw(st.lists(sub, min_size=1, max_size=3)))
        return f"{draw(st.sampled_from(FUNCTIONS))}({args})"
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "||", "=", "<>", "AND", "OR", "/", "LIKE"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if kind == "case":
        return f"CASE WHEN {draw(sub)} THEN {draw(sub)} ELSE {draw(sub)} END"
    if kind == "subquery":
        return f"({draw(select(depth - 1, aggregate=True))})"
    if kind == "exists":
        return f"EXISTS ({draw(select(depth - 1))})"
    if kind == "in":
        return f"{draw(sub)} IN ({draw(select(depth - 1, aggregate=True))})"
    if kind == "lambda":
        return f"list_transform([1, 2], x -> x + {draw(st.integers(0, 3))})"
    return f"{draw(comment())}{draw(sub)}{draw(comment())}"


@st.composite
def relation(draw: st.DrawFn, depth: int) -> tuple[str, str, str]:
    """``(FROM text, table whose columns are in scope, alias)``."""
    table = draw(st.sampled_from(sorted(TABLES)))
    alias = draw(st.sampled_from(["t", "c", "x", '"T"']))
    kind = draw(st.sampled_from(["table", "table", "raw", "subquery", "join"]))
    if kind == "raw":
        raw = draw(st.sampled_from(RAW))
        return f"{raw} AS {alias}", table, alias
    spelt = draw(quoted_identifier(table))
    if kind == "subquery" and depth > 0:
        return f"(SELECT * FROM {spelt}) AS {alias}", table, alias
    if kind == "join":
        other = draw(st.sampled_from(sorted(TABLES)))
        return (
            f"{spelt} AS {alias} LEFT JOIN {other} AS o ON {draw(expression(table, alias, 0))} "
            f"= o.{TABLES[other][0]}",
            table,
            alias,
        )
    return f"{spelt} AS {alias}", table, alias


@st.composite
def select(draw: st.DrawFn, depth: int, *, aggregate: bool = False) -> str:
    """A SELECT that is deterministic: aggregates, or every row ordered by all columns."""
    source, table, alias = draw(relation(depth))
    items = draw(st.lists(expression(table, alias, depth), min_size=1, max_size=3))
    where = ""
    if draw(st.booleans()):
        where = f" WHERE {draw(expression(table, alias, depth))}"
    if aggregate or draw(st.booleans()):
        measure = draw(st.sampled_from(["count(*)", "max(1)", "count(DISTINCT 1)"]))
        return f"SELECT {measure} AS n FROM {source}{where}"
    listed = ", ".join(f"{item} AS c{i}" for i, item in enumerate(items))
    return f"SELECT {listed} FROM {source}{where} GROUP BY ALL"


@st.composite
def statement(draw: st.DrawFn, depth: int = 2) -> str:
    """A whole statement: a SELECT, maybe under a CTE or in a set operation, with noise."""
    body = draw(select(depth))
    shape = draw(st.sampled_from(["plain", "plain", "cte", "union", "from-first", "shadow"]))
    if shape == "cte":
        body = f"WITH w AS ({body}) SELECT * FROM w"
    elif shape == "union":
        body = f"{body} UNION ALL {draw(select(depth - 1))}"
    elif shape == "from-first":
        body = f"FROM ({body}) AS f SELECT *"
    elif shape == "shadow":
        name = draw(st.sampled_from(sorted(TABLES)))
        body = f"WITH {name} AS ({body}) SELECT * FROM {name}"
    return f"{draw(comment())}{body}{draw(comment())}"
