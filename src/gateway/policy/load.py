"""Load and validate ``policy.toml`` against the catalog, with precise errors.

Every problem is reported as ``ConfigurationError("<source>: <dotted.path>: <what is wrong>")``
so an administrator can fix the file without reading code. That includes the sections other
packages use — ``[exports]`` (:mod:`gateway.policy.exports`) and ``[disclosure]``
(:mod:`gateway.policy.disclosure`) — parsed once, here, into frozen objects on the
:class:`Policy` (``policy.exports``, ``policy.disclosure``): a bad value stops the service when
it starts, not at the first export, and nothing parses a section again.

Example:
    >>> from gateway.catalog import load_catalog
    >>> policy = load_default_policy(load_catalog())
    >>> sorted(policy.levels)
    ['enhanced', 'general']
    >>> policy.levels["general"].tables["person"].columns["surname"].kind
    'null'
    >>> policy.exports.marking, policy.disclosure.rules_for("general").min_count
    ('OFFICIAL-SENSITIVE', 10)
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from gateway.catalog import Catalog, Table
from gateway.errors import ConfigurationError
from gateway.policy.audit_duties import parse_audit_duties
from gateway.policy.disclosure import parse_disclosure_settings
from gateway.policy.exports import parse_export_settings
from gateway.policy.login import parse_login_settings
from gateway.policy.markings import parse_marking_settings
from gateway.policy.model import (
    MASK_KINDS,
    LevelLimits,
    LevelPolicy,
    MaskSpec,
    Policy,
    SchemaAccess,
    TablePolicy,
    UnlinkableVictims,
)
from gateway.policy.products import parse_product_settings
from gateway.policy.retention import parse_retention_settings
from gateway.policy.tokens import parse_token_settings
from gateway.policy.victims import TARGET, victim_filters

__all__ = ["PRINCIPAL_PLACEHOLDERS", "load_default_policy", "load_policy", "parse_policy"]

#: Principal attributes a row filter may use.
PRINCIPAL_PLACEHOLDERS = frozenset({"areas", "organisation", "username"})

_TOP_LEVEL = {
    "title",
    "schemas",
    "levels",
    "exports",
    "disclosure",
    "tokens",
    "login",
    "products",
    "retention",
    "audit",
    "markings",
}
_MAX_TITLE = 200
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "DOUBLE",
    "FLOAT",
    "REAL",
    "DECIMAL",
)
_TEMPORAL = ("DATE", "TIMESTAMP")


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: {path}: {message}")


def load_default_policy(catalog: Catalog) -> Policy:
    """The policy shipped with the package (copied into a data directory by ``gateway demo``)."""
    data = resources.files("gateway.policy").joinpath("default_policy.toml").read_bytes()
    return parse_policy(data, catalog, source="default_policy.toml")


def load_policy(path: Path, catalog: Catalog) -> Policy:
    """Read and validate a policy file; its version is the SHA-256 of its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return parse_policy(data, catalog, source=str(path))


def parse_policy(data: bytes, catalog: Catalog, *, source: str = "policy.toml") -> Policy:
    """Validate policy text against the catalog and build a :class:`Policy`."""
    problems = _Problems(source)
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(raw) - _TOP_LEVEL
    if unknown:
        raise problems.fail(
            sorted(unknown)[0], f"unknown section (expected one of {sorted(_TOP_LEVEL)})"
        )
    raw_levels = raw.get("levels")
    if not isinstance(raw_levels, dict) or not raw_levels:
        raise problems.fail("levels", "at least one level is required")

    levels: dict[str, LevelPolicy] = {}
    pending = dict(raw_levels)
    while pending:  # resolve `extends` in dependency order
        progressed = False
        for name, spec in list(pending.items()):
            parent_name = spec.get("extends") if isinstance(spec, dict) else None
            if parent_name is not None and parent_name not in levels:
                if parent_name not in raw_levels:
                    raise problems.fail(f"levels.{name}.extends", f"unknown level {parent_name!r}")
                continue
            parent = levels.get(parent_name) if parent_name else None
            levels[name] = _parse_level(name, spec, parent, catalog, problems)
            del pending[name]
            progressed = True
        if not progressed:
            raise problems.fail("levels", f"circular 'extends' among {sorted(pending)}")

    schemas = {}
    for name, spec in (raw.get("schemas") or {}).items():
        roles = spec.get("roles") if isinstance(spec, dict) else None
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise problems.fail(f"schemas.{name}.roles", "must be a list of role names")
        schemas[name] = SchemaAccess(name=name, roles=frozenset(roles))

    audit = parse_audit_duties(raw.get("audit"), source=source)
    force_wide = schemas["audit"].roles if "audit" in schemas else frozenset()
    if overlap := sorted(audit.local_auditor_roles & force_wide):
        raise problems.fail(
            "audit.local_auditor_roles",
            f"{', '.join(overlap)} may also query the whole audit schema ([schemas.audit] "
            "roles): a local auditor role must see its own organisation's records only",
        )

    title = raw.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > _MAX_TITLE):
        raise problems.fail("title", f"must be text of at most {_MAX_TITLE} characters")
    names = tuple(levels)
    exports = parse_export_settings(raw.get("exports"), source=source, levels=names)
    return Policy(
        version=hashlib.sha256(data).hexdigest(),
        levels=levels,
        schemas=schemas,
        exports=exports,
        markings=parse_marking_settings(
            raw.get("markings"),
            source=source,
            record=exports.marking,
            publication=exports.publication_marking,
        ),
        tokens=parse_token_settings(raw.get("tokens"), source=source),
        login=parse_login_settings(raw.get("login"), source=source),
        products=parse_product_settings(raw.get("products"), source=source),
        retention=parse_retention_settings(raw.get("retention"), source=source),
        audit=audit,
        disclosure=parse_disclosure_settings(raw.get("disclosure"), levels=names, source=source),
        title=title,
        source=source,
    )


def _parse_level(
    name: str, spec: Any, parent: LevelPolicy | None, catalog: Catalog, problems: _Problems
) -> LevelPolicy:
    path = f"levels.{name}"
    if not isinstance(spec, dict):
        raise problems.fail(path, "must be a table")
    allowed = {"extends", "description", "tables", "unmaskable", "limits", "unlinkable_victims"}
    for key in spec:
        if key not in allowed:
            raise problems.fail(f"{path}.{key}", f"unknown key (expected one of {sorted(allowed)})")

    tables: dict[str, TablePolicy] = dict(parent.tables) if parent else {}
    for table_name, table_spec in (spec.get("tables") or {}).items():
        tpath = f"{path}.tables.{table_name}"
        if table_name not in catalog:
            raise problems.fail(tpath, "no such table in the warehouse catalog")
        tables[table_name] = _parse_table(catalog.table(table_name), table_spec, tpath, problems)

    victims = parent.unlinkable_victims if parent else None
    if "unlinkable_victims" in spec:
        victims = _parse_victims(spec["unlinkable_victims"], tables, catalog, problems, path)
    tables = _derive_filters(tables, victims, catalog, problems, f"{path}.unlinkable_victims")

    for table_name, table in tables.items():
        if table.effective_filter:
            _check_filter(
                table_name,
                table.effective_filter,
                tables,
                catalog,
                problems,
                f"{path}.tables.{table_name}.row_filter",
            )
        for column, mask in table.columns.items():
            if mask.show_when:
                _check_predicate(
                    mask.show_when,
                    catalog.table(table_name),
                    catalog,
                    problems,
                    f"{path}.tables.{table_name}.columns.{column}.show_when",
                    allow_subqueries=False,
                )
    _check_no_filter_cycles(tables, problems, path)

    unmaskable = spec.get("unmaskable", sorted(parent.unmaskable) if parent else [])
    if not isinstance(unmaskable, list):
        raise problems.fail(f"{path}.unmaskable", "must be a list of 'table.column' entries")
    for entry in unmaskable:
        table_name, _, column = str(entry).partition(".")
        if table_name not in tables or (column != "*" and column not in tables[table_name].columns):
            raise problems.fail(
                f"{path}.unmaskable", f"{entry!r} is not a visible column of this level"
            )

    limits = parent.limits if parent else LevelLimits()
    raw_limits = spec.get("limits")
    if raw_limits is not None:
        limits = _parse_limits(raw_limits, limits, f"{path}.limits", problems)

    return LevelPolicy(
        name=name,
        description=str(spec.get("description", parent.description if parent else "")),
        tables=tables,
        unmaskable=frozenset(str(u) for u in unmaskable),
        limits=limits,
        unlinkable_victims=victims,
    )


def _parse_victims(
    raw: Any, tables: Mapping[str, TablePolicy], catalog: Catalog, problems: _Problems, path: str
) -> UnlinkableVictims:
    path = f"{path}.unlinkable_victims"
    if not isinstance(raw, dict):
        raise problems.fail(path, "must be a table with 'sensitive' and 'linkable_roles'")
    for key in raw:
        if key not in {"sensitive", "linkable_roles"}:
            raise problems.fail(f"{path}.{key}", "unknown key (expected sensitive, linkable_roles)")
    sensitive = raw.get("sensitive")
    if not isinstance(sensitive, str) or not sensitive.strip():
        raise problems.fail(f"{path}.sensitive", "must be an SQL predicate over crime")
    roles = raw.get("linkable_roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise problems.fail(f"{path}.linkable_roles", "must be a list of role names")
    if TARGET not in catalog:
        raise problems.fail(path, f"the warehouse catalog has no {TARGET!r} table")
    _check_filter(TARGET, sensitive, tables, catalog, problems, f"{path}.sensitive")
    return UnlinkableVictims(sensitive=sensitive.strip(), linkable_roles=tuple(roles))


def _derive_filters(
    tables: Mapping[str, TablePolicy],
    victims: UnlinkableVictims | None,
    catalog: Catalog,
    problems: _Problems,
    path: str,
) -> dict[str, TablePolicy]:
    """The tables with their ``derived_filter`` rebuilt from ``victims`` (None: cleared)."""
    derived: dict[str, str] = {}
    if victims is not None:
        try:
            derived = victim_filters(catalog, victims, tables.keys())
        except ConfigurationError as exc:
            raise problems.fail(path, str(exc)) from exc
    return {
        name: replace(table, derived_filter=derived.get(name)) for name, table in tables.items()
    }


def _parse_limits(raw: Any, base: LevelLimits, path: str, problems: _Problems) -> LevelLimits:
    if not isinstance(raw, dict):
        raise problems.fail(path, "must be a table")
    values: dict[str, Any] = {
        "max_rows": base.max_rows,
        "timeout_s": base.timeout_s,
        "memory_limit_mb": base.memory_limit_mb,
        "max_result_bytes": base.max_result_bytes,
    }
    for key, value in raw.items():
        if key not in values:
            raise problems.fail(
                f"{path}.{key}", f"unknown limit (expected one of {sorted(values)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise problems.fail(f"{path}.{key}", "must be a positive number")
        values[key] = value
    return LevelLimits(
        max_rows=int(values["max_rows"]),
        timeout_s=float(values["timeout_s"]),
        memory_limit_mb=int(values["memory_limit_mb"]),
        max_result_bytes=int(values["max_result_bytes"]),
    )


def _parse_table(table: Table, spec: Any, path: str, problems: _Problems) -> TablePolicy:
    if not isinstance(spec, dict):
        raise problems.fail(path, "must be a table")
    for key in spec:
        if key not in {"columns", "row_filter", "requires_grant"}:
            raise problems.fail(
                f"{path}.{key}", "unknown key (expected columns, row_filter, requires_grant)"
            )
    raw_columns = spec.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise problems.fail(f"{path}.columns", "list at least one visible column")
    columns: dict[str, MaskSpec] = {}
    for column in table.columns:  # keep warehouse order
        if column.name in raw_columns:
            columns[column.name] = _parse_mask(
                raw_columns[column.name],
                column.type,
                table,
                f"{path}.columns.{column.name}",
                problems,
            )
    for column_name in raw_columns:
        if column_name not in columns:
            raise problems.fail(f"{path}.columns.{column_name}", f"no such column in {table.name}")
    row_filter = spec.get("row_filter")
    if row_filter is not None and (not isinstance(row_filter, str) or not row_filter.strip()):
        raise problems.fail(f"{path}.row_filter", "must be a non-empty SQL predicate")
    requires_grant = spec.get("requires_grant", False)
    if not isinstance(requires_grant, bool):
        raise problems.fail(f"{path}.requires_grant", "must be true or false")
    return TablePolicy(
        name=table.name,
        columns=columns,
        row_filter=row_filter.strip() if row_filter else None,
        requires_grant=requires_grant,
    )


def _parse_mask(
    raw: Any, column_type: str, table: Table, path: str, problems: _Problems
) -> MaskSpec:
    if isinstance(raw, str):
        raw = {"mask": raw}
    if not isinstance(raw, dict) or "mask" not in raw:
        raise problems.fail(path, "must be a mask name or a table with a 'mask' key")
    kind = raw["mask"]
    if kind not in MASK_KINDS:
        raise problems.fail(path, f"unknown mask {kind!r} (expected one of {sorted(MASK_KINDS)})")
    accepted = MASK_KINDS[kind]
    options = {k: v for k, v in raw.items() if k not in {"mask", "show_when"}}
    for key in options:
        if key not in accepted:
            raise problems.fail(f"{path}.{key}", f"mask {kind} takes no option {key!r}")
    for key, required in accepted.items():
        if required and key not in options:
            raise problems.fail(path, f"mask {kind} needs option {key!r}")
    ctype = column_type.upper()
    _check_mask_applies(kind, options, ctype, table, path, problems)
    show_when = raw.get("show_when")
    if show_when is not None and not isinstance(show_when, str):
        raise problems.fail(f"{path}.show_when", "must be an SQL predicate")
    return MaskSpec(kind=kind, options=options, show_when=show_when)


def _check_mask_applies(
    kind: str, options: Mapping[str, Any], ctype: str, table: Table, path: str, problems: _Problems
) -> None:
    if kind == "grid":
        metres = options["metres"]
        if not ctype.startswith(_NUMERIC):
            raise problems.fail(path, "grid applies to numeric coordinates only")
        if isinstance(metres, bool) or not isinstance(metres, int) or metres <= 0:
            raise problems.fail(f"{path}.metres", "must be a positive whole number of metres")
    elif kind == "truncate_date":
        if not ctype.startswith(_TEMPORAL):
            raise problems.fail(path, "truncate_date applies to DATE/TIMESTAMP columns only")
        if options["unit"] not in {"year", "quarter", "month", "week", "day", "hour"}:
            raise problems.fail(f"{path}.unit", "must be year, quarter, month, week, day or hour")
    elif kind == "age_band":
        if not ctype.startswith("DATE"):
            raise problems.fail(path, "age_band applies to a date of birth (DATE) only")
        bands = options.get("bands", [0, 10, 18, 25, 35, 45, 55, 65])
        if (
            not isinstance(bands, list)
            or not bands
            or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bands)
            or bands != sorted(set(bands))
        ):
            raise problems.fail(f"{path}.bands", "must be an increasing list of ages")
    elif kind in {"postcode_sector", "last_n"}:
        if ctype != "VARCHAR":
            raise problems.fail(path, f"{kind} applies to text columns only")
        if kind == "last_n":
            n = options["n"]
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise problems.fail(f"{path}.n", "must be a positive whole number")
    elif kind == "map_point":
        if "map_point_id" not in table.column_names:
            raise problems.fail(
                path, f"map_point needs a map_point_id column; {table.name} has none"
            )
        field = options["field"]
        if field not in {"easting", "northing", "name"}:
            raise problems.fail(f"{path}.field", "must be easting, northing or name")
        if field == "name" and ctype != "VARCHAR":
            raise problems.fail(path, "map_point name applies to text columns only")
        if field != "name" and not ctype.startswith(_NUMERIC):
            raise problems.fail(path, "map_point easting/northing applies to numeric columns only")
    elif kind == "redact" and ctype != "VARCHAR" and "value" in options:
        raise problems.fail(path, "a redaction value applies to text columns only (use null)")
    elif kind == "pseudonym" and not str(options["domain"]).isidentifier():
        raise problems.fail(f"{path}.domain", "must be a simple name such as 'person'")


def parse_predicate(sql: str) -> exp.Expr:
    """Parse one trusted SQL predicate (DuckDB dialect)."""
    try:
        parsed = sqlglot.parse(sql, read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        raise ConfigurationError(
            f"not a valid SQL predicate: {exc.errors[0]['description'] if exc.errors else exc}"
        ) from exc
    if len(parsed) != 1 or parsed[0] is None:
        raise ConfigurationError("must be exactly one SQL predicate")
    return parsed[0]


def _check_predicate(
    sql: str,
    table: Table,
    catalog: Catalog,
    problems: _Problems,
    path: str,
    *,
    allow_subqueries: bool,
) -> exp.Expr:
    try:
        tree = parse_predicate(sql)
    except ConfigurationError as exc:
        raise problems.fail(path, str(exc)) from exc
    if isinstance(tree, exp.Query) or not isinstance(tree, exp.Condition):
        raise problems.fail(path, "must be a predicate, not a statement")
    for placeholder in tree.find_all(exp.Placeholder):
        name = str(placeholder.name)
        if name not in PRINCIPAL_PLACEHOLDERS:
            raise problems.fail(
                path,
                f"unknown principal attribute ${name} (expected {sorted(PRINCIPAL_PLACEHOLDERS)})",
            )
        if name == "areas" and not isinstance(placeholder.parent, exp.In):
            raise problems.fail(path, "$areas may only be used inside IN (...)")
    if not allow_subqueries and tree.find(exp.Query):
        raise problems.fail(path, "subqueries are not allowed here")
    for tbl in tree.find_all(exp.Table):
        if tbl.name not in catalog:
            raise problems.fail(path, f"refers to unknown table {tbl.name!r}")
    # Unqualified columns outside subqueries must be columns of the table itself.
    for column in tree.find_all(exp.Column):
        outer = column.find_ancestor(exp.Query) is None and not column.table
        if outer and column.name not in table.column_names:
            raise problems.fail(path, f"{table.name} has no column {column.name!r}")
    return tree


def _check_filter(
    table_name: str,
    sql: str,
    tables: Mapping[str, TablePolicy],
    catalog: Catalog,
    problems: _Problems,
    path: str,
) -> None:
    tree = _check_predicate(
        sql, catalog.table(table_name), catalog, problems, path, allow_subqueries=True
    )
    for tbl in tree.find_all(exp.Table):
        if tbl.name not in tables:
            raise problems.fail(path, f"refers to {tbl.name!r}, which this level cannot see")


def filter_dependencies(table: TablePolicy) -> set[str]:
    """Tables a row filter (declared or derived) reads (they are filtered in turn)."""
    if not table.effective_filter:
        return set()
    return {t.name for t in parse_predicate(table.effective_filter).find_all(exp.Table)}


def _check_no_filter_cycles(
    tables: Mapping[str, TablePolicy], problems: _Problems, path: str
) -> None:
    deps = {name: filter_dependencies(t) for name, t in tables.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise problems.fail(
                f"{path}.tables", f"row filters refer to each other in a cycle: {cycle}"
            )
        state[name] = 1
        for dep in sorted(deps.get(name, ())):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in sorted(deps):
        visit(name, [])
