"""Reference data the generator draws on, read from the repository's ``datasets/`` folder.

Everything here is plain data (frozen dataclasses); nothing is random. Files:

    cleveland.toml       authorities, towns, force outline and borders
    wards.csv            ward names per authority
    offence_codes.csv    Home Office codes, police.uk categories and how each offence behaves
    outcomes.csv         police.uk outcome codes and their mix by solvability
    outcome_rates.csv    charge/summons rate per police.uk category (Home Office outcomes)
    incident_types.csv   command-and-control opening codes, grades and closing codes
    forenames.csv        synthetic forenames by gender and name group
    surnames.csv         synthetic surnames by name group
    street_names.csv     stems and suffixes that make street names
    places.toml          names for pubs, shops, public places, schools, transport
    people.toml          ethnicity codes and vehicle colours / registration memory tags
    vehicles.csv         makes and models
    property.toml        property kinds, values and recovery rates
    custody.toml         custody suites, disposals, offences for arrests without a crime
    text.toml            templates for the free-text columns

Example:
    >>> ref = load_reference()
    >>> [a.name for a in ref.authorities][:2]
    ['Hartlepool', 'Middlesbrough']
    >>> ref.offence("19C").sensitive
    True
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.catalog.police_uk import CATEGORY_LABELS, OUTCOME_LABELS
from gateway.errors import ConfigurationError

__all__ = [
    "Authority",
    "Ethnicity",
    "IncidentType",
    "Mix",
    "NameEntry",
    "OffenceCode",
    "Outcome",
    "PlaceKind",
    "PropertyKind",
    "ReferenceData",
    "Texts",
    "Town",
    "VehicleModel",
    "datasets_dir",
    "load_reference",
]

Mix = tuple[tuple[str, float], ...]
"""A weighted choice written ``"a=40;b=60"`` in the CSV files: ``(("a", 40.0), ("b", 60.0))``."""


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    short: str
    population: int
    area_km2: float
    label_point: tuple[float, float]
    lsoas: int
    wards: int
    neighbourhoods: int
    crime_rate: float
    deprivation_shift: float
    lsoa_code_start: int
    msoa_code_start: int
    ward_code_start: int
    postcode_districts: tuple[str, ...]
    custody_suite: str


@dataclass(frozen=True)
class Town:
    name: str
    authority: str
    centre: tuple[float, float]
    weight: float
    spread_m: float
    night_time: bool


@dataclass(frozen=True)
class OffenceCode:
    code: str
    description: str
    category: str
    sensitive: bool
    weight: float
    setting: Mix
    time_profile: str
    season: str
    window_hours: float
    report_lag: str
    victim_rate: float
    suspect_rate: float
    arrest_rate: float
    domestic_rate: float
    hate_rate: float
    property: tuple[str, ...]
    vehicle_role: str
    vehicle_rate: float
    solvability: str
    victim_kind: str


@dataclass(frozen=True)
class Outcome:
    code: str  # a police.uk outcome code (labels: gateway.catalog.police_uk)
    requires_suspect: bool
    offender: bool
    charge_summons: bool  # in the Home Office "charged/summonsed" outcome group
    pending: str
    lag_days: float
    categories: tuple[str, ...]
    weights: tuple[float, float, float]  # by solvability: high, medium, low


@dataclass(frozen=True)
class IncidentType:
    code: str
    label: str
    category: str
    crime_categories: tuple[str, ...]
    asb_type: str
    weight: float
    grades: tuple[float, float, float, float, float]
    time_profile: str
    season: str
    setting: Mix
    vehicle_rate: float
    person_rate: float
    closing: Mix


@dataclass(frozen=True)
class NameEntry:
    name: str
    gender: str  # "male", "female" or "" for surnames
    group: str
    weight: float


@dataclass(frozen=True)
class Ethnicity:
    code: str
    label: str
    weight: float
    weight_urban: float
    name_groups: Mix


@dataclass(frozen=True)
class VehicleModel:
    make: str
    model: str
    vehicle_type: str
    weight: float


@dataclass(frozen=True)
class PropertyKind:
    key: str
    property_type: str
    value_median: float
    value_sigma: float
    recovered: float
    items: tuple[str, ...]


@dataclass(frozen=True)
class PlaceKind:
    kind: str
    weight: float


@dataclass(frozen=True)
class Texts:
    vocabulary: Mapping[str, tuple[str, ...]]
    modus_operandi: Mapping[str, tuple[str, ...]]
    narrative: Mapping[str, tuple[str, ...]]
    property: tuple[str, ...]
    intelligence: tuple[str, ...]


@dataclass(frozen=True)
class ReferenceData:
    """All reference lists, as loaded from ``datasets/``."""

    force_name: str
    authorities: tuple[Authority, ...]
    towns: tuple[Town, ...]
    outline: tuple[tuple[float, float], ...]  # metres, EPSG:27700
    borders: tuple[tuple[tuple[float, float], ...], ...]
    ward_names: Mapping[str, tuple[str, ...]]  # authority code -> names, town-centre ward first
    offences: tuple[OffenceCode, ...]
    outcomes: tuple[Outcome, ...]
    charge_rates: Mapping[str, float]  # police.uk category -> share of crimes charged/summonsed
    incident_types: tuple[IncidentType, ...]
    forenames: tuple[NameEntry, ...]
    surnames: tuple[NameEntry, ...]
    street_stems: tuple[str, ...]
    street_suffixes: tuple[str, ...]
    pub_adjectives: tuple[str, ...]
    pub_nouns: tuple[str, ...]
    venue_names: tuple[str, ...]
    place_kinds: Mapping[str, tuple[PlaceKind, ...]]  # location type -> kinds
    ethnicities: tuple[Ethnicity, ...]
    colours: tuple[str, ...]
    colour_weights: tuple[float, ...]
    memory_tags: tuple[str, ...]
    local_tag_share: float
    vehicles: tuple[VehicleModel, ...]
    property_kinds: Mapping[str, PropertyKind]
    custody_suites: tuple[str, ...]
    disposals: Mix
    unlinked_arrest_offences: Mix
    texts: Texts

    def offence(self, code: str) -> OffenceCode:
        for offence in self.offences:
            if offence.code == code:
                return offence
        raise KeyError(code)

    def authority(self, code: str) -> Authority:
        for authority in self.authorities:
            if authority.code == code:
                return authority
        raise KeyError(code)


def datasets_dir() -> Path:
    """The repository's ``datasets/`` folder (the package is installed from a checkout)."""
    return Path(__file__).resolve().parents[3] / "datasets"


def load_reference(directory: Path | None = None) -> ReferenceData:
    """Read and check every reference file.

    Args:
        directory: folder holding the files; the repository's ``datasets/`` by default.

    Raises:
        ConfigurationError: a file is missing or malformed (one line, naming the file).
    """
    root = directory or datasets_dir()
    if not root.is_dir():
        raise ConfigurationError(f"reference data folder {root} does not exist")
    force = _toml(root / "cleveland.toml")
    places = _toml(root / "places.toml")
    people = _toml(root / "people.toml")
    custody = _toml(root / "custody.toml")
    texts = _toml(root / "text.toml")
    prop = _toml(root / "property.toml")
    try:
        authorities = tuple(_authority(raw) for raw in force["authority"])
        towns = tuple(_town(raw) for raw in force["town"])
        outline = tuple(_km_point(p) for p in force["geometry"]["outline"])
        borders = tuple(tuple(_km_point(p) for p in line) for line in force["geometry"]["borders"])
        streets = _csv(root / "street_names.csv")
        ref = ReferenceData(
            force_name=str(force["force_name"]),
            authorities=authorities,
            towns=towns,
            outline=outline,
            borders=borders,
            ward_names=_ward_names(_csv(root / "wards.csv")),
            offences=tuple(_offence(r) for r in _csv(root / "offence_codes.csv")),
            outcomes=tuple(_outcome(r) for r in _csv(root / "outcomes.csv")),
            charge_rates=_charge_rates(_csv(root / "outcome_rates.csv")),
            incident_types=tuple(_incident_type(r) for r in _csv(root / "incident_types.csv")),
            forenames=tuple(
                NameEntry(r["forename"], r["gender"], r["name_group"], float(r["weight"]))
                for r in _csv(root / "forenames.csv")
            ),
            surnames=tuple(
                NameEntry(r["surname"], "", r["name_group"], float(r["weight"]))
                for r in _csv(root / "surnames.csv")
            ),
            street_stems=tuple(r["value"] for r in streets if r["part"] == "stem"),
            street_suffixes=tuple(r["value"] for r in streets if r["part"] == "suffix"),
            pub_adjectives=tuple(places["pub_adjectives"]),
            pub_nouns=tuple(places["pub_nouns"]),
            venue_names=tuple(places["venue_names"]),
            place_kinds={
                kind: tuple(PlaceKind(str(p["kind"]), float(p["weight"])) for p in places[kind])
                for kind in ("commercial", "public_place", "education", "transport")
            },
            ethnicities=tuple(
                Ethnicity(
                    str(e["code"]),
                    str(e["label"]),
                    float(e["weight"]),
                    float(e["weight_urban"]),
                    tuple((str(k), float(v)) for k, v in e["name_groups"].items()),
                )
                for e in people["ethnicity"]
            ),
            colours=tuple(people["vehicles"]["colours"]),
            colour_weights=tuple(float(w) for w in people["vehicles"]["colour_weights"]),
            memory_tags=tuple(people["vehicles"]["memory_tags"]),
            local_tag_share=float(people["vehicles"]["local_share"]),
            vehicles=tuple(
                VehicleModel(r["make"], r["model"], r["vehicle_type"], float(r["weight"]))
                for r in _csv(root / "vehicles.csv")
            ),
            property_kinds={
                key: PropertyKind(
                    key,
                    str(raw["property_type"]),
                    float(raw["value_median"]),
                    float(raw["value_sigma"]),
                    float(raw["recovered"]),
                    tuple(raw["items"]),
                )
                for key, raw in prop["kinds"].items()
            },
            custody_suites=tuple(custody["suites"]),
            disposals=tuple((str(k), float(v)) for k, v in custody["disposals"].items()),
            unlinked_arrest_offences=tuple(
                (str(k), float(v)) for k, v in custody["unlinked_arrest_offences"].items()
            ),
            texts=Texts(
                vocabulary={k: tuple(v) for k, v in texts["vocabulary"].items()},
                modus_operandi={k: tuple(v) for k, v in texts["modus_operandi"].items()},
                narrative={k: tuple(v) for k, v in texts["narrative"].items()},
                property=tuple(texts["property"]["templates"]),
                intelligence=tuple(texts["intelligence"]["templates"]),
            ),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"reference data in {root} is malformed: {exc!r}") from exc
    _check(ref)
    return ref


def parse_mix(text: str) -> Mix:
    """``"home=40;street=60"`` -> ``(("home", 40.0), ("street", 60.0))``.

    Example:
        >>> parse_mix("home=40;street=60")
        (('home', 40.0), ('street', 60.0))
    """
    out = []
    for part in text.split(";"):
        key, _, value = part.partition("=")
        out.append((key.strip(), float(value)))
    return tuple(out)


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read reference file {path}: {exc}") from exc


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigurationError(f"cannot read reference file {path}: {exc}") from exc


def _km_point(p: list[float]) -> tuple[float, float]:
    return (float(p[0]) * 1000.0, float(p[1]) * 1000.0)


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text == "true"


def _list(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(";") if p)


def _authority(raw: Mapping[str, Any]) -> Authority:
    return Authority(
        code=str(raw["code"]),
        name=str(raw["name"]),
        short=str(raw["short"]),
        population=int(raw["population"]),
        area_km2=float(raw["area_km2"]),
        label_point=_km_point(raw["label_point"]),
        lsoas=int(raw["lsoas"]),
        wards=int(raw["wards"]),
        neighbourhoods=int(raw["neighbourhoods"]),
        crime_rate=float(raw["crime_rate"]),
        deprivation_shift=float(raw["deprivation_shift"]),
        lsoa_code_start=int(raw["lsoa_code_start"]),
        msoa_code_start=int(raw["msoa_code_start"]),
        ward_code_start=int(raw["ward_code_start"]),
        postcode_districts=tuple(raw["postcode_districts"]),
        custody_suite=str(raw["custody_suite"]),
    )


def _town(raw: Mapping[str, Any]) -> Town:
    return Town(
        name=str(raw["name"]),
        authority=str(raw["authority"]),
        centre=_km_point(raw["centre"]),
        weight=float(raw["weight"]),
        spread_m=float(raw["spread_km"]) * 1000.0,
        night_time=bool(raw["night_time"]),
    )


def _ward_names(rows: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: not _bool(r["town_centre"])):
        out.setdefault(row["local_authority_code"], []).append(row["name"])
    return {k: tuple(v) for k, v in out.items()}


def _offence(r: Mapping[str, str]) -> OffenceCode:
    return OffenceCode(
        code=r["ho_offence_code"],
        description=r["description"],
        category=r["police_uk_category"],
        sensitive=_bool(r["sensitive"]),
        weight=float(r["weight"]),
        setting=parse_mix(r["setting"]),
        time_profile=r["time_profile"],
        season=r["season"],
        window_hours=float(r["window_hours"]),
        report_lag=r["report_lag"],
        victim_rate=float(r["victim_rate"]),
        suspect_rate=float(r["suspect_rate"]),
        arrest_rate=float(r["arrest_rate"]),
        domestic_rate=float(r["domestic_rate"]),
        hate_rate=float(r["hate_rate"]),
        property=_list(r["property"]),
        vehicle_role=r["vehicle_role"],
        vehicle_rate=float(r["vehicle_rate"]),
        solvability=r["solvability"],
        victim_kind=r["victim_kind"],
    )


def _outcome(r: Mapping[str, str]) -> Outcome:
    return Outcome(
        code=r["outcome"],
        requires_suspect=_bool(r["requires_suspect"]),
        offender=_bool(r["offender"]),
        charge_summons=_bool(r["charge_summons"]),
        pending=r["pending"],
        lag_days=float(r["lag_days"]),
        categories=_list(r["categories"]),
        weights=(float(r["w_high"]), float(r["w_medium"]), float(r["w_low"])),
    )


def _charge_rates(rows: list[dict[str, str]]) -> dict[str, float]:
    rates = {r["police_uk_category"]: float(r["charge_summons_rate"]) for r in rows}
    if not all(0.0 < rate < 1.0 for rate in rates.values()):
        raise ValueError("charge/summons rates must lie between 0 and 1")
    return rates


def _incident_type(r: Mapping[str, str]) -> IncidentType:
    grades = tuple(float(g) for g in r["grades"].split(";"))
    if len(grades) != 5:
        raise ValueError(f"incident type {r['opening_code']}: five grade weights expected")
    return IncidentType(
        code=r["opening_code"],
        label=r["label"],
        category=r["category"],
        crime_categories=_list(r["crime_category"]),
        asb_type=r["asb_type"],
        weight=float(r["weight"]),
        grades=(grades[0], grades[1], grades[2], grades[3], grades[4]),
        time_profile=r["time_profile"],
        season=r["season"],
        setting=parse_mix(r["setting"]),
        vehicle_rate=float(r["vehicle_rate"]),
        person_rate=float(r["person_rate"]),
        closing=parse_mix(r["closing"]),
    )


def _check(ref: ReferenceData) -> None:
    codes = [o.code for o in ref.offences]
    if len(set(codes)) != len(codes):
        raise ConfigurationError("offence_codes.csv: duplicate Home Office codes")
    unknown = {o.category for o in ref.offences} - set(CATEGORY_LABELS)
    if unknown:
        raise ConfigurationError(f"offence_codes.csv: not police.uk categories {sorted(unknown)}")
    unknown = {o.code for o in ref.outcomes} - set(OUTCOME_LABELS)
    if unknown:
        raise ConfigurationError(f"outcomes.csv: not police.uk outcomes {sorted(unknown)}")
    uncalibrated = {o.category for o in ref.offences} - set(ref.charge_rates)
    if uncalibrated:
        raise ConfigurationError(f"outcome_rates.csv: no charge rate for {sorted(uncalibrated)}")
    known_kinds = set(ref.property_kinds)
    for offence in ref.offences:
        missing = set(offence.property) - known_kinds
        if missing:
            raise ConfigurationError(f"offence {offence.code}: unknown property kinds {missing}")
    for code, _ in ref.unlinked_arrest_offences:
        if code not in codes:
            raise ConfigurationError(f"custody.toml: unknown offence code {code}")
    for authority in ref.authorities:
        names = ref.ward_names.get(authority.code, ())
        if len(names) != authority.wards:
            raise ConfigurationError(
                f"wards.csv: {authority.name} needs {authority.wards} ward names, has {len(names)}"
            )
