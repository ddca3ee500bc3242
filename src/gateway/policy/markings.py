"""The ``[markings]`` section of ``policy.toml``: the protective marking of each data class.

The policy, not the analyst, sets the marking of what leaves the gateway. Each answer's
marking is the highest of the classes of data it was made from; an analyst may ask for a
*higher* marking on a product or file, never a lower one, and never none. Every key is
optional::

    [markings]
    scale = ["NOT PROTECTIVELY MARKED", "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET"]
                                   # lowest first; a marking not on it is refused
    reference = "OFFICIAL"         # public geography, classifications, anonymous map points
    record = "OFFICIAL-SENSITIVE"  # anything from crime, incident, custody, intelligence,
                                   # people, places, vehicles, property (the [exports] marking)
    audit = "OFFICIAL-SENSITIVE"   # the audit schema
    publication = "OFFICIAL"       # the police.uk extract (the [exports] publication_marking)
    aggregate = "OFFICIAL"         # counts released under disclosure control: stands in for
                                   # the record class (never below the other classes read);
                                   # default: the reference marking
    csv_marking = "column"         # how a CSV carries its marking inside: a trailing
                                   # protective_marking column on every row ("column", read
                                   # as it is by pandas, GDAL, MapInfo) or a first "# …"
                                   # line ("comment")
    allow_unmarked_csv = false     # true: an export may ask for csv_marking=none (marking in
                                   # the file name and sidecar only); else 400 marking_required

Markings compare case- and spacing-insensitively (``official sensitive`` is
``OFFICIAL-SENSITIVE``) and are always given back as the scale spells them.

Example:
    >>> m = parse_marking_settings({"reference": "OFFICIAL"})
    >>> m.for_classes(["reference"]), m.for_classes(["reference", "record"])
    ('OFFICIAL', 'OFFICIAL-SENSITIVE')
    >>> m.resolve("secret", floor="OFFICIAL-SENSITIVE")
    'SECRET'
    >>> m.for_release(["reference", "record"], aggregate=True)
    'OFFICIAL'
    >>> m.for_release(["audit", "record"], aggregate=True)
    'OFFICIAL-SENSITIVE'
    >>> m.csv_style(None), m.csv_style("comment")
    ('column', 'comment')
    >>> m.resolve("NOT PROTECTIVELY MARKED", floor="OFFICIAL-SENSITIVE")
    Traceback (most recent call last):
    ...
    gateway.errors.MarkingLowered: the marking 'NOT PROTECTIVELY MARKED' is lower than the policy's 'OFFICIAL-SENSITIVE' for this data: a marking may be raised, never lowered or removed
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigurationError, MarkingLowered, MarkingRequired, MarkingUnknown

__all__ = [
    "ARROW_MARKING_KEY",
    "CSV_MARKINGS",
    "DATA_CLASSES",
    "DEFAULT_SCALE",
    "MARKING_COLUMN",
    "MarkingSettings",
    "data_classes",
    "parse_marking_settings",
]

DEFAULT_SCALE = (
    "NOT PROTECTIVELY MARKED",
    "OFFICIAL",
    "OFFICIAL-SENSITIVE",
    "SECRET",
    "TOP SECRET",
)
#: The data classes a marking is set for (``aggregate``: record data released as counts under
#: disclosure control).
DATA_CLASSES = ("reference", "record", "audit", "publication", "aggregate")
#: The key of the Arrow schema (and Parquet file) metadata that carries the marking: query
#: answers in Parquet, Flight SQL results, Parquet and GeoParquet exports.
ARROW_MARKING_KEY = b"gateway:marking"
#: The trailing column that carries the marking on every row of a CSV (``csv_marking =
#: "column"``): CSV exports and CSV answers of ``/v1/query``.
MARKING_COLUMN = "protective_marking"
#: How a CSV file carries its marking inside (``none``: only where the policy allows it).
CSV_MARKINGS = ("column", "comment", "none")
_MAX_MARKING = 80


def _key(marking: str) -> str:
    return re.sub(r"[\s_-]+", "-", marking.strip()).upper()


@dataclass(frozen=True)
class MarkingSettings:
    """The marking scale (lowest first) and the marking of each data class."""

    scale: tuple[str, ...] = DEFAULT_SCALE
    reference: str = "OFFICIAL"
    record: str = "OFFICIAL-SENSITIVE"
    audit: str = "OFFICIAL-SENSITIVE"
    publication: str = "OFFICIAL"
    aggregate: str = "OFFICIAL"
    csv_marking: str = "column"
    allow_unmarked_csv: bool = False

    def rank(self, marking: str) -> int | None:
        """The marking's place on the scale (0 = lowest), None when it is not on it."""
        key = _key(marking)
        for index, known in enumerate(self.scale):
            if _key(known) == key:
                return index
        return None

    def of_class(self, data_class: str) -> str:
        """The policy's marking for one data class (:data:`DATA_CLASSES`)."""
        if data_class not in DATA_CLASSES:
            raise ValueError(f"unknown data class {data_class!r}")
        marking: str = getattr(self, data_class)
        return marking

    def highest(self, markings: Iterable[str]) -> str:
        """The highest of ``markings`` (all on the scale); the lowest on the scale for none."""
        ranked = [(self.rank(m), m) for m in markings]
        best = max((r for r, _ in ranked if r is not None), default=0)
        return self.scale[best]

    def for_classes(self, classes: Iterable[str]) -> str:
        """The marking of data made from these classes: the highest of theirs.

        No class at all (a query over no table, ``SELECT 1``) takes the ``reference`` marking.
        """
        found = [self.of_class(c) for c in classes]
        return self.highest(found or [self.reference])

    def for_release(self, classes: Iterable[str], *, aggregate: bool) -> str:
        """The marking of a release made from these classes. An ``aggregate`` release (counts
        under disclosure control) takes the ``aggregate`` marking in place of the record
        class's; every other class read keeps its own, so it is never below the policy's for
        any class but the records it counts. Record-level data keeps :meth:`for_classes`."""
        found = list(classes)
        if aggregate:
            found = ["aggregate" if c == "record" else c for c in found]
        return self.for_classes(found)

    def csv_style(self, requested: str | None) -> str:
        """How a CSV carries its marking: ``requested`` (an export's ``csv_marking``) or the
        policy's ``csv_marking``.

        Raises:
            MarkingRequired: ``none`` asked for where the policy does not allow unmarked CSV
                (400 ``marking_required``).
        """
        style = requested or self.csv_marking
        if style == "none" and not self.allow_unmarked_csv:
            raise MarkingRequired(
                "a CSV file carries its protective marking inside (csv_marking=column: a "
                "protective_marking column; or comment: a first '# …' line); the policy does "
                "not allow an unmarked CSV (csv_marking=none)"
            )
        return style

    def resolve(self, requested: str | None, *, floor: str) -> str:
        """The marking to print: ``floor`` (the policy's), or ``requested`` when higher.

        Raises:
            MarkingUnknown: ``requested`` is not on the scale (400 ``marking_unknown``).
            MarkingLowered: ``requested`` is empty or lower than ``floor`` (400
                ``marking_lowered``).
        """
        if requested is None:
            return floor
        if not requested.strip():
            raise MarkingLowered(
                f"an empty marking would remove the policy's {floor!r}: a marking may be "
                "raised, never lowered or removed"
            )
        wanted = self.rank(requested)
        if wanted is None:
            raise MarkingUnknown(
                f"unknown protective marking (the policy's scale: {', '.join(self.scale)})"
            )
        least = self.rank(floor) or 0
        if wanted < least:
            raise MarkingLowered(
                f"the marking {self.scale[wanted]!r} is lower than the policy's {floor!r} for "
                "this data: a marking may be raised, never lowered or removed"
            )
        return self.scale[wanted]


def data_classes(table_kinds: Iterable[str], *, audit: bool = False) -> list[str]:
    """The data classes of an answer read from tables of these catalog kinds (``reference``,
    ``record``, ``entity``, ``link``) and, with ``audit``, from the audit schema.

    Example:
        >>> data_classes(["reference", "record", "entity"], audit=True)
        ['audit', 'record', 'reference']
    """
    classes = {"reference" if kind == "reference" else "record" for kind in table_kinds}
    if audit:
        classes.add("audit")
    return sorted(classes)


def _marking(value: Any, path: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_MARKING:
        raise ConfigurationError(
            f"{source}: {path}: must be non-empty text of at most {_MAX_MARKING} characters"
        )
    if not all(32 <= ord(c) < 127 for c in value):  # it travels in an HTTP header
        raise ConfigurationError(f"{source}: {path}: must be printable ASCII")
    return value.strip()


def parse_marking_settings(
    raw: Any,
    *,
    source: str = "policy.toml",
    record: str | None = None,
    publication: str | None = None,
) -> MarkingSettings:
    """Validate a raw ``[markings]`` table (``None`` = the defaults).

    Args:
        raw: the policy file's ``[markings]`` table.
        source: the policy file, for messages.
        record, publication: the ``[exports]`` ``marking`` and ``publication_marking``, the
            defaults for those classes when ``[markings]`` does not set them.

    Raises:
        ConfigurationError: ``<source>: markings.<key>: <problem>`` (an unknown key, a class
            marking not on the scale, a scale with repeats).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: markings: must be a table")
    known = sorted(MarkingSettings.__dataclass_fields__)
    _csv_keys(raw, source)
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: markings.{key}: unknown key (expected one of {', '.join(known)})"
            )
    scale_raw = raw.get("scale", list(DEFAULT_SCALE))
    if not isinstance(scale_raw, list) or not scale_raw:
        raise ConfigurationError(f"{source}: markings.scale: must be a list of markings")
    scale = tuple(_marking(v, "markings.scale", source) for v in scale_raw)
    if len({_key(v) for v in scale}) != len(scale):
        raise ConfigurationError(f"{source}: markings.scale: a marking is listed twice")
    defaults = MarkingSettings()
    values = {
        "reference": defaults.reference,
        "record": record or defaults.record,
        "audit": defaults.audit,
        "publication": publication or defaults.publication,
    }
    settings = MarkingSettings(scale=scale)
    chosen: dict[str, str] = {}
    for name, default in values.items():
        chosen[name] = _on_scale(raw.get(name, default), name, settings, source)
    # aggregates default to the reference data's marking
    chosen["aggregate"] = _on_scale(
        raw.get("aggregate", chosen["reference"]), "aggregate", settings, source
    )
    return MarkingSettings(
        scale=scale,
        csv_marking=str(raw.get("csv_marking", defaults.csv_marking)),
        allow_unmarked_csv=bool(raw.get("allow_unmarked_csv", defaults.allow_unmarked_csv)),
        **chosen,
    )


def _on_scale(raw: Any, name: str, settings: MarkingSettings, source: str) -> str:
    value = _marking(raw, f"markings.{name}", source)
    rank = settings.rank(value)
    if rank is None:
        raise ConfigurationError(
            f"{source}: markings.{name}: {value!r} is not on the scale "
            f"({', '.join(settings.scale)})"
        )
    return settings.scale[rank]


def _csv_keys(raw: Mapping[str, Any], source: str) -> None:
    style = raw.get("csv_marking", "column")
    if style not in CSV_MARKINGS:
        raise ConfigurationError(
            f"{source}: markings.csv_marking: expected one of {', '.join(CSV_MARKINGS)}"
        )
    allow = raw.get("allow_unmarked_csv", False)
    if not isinstance(allow, bool):
        raise ConfigurationError(f"{source}: markings.allow_unmarked_csv: expected true or false")
    if style == "none" and not allow:
        raise ConfigurationError(
            f"{source}: markings.csv_marking: 'none' needs allow_unmarked_csv = true"
        )
