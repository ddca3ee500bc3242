"""Hotspot grids: which square or hexagonal cell each point falls in, and the cells' shapes.

Pure numpy (shapely only to build the polygons). Cells are anchored at the CRS origin, so the
same cell size always gives the same cells — grids from different exports line up.

- **square** cells of ``size`` metres: column ``floor(x / size)``, row ``floor(y / size)``;
  a point on a cell's lower or left edge belongs to that cell.
- **hex** cells (pointy-top) whose centres are ``size`` metres apart (the width across flats;
  a hexagon's area is ``0.866 · size²``): axial coordinates ``(q, r)`` with centre
  ``x = size · (q + r / 2)``, ``y = size · r · √3 / 2``; a point goes to the nearest centre
  (cube rounding), which is the hexagon containing it.

Example:
    >>> import numpy as np
    >>> counts = count_cells(np.array([10.0, 20, 600]), np.array([5.0, 5, 5]), 500, "square")
    >>> counts.ids, counts.counts.tolist()
    (['S500:0:0', 'S500:1:0'], [2, 1])
    >>> hex_cells(np.array([0.0, 260]), np.array([0.0, 0]), 500)[0].tolist()
    [0, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.errors import InputError

__all__ = [
    "CellCounts",
    "CellShape",
    "cell_polygons",
    "count_cells",
    "hex_cells",
    "square_cells",
]

CellShape = Literal["square", "hex"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_SQRT3 = math.sqrt(3.0)


def square_cells(x: FloatArray, y: FloatArray, size: float) -> tuple[IntArray, IntArray]:
    """Column and row of the square cell each point is in."""
    return (
        np.floor(x / size).astype(np.int64),
        np.floor(y / size).astype(np.int64),
    )


def hex_cells(x: FloatArray, y: FloatArray, size: float) -> tuple[IntArray, IntArray]:
    """Axial ``(q, r)`` of the pointy-top hexagon (centres ``size`` apart) each point is in."""
    rf = y / (size * _SQRT3 / 2.0)
    qf = x / size - rf / 2.0
    sf = -qf - rf
    q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def _centres(
    i: IntArray, j: IntArray, size: float, shape: CellShape
) -> tuple[FloatArray, FloatArray]:
    fi, fj = i.astype(np.float64), j.astype(np.float64)
    if shape == "square":
        return (fi + 0.5) * size, (fj + 0.5) * size
    return size * (fi + fj / 2.0), size * fj * _SQRT3 / 2.0


@dataclass(frozen=True)
class CellCounts:
    """The occupied cells of a grid with their point counts (and optional weight sums).

    Attributes:
        ids: ``S<size>:<col>:<row>`` or ``H<size>:<q>:<r>``, sorted by cell index.
        i, j: the cells' indices (column/row or q/r).
        counts: points per cell (at least 1).
        sums: per-cell sum of the weights, when weights were given.
        size, shape: the grid.
    """

    ids: list[str]
    i: IntArray
    j: IntArray
    counts: IntArray
    sums: FloatArray | None
    size: float
    shape: CellShape

    def centres(self) -> tuple[FloatArray, FloatArray]:
        return _centres(self.i, self.j, self.size, self.shape)


def _size_label(size: float) -> str:
    return str(int(size)) if float(size).is_integer() else f"{size:g}"


def count_cells(
    x: FloatArray,
    y: FloatArray,
    size: float,
    shape: CellShape,
    *,
    weights: FloatArray | None = None,
) -> CellCounts:
    """Count the points (finite coordinates only) per cell.

    Raises:
        InputError: a cell size that is not a positive number, or an unknown shape.
    """
    if not (isinstance(size, int | float) and math.isfinite(size) and size > 0):
        raise InputError("grid cell size must be a positive number of metres")
    if shape not in ("square", "hex"):
        raise InputError("grid cell shape must be 'square' or 'hex'")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    i, j = square_cells(x, y, size) if shape == "square" else hex_cells(x, y, size)
    if len(i) == 0:
        empty = np.zeros(0, dtype=np.int64)
        no_sums = None if weights is None else np.zeros(0, dtype=np.float64)
        return CellCounts([], empty, empty, empty, no_sums, size, shape)
    pairs = np.stack([i, j], axis=1)
    cells, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    sums: FloatArray | None = None
    if weights is not None:
        w = np.nan_to_num(weights[keep].astype(np.float64), nan=0.0)
        sums = np.bincount(inverse, weights=w, minlength=len(cells)).astype(np.float64)
    prefix = ("S" if shape == "square" else "H") + _size_label(size)
    ids = [f"{prefix}:{a}:{b}" for a, b in cells.tolist()]
    return CellCounts(
        ids, cells[:, 0].copy(), cells[:, 1].copy(), counts.astype(np.int64), sums, size, shape
    )


def cell_polygons(cells: CellCounts) -> Any:
    """The cells as shapely polygons (a numpy object array, same order as ``cells.ids``)."""
    import shapely

    cx, cy = cells.centres()
    n = len(cx)
    if cells.shape == "square":
        half = cells.size / 2.0
        dx = np.array([-half, half, half, -half, -half])
        dy = np.array([-half, -half, half, half, -half])
    else:
        radius = cells.size / _SQRT3  # centre to vertex
        angles = np.deg2rad(np.array([30.0, 90, 150, 210, 270, 330, 30]))
        dx, dy = radius * np.cos(angles), radius * np.sin(angles)
    rings = np.stack([cx[:, None] + dx[None, :], cy[:, None] + dy[None, :]], axis=2)
    return shapely.polygons(rings.reshape(n, len(dx), 2)) if n else np.array([], dtype=object)
