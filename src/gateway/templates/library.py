"""The template library: every ``.sql`` file of a directory, parsed and checked.

The default directory is the repository's ``queries/`` (packaged into wheels as
``gateway/queries``). Loading checks each template against the catalog: the SQL parses, its
``$name`` parameters are exactly the declared ones, and every ``domain`` names a column of a
reference table.

Example:
    >>> library = load_library()
    >>> "crime-rates" in library.names()
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from gateway.catalog import Catalog, TableKind, load_catalog
from gateway.errors import ConfigurationError, NotFound
from gateway.templates.format import Template, parse_template

__all__ = ["TemplateLibrary", "default_directory", "load_library"]


def default_directory() -> Path:
    """``gateway/queries`` inside an installed wheel, else the repository's ``queries/``."""
    packaged = Path(str(resources.files("gateway"))) / "queries"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "queries"


@dataclass(frozen=True)
class TemplateLibrary:
    """Templates by name."""

    templates: Mapping[str, Template]
    directory: Path | None = None

    def names(self) -> list[str]:
        return sorted(self.templates)

    def get(self, name: str) -> Template:
        """The template called ``name``.

        Raises:
            NotFound: no such template (the message lists what there is).
        """
        template = self.templates.get(name)
        if template is None:
            raise NotFound(
                f"no template called {name!r}; `gateway template list` shows them "
                f"({', '.join(self.names()[:8])}, …)"
            )
        return template

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates[name] for name in self.names())

    def __len__(self) -> int:
        return len(self.templates)


def _check(template: Template, catalog: Catalog) -> None:
    where = template.source
    try:
        tree = sqlglot.parse_one(template.sql, read="duckdb")
    except ParseError as exc:
        raise ConfigurationError(f"{where}: the SQL does not parse: {exc}") from exc
    used = {str(node.name).lower() for node in tree.find_all(exp.Placeholder)}
    declared = {p.name for p in template.parameters}
    if used - declared:
        raise ConfigurationError(
            f"{where}: the SQL uses undeclared parameter(s) "
            + ", ".join(f"${n}" for n in sorted(used - declared))
        )
    if declared - used:
        raise ConfigurationError(
            f"{where}: declared parameter(s) not used by the SQL: "
            + ", ".join(sorted(declared - used))
        )
    for parameter in template.parameters:
        if parameter.domain is None:
            continue
        table_name, column_name = parameter.domain.split(".")
        try:
            table = catalog.table(table_name)
            table.column(column_name)
        except (KeyError, ConfigurationError) as exc:
            raise ConfigurationError(
                f"{where}: parameters.{parameter.name}.domain: no column {parameter.domain}"
            ) from exc
        if table.kind is not TableKind.REFERENCE:
            raise ConfigurationError(
                f"{where}: parameters.{parameter.name}.domain: {table_name} is not a "
                "reference table"
            )


def load_library(directory: Path | None = None, catalog: Catalog | None = None) -> TemplateLibrary:
    """Read and check every ``*.sql`` template in ``directory``.

    Raises:
        ConfigurationError: the directory is missing, or a template is malformed (the
            message names the file and the problem).
    """
    directory = directory or default_directory()
    if not directory.is_dir():
        raise ConfigurationError(f"template directory {directory} does not exist")
    catalog = catalog or load_catalog()
    templates: dict[str, Template] = {}
    for path in sorted(directory.glob("*.sql")):
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read template {path}: {exc}") from exc
        template = parse_template(path.stem, text, source=path.name)
        _check(template, catalog)
        templates[template.name] = template
    return TemplateLibrary(templates=templates, directory=directory)
