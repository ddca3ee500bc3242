"""Synthetic small-area geography: authorities, neighbourhoods, wards, MSOAs and LSOAs.

Real boundaries are not available offline, so the geography is drawn:

1. the four authorities are the faces of the hand-drawn force outline cut by the borders in
   ``datasets/cleveland.toml`` (areas and centroids close to the real ones);
2. each authority gets its LSOA centres, clustered around its towns, and is tiled by their
   Voronoi cells clipped to it — so LSOAs tile the authority exactly;
3. LSOAs are grouped by recursive coordinate bisection into MSOAs (numbered north to south, as
   ONS does), wards, and wards into neighbourhoods; every higher area is the union of its LSOAs,
   so nesting is exact by construction.

Populations of the LSOAs add up to the authority's 2021 population. Deprivation deciles and
crime weights are synthetic: higher near town centres, shifted per authority.

Example:
    >>> from gateway.generate.reference import load_reference
    >>> geo = build_geography(load_reference(), seed=7)
    >>> geo.lsoa.height, geo.ward.height
    (349, 81)
    >>> int(geo.lsoa["population"].sum()) == int(geo.local_authority["population"].sum())
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gateway.errors import ConfigurationError
from gateway.generate.randomness import FloatArray, IntArray, stream
from gateway.generate.reference import Authority, ReferenceData

__all__ = ["Geography", "bisect_groups", "build_geography"]

MIN_SEED_SPACING_M = 180.0
_DEPRIVATION_FACTOR = np.array([0, 2.2, 1.8, 1.45, 1.2, 1.0, 0.85, 0.72, 0.62, 0.55, 0.5])
_DIRECTIONS = (
    "East",
    "North East",
    "North",
    "North West",
    "West",
    "South West",
    "South",
    "South East",
)


@dataclass(frozen=True)
class Geography:
    """The areas, as catalog-shaped frames plus their shapes (EPSG:27700 metres).

    ``lsoa`` carries helper columns besides the catalog ones: ``la_idx``, ``ward_idx``,
    ``neighbourhood_idx`` (row positions in the other frames), ``centroid_x``/``centroid_y``,
    ``area_km2``, ``urban``, ``town`` (nearest town), ``crime_weight`` and ``night_time``
    (closeness to a night-time-economy town centre, 0..1). Shapes are numpy object arrays of
    shapely geometries, aligned with the frames' rows.
    """

    local_authority: pl.DataFrame
    neighbourhood: pl.DataFrame
    ward: pl.DataFrame
    lsoa: pl.DataFrame
    authority_shapes: Any
    neighbourhood_shapes: Any
    ward_shapes: Any
    lsoa_shapes: Any


def build_geography(ref: ReferenceData, seed: int) -> Geography:
    """Draw the whole area hierarchy for ``seed`` (a pure function of its inputs)."""
    import shapely

    outlines = _authority_outlines(ref)
    lsoa_parts: list[pl.DataFrame] = []
    lsoa_shapes: list[Any] = []
    ward_parts: list[pl.DataFrame] = []
    nbh_parts: list[pl.DataFrame] = []
    for la_idx, authority in enumerate(ref.authorities):
        rng = stream(seed, "geography", authority.code)
        outline = outlines[la_idx]
        seeds = _lsoa_seeds(rng, ref, authority, outline)
        cells = _voronoi_cells(seeds, outline)
        frames = _areas_for_authority(rng, ref, authority, la_idx, seeds, cells)
        lsoa_parts.append(frames[0])
        ward_parts.append(frames[1])
        nbh_parts.append(frames[2])
        lsoa_shapes.extend(cells)
    lsoa = pl.concat(lsoa_parts)
    order = lsoa["lsoa_code"].arg_sort().to_numpy()
    lsoa = lsoa[order]
    shapes = np.empty(len(lsoa_shapes), dtype=object)
    shapes[:] = lsoa_shapes
    shapes = shapes[order]
    ward = pl.concat(ward_parts).sort("ward_code")
    nbh = pl.concat(nbh_parts).sort("neighbourhood_code")
    lsoa = lsoa.with_columns(
        ward_idx=pl.col("ward_code").replace_strict(
            ward["ward_code"], pl.int_range(ward.height, eager=True)
        ),
        neighbourhood_idx=pl.col("neighbourhood_code").replace_strict(
            nbh["neighbourhood_code"], pl.int_range(nbh.height, eager=True)
        ),
    )
    ward = ward.join(
        lsoa.group_by("ward_code").agg(pl.col("population").sum()), on="ward_code"
    ).sort("ward_code")
    nbh = nbh.join(
        lsoa.group_by("neighbourhood_code").agg(pl.col("population").sum()), on="neighbourhood_code"
    ).sort("neighbourhood_code")
    ward_shapes = _unions(shapes, lsoa["ward_idx"].to_numpy(), ward.height)
    nbh_shapes = _unions(shapes, lsoa["neighbourhood_idx"].to_numpy(), nbh.height)
    la_shapes = _unions(shapes, lsoa["la_idx"].to_numpy(), len(ref.authorities))
    local_authority = pl.DataFrame(
        {
            "local_authority_code": [a.code for a in ref.authorities],
            "name": [a.name for a in ref.authorities],
            "population": [a.population for a in ref.authorities],
            "area_km2": [round(float(shapely.area(s)) / 1e6, 1) for s in la_shapes],
            "short": [a.short for a in ref.authorities],
        },
        schema_overrides={"population": pl.Int32},
    )
    return Geography(
        local_authority=local_authority,
        neighbourhood=nbh.select(
            "neighbourhood_code",
            "name",
            "local_authority_code",
            pl.col("population").cast(pl.Int32),
        ),
        ward=ward.select(
            "ward_code",
            "name",
            "neighbourhood_code",
            "local_authority_code",
            pl.col("population").cast(pl.Int32),
        ),
        lsoa=lsoa,
        authority_shapes=la_shapes,
        neighbourhood_shapes=nbh_shapes,
        ward_shapes=ward_shapes,
        lsoa_shapes=shapes,
    )


def bisect_groups(points: FloatArray, k: int) -> IntArray:
    """Split ``points`` (n×2) into ``k`` compact groups of near-equal size.

    Recursive coordinate bisection: cut along the longer side at the size-proportional
    quantile. Deterministic and never leaves a group empty (needs n ≥ k).

    Example:
        >>> pts = np.array([[0.0, 0], [1, 0], [10, 0], [11, 0]])
        >>> bisect_groups(pts, 2).tolist()
        [0, 0, 1, 1]
    """
    if k < 1 or len(points) < k:
        raise ValueError(f"cannot split {len(points)} points into {k} groups")
    labels = np.zeros(len(points), dtype=np.int64)
    _bisect(points, np.arange(len(points)), k, 0, labels)
    return labels


def _bisect(points: FloatArray, idx: IntArray, k: int, first: int, labels: IntArray) -> None:
    if k == 1:
        labels[idx] = first
        return
    sub = points[idx]
    axis = int(np.argmax(sub.max(axis=0) - sub.min(axis=0)))
    ordered = idx[np.argsort(sub[:, axis], kind="stable")]
    k_left = k // 2
    cut = round(len(idx) * k_left / k)
    cut = min(max(cut, k_left), len(idx) - (k - k_left))
    _bisect(points, ordered[:cut], k_left, first, labels)
    _bisect(points, ordered[cut:], k - k_left, first + k_left, labels)


def _authority_outlines(ref: ReferenceData) -> list[Any]:
    import shapely

    outline = shapely.Polygon(ref.outline)
    lines = [outline.exterior, *(shapely.LineString(b) for b in ref.borders)]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    faces = [f for f in faces if outline.contains(f.representative_point())]
    found: list[Any] = []
    for authority in ref.authorities:
        point = shapely.Point(authority.label_point)
        matches = [f for f in faces if f.contains(point)]
        if len(matches) != 1:
            raise ConfigurationError(
                f"cleveland.toml: the borders do not give {authority.name} exactly one area"
            )
        found.append(matches[0])
    return found


def _lsoa_seeds(
    rng: np.random.Generator, ref: ReferenceData, authority: Authority, outline: Any
) -> FloatArray:
    """LSOA centres: clouds around the authority's towns plus a rural scatter."""
    import shapely

    shapely.prepare(outline)
    towns = [t for t in ref.towns if t.authority == authority.code]
    weights = np.array([t.weight for t in towns] + [max(0.0, 1.0 - sum(t.weight for t in towns))])
    minx, miny, maxx, maxy = outline.bounds
    chosen: list[tuple[float, float]] = []
    for _ in range(200):
        n = 4 * authority.lsoas
        which = rng.choice(len(weights), size=n, p=weights / weights.sum())
        xy = np.column_stack([rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)])
        for i, town in enumerate(towns):
            sel = which == i
            xy[sel] = (
                np.asarray(town.centre) + rng.standard_normal((int(sel.sum()), 2)) * town.spread_m
            )
        xy = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]
        for x, y in xy:
            if all((x - cx) ** 2 + (y - cy) ** 2 >= MIN_SEED_SPACING_M**2 for cx, cy in chosen):
                chosen.append((float(x), float(y)))
                if len(chosen) == authority.lsoas:
                    return np.array(chosen)
    raise ConfigurationError(f"cannot place {authority.lsoas} LSOAs in {authority.name}")


def _voronoi_cells(seeds: FloatArray, outline: Any) -> list[Any]:
    import shapely

    diagram = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=outline.buffer(5000.0), ordered=True
    )
    cells = shapely.get_parts(diagram)
    if len(cells) != len(seeds):
        raise ConfigurationError("Voronoi tiling lost cells")
    clipped = shapely.intersection(cells, outline)
    out = []
    for cell, (x, y) in zip(clipped, seeds, strict=True):
        polygons = [
            p for p in shapely.get_parts(cell) if isinstance(p, shapely.Polygon) and p.area > 0
        ]
        shape = shapely.MultiPolygon(polygons)
        if not shape.contains(shapely.Point(x, y)):
            raise ConfigurationError("Voronoi cell does not contain its seed")
        out.append(shape)
    return out


def _areas_for_authority(
    rng: np.random.Generator,
    ref: ReferenceData,
    authority: Authority,
    la_idx: int,
    seeds: FloatArray,
    cells: list[Any],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    import shapely

    n = len(seeds)
    centroids = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    areas_km2 = np.array([c.area for c in cells]) / 1e6

    # MSOAs numbered north to south; LSOA letters west to east within an MSOA.
    msoa = bisect_groups(centroids, max(1, round(n / 5)))
    msoa_north = np.array([centroids[msoa == g, 1].mean() for g in range(msoa.max() + 1)])
    msoa_number = np.empty_like(msoa)
    msoa_number[np.argsort(-msoa_north, kind="stable")] = np.arange(1, len(msoa_north) + 1)
    number = msoa_number[msoa]
    letters = np.empty(n, dtype=object)
    for g in range(1, number.max() + 1):
        members = np.flatnonzero(number == g)
        for rank, i in enumerate(members[np.argsort(centroids[members, 0], kind="stable")]):
            letters[i] = chr(ord("A") + rank)
    names = [f"{authority.name} {int(number[i]):03d}{letters[i]}" for i in range(n)]

    # Wards and neighbourhoods, each a connected group of LSOAs.
    adjacency = _adjacency(cells)
    ward_of = _contiguous(bisect_groups(centroids, authority.wards), adjacency)
    ward_xy = np.array([centroids[ward_of == w].mean(axis=0) for w in range(authority.wards)])
    towns = [t for t in ref.towns if t.authority == authority.code]
    main_town = max(towns, key=lambda t: (t.night_time, t.weight))
    centre_lsoa = int(np.argmin(((centroids - np.asarray(main_town.centre)) ** 2).sum(axis=1)))
    for i, cell in enumerate(cells):
        if cell.contains(shapely.Point(main_town.centre)):
            centre_lsoa = i
    centre_ward = int(ward_of[centre_lsoa])
    ward_names = ref.ward_names[authority.code]
    others = [w for w in np.argsort(-ward_xy[:, 1], kind="stable") if w != centre_ward]
    ward_name = {centre_ward: ward_names[0]}
    ward_name.update({int(w): ward_names[i + 1] for i, w in enumerate(others)})
    by_name = sorted(range(authority.wards), key=lambda w: ward_name[w])
    ward_code = {w: f"E05{authority.ward_code_start + i:06d}" for i, w in enumerate(by_name)}
    member = np.zeros((n, authority.wards))
    member[np.arange(n), ward_of] = 1.0
    ward_adjacency = member.T @ adjacency @ member
    np.fill_diagonal(ward_adjacency, 0.0)
    nbh_of_ward = _contiguous(bisect_groups(ward_xy, authority.neighbourhoods), ward_adjacency)
    nbh_code = {g: f"{authority.short}NH{g + 1:02d}" for g in range(authority.neighbourhoods)}
    nbh_names = _neighbourhood_names(authority, ward_xy, nbh_of_ward, centroids.mean(axis=0))

    # Populations summing exactly to the authority's; deprivation; crime weight.
    raw = np.clip(rng.normal(1.0, 0.15, n), 0.6, 1.5)
    population = _apportion(authority.population, raw)
    town_xy = np.array([t.centre for t in towns])
    d_town = np.sqrt(((centroids[:, None, :] - town_xy[None]) ** 2).sum(axis=2))
    nearest_town = d_town.argmin(axis=1)
    night_towns = np.array([t.centre for t in ref.towns if t.night_time])
    d_night = np.sqrt(((centroids[:, None, :] - night_towns[None]) ** 2).sum(axis=2)).min(axis=1)
    z = (
        1.1 * (d_town.min(axis=1) / 1000.0 - 1.5)
        + rng.normal(0, 1.3, n)
        + authority.deprivation_shift
    )
    decile = np.clip(np.round(4 + z), 1, 10).astype(np.int64)
    night_time = np.exp(-d_night / 700.0)
    crime_weight = population * _DEPRIVATION_FACTOR[decile] * (1.0 + 4.0 * night_time)

    order = np.argsort(np.array(names), kind="stable")
    lsoa = pl.DataFrame(
        {
            "lsoa_code": [f"E01{authority.lsoa_code_start + rank:06d}" for rank in range(n)],
            "name": [names[i] for i in order],
            "msoa_code": [
                f"E02{authority.msoa_code_start + int(number[i]) - 1:06d}" for i in order
            ],
            "ward_code": [ward_code[int(ward_of[i])] for i in order],
            "neighbourhood_code": [nbh_code[int(nbh_of_ward[ward_of[i]])] for i in order],
            "local_authority_code": [authority.code] * n,
            "population": population[order].astype(np.int32),
            "imd_decile": decile[order].astype(np.int32),
            "la_idx": [la_idx] * n,
            "centroid_x": centroids[order, 0],
            "centroid_y": centroids[order, 1],
            "area_km2": areas_km2[order],
            "urban": areas_km2[order] < 1.5,
            "town": [towns[int(nearest_town[i])].name for i in order],
            "crime_weight": crime_weight[order],
            "night_time": night_time[order],
        }
    )
    # Re-order the cells the same way (callers concatenate shapes in frame order).
    cells[:] = [cells[i] for i in order]
    ward = pl.DataFrame(
        {
            "ward_code": [ward_code[w] for w in range(authority.wards)],
            "name": [ward_name[w] for w in range(authority.wards)],
            "neighbourhood_code": [nbh_code[int(nbh_of_ward[w])] for w in range(authority.wards)],
            "local_authority_code": [authority.code] * authority.wards,
        }
    )
    nbh = pl.DataFrame(
        {
            "neighbourhood_code": [nbh_code[g] for g in range(authority.neighbourhoods)],
            "name": nbh_names,
            "local_authority_code": [authority.code] * authority.neighbourhoods,
        }
    )
    return lsoa, ward, nbh


def _adjacency(cells: list[Any]) -> FloatArray:
    """Length of shared border between every pair of cells (metres; 0 = not neighbours)."""
    import shapely

    shapes = np.empty(len(cells), dtype=object)
    shapes[:] = cells
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(shapes[left]), shapely.boundary(shapes[right]))
    )
    out = np.zeros((len(cells), len(cells)))
    out[left, right] = shared
    out[right, left] = shared
    return out


def _contiguous(labels: IntArray, adjacency: FloatArray) -> IntArray:
    """Move stray pieces of a group to the neighbouring group they share most border with."""
    labels = labels.copy()
    linked = adjacency > 1.0
    for _ in range(20):
        moved = False
        for group in range(labels.max() + 1):
            members = np.flatnonzero(labels == group)
            parts = _components(members, linked)
            for part in sorted(parts, key=len)[:-1]:
                border = adjacency[part].sum(axis=0)
                border[labels == group] = 0.0
                totals = np.bincount(labels, weights=border, minlength=labels.max() + 1)
                if totals.max() > 0:
                    labels[part] = int(np.argmax(totals))
                    moved = True
        if not moved:
            return labels
    return labels


def _components(members: IntArray, linked: Any) -> list[IntArray]:
    remaining = set(members.tolist())
    parts: list[IntArray] = []
    while remaining:
        frontier = [remaining.pop()]
        part = list(frontier)
        while frontier:
            node = frontier.pop()
            for other in np.flatnonzero(linked[node]).tolist():
                if other in remaining:
                    remaining.remove(other)
                    frontier.append(other)
                    part.append(other)
        parts.append(np.array(sorted(part)))
    return parts


def _neighbourhood_names(
    authority: Authority, ward_xy: FloatArray, groups: IntArray, centre: FloatArray
) -> list[str]:
    spread = float(np.sqrt(((ward_xy - centre) ** 2).sum(axis=1)).mean())
    names: list[str] = []
    for g in range(groups.max() + 1):
        dx, dy = ward_xy[groups == g].mean(axis=0) - centre
        if math.hypot(dx, dy) < 0.35 * spread:
            label = "Central"
        else:
            label = _DIRECTIONS[round(math.degrees(math.atan2(dy, dx)) / 45.0) % 8]
        name = f"{authority.name} {label}"
        suffix = 2
        while name in names:
            name = f"{authority.name} {label} {suffix}"
            suffix += 1
        names.append(name)
    return names


def _apportion(total: int, weights: FloatArray) -> IntArray:
    """Integers proportional to ``weights`` that add up to ``total`` (largest remainder)."""
    exact = total * weights / weights.sum()
    out = np.floor(exact).astype(np.int64)
    short = total - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return np.asarray(out, dtype=np.int64)


def _unions(shapes: Any, groups: IntArray, n: int) -> Any:
    import shapely

    out = np.empty(n, dtype=object)
    for g in range(n):
        merged = shapely.union_all(shapes[groups == g])
        polygons = [p for p in shapely.get_parts(merged) if isinstance(p, shapely.Polygon)]
        out[g] = shapely.MultiPolygon(polygons)
    return out
