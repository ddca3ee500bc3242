"""The template file format: SQL with a TOML header written as SQL comments.

One ``.sql`` file per analytical product in ``queries/``; its name (without ``.sql``) is the
template's name. The leading ``--`` comment lines hold TOML metadata; the SQL follows::

    -- title = "Crime counts and rates per 1,000 residents"
    -- description = "Recorded crimes by police.uk category for a year, with the year before."
    -- level = "general"                 # lowest access level it is meant for
    -- output = "table"                  # table | map_layer | chart
    -- tags = ["strategic-assessment"]
    --
    -- [parameters.area]
    -- type = "area_code"                # text|integer|number|date|month|area_code|category|boolean
    -- default = "@my_area"
    --
    -- [parameters.year]
    -- type = "integer"
    -- default = "@year-1"
    -- min = 2000
    --
    -- [chart]
    -- kind = "bar"                      # bar | line | heatmap | none
    -- x = "police_uk_category"
    -- y = "crimes"
    --
    -- [disclosure]                      # see gateway.disclosure.spec
    -- dimensions = ["police_uk_category"]
    -- counts = ["crimes"]
    SELECT … WHERE local_authority_code = $area AND year(recorded_at) = $year …

Parameters are bound by the engine as ``$name`` values, never formatted into the SQL. A
template that lists individuals (by pseudonym) says ``individuals = true``: it has no
disclosure spec and cannot be published.

Example:
    >>> t = parse_template("counts", '''-- title = "Counts"
    ... -- [parameters.year]
    ... -- type = "integer"
    ... SELECT count(*) AS n FROM crime WHERE year(recorded_at) = $year''')
    >>> t.title, [p.name for p in t.parameters], t.sql.startswith("SELECT")
    ('Counts', ['year'], True)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.disclosure import DisclosureSpec, parse_disclosure_spec
from gateway.errors import ConfigurationError, InputError

__all__ = [
    "CHART_KINDS",
    "OUTPUT_KINDS",
    "PARAMETER_TYPES",
    "ChartSpec",
    "MapSpec",
    "Parameter",
    "ParameterType",
    "Template",
    "parse_template",
]

ParameterType = Literal[
    "text", "integer", "number", "date", "month", "area_code", "category", "boolean"
]
PARAMETER_TYPES: tuple[ParameterType, ...] = (
    "text",
    "integer",
    "number",
    "date",
    "month",
    "area_code",
    "category",
    "boolean",
)
OUTPUT_KINDS = ("table", "map_layer", "chart")
CHART_KINDS = ("bar", "line", "heatmap", "none")
LEVEL_ORDER = ("general", "enhanced")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PARAM = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Parameter:
    """One template parameter.

    Attributes:
        name: bound as ``$name`` in the SQL.
        type: one of :data:`PARAMETER_TYPES`.
        description: shown by ``gateway template show``.
        default: used when the caller gives none; may be relative (``@year-1``, ``@month``,
            ``@month-12``, ``@today``, ``@my_area``). None = required.
        required: whether the caller must give a value (true when there is no default).
        allowed: the only values accepted (for text, integer, category).
        domain: ``table.column`` of a reference table whose values are the allowed ones.
        extra: values accepted besides the domain (e.g. ``all``).
        minimum, maximum: bounds for integer and number.
        scope: for area codes: ``authority`` (one of your local authorities) or ``any`` (an
            LSOA, ward, neighbourhood or authority code within your areas).
    """

    name: str
    type: ParameterType
    description: str = ""
    default: Any = None
    required: bool = True
    allowed: tuple[Any, ...] = ()
    domain: str | None = None
    extra: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    scope: Literal["authority", "any"] = "authority"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        for key, value in (
            ("description", self.description),
            ("default", self.default),
            ("allowed", list(self.allowed)),
            ("domain", self.domain),
            ("extra", list(self.extra)),
            ("min", self.minimum),
            ("max", self.maximum),
        ):
            if value not in (None, "", []):
                out[key] = value
        if self.type == "area_code":
            out["scope"] = self.scope
        return out


@dataclass(frozen=True)
class ChartSpec:
    """The chart a template's result suggests (``kind = "none"``: no chart)."""

    kind: str = "none"
    x: str | None = None
    y: str | None = None
    series: str | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class MapSpec:
    """How a map-layer result is placed: by point coordinates or by an area code column."""

    easting: str | None = None
    northing: str | None = None
    area: str | None = None
    area_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Template:
    """A parsed template.

    Attributes:
        name: file name without ``.sql``.
        title, description: for people.
        sql: the query (``$name`` parameters).
        parameters: in declaration order.
        level: the lowest access level it is meant for (``general`` or ``enhanced``).
        output: ``table``, ``map_layer`` or ``chart``.
        chart: the suggested chart.
        map: placement of a map layer.
        disclosure: the shape of the result for disclosure control (None: not an aggregate).
        individuals: the result lists individuals (pseudonymised): never published.
        tags: free labels (``strategic-assessment`` …).
        source: where it was read from.
    """

    name: str
    title: str
    sql: str
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    level: str = "general"
    output: str = "table"
    chart: ChartSpec = field(default_factory=ChartSpec)
    map: MapSpec | None = None
    disclosure: DisclosureSpec | None = None
    individuals: bool = False
    tags: tuple[str, ...] = ()
    source: str = ""

    def parameter(self, name: str) -> Parameter | None:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        return None

    def to_dict(self, *, sql: bool = False) -> dict[str, Any]:
        """Plain data for ``GET /v1/templates`` and ``gateway template show``."""
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "level": self.level,
            "output": self.output,
            "tags": list(self.tags),
            "individuals": self.individuals,
            "parameters": [p.to_dict() for p in self.parameters],
            "chart": self.chart.to_dict(),
            "disclosure": self.disclosure.to_dict() if self.disclosure else None,
        }
        if self.map is not None:
            out["map"] = self.map.to_dict()
        if sql:
            out["sql"] = self.sql
        return out


# --- parsing ----------------------------------------------------------------------------------

_TOP_KEYS = {
    "title",
    "description",
    "level",
    "output",
    "tags",
    "parameters",
    "chart",
    "map",
    "disclosure",
    "individuals",
}
_PARAM_KEYS = {
    "type",
    "description",
    "default",
    "required",
    "allowed",
    "domain",
    "extra",
    "min",
    "max",
    "scope",
}


def split_header(text: str) -> tuple[str, str]:
    """The TOML of the leading ``--`` comment lines, and the SQL after them."""
    header: list[str] = []
    lines = text.splitlines()
    index = 0
    for index, line in enumerate(lines):  # noqa: B007 - index is used after the loop
        stripped = line.strip()
        if stripped.startswith("--"):
            body = stripped[2:]
            header.append(body[1:] if body.startswith(" ") else body)
        elif stripped:
            break
        else:
            header.append("")
    else:
        index = len(lines)
    return "\n".join(header), "\n".join(lines[index:]).strip()


def parse_template(name: str, text: str, *, source: str = "") -> Template:
    """Parse one template file.

    Raises:
        ConfigurationError: ``<source>: <key>: <problem>`` for anything malformed.
    """
    where = source or f"{name}.sql"
    if not _NAME.match(name):
        raise ConfigurationError(f"{where}: template names are lower-case words joined by '-'")
    header, sql = split_header(text)
    try:
        raw = tomllib.loads(header)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where}: header is not valid TOML: {exc}") from exc
    if not sql:
        raise ConfigurationError(f"{where}: no SQL after the header")
    if sql.rstrip().endswith(";"):
        sql = sql.rstrip().rstrip(";").rstrip()
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigurationError(f"{where}: {sorted(unknown)[0]}: unknown key")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ConfigurationError(f"{where}: title: required")
    level = raw.get("level", "general")
    if level not in LEVEL_ORDER:
        raise ConfigurationError(f"{where}: level: must be one of {', '.join(LEVEL_ORDER)}")
    output = raw.get("output", "table")
    if output not in OUTPUT_KINDS:
        raise ConfigurationError(f"{where}: output: must be one of {', '.join(OUTPUT_KINDS)}")
    raw_params = raw.get("parameters", {})
    if not isinstance(raw_params, Mapping):
        raise ConfigurationError(f"{where}: parameters: must be tables [parameters.<name>]")
    parameters = tuple(_parameter(str(n), spec, where) for n, spec in raw_params.items())
    individuals = raw.get("individuals", False)
    if not isinstance(individuals, bool):
        raise ConfigurationError(f"{where}: individuals: must be true or false")
    disclosure = None
    if "disclosure" in raw:
        if individuals:
            raise ConfigurationError(
                f"{where}: disclosure: a template that lists individuals cannot have one"
            )
        try:
            disclosure = parse_disclosure_spec(raw["disclosure"], where="disclosure")
        except InputError as exc:
            raise ConfigurationError(f"{where}: {exc.message}") from exc
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigurationError(f"{where}: tags: must be a list of words")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigurationError(f"{where}: description: must be text")
    return Template(
        name=name,
        title=title.strip(),
        sql=sql,
        description=" ".join(description.split()),
        parameters=parameters,
        level=level,
        output=output,
        chart=_chart(raw.get("chart", {}), where),
        map=_map(raw["map"], where) if "map" in raw else None,
        disclosure=disclosure,
        individuals=individuals,
        tags=tuple(tags),
        source=where,
    )


def _parameter(name: str, spec: Any, where: str) -> Parameter:
    path = f"{where}: parameters.{name}"
    if not _PARAM.match(name):
        raise ConfigurationError(f"{path}: names are lower-case words joined by '_'")
    if not isinstance(spec, Mapping):
        raise ConfigurationError(f"{path}: must be a table")
    unknown = set(spec) - _PARAM_KEYS
    if unknown:
        raise ConfigurationError(f"{path}.{sorted(unknown)[0]}: unknown key")
    kind = spec.get("type")
    if kind not in PARAMETER_TYPES:
        raise ConfigurationError(f"{path}.type: must be one of {', '.join(PARAMETER_TYPES)}")
    allowed = spec.get("allowed", [])
    extra = spec.get("extra", [])
    if not isinstance(allowed, list) or not isinstance(extra, list):
        raise ConfigurationError(f"{path}: allowed and extra must be lists")
    domain = spec.get("domain")
    if domain is not None and (not isinstance(domain, str) or domain.count(".") != 1):
        raise ConfigurationError(f"{path}.domain: must be 'table.column'")
    if kind == "category" and not allowed and domain is None:
        raise ConfigurationError(f"{path}: a category needs allowed values or a domain")
    scope = spec.get("scope", "authority")
    if scope not in ("authority", "any"):
        raise ConfigurationError(f"{path}.scope: must be authority or any")
    default = spec.get("default")
    required = spec.get("required", default is None)
    if not isinstance(required, bool):
        raise ConfigurationError(f"{path}.required: must be true or false")
    bounds = {}
    for key in ("min", "max"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigurationError(f"{path}.{key}: must be a number")
        bounds[key] = None if value is None else float(value)
    description = spec.get("description", "")
    return Parameter(
        name=name,
        type=kind,
        description=" ".join(str(description).split()),
        default=default,
        required=required,
        allowed=tuple(allowed),
        domain=domain,
        extra=tuple(str(e) for e in extra),
        minimum=bounds["min"],
        maximum=bounds["max"],
        scope=scope,
    )


def _chart(raw: Any, where: str) -> ChartSpec:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: chart: must be a table")
    unknown = set(raw) - {"kind", "x", "y", "series", "title"}
    if unknown:
        raise ConfigurationError(f"{where}: chart.{sorted(unknown)[0]}: unknown key")
    kind = raw.get("kind", "none")
    if kind not in CHART_KINDS:
        raise ConfigurationError(f"{where}: chart.kind: must be one of {', '.join(CHART_KINDS)}")
    if kind != "none" and not (raw.get("x") and raw.get("y")):
        raise ConfigurationError(f"{where}: chart: a {kind} chart needs x and y columns")
    return ChartSpec(
        kind=kind, x=raw.get("x"), y=raw.get("y"), series=raw.get("series"), title=raw.get("title")
    )


def _map(raw: Any, where: str) -> MapSpec:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: map: must be a table")
    unknown = set(raw) - {"easting", "northing", "area", "area_type"}
    if unknown:
        raise ConfigurationError(f"{where}: map.{sorted(unknown)[0]}: unknown key")
    spec = MapSpec(**{k: str(v) for k, v in raw.items()})
    if not (spec.area or (spec.easting and spec.northing)):
        raise ConfigurationError(f"{where}: map: give easting and northing, or area")
    return spec
