"""Disclosure control asked for on any aggregate query or export, and the spec inferred for it.

An analyst asks for it with a mode and, where the query does not make it plain, the columns::

    {"mode": "publication"}                                   # everything inferred
    {"mode": "policy", "counts": ["victims"], "dimensions": ["ward_code", "month"]}

(``"policy"`` or ``"publication"`` alone is short for ``{"mode": …}``.) The mode picks the rules
(:meth:`~gateway.policy.disclosure.DisclosureSettings.resolve`); the query's top-level columns,
each read from the SQL as a grouping ``key``, a ``count`` (``count(…)``) or another
``aggregate`` (``sum``, ``avg`` …), give the :class:`~gateway.disclosure.spec.DisclosureSpec`:

- **counts**: every ``count(…)`` column, plus the aggregates named in ``counts`` (a ``sum`` of
  flags is a count too). All of them are protected; one cannot be left out;
- **dimensions**: the keys named in ``dimensions``, else the last two keys; **strata**: the
  keys named in ``strata``, else the other keys (each combination is protected as its own
  table); every key is one or the other;
- **measures**: the other aggregates (averages, sums of values, rates computed in SQL) are
  withheld wherever the first count of their row is suppressed. Under rounding they are
  refused: computed from the exact counts, they would give those away.

Pure: no I/O, no SQL parsing (the roles come from :func:`gateway.analysis.classify.output_roles`).

Example:
    >>> request = parse_disclosure_request({"mode": "policy"})
    >>> spec = infer_spec(request, ["area", "month", "crimes", "mean_value"],
    ...                   ["key", "key", "count", "aggregate"], DisclosureRules(min_count=10))
    >>> spec.dimensions, spec.counts, [d.name for d in spec.derived]
    (('area', 'month'), ('crimes',), ['mean_value'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.analysis.classify import ColumnRole
from gateway.disclosure.spec import DisclosureSpec, parse_disclosure_spec
from gateway.errors import InputError, ParameterError
from gateway.policy.disclosure import DisclosureRules

__all__ = [
    "REQUEST_MODES",
    "DisclosureRequest",
    "infer_spec",
    "parse_disclosure_request",
]

#: Modes an ad-hoc query may ask for (without the option there is no control to switch off).
REQUEST_MODES = ("policy", "publication")
_KEYS = ("mode", "counts", "dimensions", "strata", "totals")


@dataclass(frozen=True)
class DisclosureRequest:
    """Disclosure control asked for on a query or export.

    Attributes:
        mode: ``policy`` (the analyst's level's rules) or ``publication`` (the stricter rules
            for outputs to be published).
        counts: aggregate columns to protect besides the ``count(…)`` columns.
        dimensions: at most two key columns indexing the cells (None: inferred).
        strata: key columns splitting the result into separate tables (None: inferred).
        totals: dimension → the marker value of its margin rows (e.g. ``{"ward": "all"}``).
    """

    mode: str = "policy"
    counts: tuple[str, ...] = ()
    dimensions: tuple[str, ...] | None = None
    strata: tuple[str, ...] | None = None
    totals: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the request body shape)."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.counts:
            out["counts"] = list(self.counts)
        if self.dimensions is not None:
            out["dimensions"] = list(self.dimensions)
        if self.strata is not None:
            out["strata"] = list(self.strata)
        if self.totals:
            out["totals"] = dict(self.totals)
        return out


def _names(raw: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    if raw.get(key) is None:
        return None
    value = raw[key]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ParameterError(f"disclosure.{key}: must be a list of column names")
    return tuple(value)


def parse_disclosure_request(
    raw: str | Mapping[str, Any] | DisclosureRequest | None,
) -> DisclosureRequest | None:
    """Validate a disclosure request given as a mode name or a JSON object (None: none asked).

    Example:
        >>> parse_disclosure_request("publication").mode
        'publication'
        >>> parse_disclosure_request({"mode": "policy", "counts": ["n"]}).counts
        ('n',)

    Raises:
        ParameterError: ``disclosure…: <problem>``.
    """
    if raw is None or isinstance(raw, DisclosureRequest):
        return raw
    if isinstance(raw, str):
        raw = {"mode": raw}
    if not isinstance(raw, Mapping):
        raise ParameterError("disclosure: give a mode (policy or publication) or an object")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ParameterError(f"disclosure.{unknown[0]}: unknown key (expected {', '.join(_KEYS)})")
    mode = raw.get("mode", "policy")
    if mode not in REQUEST_MODES:
        raise ParameterError(
            f"disclosure.mode: {mode!r} is not a mode; use {' or '.join(REQUEST_MODES)} "
            "(leave disclosure out for an uncontrolled working result)"
        )
    totals = raw.get("totals") or {}
    if not isinstance(totals, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in totals.items()
    ):
        raise ParameterError("disclosure.totals: must map dimension columns to marker text")
    dimensions = _names(raw, "dimensions")
    if dimensions is not None and len(dimensions) > 2:
        raise ParameterError("disclosure.dimensions: at most two (put further keys in strata)")
    return DisclosureRequest(
        mode=str(mode),
        counts=_names(raw, "counts") or (),
        dimensions=dimensions,
        strata=_names(raw, "strata"),
        totals=dict(totals),
    )


def _check_named(what: str, names: Sequence[str], roles: Mapping[str, ColumnRole]) -> None:
    for name in names:
        if name not in roles:
            raise ParameterError(f"disclosure.{what}: the result has no column {name!r}")
        if what == "counts" and roles[name] == "key":
            raise ParameterError(
                f"disclosure.counts: {name!r} is a grouping column, not a count; counts are "
                "aggregates such as count(*) or sum(flag)"
            )
        if what != "counts" and roles[name] != "key":
            raise ParameterError(
                f"disclosure.{what}: {name!r} is an aggregate, not a grouping column"
            )


def infer_spec(
    request: DisclosureRequest,
    columns: Sequence[str],
    roles: Sequence[ColumnRole],
    rules: DisclosureRules,
) -> DisclosureSpec:
    """The spec for a result whose columns (in order) have ``roles``.

    Raises:
        ParameterError: the request names a column the result lacks or gives it the wrong
            role, no count column is found, a key is neither a dimension nor a stratum, or a
            measure would give rounded counts away.
    """
    if len(columns) != len(roles):
        raise ParameterError("disclosure: the result's columns could not be matched to the query")
    by_name = dict(zip(columns, roles, strict=True))
    if len(by_name) != len(columns):
        raise ParameterError("disclosure: the result has two columns with the same name")
    _check_named("counts", request.counts, by_name)
    counts = [c for c, r in by_name.items() if r == "count" or c in request.counts]
    if not counts:
        raise ParameterError(
            "disclosure: the result has no count column; count with count(…) or name the "
            "aggregate columns that are counts in disclosure.counts"
        )
    keys = [c for c, r in by_name.items() if r == "key"]
    _check_named("dimensions", request.dimensions or (), by_name)
    _check_named("strata", request.strata or (), by_name)
    if request.dimensions is not None:
        dimensions = list(request.dimensions)
    else:
        rest = [k for k in keys if k not in (request.strata or ())]
        dimensions = rest[-2:]
    strata = (
        list(request.strata)
        if request.strata is not None
        else [k for k in keys if k not in dimensions]
    )
    for key in keys:
        if key not in dimensions and key not in strata:
            raise ParameterError(
                f"disclosure: grouping column {key!r} must be one of the dimensions or strata"
            )
    measures = [c for c, r in by_name.items() if r != "key" and c not in counts]
    if measures and rules.round_to > 1:
        raise ParameterError(
            f"disclosure: the {rules.label} rules round counts to the nearest {rules.round_to}, "
            f"and {measures[0]!r} is computed from the exact counts, so it would give them "
            "away; leave it out (work it out from the published counts) or, if it is a count, "
            "name it in disclosure.counts"
        )
    spec = {
        "counts": counts,
        "dimensions": dimensions,
        "strata": strata,
        "totals": dict(request.totals),
        "derived": {m: {"kind": "measure", "count": counts[0]} for m in measures},
    }
    try:
        return parse_disclosure_spec(spec, where="disclosure")
    except InputError as exc:  # one code for every problem with the request
        raise ParameterError(str(exc)) from exc
