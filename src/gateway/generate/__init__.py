"""The synthetic warehouse generator: a SOLAR2-style DuckDB warehouse and base maps for the
Cleveland force area, from shipped reference lists and a seed.

Public API (used by ``gateway demo``, ``gateway generate`` and the tests)::

    build(data_dir, *, seed=2026, years=3, scale=1.0, end_month="2026-10",
          progress=False, force=False) -> GenerationSummary
    ensure(data_dir, *, seed=2026, years=3, scale=1.0, end_month="2026-10",
           progress=False) -> GenerationSummary

Modules, in the order a run uses them: ``reference`` (datasets/) → ``geography`` (areas) →
``places`` (streets, locations, postcodes) → ``map_points`` → ``people``, ``vehicles`` →
``world`` (all of it, plus location samplers) → ``crimes`` → ``incidents``, ``custody``,
``intelligence`` → ``warehouse`` (DuckDB writer) and ``basemaps`` (GeoPackage); ``build``
orchestrates. Randomness comes from ``randomness.stream`` (seeded, keyed), times from
``profiles`` and ``timing``, free text from ``text``.
"""

from gateway.generate.build import build, ensure
from gateway.generate.parameters import GENERATOR_VERSION, GenerationParameters
from gateway.generate.summary import GenerationSummary

__all__ = ["GENERATOR_VERSION", "GenerationParameters", "GenerationSummary", "build", "ensure"]
