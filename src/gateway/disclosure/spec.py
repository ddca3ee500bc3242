"""What an aggregate result holds, as disclosure control needs to know it.

A result is read as a long-format table: ``dimensions`` (at most two) index its cells, ``counts``
and ``people`` hold counts of records and of distinct people (pseudonyms), ``strata`` split it
into independent tables, ``totals`` name the marker values of margin rows, and ``derived``
columns are computed from counts (rates, percentages, changes, rolling sums, averages) and are
recomputed or withheld when the counts they come from are suppressed or rounded.

In a template header::

    [disclosure]
    dimensions = ["police_uk_category", "month"]
    counts = ["crimes"]
    totals = { police_uk_category = "all" }
    derived.rate_per_1000 = { kind = "rate", count = "crimes", per = "population", scale = 1000 }

Example:
    >>> spec = parse_disclosure_spec({"dimensions": ["month"], "counts": ["crimes"]})
    >>> spec.protected_columns
    ('crimes',)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.errors import InputError

__all__ = ["DERIVED_KINDS", "Derived", "DerivedKind", "DisclosureSpec", "parse_disclosure_spec"]

DerivedKind = Literal["rate", "ratio", "change", "rolling", "measure", "index"]

#: Derived kinds and the options each takes (name → required?).
DERIVED_KINDS: Mapping[str, Mapping[str, bool]] = {
    # count / per * scale, ``per`` an unprotected denominator such as population
    "rate": {"count": True, "per": True, "scale": False, "digits": False},
    # numerator / denominator * scale, both counts (e.g. a charge rate in per cent)
    "ratio": {"numerator": True, "denominator": True, "scale": False, "digits": False},
    # (current - previous) / previous * 100, both counts
    "change": {"current": True, "previous": True, "digits": False},
    # sum of ``count`` over the last ``window`` rows of a series ordered by ``order``
    "rolling": {"count": True, "window": True, "order": True},
    # a statistic of the records behind ``count`` (mean, median …): withheld with it
    "measure": {"count": True},
    # (count / per) / (sum of count / sum of per over the table) * scale, e.g. a seasonal
    # index: always from the published counts (an exact mean would give the exact total away)
    "index": {"count": True, "per": True, "scale": False, "digits": False},
}


@dataclass(frozen=True)
class Derived:
    """A column computed from protected counts.

    Attributes:
        name: the column.
        kind: one of :data:`DERIVED_KINDS`.
        options: the kind's options (``count``, ``per``, ``scale``, ``digits`` …).
    """

    name: str
    kind: DerivedKind
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        """The protected count columns this column is computed from."""
        keys = {
            "rate": ("count",),
            "ratio": ("numerator", "denominator"),
            "change": ("current", "previous"),
            "rolling": ("count",),
            "measure": ("count",),
            "index": ("count",),
        }[self.kind]
        return tuple(str(self.options[k]) for k in keys)

    @property
    def digits(self) -> int:
        return int(self.options.get("digits", 2 if self.kind in ("rate", "index") else 1))


@dataclass(frozen=True)
class DisclosureSpec:
    """The shape of an aggregate result.

    Attributes:
        counts: columns holding counts of records.
        people: columns holding counts of distinct people (pseudonyms).
        dimensions: up to two columns indexing the cells (rows, then columns of the grid);
            totals along each are assumed to be public.
        strata: further key columns; each combination is protected as its own table.
        totals: dimension → marker value of the margin rows (e.g. ``{"category": "all"}``).
        derived: columns computed from the counts.
    """

    counts: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    strata: tuple[str, ...] = ()
    totals: Mapping[str, str] = field(default_factory=dict)
    derived: tuple[Derived, ...] = ()

    @property
    def protected_columns(self) -> tuple[str, ...]:
        """Every count column (records, then people)."""
        return self.counts + self.people

    @property
    def keys(self) -> tuple[str, ...]:
        return self.strata + self.dimensions

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON and the template catalogue)."""
        return {
            "counts": list(self.counts),
            "people": list(self.people),
            "dimensions": list(self.dimensions),
            "strata": list(self.strata),
            "totals": dict(self.totals),
            "derived": {d.name: {"kind": d.kind, **d.options} for d in self.derived},
        }


_SPEC_KEYS = {"counts", "people", "dimensions", "strata", "totals", "derived"}


def _names(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{where}.{key}: must be a list of column names")
    return tuple(value)


def _derived(name: str, raw: Any, where: str) -> Derived:
    path = f"{where}.derived.{name}"
    if not isinstance(raw, Mapping) or raw.get("kind") not in DERIVED_KINDS:
        raise InputError(f"{path}: needs kind = one of {', '.join(DERIVED_KINDS)}")
    kind: DerivedKind = raw["kind"]
    options = {k: v for k, v in raw.items() if k != "kind"}
    allowed = DERIVED_KINDS[kind]
    for key in options:
        if key not in allowed:
            raise InputError(f"{path}.{key}: not an option of {kind} (options: {sorted(allowed)})")
    for key, required in allowed.items():
        if required and key not in options:
            raise InputError(f"{path}: {kind} needs {key}")
    for key in ("scale", "digits", "window"):
        if key in options and (
            isinstance(options[key], bool) or not isinstance(options[key], int | float)
        ):
            raise InputError(f"{path}.{key}: must be a number")
    return Derived(name=name, kind=kind, options=options)


def parse_disclosure_spec(raw: Mapping[str, Any], *, where: str = "disclosure") -> DisclosureSpec:
    """Validate a spec written as data (a template header's ``[disclosure]`` table, JSON …).

    Raises:
        InputError: ``<where>.<key>: <problem>``.
    """
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: must be a table")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise InputError(
            f"{where}.{sorted(unknown)[0]}: unknown key (expected {sorted(_SPEC_KEYS)})"
        )
    dimensions = _names(raw, "dimensions", where)
    if len(dimensions) > 2:
        raise InputError(f"{where}.dimensions: at most two (put further key columns in strata)")
    totals = raw.get("totals", {})
    if not isinstance(totals, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in totals.items()
    ):
        raise InputError(f"{where}.totals: must map dimension columns to marker text")
    for column in totals:
        if column not in dimensions:
            raise InputError(f"{where}.totals.{column}: not one of the dimensions")
    raw_derived = raw.get("derived", {})
    if not isinstance(raw_derived, Mapping):
        raise InputError(f"{where}.derived: must be a table of columns")
    spec = DisclosureSpec(
        counts=_names(raw, "counts", where),
        people=_names(raw, "people", where),
        dimensions=dimensions,
        strata=_names(raw, "strata", where),
        totals=dict(totals),
        derived=tuple(_derived(str(n), d, where) for n, d in raw_derived.items()),
    )
    protected = set(spec.protected_columns)
    if not protected:
        raise InputError(f"{where}: name at least one column in counts or people")
    for derived in spec.derived:
        for source in derived.sources:
            if source not in protected:
                raise InputError(
                    f"{where}.derived.{derived.name}: {source!r} is not one of the counts"
                )
        if derived.kind == "rolling" and derived.options["order"] not in dimensions:
            raise InputError(f"{where}.derived.{derived.name}.order: must be a dimension")
    overlap = set(spec.keys) & (protected | {d.name for d in spec.derived})
    if overlap:
        raise InputError(f"{where}: {sorted(overlap)[0]!r} is both a key and a value column")
    return spec
