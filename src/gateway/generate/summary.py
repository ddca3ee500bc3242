"""What a generation run produced: counts, time, paths and parameters.

Example:
    >>> from pathlib import Path
    >>> s = GenerationSummary(data_dir=Path("d"), warehouse=Path("d/warehouse.duckdb"),
    ...     basemaps=Path("d/basemaps.gpkg"), parameters=GenerationParameters(seed=7),
    ...     row_counts={"crime": 10, "incident": 30}, seconds=1.5, reused=False,
    ...     warehouse_bytes=2_000_000)
    >>> print(s.render().splitlines()[0])
    Generated synthetic warehouse d/warehouse.duckdb in 1.5 s (2.0 MB)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.generate.parameters import GENERATOR_VERSION, GenerationParameters

__all__ = ["GenerationSummary"]


@dataclass(frozen=True)
class GenerationSummary:
    """The result of :func:`gateway.generate.build` or :func:`gateway.generate.ensure`.

    Attributes:
        data_dir: the data directory.
        warehouse: path of the DuckDB warehouse.
        basemaps: path of the GeoPackage of base maps.
        parameters: seed, years, scale and end month it was generated with.
        row_counts: rows per table.
        seconds: time this call took.
        reused: True when an existing warehouse with the same parameters was kept.
        warehouse_bytes: size of the DuckDB file.
        generator_version: version of the generator that made it.
    """

    data_dir: Path
    warehouse: Path
    basemaps: Path
    parameters: GenerationParameters
    row_counts: Mapping[str, int]
    seconds: float
    reused: bool
    warehouse_bytes: int
    generator_version: str = GENERATOR_VERSION

    def rows(self, table: str) -> int:
        return self.row_counts.get(table, 0)

    def render(self) -> str:
        """A short human summary (a few lines)."""
        verb = "Kept existing" if self.reused else "Generated"
        mb = self.warehouse_bytes / 1e6
        lines = [
            f"{verb} synthetic warehouse {self.warehouse} in {self.seconds:.1f} s ({mb:.1f} MB)",
            f"  parameters: {self.parameters.describe()} (generator {self.generator_version})",
            "  records: "
            + ", ".join(
                f"{self.rows(t):,} {t}"
                for t in ("crime", "incident", "custody", "intelligence_report")
            ),
            "  entities: "
            + ", ".join(
                f"{self.rows(t):,} {t}" for t in ("location", "person", "vehicle", "property")
            ),
            f"  base maps: {self.basemaps} ({self.rows('map_point'):,} map points)",
        ]
        return "\n".join(lines)
