"""The warehouse's reference tables: areas, offence types and map points.

Example:
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> tables = reference_tables(build_world(load_reference(), GenerationParameters(seed=7, scale=0.02)))
    >>> sorted(tables)
    ['local_authority', 'lsoa', 'map_point', 'neighbourhood', 'offence_type', 'ward']
    >>> tables["offence_type"].filter(pl.col("ho_offence_code") == "19C")["sensitive"].item()
    True
"""

from __future__ import annotations

import polars as pl

from gateway.catalog.police_uk import CATEGORY_LABELS
from gateway.generate.world import World

__all__ = ["reference_tables"]


def reference_tables(world: World) -> dict[str, pl.DataFrame]:
    """Frames for the reference tables (catalog columns, plus helpers the writer ignores)."""
    geo = world.geography
    offences = world.ref.offences
    offence_type = pl.DataFrame(
        {
            "ho_offence_code": [o.code for o in offences],
            "description": [o.description for o in offences],
            "police_uk_category": [o.category for o in offences],
            "police_uk_label": [CATEGORY_LABELS[o.category] for o in offences],
            "sensitive": [o.sensitive for o in offences],
        }
    )
    return {
        "local_authority": geo.local_authority,
        "neighbourhood": geo.neighbourhood,
        "ward": geo.ward,
        "lsoa": geo.lsoa,
        "offence_type": offence_type,
        "map_point": world.map_points,
    }
