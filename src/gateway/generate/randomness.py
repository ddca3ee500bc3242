"""Seeded random streams and vectorised weighted sampling.

Every part of the generator draws from its own stream, named by stable keys (not Python's
salted ``hash``), so the output depends only on the seed and the keys, never on the order in
which streams are created or on threads.

Example:
    >>> a = stream(7, "crime", 2, 3).integers(0, 1000, 3)
    >>> b = stream(7, "crime", 2, 3).integers(0, 1000, 3)
    >>> bool((a == b).all())
    True
    >>> picker = WeightedPicker(np.array([1.0, 0.0, 3.0]))
    >>> sorted(set(picker.draw(stream(1, "x"), 100).tolist()))
    [0, 2]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "FloatArray",
    "IntArray",
    "WeightedPicker",
    "choose_rows",
    "lognormal",
    "mix_matrix",
    "pareto_weights",
    "stream",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def stream(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent generator for ``seed`` and the given keys."""
    words = [seed & 0xFFFFFFFF, seed >> 32]
    for key in keys:
        if isinstance(key, str):
            digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
            words.append(int.from_bytes(digest, "little") & 0xFFFFFFFF)
        else:
            words.append(int(key) & 0xFFFFFFFF)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


class WeightedPicker:
    """Draws indices ``0..n-1`` with probability proportional to ``weights`` (O(log n) each)."""

    def __init__(self, weights: npt.ArrayLike) -> None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be a non-empty vector of finite, non-negative numbers")
        self._cumulative = np.cumsum(w)
        self._total = float(self._cumulative[-1])
        if self._total <= 0:
            raise ValueError("weights must not all be zero")

    def __len__(self) -> int:
        return len(self._cumulative)

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        u = rng.random(n) * self._total
        # Searching in sorted order walks the (large) cumulative array once: several times
        # faster than random probes, and the result is the same.
        order = np.argsort(u)
        idx = np.empty(n, dtype=np.int64)
        idx[order] = np.searchsorted(self._cumulative, u[order], side="right")
        return np.minimum(idx, len(self._cumulative) - 1)


def choose_rows(rng: np.random.Generator, cumulative: FloatArray, rows: IntArray) -> IntArray:
    """For each row ``r`` pick a column by the cumulative weights ``cumulative[rows[r]]``.

    ``cumulative`` is a matrix (one weighted choice per row of it), normalised so each row
    ends at 1.
    """
    u = rng.random(len(rows))
    picked = np.empty(len(rows), dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(cumulative.shape[0] + 1))
    for row in range(cumulative.shape[0]):  # one search per kind of row, not per row
        members = order[bounds[row] : bounds[row + 1]]
        if len(members):
            picked[members] = np.searchsorted(cumulative[row], u[members], side="right")
    return np.asarray(np.minimum(picked, cumulative.shape[1] - 1), dtype=np.int64)


def mix_matrix(mixes: Sequence[Sequence[tuple[str, float]]], keys: Sequence[str]) -> FloatArray:
    """Cumulative, normalised matrix of weighted mixes over ``keys`` (one row per mix)."""
    out = np.zeros((len(mixes), len(keys)))
    position = {k: i for i, k in enumerate(keys)}
    for row, mix in enumerate(mixes):
        for key, weight in mix:
            out[row, position[key]] += weight
    totals = out.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return np.cumsum(out / totals, axis=1)


def pareto_weights(
    rng: np.random.Generator, n: int, alpha: npt.ArrayLike, cap: npt.ArrayLike = np.inf
) -> FloatArray:
    """Heavy-tailed propensities (Pareto, minimum 1, at most ``cap``): a few units get many
    of the draws, but none gets an absurd share."""
    raw = (1.0 - rng.random(n)) ** (-1.0 / np.asarray(alpha, dtype=np.float64))
    return np.asarray(np.minimum(raw, cap), dtype=np.float64)


def lognormal(
    rng: np.random.Generator, median: FloatArray | float, sigma: float, n: int
) -> FloatArray:
    """Log-normal values with the given median(s)."""
    return np.asarray(np.asarray(median) * np.exp(sigma * rng.standard_normal(n)), dtype=np.float64)
