"""Products: assembled documents made of template runs — the strategic assessment pack.

    charts.py     SVG bar, line and heat-map charts (pure functions)
    model.py      Product, Section and their presentation (tables, pivots, chart plans)
    strategic.py  the strategic assessment: its sections and build_strategic_assessment()
    html.py       render_html(product): one self-contained, marked HTML report
    workbook.py   write_workbook(product, path): one marked sheet per section
    bundle.py     write_product(): both files plus a manifest, each registered in the audit log

Example:
    >>> request = AssessmentRequest(area="E06000002", year=2025, purpose="SA-2026")
    >>> product = build_strategic_assessment(runner, principal, request)    # doctest: +SKIP
    >>> files = write_product(runner.service, product, Path("out"))         # doctest: +SKIP
"""

from gateway.products.bundle import ProductFile, ProductFiles, write_product
from gateway.products.charts import bar_chart, heatmap, line_chart
from gateway.products.html import render_html
from gateway.products.model import (
    Cell,
    ChartPlan,
    Column,
    PivotSpec,
    Product,
    Section,
    TableSpec,
    TableView,
    table_view,
)
from gateway.products.strategic import (
    SECTIONS,
    AssessmentRequest,
    SectionPlan,
    build_strategic_assessment,
)
from gateway.products.workbook import write_workbook

__all__ = [
    "SECTIONS",
    "AssessmentRequest",
    "Cell",
    "ChartPlan",
    "Column",
    "PivotSpec",
    "Product",
    "ProductFile",
    "ProductFiles",
    "Section",
    "SectionPlan",
    "TableSpec",
    "TableView",
    "bar_chart",
    "build_strategic_assessment",
    "heatmap",
    "line_chart",
    "render_html",
    "table_view",
    "write_product",
    "write_workbook",
]
