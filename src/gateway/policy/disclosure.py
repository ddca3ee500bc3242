"""Disclosure-control rules: how strictly an output is protected, per level and for publication.

The policy's ``[disclosure]`` section configures them, parsed when the policy is loaded
(``Policy.disclosure``)::

    [disclosure.publication]          # outputs marked for publication
    method = "cell_key"               # the default: every count perturbed (cellkey.py)
    max_noise = 2                     # by at most ±2, the same cell always by the same amount
    modulus = 256                     # cell keys 0..255 over the perturbation table
    min_count = 10                    # perturbed counts 0..9 suppressed (empty cells too)
    round_to = 5                      # published counts rounded to the nearest 5

    [disclosure.levels.general]       # general-level analysts' template outputs and products
    min_count = 10
    round_to = 0
    optional = true                   # may be switched off for working (unshared) outputs

    [disclosure.budget]               # the differencing budget (gateway.disclosure.ledger)
    overlapping = 4                   # different overlapping custom selections per analyst
    days = 30                         # … within this many days

``method = "suppression"`` is cell suppression instead (exact published values, secondary
suppression within one table; nothing links the protection of different outputs). Levels
without an entry get no control by default (``min_count = 0``, no method), but publication
rules always apply to outputs marked for publication.

Example:
    >>> settings = parse_disclosure_settings({"levels": {"general": {"min_count": 5}}})
    >>> settings.rules_for("general").min_count, settings.rules_for("general", publication=True).label
    (5, 'publication')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.errors import ConfigurationError, ParameterError

__all__ = [
    "DISCLOSURE_MODES",
    "NO_RULES",
    "PUBLICATION_RULES",
    "DisclosureBudgetRules",
    "DisclosureMode",
    "DisclosureRules",
    "DisclosureSettings",
    "parse_disclosure_settings",
]

DisclosureMode = Literal["policy", "publication", "none"]
DISCLOSURE_MODES: tuple[DisclosureMode, ...] = ("policy", "publication", "none")


@dataclass(frozen=True)
class DisclosureRules:
    """How one output is protected.

    Attributes:
        min_count: counts from 1 to ``min_count - 1`` are suppressed (0 or 1 = no suppression).
            Cell suppression shows zeros; the cell key method suppresses them with the small
            counts (so a suppressed cell does not say "at least one").
        round_to: published counts are rounded to the nearest multiple (0 or 1 = exact).
        secondary: apply secondary suppression, so that totals cannot reveal a suppressed cell.
        label: where the rules came from (``general``, ``publication``, ``none``), for reports.
        method: ``cell_key`` (the policy's default: every count perturbed by the cell key
            method, perturbed counts 0..min_count-1 suppressed; see
            :mod:`gateway.disclosure.cellkey`), ``suppression`` (primary and secondary cell
            suppression; this class's default, exact values) or ``none``.
        max_noise: the cell key method's largest change to a count.
        modulus: the cell key method's number of cell keys.
    """

    min_count: int = 0
    round_to: int = 0
    secondary: bool = True
    label: str = "none"
    method: str = "suppression"
    max_noise: int = 2
    modulus: int = 256

    @property
    def active(self) -> bool:
        """Whether these rules change anything at all."""
        return self.min_count > 1 or self.round_to > 1 or self.perturbs

    @property
    def perturbs(self) -> bool:
        """Whether counts are perturbed by the cell key method."""
        return self.method == "cell_key" and self.max_noise > 0

    def describe(self) -> str:
        """One line for a report footer, e.g. ``counts under 10 suppressed; rounded to 5``."""
        parts = []
        if self.perturbs:
            parts.append(f"counts perturbed by the cell key method (at most ±{self.max_noise})")
        if self.min_count > 1:
            second = " (with secondary suppression)" if self.secondary and not self.perturbs else ""
            after = " after perturbation" if self.perturbs else ""
            parts.append(f"counts from 1 to {self.min_count - 1}{after} suppressed{second}")
        if self.round_to > 1:
            parts.append(f"counts rounded to the nearest {self.round_to}")
        return "; ".join(parts) if parts else "no disclosure control"


#: The rules for outputs marked for publication when the policy does not say otherwise.
PUBLICATION_RULES = DisclosureRules(
    min_count=10, round_to=5, label="publication", method="cell_key", max_noise=2, modulus=256
)
#: No control at all (a level without rules, or ``none`` where the policy allows it).
NO_RULES = DisclosureRules(method="none")


@dataclass(frozen=True)
class DisclosureBudgetRules:
    """The differencing budget (:mod:`gateway.disclosure.ledger`): how many *different*
    custom selections overlapping one another an analyst may be released within a period.

    Attributes:
        overlapping: a release is refused when one of its custom selections is new to the
            analyst and overlaps this many different custom selections of the same attribute
            already released to them within ``days`` (0: no budget).
        days: the period the ledger looks back over.

    Example:
        >>> DisclosureBudgetRules().overlapping, DisclosureBudgetRules().days
        (4, 30)
    """

    overlapping: int = 4
    days: int = 30

    @property
    def active(self) -> bool:
        return self.overlapping > 0


@dataclass(frozen=True)
class DisclosureSettings:
    """The validated ``[disclosure]`` section.

    Attributes:
        publication: rules for outputs marked for publication.
        levels: rules per access level for ordinary (not published) outputs.
        optional: levels whose analysts may switch control off for working outputs.
        budget: the differencing budget over every perturbed release to one analyst.
    """

    publication: DisclosureRules = PUBLICATION_RULES
    levels: Mapping[str, DisclosureRules] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    budget: DisclosureBudgetRules = DisclosureBudgetRules()

    def rules_for(self, level: str, *, publication: bool = False) -> DisclosureRules:
        """The rules for an output made by an analyst of ``level``."""
        if publication:
            return self.publication
        return self.levels.get(level, NO_RULES)

    def resolve(self, level: str, mode: str) -> DisclosureRules:
        """The rules for a requested mode (``policy``, ``publication`` or ``none``).

        Raises:
            ParameterError: an unknown mode, or ``none`` where the policy does not allow it.
        """
        if mode == "policy":
            return self.rules_for(level)
        if mode == "publication":
            return self.rules_for(level, publication=True)
        if mode == "none":
            if self.rules_for(level).active and level not in self.optional:
                raise ParameterError(
                    f"disclosure: the policy does not let {level}-level analysts switch "
                    "disclosure control off"
                )
            return NO_RULES
        raise ParameterError(
            f"disclosure: unknown mode {mode!r}; use one of {', '.join(DISCLOSURE_MODES)}"
        )


_RULE_KEYS = {"min_count", "round_to", "secondary", "optional", "method", "max_noise", "modulus"}
_METHODS = ("suppression", "cell_key")


def _rules(raw: Any, path: str, label: str, source: str) -> tuple[DisclosureRules, bool]:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: {path}: must be a table")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ConfigurationError(
            f"{source}: {path}.{sorted(unknown)[0]}: unknown key (expected {sorted(_RULE_KEYS)})"
        )
    values: dict[str, int] = {}
    for key in ("min_count", "round_to"):
        value = raw.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            raise ConfigurationError(f"{source}: {path}.{key}: must be a whole number 0–1000")
        values[key] = value
    for key in ("secondary", "optional"):
        if key in raw and not isinstance(raw[key], bool):
            raise ConfigurationError(f"{source}: {path}.{key}: must be true or false")
    method = raw.get("method", "cell_key")
    if method not in _METHODS:
        raise ConfigurationError(f"{source}: {path}.method: must be one of {', '.join(_METHODS)}")
    max_noise, modulus = raw.get("max_noise", 2), raw.get("modulus", 256)
    if isinstance(max_noise, bool) or not isinstance(max_noise, int) or not 0 <= max_noise <= 50:
        raise ConfigurationError(f"{source}: {path}.max_noise: must be a whole number 0–50")
    if (
        isinstance(modulus, bool)
        or not isinstance(modulus, int)
        or not 2 * max_noise + 1 <= modulus <= 1 << 20
    ):
        raise ConfigurationError(
            f"{source}: {path}.modulus: must be a whole number from 2*max_noise+1 to 1048576"
        )
    rules = DisclosureRules(
        min_count=values["min_count"],
        round_to=values["round_to"],
        secondary=bool(raw.get("secondary", True)),
        label=label,
        method=str(method),
        max_noise=max_noise,
        modulus=modulus,
    )
    return rules, bool(raw.get("optional", False))


def parse_disclosure_settings(
    raw: Mapping[str, Any] | None,
    *,
    levels: tuple[str, ...] | None = None,
    source: str = "policy",
) -> DisclosureSettings:
    """Validate a policy's raw ``[disclosure]`` section (the policy loader parses it when the
    policy is loaded: ``Policy.disclosure``).

    Args:
        raw: the policy file's ``[disclosure]`` table (None: defaults).
        levels: the policy's level names; entries for other levels are refused.
        source: the policy file, for messages.

    Raises:
        ConfigurationError: ``<source>: disclosure.<path>: <problem>``.
    """
    if raw is None:
        return DisclosureSettings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: disclosure: must be a table")
    unknown = set(raw) - {"publication", "levels", "budget"}
    if unknown:
        raise ConfigurationError(
            f"{source}: disclosure.{sorted(unknown)[0]}: unknown key "
            "(expected budget, levels, publication)"
        )
    publication = PUBLICATION_RULES
    if "publication" in raw:
        publication, _ = _rules(raw["publication"], "disclosure.publication", "publication", source)
    per_level: dict[str, DisclosureRules] = {}
    optional: set[str] = set()
    raw_levels = raw.get("levels", {})
    if not isinstance(raw_levels, Mapping):
        raise ConfigurationError(f"{source}: disclosure.levels: must be a table of levels")
    for name, spec in raw_levels.items():
        if levels is not None and name not in levels:
            raise ConfigurationError(
                f"{source}: disclosure.levels.{name}: no such level (levels: {', '.join(levels)})"
            )
        rules, may_disable = _rules(spec, f"disclosure.levels.{name}", str(name), source)
        per_level[str(name)] = rules
        if may_disable:
            optional.add(str(name))
    return DisclosureSettings(
        publication=publication,
        levels=per_level,
        optional=frozenset(optional),
        budget=_budget(raw.get("budget", {}), source),
    )


def _budget(raw: Any, source: str) -> DisclosureBudgetRules:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: disclosure.budget: must be a table")
    unknown = set(raw) - {"overlapping", "days"}
    if unknown:
        raise ConfigurationError(
            f"{source}: disclosure.budget.{sorted(unknown)[0]}: unknown key "
            "(expected days, overlapping)"
        )
    default = DisclosureBudgetRules()
    values: dict[str, int] = {}
    for key, low, high in (("overlapping", 0, 1000), ("days", 1, 3660)):
        value = raw.get(key, getattr(default, key))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigurationError(
                f"{source}: disclosure.budget.{key}: must be a whole number {low}–{high}"
            )
        values[key] = value
    return DisclosureBudgetRules(**values)
