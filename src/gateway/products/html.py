"""Render a product as one self-contained HTML file: marking, provenance, sections with SVG
charts and tables. No executable script, no external resources: it opens from a USB stick or an email.

The protective marking is printed at the top and bottom of the screen view and, in print, on
every page (fixed header and footer, which browsers repeat on each printed page). Every
section names its template and query id; suppressed values show as ``*``.

Machine-readable hooks for checks: each section is ``<section data-template=… data-query-id=…>``,
each table cell ``<td data-column=… data-value=…>`` (``data-suppressed="true"`` where hidden),
each chart an inline ``<svg>`` with ``data-marks`` = the number of data marks drawn.

Example:
    >>> "<svg" in render_html(product)                                       # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from gateway.products.model import Product, Section, TableView

__all__ = ["render_html"]

_CSS = """
:root { --ink: #1b1b1b; --muted: #5a5a5a; --rule: #d9d9d9; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); margin: 0;
       line-height: 1.45; background: #f6f6f6; }
.marking { color: #b00020; font-weight: 700; letter-spacing: .08em; text-align: center;
           padding: 6px; background: #fff; border-bottom: 2px solid #b00020; }
.marking.bottom { border-top: 2px solid #b00020; border-bottom: none; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 6px; padding-top: 12px; border-top: 3px solid var(--accent); }
.subtitle { color: var(--muted); margin: 0 0 16px; }
.provenance { font-size: 13px; border: 1px solid var(--rule); padding: 10px 14px; background: #fafafa; }
.provenance dt { float: left; width: 190px; color: var(--muted); }
.provenance dd { margin: 0 0 2px 190px; word-break: break-all; }
.finding { font-size: 16px; font-weight: 600; margin: 6px 0 10px; }
.intro, .about { color: var(--muted); font-size: 14px; margin: 4px 0 10px; }
figure { margin: 12px 0; overflow-x: auto; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 4px; }
table.pivot { font-size: 11px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 8px; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.suppressed { color: #b00020; text-align: center; }
.notes { font-size: 12px; color: var(--muted); }
nav ol { columns: 2; font-size: 14px; }
@media print {
  body { background: #fff; }
  main { max-width: none; padding: 28px 0; }
  .marking { position: fixed; left: 0; right: 0; border: none; padding: 2px; font-size: 11px; }
  .marking.top { top: 0; }
  .marking.bottom { bottom: 0; }
  section { break-inside: avoid-page; }
  h2 { break-after: avoid; }
  @page { margin: 18mm 12mm; }
}
"""


def _attr(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return escape(str(value), quote=True)


def _table(view: TableView) -> str:
    cls = "pivot" if view.kind == "pivot" else "data"
    parts = [f'<table class="{cls}">']
    if view.caption:
        parts.append(f"<caption>{escape(view.caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(f'<th scope="col">{escape(h)}</th>' for h in view.header)
        + "</tr></thead><tbody>"
    )
    for row in view.rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
            classes = "suppressed" if cell.suppressed else ("num" if numeric else "text")
            extra = (
                ' data-suppressed="true" title="suppressed to protect small numbers"'
                if cell.suppressed
                else ""
            )
            if cell.key is not None:
                extra += f' data-key="{_attr(cell.key)}"'
            cells.append(
                f'<td class="{classes}" data-column="{escape(cell.column)}" '
                f'data-value="{_attr(cell.value)}"{extra}>{escape(cell.text)}</td>'
            )
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _section(number: int, section: Section) -> str:
    run = section.run
    template = run.template
    notes = [
        f"Source: template <code>{escape(template.name)}</code> ({escape(template.title)}), "
        f"query <code>{escape(run.query_id)}</code>.",
    ]
    if run.disclosure is not None:
        summary = run.disclosure.summary()
        notes.append(escape(summary[:1].upper() + summary[1:]) + ".")
    if run.truncated:
        notes.append("The result was cut at the row limit.")
    params = ", ".join(f"{k}={v}" for k, v in run.provenance()["params"].items())
    notes.append(f"Parameters: {escape(params)}.")
    figure = (
        f'<figure data-marks="{section.chart_marks}">{section.chart_svg}</figure>'
        if section.chart_svg
        else ""
    )
    return (
        f'<section id="{escape(section.key)}" data-template="{escape(template.name)}" '
        f'data-query-id="{escape(run.query_id)}">'
        f"<h2>{number}. {escape(section.title)}</h2>"
        + (f'<p class="finding">{escape(section.finding)}</p>' if section.finding else "")
        + f'<p class="about">{escape(template.description)}</p>'
        + (f'<p class="intro">{escape(section.intro)}</p>' if section.intro else "")
        + figure
        + "".join(_table(view) for view in section.tables)
        + '<p class="notes">'
        + " ".join(notes)
        + "</p></section>"
    )


def render_html(product: Product) -> str:
    """The whole report as one HTML document (UTF-8 text)."""
    marking = escape(product.marking)
    provenance = product.provenance()
    rows = [
        ("Area", f"{product.area_name} ({product.area_code})"),
        ("Year", str(product.year)),
        ("Prepared by", f"{product.user}, {product.organisation}"),
        ("Access level", product.level),
        ("Purpose", product.purpose),
        ("Prepared at (UTC)", product.created_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("Policy version", product.policy_version),
        ("Disclosure control", product.rules.describe()
         + (" (prepared for publication)" if product.publication else "")),
        ("Product id", product.product_id),
        ("Queries", ", ".join(product.query_ids)),
    ]  # fmt: skip
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    contents = "".join(
        f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in product.sections
    )
    body = "".join(_section(i, s) for i, s in enumerate(product.sections, start=1))
    data = escape(json.dumps(provenance, ensure_ascii=False), quote=False)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en-GB"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="protective-marking" content="{marking}">'
        f'<meta name="generator" content="Partnership Analytics Gateway">'
        f"<title>{marking} — {escape(product.title)}</title><style>{_CSS}</style></head><body>"
        f'<div class="marking top">{marking}</div><main>'
        f"<h1>{escape(product.title)}</h1>"
        f'<p class="subtitle">Community Safety Partnership strategic assessment — '
        f"recorded crime, anti-social behaviour, repeats, outcomes, custody and demand.</p>"
        f'<dl class="provenance">{details}</dl>'
        f'<p class="notes">Figures come from the police analytical warehouse through the '
        f"Partnership Analytics Gateway: each section is one audited query (its id is given), "
        f"run under the access policy of the person who prepared this report. Each section's note "
        f"says how its counts are protected (for example perturbed by the cell key method); "
        f"a count shown as * is suppressed to protect a small "
        f"number.</p>"
        f"<nav><h2>Contents</h2><ol>{contents}</ol></nav>{body}"
        f'<script type="application/json" id="provenance">{data}</script>'
        f'</main><div class="marking bottom">{marking}</div></body></html>\n'
    )
