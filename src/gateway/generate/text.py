"""Filling free-text templates, vectorised: one string expression per template, not per row.

Example:
    >>> import polars as pl
    >>> from gateway.generate.randomness import stream
    >>> slots = pl.DataFrame({"street": ["Oak Road", "Elm Grove"], "victim": ["the IP", "Amy Hall"]})
    >>> templates = TemplateSet.of([["Seen on {street}."], ["IP {victim} on {street}."]])
    >>> templates.render(stream(1, "t"), np.array([0, 1]), slots).to_list()
    ['Seen on Oak Road.', 'IP Amy Hall on Elm Grove.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from gateway.errors import ConfigurationError
from gateway.generate.randomness import IntArray

__all__ = ["TemplateSet"]

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TemplateSet:
    """Templates in groups (e.g. one group per crime category); a row picks within its group."""

    templates: tuple[str, ...]
    first: IntArray  # per group: index of its first template
    count: IntArray  # per group: number of templates

    @classmethod
    def of(cls, groups: Sequence[Sequence[str]]) -> TemplateSet:
        if any(len(g) == 0 for g in groups):
            raise ConfigurationError("text.toml: every template group needs a template")
        counts = np.array([len(g) for g in groups], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(tuple(t for g in groups for t in g), first, counts)

    @property
    def slots(self) -> frozenset[str]:
        return frozenset(s for t in self.templates for s in _SLOT.findall(t))

    def render(self, rng: np.random.Generator, group: IntArray, slots: pl.DataFrame) -> pl.Series:
        """One filled template per row of ``slots``, chosen at random within ``group[row]``.

        The first letter is capitalised (a slot may open the sentence).
        """
        missing = self.slots - set(slots.columns)
        if missing:
            raise ConfigurationError(f"text templates use unknown slots {sorted(missing)}")
        n = len(group)
        if n == 0:
            return pl.Series([], dtype=pl.String)
        choice = self.first[group] + np.floor(rng.random(n) * self.count[group]).astype(np.int64)
        order = np.argsort(choice, kind="stable")
        sorted_choice = choice[order]
        bounds = np.searchsorted(sorted_choice, np.arange(len(self.templates) + 1))
        ordered = slots[order]
        pieces = []
        for t, template in enumerate(self.templates):
            lo, hi = int(bounds[t]), int(bounds[t + 1])
            if hi > lo:
                pieces.append(ordered[lo:hi].select(_expression(template)).to_series())
        text = pl.concat(pieces)
        text = text.str.slice(0, 1).str.to_uppercase() + text.str.slice(1)
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        return text.gather(inverse).alias("text")


def _expression(template: str) -> pl.Expr:
    parts: list[pl.Expr] = []
    position = 0
    for match in _SLOT.finditer(template):
        if match.start() > position:
            parts.append(pl.lit(template[position : match.start()]))
        parts.append(pl.col(match.group(1)).fill_null(""))
        position = match.end()
    if position < len(template):
        parts.append(pl.lit(template[position:]))
    return pl.concat_str(parts).alias("text")
