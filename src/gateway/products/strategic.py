"""The strategic assessment pack: the annual products a CSP board sees, from the template library.

Each section is one template run (audited, under the caller's policy, disclosure-controlled by
the level's rules or the publication rules) with a chart, a table and a sentence of key figures.
The plan below is data: which template, which parameters for the area and year, how to show it.

Example:
    >>> [plan.template for plan in SECTIONS][:3]
    ['crime-rates', 'crime-by-month', 'crime-by-area']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gateway.errors import ParameterError
from gateway.principal import Principal
from gateway.products.charts import bar_chart, heatmap, line_chart
from gateway.products.model import (
    ChartPlan,
    Column,
    PivotSpec,
    Product,
    Section,
    TableSpec,
    category_label,
    chart_data,
    table_view,
)
from gateway.service import new_query_id
from gateway.templates import TemplateRun, TemplateRunner, read_result

__all__ = ["SECTIONS", "AssessmentRequest", "SectionPlan", "build_strategic_assessment"]


@dataclass(frozen=True)
class AssessmentRequest:
    """What to assemble.

    Attributes:
        area: local authority code (one of the caller's areas).
        year: calendar year assessed.
        purpose: approved purpose the queries are made for.
        marking: protective marking (callers pass the policy's marking for record data, or a
            higher one the analyst asked for: :meth:`MarkingSettings.resolve`).
        publication: prepare for publication (publication disclosure rules).
    """

    area: str
    year: int
    purpose: str
    marking: str = "OFFICIAL-SENSITIVE"
    publication: bool = False

    def year_period(self) -> dict[str, str]:
        return {"start_month": f"{self.year}-01", "end_month": f"{self.year}-12"}


Finding = Callable[[pa.Table, AssessmentRequest], str]


@dataclass(frozen=True)
class SectionPlan:
    """One section: a template, its parameters for the request, and its presentation."""

    key: str
    title: str
    template: str
    params: Callable[[AssessmentRequest], dict[str, Any]]
    tables: tuple[TableSpec | PivotSpec, ...]
    chart: ChartPlan | None = None
    finding: Finding | None = None
    intro: str = ""


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _crime_finding(table: pa.Table, request: AssessmentRequest) -> str:
    total = next((r for r in _rows(table) if r["police_uk_category"] == "all"), None)
    if total is None or total["crimes"] is None:
        return ""
    text = f"{_count(total['crimes'])} crimes were recorded in {request.year}"
    if total["rate_per_1000"] is not None:
        text += f" ({total['rate_per_1000']:.2f} per 1,000 residents)"
    if total["crimes_previous_year"] is not None and total["change_pct"] is not None:
        direction = "more" if total["change_pct"] >= 0 else "fewer"
        text += (
            f", {abs(total['change_pct']):.1f}% {direction} than in {request.year - 1} "
            f"({_count(total['crimes_previous_year'])})"
        )
    top = next(
        (r for r in _rows(table) if r["police_uk_category"] != "all" and r["crimes"] is not None),
        None,
    )
    if top is not None:
        text += f". The largest category was {top['police_uk_label']} ({_count(top['crimes'])})"
    return text + "."


def _highest(label: str, value: str, unit: str) -> Finding:
    def finding(table: pa.Table, request: AssessmentRequest) -> str:
        rows = [r for r in _rows(table) if r[value] is not None]
        if not rows:
            return ""
        best = max(rows, key=lambda r: r[value])
        # Percentages as the tables show them (one decimal: "63.8% charged", not "63.80 %");
        # categories by their police.uk label, never the slug.
        if unit.startswith("%"):
            shown = f"{best[value]:.1f}{unit}"
        elif isinstance(best[value], float):
            shown = f"{best[value]:,.2f} {unit}"
        else:
            shown = f"{_count(best[value])} {unit}"
        name = category_label(best[label]) if label == "police_uk_category" else best[label]
        return f"Highest: {name} ({shown})."

    return finding


def _band_finding(people: str, band: str, noun: str) -> Finding:
    def finding(table: pa.Table, request: AssessmentRequest) -> str:
        rows = _rows(table)
        repeat = [r for r in rows if r[band] != "1"]
        if not repeat or any(r[people] is None for r in repeat):
            return ""
        many = sum(int(r[people]) for r in repeat)
        return f"{many:,} {noun} were linked more than once in {request.year}."

    return finding


def _area_and_year(request: AssessmentRequest) -> dict[str, Any]:
    """The area and the assessed calendar year (January to December)."""
    return {"area": request.area, **request.year_period()}


def _area_to_year_end(request: AssessmentRequest) -> dict[str, Any]:
    """The area and the year's last month (trend templates look back from it)."""
    return {"area": request.area, "end_month": f"{request.year}-12"}


def _repeat_section(
    key: str,
    title: str,
    *,
    band: Column,
    people: Column,
    chart_title: str,
    noun: str,
    intro: str = "",
) -> SectionPlan:
    """A repeat-linkage section (keyed by its template): people by band (``1``, ``2`` …), as bars."""
    return SectionPlan(
        key=key,
        title=title,
        template=key,
        params=_area_and_year,
        tables=(TableSpec((band, people)),),
        chart=ChartPlan(
            kind="bar", x=band.name, y=people.name, title=chart_title, value_label="people"
        ),
        finding=_band_finding(people.name, band.name, noun),
        intro=intro,
    )


_MONTHS = Column("month", "Month", "text")
_HOURS = tuple(range(24))
_ASB_TYPES = (
    ("personal", "Personal"),
    ("nuisance", "Nuisance"),
    ("environmental", "Environmental"),
    ("all", "All ASB"),
)
_FLAGS = (("domestic abuse", "Domestic abuse"), ("hate crime", "Hate crime"))
_GRADES = (("1", "Grade 1"), ("2", "Grade 2"), ("3", "Grade 3"), ("4", "Grade 4"), ("5", "Grade 5"))

SECTIONS: tuple[SectionPlan, ...] = (
    SectionPlan(
        key="crime-by-category",
        title="Recorded crime by category",
        template="crime-rates",
        params=lambda r: {"area": r.area, "year": r.year},
        tables=(
            TableSpec(
                (
                    Column("police_uk_label", "Category", "text"),
                    Column("crimes", "Crimes"),
                    Column("crimes_previous_year", "Previous year"),
                    Column("change_pct", "Change (%)", "decimal1"),
                    Column("rate_per_1000", "Per 1,000 residents", "decimal2"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="bar",
            x="police_uk_category",
            label="police_uk_label",
            y="crimes",
            title="Recorded crimes by category",
            exclude=(("police_uk_category", "all"),),
            value_label="crimes",
        ),
        finding=_crime_finding,
    ),
    SectionPlan(
        key="monthly-trend",
        title="Monthly trend",
        template="crime-by-month",
        params=_area_to_year_end,
        tables=(
            TableSpec(
                (
                    _MONTHS,
                    Column("crimes", "Crimes"),
                    Column("crimes_last_year", "Same month last year"),
                    Column("change_pct", "Change (%)", "decimal1"),
                    Column("rolling_12m", "Rolling 12 months"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="line",
            x="month",
            y="crimes",
            title="Recorded crimes per month",
            extra=(("crimes_last_year", "same month a year earlier"),),
            value_label="crimes",
        ),
    ),
    SectionPlan(
        key="crime-by-ward",
        title="Crime by ward",
        template="crime-by-area",
        params=lambda r: {"area": r.area, "geography": "ward", **r.year_period()},
        tables=(
            TableSpec(
                (
                    Column("area_name", "Ward", "text"),
                    Column("population", "Residents"),
                    Column("crimes", "Crimes"),
                    Column("crimes_previous_period", "Previous 12 months"),
                    Column("change_pct", "Change (%)", "decimal1"),
                    Column("rate_per_1000", "Per 1,000 residents", "decimal2"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="bar",
            x="area_code",
            label="area_name",
            y="rate_per_1000",
            title="Crimes per 1,000 residents by ward",
            value_label="crimes per 1,000 residents",
        ),
        finding=_highest("area_name", "rate_per_1000", "crimes per 1,000 residents"),
    ),
    SectionPlan(
        key="hotspot-lsoas",
        title="Hotspot LSOAs",
        template="hotspot-lsoas",
        params=lambda r: {"area": r.area, "top": 10, **r.year_period()},
        tables=(
            TableSpec(
                (
                    Column("rank", "Rank"),
                    Column("lsoa_name", "LSOA", "text"),
                    Column("ward_name", "Ward", "text"),
                    Column("imd_decile", "IMD decile"),
                    Column("crimes", "Crimes"),
                    Column("rate_per_1000", "Per 1,000 residents", "decimal2"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="bar",
            x="lsoa_code",
            label="lsoa_name",
            y="crimes",
            title="The ten LSOAs with the most recorded crime",
            value_label="crimes",
        ),
        finding=_highest("lsoa_name", "crimes", "crimes"),
    ),
    SectionPlan(
        key="time-of-day",
        title="When crime happens",
        template="hour-weekday",
        params=_area_and_year,
        tables=(
            PivotSpec(
                rows="weekday",
                columns="hour",
                value=Column("crimes", "Crimes"),
                row_label="Day",
                column_order=_HOURS,
                column_labels=tuple((h, f"{h:02d}") for h in _HOURS),
                blank_is_zero=True,
                caption="Crimes by day of week and hour committed (blank combinations are zero)",
            ),
        ),
        chart=ChartPlan(
            kind="heatmap",
            x="hour",
            series="weekday",
            y="crimes",
            title="Crimes by day of week and hour",
            x_values=_HOURS,
            blank_is_zero=True,
        ),
    ),
    SectionPlan(
        key="anti-social-behaviour",
        title="Anti-social behaviour",
        template="asb-by-type",
        params=_area_and_year,
        tables=(
            PivotSpec(
                rows="month",
                columns="asb_type",
                value=Column("incidents", "Incidents"),
                row_label="Month",
                column_order=("personal", "nuisance", "environmental", "all"),
                column_labels=_ASB_TYPES,
                blank_is_zero=True,
            ),
        ),
        chart=ChartPlan(
            kind="line",
            x="month",
            series="asb_type",
            y="incidents",
            title="ASB incidents per month by type",
            blank_is_zero=True,
            series_labels=_ASB_TYPES,
            value_label="incidents",
        ),
    ),
    SectionPlan(
        key="domestic-abuse-hate-crime",
        title="Domestic abuse and hate crime",
        template="flagged-crime-trends",
        params=_area_to_year_end,
        tables=(
            PivotSpec(
                rows="month",
                columns="flag",
                value=Column("crimes", "Crimes"),
                row_label="Month",
                column_labels=_FLAGS,
            ),
        ),
        chart=ChartPlan(
            kind="line",
            x="month",
            series="flag",
            y="crimes",
            title="Flagged crimes per month",
            series_labels=_FLAGS,
            value_label="crimes",
        ),
    ),
    SectionPlan(
        key="night-time-economy",
        title="Night-time economy violence",
        template="nte-violence",
        params=_area_and_year,
        tables=(
            TableSpec(
                (
                    _MONTHS,
                    Column("nte_violence", "Friday/Saturday night violence"),
                    Column("at_licensed_premises", "At licensed premises"),
                    Column("violence", "All violence"),
                    Column("nte_share_pct", "Night-time share (%)", "decimal1"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="line",
            x="month",
            y="nte_violence",
            title="Night-time economy violence per month",
            value_label="crimes",
        ),
    ),
    SectionPlan(
        key="outcomes",
        title="Outcomes and charge rates",
        template="outcome-rates",
        params=_area_and_year,
        tables=(
            TableSpec(
                (
                    Column("police_uk_category", "Category", "category"),
                    Column("crimes", "Crimes"),
                    Column("charged", "Charged or summonsed"),
                    Column("charge_rate_pct", "Charge rate (%)", "decimal1"),
                    Column("positive_outcomes", "Positive outcomes"),
                    Column("positive_rate_pct", "Positive rate (%)", "decimal1"),
                    Column("no_suspect", "No suspect identified"),
                    Column("under_investigation", "Under investigation"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="bar",
            x="police_uk_category",
            y="charge_rate_pct",
            title="Charge or summons rate by category (%)",
            exclude=(("police_uk_category", "all"),),
            value_label="% of recorded crimes",
        ),
        finding=_highest("police_uk_category", "charge_rate_pct", "% charged"),
    ),
    _repeat_section(
        "repeat-victimisation",
        "Repeat victimisation",
        band=Column("times_victimised", "Times victimised", "text"),
        people=Column("victims", "Victims (people)"),
        chart_title="Victims by number of times victimised",
        noun="victims",
        intro="Victims of sexual offences and domestic abuse are not linkable at general access "
        "and are not counted.",
    ),
    _repeat_section(
        "repeat-offending",
        "Repeat offending",
        band=Column("crimes_linked", "Crimes linked", "text"),
        people=Column("offenders", "Offenders and suspects (people)"),
        chart_title="Offenders and suspects by number of crimes linked",
        noun="offenders and suspects",
    ),
    SectionPlan(
        key="custody",
        title="Custody throughput and time in custody",
        template="custody-throughput",
        params=_area_and_year,
        tables=(
            TableSpec(
                (
                    _MONTHS,
                    Column("detentions", "Detentions"),
                    Column("people", "People"),
                    Column("charged", "Charged"),
                    Column("charge_rate_pct", "Charged (%)", "decimal1"),
                    Column("median_hours", "Median hours", "decimal1"),
                    Column("p90_hours", "90th percentile hours", "decimal1"),
                    Column("over_24_hours", "Over 24 hours"),
                )
            ),
        ),
        chart=ChartPlan(
            kind="bar",
            x="month",
            y="detentions",
            title="Detentions per month",
            value_label="detentions",
        ),
    ),
    SectionPlan(
        key="incident-response",
        title="Calls for service and response times",
        template="incident-response",
        params=_area_and_year,
        tables=(
            PivotSpec(
                rows="month",
                columns="grade",
                value=Column("incidents", "Incidents"),
                row_label="Month",
                column_order=(1, 2, 3, 4, 5),
                column_labels=tuple((int(k), v) for k, v in _GRADES),
                caption="Incidents by response grade",
            ),
            PivotSpec(
                rows="month",
                columns="grade",
                value=Column("compliance_pct", "Attended within target (%)", "decimal1"),
                row_label="Month",
                column_order=(1, 2, 3),
                column_labels=tuple((int(k), v) for k, v in _GRADES[:3]),
                caption="Attended within target (%): grade 1 within 15 minutes, grade 2 within "
                "60 minutes, grade 3 within 48 hours",
            ),
        ),
        chart=ChartPlan(
            kind="line",
            x="month",
            series="grade",
            y="compliance_pct",
            title="Attended within target (%)",
            exclude=(("grade", 4), ("grade", 5)),
            series_labels=tuple((int(k), v) for k, v in _GRADES),
            value_label="%",
        ),
    ),
)


def _chart(run: TemplateRun, plan: ChartPlan) -> tuple[str, int]:
    labels, series = chart_data(run.table, plan)
    if plan.kind == "bar":
        values = next(iter(series.values()))
        marks = sum(v is not None for v in values)
        return bar_chart(labels, values, title=plan.title, value_label=plan.value_label), marks
    if plan.kind == "line":
        marks = sum(v is not None for values in series.values() for v in values)
        return line_chart(labels, series, title=plan.title, value_label=plan.value_label), marks
    rows = list(series)
    matrix = [series[r] for r in rows]
    marks = sum(len(r) for r in matrix)
    return heatmap(rows, [f"{int(x):02d}" for x in labels], matrix, title=plan.title), marks


def build_section(run: TemplateRun, plan: SectionPlan, request: AssessmentRequest) -> Section:
    """Presentation of one run (tables, chart, key figures)."""
    svg, marks = _chart(run, plan.chart) if plan.chart else ("", 0)
    return Section(
        key=plan.key,
        title=plan.title,
        run=run,
        tables=tuple(table_view(run.table, spec) for spec in plan.tables),
        chart_svg=svg,
        finding=plan.finding(run.table, request) if plan.finding else "",
        chart_marks=marks,
        intro=plan.intro,
    )


def build_strategic_assessment(
    runner: TemplateRunner, principal: Principal, request: AssessmentRequest
) -> Product:
    """Run every section's template for ``principal`` and assemble the product.

    Raises:
        ParameterError: the area is not one of the caller's, or the year is out of range.
        GatewayError: any refusal of a template run (audited by the service).
    """
    if not 2000 <= request.year <= 2100:
        raise ParameterError(f"year: expected a year like 2025, got {request.year}")
    disclosure = "publication" if request.publication else "policy"
    runs = [
        runner.run(
            principal,
            plan.template,
            plan.params(request),
            purpose=request.purpose,
            disclosure=disclosure,
        )
        for plan in SECTIONS
    ]
    first = runs[0]
    service = runner.service
    now = service.clock()
    area_name = _area_name(runner, principal, request)
    return Product(
        product_id=new_query_id(now).replace("q", "p", 1),
        kind="strategic-assessment",
        title=f"Strategic assessment {request.year}: {area_name}",
        area_code=request.area,
        area_name=area_name,
        year=request.year,
        marking=request.marking,
        created_at=now,
        user=principal.username,
        organisation=principal.organisation,
        level=first.level,
        purpose=request.purpose,
        policy_version=first.policy_version,
        rules=runner.rules(first.level, disclosure),
        publication=request.publication,
        sections=tuple(
            build_section(run, plan, request) for run, plan in zip(runs, SECTIONS, strict=True)
        ),
    )


def _area_name(runner: TemplateRunner, principal: Principal, request: AssessmentRequest) -> str:
    """The authority's name (a reference-table read through the service, audited)."""
    outcome = runner.service.run_query(
        principal,
        "SELECT name FROM local_authority WHERE local_authority_code = $area",
        request.purpose,
        {"area": request.area},
        template="product:strategic-assessment",
    )
    names = read_result(outcome.result).column("name").to_pylist()
    return str(names[0]) if names else request.area
