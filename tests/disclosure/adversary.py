"""A differencing adversary: what everything released to one analyst says about each count.

Independent of the code under test. Each released count is a :class:`Release`: the set of
*atoms* it sums (e.g. one LSOA × one month × one category of crime) and the interval of true
sums its published value allows, as someone who knows the method (but not the secret) reads
it (:func:`reading`): a published ``p`` is within ``max_noise`` (plus half the rounding step)
of the truth and above zero; a suppressed count is from 0 to ``min_count - 1 + max_noise`` (an
empty cell is suppressed too); a published zero (no threshold) is an empty cell.

:class:`Adversary` combines all of them — every output, every geography, every period — and
bounds the sum of any set of atoms by linear programming (scipy/HiGHS; the true atoms are
non-negative whole numbers, so the LP bounds are rounded inwards), after interval reasoning
(atoms in a released zero are zero).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from gateway.policy.disclosure import DisclosureRules

Atom = Hashable


@dataclass(frozen=True)
class Release:
    """One published count: what it sums, what it says and (for checking) the truth."""

    label: str
    atoms: frozenset[Atom]
    low: int
    high: int
    true: int


def reading(shown: int | None, suppressed: bool, rules: DisclosureRules) -> tuple[int, int]:
    """The true values a published count allows under ``rules`` (the cell key method)."""
    if suppressed:
        return 0 if rules.min_count > 1 else 1, rules.min_count - 1 + rules.max_noise
    assert shown is not None
    if shown == 0:
        return 0, 0
    slack = rules.max_noise + (rules.round_to // 2 if rules.round_to > 1 else 0)
    return max(1, shown - slack), shown + slack


class Adversary:
    """Everything released, as linear constraints on non-negative atoms."""

    def __init__(self, releases: Sequence[Release]) -> None:
        self.releases = list(releases)
        zero: set[Atom] = set()
        for r in self.releases:
            if r.high == 0:
                zero |= r.atoms
        self.zero = frozenset(zero)
        # Atoms that every release counts together are one unknown (their sum): merging
        # them changes no bound and makes each LP small.
        member: dict[Atom, list[int]] = defaultdict(list)
        for k, r in enumerate(self.releases):
            for a in r.atoms - zero:
                member[a].append(k)
        groups: dict[tuple[int, ...], int] = {}
        self.index: dict[Atom, int] = {}
        for a, where in member.items():
            self.index[a] = groups.setdefault(tuple(where), len(groups))
        width = len(groups)
        rows: list[int] = []
        cols: list[int] = []
        signs: list[float] = []
        upper: list[int] = []
        for r in self.releases:  # low <= sum <= high as: sum <= high, -sum <= -low
            members = sorted({self.index[a] for a in r.atoms if a in self.index})
            if not members:
                continue
            k = len(upper)
            rows += [k] * len(members) + [k + 1] * len(members)
            cols += members * 2
            signs += [1.0] * len(members) + [-1.0] * len(members)
            upper += [r.high, -r.low]
        self.matrix = csr_matrix((signs, (rows, cols)), shape=(len(upper), width))
        self.upper = np.array(upper, dtype=float)

    def bounds(self, atoms: Iterable[Atom]) -> tuple[int, int]:
        """The smallest and largest value the sum of ``atoms`` can take given every release."""
        members = sorted({self.index[a] for a in atoms if a in self.index})
        if not members:
            return 0, 0
        objective = np.zeros(self.matrix.shape[1])
        objective[members] = 1.0
        ends = []
        for sign in (1.0, -1.0):
            result = linprog(
                sign * objective,
                A_ub=self.matrix,
                b_ub=self.upper,
                bounds=(0, None),
                method="highs",
            )
            assert result.status == 0, result.message  # the truth is always feasible
            ends.append(sign * result.fun)
        return math.ceil(ends[0] - 1e-6), math.floor(ends[1] + 1e-6)
