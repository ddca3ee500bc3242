"""What a crime record carries besides its facts: stolen property and the modus operandi.

Free text is templated (``datasets/text.toml``) and filled from the synthetic world: for a share
of rows (:data:`NAME_SHARE`) a person slot holds the linked person's synthetic name, otherwise a
neutral phrase, so masking of free text is testable; addresses are the crime location's.

Example:
    >>> import numpy as np
    >>> from gateway.generate.parameters import GenerationParameters
    >>> from gateway.generate.randomness import stream
    >>> from gateway.generate.reference import load_reference
    >>> from gateway.generate.world import build_world
    >>> world = build_world(load_reference(), GenerationParameters(seed=7, years=1, scale=0.02))
    >>> person_slot(world, stream(1, "x"), np.array([-1, -1]), "the IP").to_list()
    ['the IP', 'the IP']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from gateway.generate.randomness import IntArray
from gateway.generate.text import TemplateSet
from gateway.generate.world import World

__all__ = ["NAME_SHARE", "modus_operandi", "person_slot", "stolen_property"]

NAME_SHARE = 0.35
"""Share of free-text person slots that carry the synthetic person's actual name."""


def stolen_property(
    world: World,
    rng: np.random.Generator,
    crime_id: IntArray,
    code: IntArray,
    victim: IntArray,
    location: IntArray,
) -> tuple[pl.DataFrame, pl.Series]:
    """Stolen or seized items, and the first item's wording per crime (for the MO)."""
    offences = world.ref.offences
    kinds = list(world.ref.property_kinds.values())
    kind_names = [k.key for k in kinds]
    n = len(code)
    n_kinds = np.array([len(o.property) for o in offences])[code]
    items = np.where(n_kinds > 0, 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.1), 0)
    row = np.repeat(np.arange(n), items)
    pick = np.floor(rng.random(len(row)) * n_kinds[row]).astype(np.int64)
    code_kinds = [[kind_names.index(k) for k in o.property] for o in offences]
    padded = np.array([ks + [0] * (max(map(len, code_kinds)) - len(ks)) for ks in code_kinds])
    kind = padded[code[row], pick]
    item_lists = [k.items for k in kinds]
    item_first = np.concatenate([[0], np.cumsum([len(x) for x in item_lists])[:-1]])
    item_count = np.array([len(x) for x in item_lists])
    item = item_first[kind] + np.floor(rng.random(len(row)) * item_count[kind]).astype(np.int64)
    item_words = pl.Series([i for x in item_lists for i in x]).gather(item)
    medians = np.array([k.value_median for k in kinds])[kind]
    sigmas = np.array([k.value_sigma for k in kinds])[kind]
    value = np.round(medians * np.exp(sigmas * rng.standard_normal(len(row))), 2)
    recovered = rng.random(len(row)) < np.array([k.recovered for k in kinds])[kind]
    owner = victim[row]
    slots = pl.DataFrame(
        {
            "item": item_words.str.slice(0, 1).str.to_uppercase() + item_words.str.slice(1),
            "colour": world.vehicles.colour.gather(
                rng.integers(0, len(world.vehicles), len(row))
            ).str.to_lowercase(),
            "owner": person_slot(world, rng, owner, "the IP"),
            "address": world.place_column("address", location[row]),
        }
    )
    description = TemplateSet.of([world.ref.texts.property]).render(
        rng, np.zeros(len(row), dtype=np.int64), slots
    )
    prop = pl.DataFrame(
        {
            "crime_id": crime_id[row],
            "property_type": pl.Series([k.property_type for k in kinds]).gather(kind),
            "description": description,
            "value_gbp": value,
            "recovered": recovered,
        }
    )
    first = pl.DataFrame({"row": row, "item": item_words}).unique(
        "row", keep="first", maintain_order=True
    )
    words = pl.DataFrame({"row": np.arange(n)}).join(
        first, on="row", how="left", maintain_order="left"
    )
    first_item = words["item"].fill_null("property")
    return prop, first_item


def person_slot(
    world: World, rng: np.random.Generator, person: IntArray, fallback: str
) -> pl.Series:
    """The person's name for some rows, ``fallback`` for the others and when there is none."""
    names = world.people.full_names(np.maximum(person, 0))
    show = (person >= 0) & (rng.random(len(person)) < NAME_SHARE)
    return names.set(pl.Series(~show), fallback) if len(person) else names


def modus_operandi(
    world: World,
    rng: np.random.Generator,
    crime: pl.DataFrame,
    victim: IntArray,
    suspect: IntArray,
    vehicle: IntArray,
    first_item: pl.Series,
) -> pl.Series:
    """A modus operandi per crime, from its category's templates (victim, suspect, address,
    street, town, first stolen item, a vehicle registration, entry method, weapon, drug)."""
    texts = world.ref.texts
    categories = list(texts.modus_operandi)
    templates = TemplateSet.of([texts.modus_operandi[c] for c in categories])
    group = (
        crime["police_uk_category"]
        .replace_strict({c: i for i, c in enumerate(categories)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    n = crime.height
    vocabulary = texts.vocabulary
    location = crime["location_id"].to_numpy()
    any_vehicle = np.where(vehicle >= 0, vehicle, world.vehicles.draw(rng, n))
    slots = pl.DataFrame(
        {
            "victim": person_slot(world, rng, victim, "the IP"),
            "suspect": person_slot(world, rng, suspect, "the offender"),
            "address": world.place_column("address", location),
            "street": world.place_column("street", location),
            "town": world.place_column("town", location),
            "item": first_item,
            "vrm": world.vehicles.vrm.gather(any_vehicle),
            "entry": _pick(rng, vocabulary["entry"], n),
            "weapon": _pick(rng, vocabulary["weapon"], n),
            "drug": _pick(rng, vocabulary["drug"], n),
        }
    )
    return templates.render(rng, group, slots)


def _pick(rng: np.random.Generator, words: Sequence[str], n: int) -> pl.Series:
    return pl.Series(list(words)).gather(rng.integers(0, len(words), n))
