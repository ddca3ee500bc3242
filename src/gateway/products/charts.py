"""SVG charts from plain numbers: pure functions returning self-contained ``<svg>`` text.

No plotting library: each chart is a few dozen SVG elements, deterministic for the same input,
readable in any browser and printable. Suppressed values (``None``) are never drawn as data:
a bar chart writes ``*`` where the bar would be, a line breaks, a heat-map cell is hatched and
marked ``*``. Elements carry classes tests and stylesheets can rely on: ``rect.bar``,
``circle.point``, ``path.line``, ``rect.cell``, ``text.suppressed``.

Colours are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies).

Example:
    >>> svg = bar_chart(["Burglary", "Robbery"], [120, None], title="Crimes")
    >>> svg.count('class="bar"'), svg.count('class="suppressed"')
    (1, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["PALETTE", "bar_chart", "heatmap", "line_chart", "nice_ticks"]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_FONT = 'font-family="Segoe UI, Helvetica, Arial, sans-serif"'

Number = float | int


def _fmt(value: Number) -> str:
    """Thousands separators; at most one decimal place."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``.

    Example:
        >>> nice_ticks(87)
        [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    """
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _short_month(label: str) -> str:
    """``2025-04`` → ``Apr 25``; anything else unchanged."""
    if len(label) == 7 and label[4] == "-" and label[:4].isdigit() and label[5:].isdigit():
        month = int(label[5:])
        if 1 <= month <= 12:
            return f"{_MONTH_NAMES[month - 1]} {label[2:4]}"
    return label


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{label}" {_FONT} '
        f'font-size="12">'
        f"<title>{label}</title>"
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" '
        f'font-weight="600">{label}</text>' + "".join(body) + "</svg>"
    )


def _label(text: str, limit: int = 40) -> str:
    """A label in full, or cut at a word past ``limit`` characters (never mid-word).

    Example:
        >>> _label("Anti-social behaviour and criminal damage in the town centre", 30)
        'Anti-social behaviour and…'
    """
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _margin(labels: Sequence[str], least: int) -> int:
    """A left margin wide enough for the longest label (~7 px a character)."""
    return max(least, max((len(_label(str(t))) for t in labels), default=0) * 7 + 16)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[Number | None],
    *,
    title: str,
    value_label: str = "",
    width: int = 720,
) -> str:
    """Horizontal bars, one per label (``None``: suppressed, shown as ``*``).

    Example:
        >>> bar_chart(["a"], [3], title="T").count("<rect")
        1
    """
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    row, top_margin, left = 22, 36, _margin(labels, 120)
    width = max(width, left + 330)
    plot_w = width - left - 70
    height = top_margin + row * max(len(labels), 1) + 34
    shown = [v for v in values if v is not None]
    ticks = nice_ticks(max(shown, default=0))
    scale = plot_w / ticks[-1]
    body: list[str] = []
    axis_y = top_margin + row * len(labels)
    for tick in ticks:
        x = left + tick * scale
        body.append(
            f'<line x1="{x:.1f}" y1="{top_margin - 4}" x2="{x:.1f}" y2="{axis_y}" '
            'stroke="#dddddd" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555555">'
            f"{_fmt(tick)}</text>"
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top_margin + i * row
        body.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_label(str(label)))}</text>"
        )
        if value is None:
            body.append(
                f'<text class="suppressed" x="{left + 4}" y="{y + 15}" fill="#555555">'
                "* suppressed</text>"
            )
            continue
        w = max(value * scale, 0.0)
        body.append(
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(str(label))}: {_fmt(value)}</title></rect>'
            f'<text x="{left + w + 4:.1f}" y="{y + 15}" fill="#222222">{_fmt(value)}</text>'
        )
    if value_label:
        body.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
            f'fill="#555555">{escape(value_label)}</text>'
        )
    return _svg(width, height, title, body)


def _legend_name(name: str, values: Sequence[Number | None]) -> str:
    """A series' legend text: its name (cut at a word past 40 characters), marked when every
    value is suppressed.

    Example:
        >>> _legend_name("same month a year earlier", [1, 2])
        'same month a year earlier'
    """
    shown = name if len(name) <= 40 else name[:40].rsplit(" ", 1)[0] + "…"
    return shown + (" (suppressed)" if values and all(v is None for v in values) else "")


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[Number | None]],
    *,
    title: str,
    value_label: str = "",
    width: int = 720,
    height: int = 300,
) -> str:
    """One line per series over ``x_labels``; ``None`` values break the line.

    Example:
        >>> svg = line_chart(["Jan", "Feb", "Mar"], {"crimes": [5, None, 7]}, title="T")
        >>> svg.count('class="point"'), svg.count('class="line"')
        (2, 2)
    """
    for name, values in series.items():
        if len(values) != len(x_labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(x_labels)} labels")
    # The legend is as wide as its longest name (12 px swatch + gap + ~7 px a character), so
    # no name is cut ("same month a year earlier"); names past 40 characters are cut at a word.
    legend = [_legend_name(name, values) for name, values in series.items()]
    legend_w = max((len(text) for text in legend), default=0) * 7 + 40
    left, right, top, bottom = 60, 20 + (legend_w if len(series) > 1 else 0), 34, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    shown = [v for values in series.values() for v in values if v is not None]
    ticks = nice_ticks(max(shown, default=0))
    y_scale = plot_h / ticks[-1]
    step = plot_w / max(len(x_labels) - 1, 1)
    body: list[str] = []
    for tick in ticks:
        y = top + plot_h - tick * y_scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#dddddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555555">'
            f"{_fmt(tick)}</text>"
        )
    shown_labels = [_short_month(str(label)) for label in x_labels]
    widest = max((len(label) for label in shown_labels), default=1) * 7 + 10
    every = max(1, math.ceil(len(x_labels) * widest / max(plot_w, 1)))
    for i, label in enumerate(shown_labels):
        if i % every == 0:
            x = left + i * step
            body.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'fill="#555555">{escape(label)}</text>'
            )
    for k, (name, values) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                if runs[-1]:
                    runs.append([])
                continue
            point = (left + i * step, top + plot_h - value * y_scale)
            runs[-1].append(point)
            body.append(
                f'<circle class="point" cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="3" '
                f'fill="{colour}"><title>{escape(name)}, {escape(str(x_labels[i]))}: '
                f"{_fmt(value)}</title></circle>"
            )
        for run in runs:
            if run:
                d = " ".join(
                    f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(run)
                )
                body.append(
                    f'<path class="line" d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>'
                )
        if len(series) > 1:
            ly = top + 6 + k * 18
            lx = left + plot_w + 14
            body.append(
                f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                f'<text x="{lx + 18}" y="{ly + 11}">{escape(legend[k])}</text>'
            )
    if value_label:
        body.append(
            f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#555555" '
            f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(value_label)}</text>'
        )
    return _svg(width, height, title, body)


def heatmap(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[Number | None]],
    *,
    title: str,
    width: int = 720,
    missing_is_zero: bool = True,
) -> str:
    """A grid of shaded cells (darker = more); ``None`` cells are hatched and marked ``*``.

    Args:
        row_labels, column_labels: the two dimensions.
        values: ``values[row][column]``; ``None`` = suppressed.
        missing_is_zero: label the legend to say absent combinations are zero.

    Example:
        >>> svg = heatmap(["Mon", "Tue"], ["0", "1"], [[1, 2], [None, 4]], title="T")
        >>> svg.count('class="cell"'), svg.count('class="suppressed"')
        (4, 1)
    """
    if len(values) != len(row_labels) or any(len(r) != len(column_labels) for r in values):
        raise ValueError("values must be rows × columns")
    left, top = _margin(row_labels, 90), 34
    cell_w = (width - left - 20) / max(len(column_labels), 1)
    cell_h = 24
    height = top + cell_h * len(row_labels) + 46
    shown = [v for row in values for v in row if v is not None]
    high = max(shown, default=0) or 1
    body = [
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#999999" '
        'stroke-width="2"/></pattern></defs>'
    ]
    for r, label in enumerate(row_labels):
        y = top + r * cell_h
        body.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(_label(str(label)))}</text>"
        )
        for c, value in enumerate(values[r]):
            x = left + c * cell_w
            if value is None:
                body.append(
                    f'<rect class="cell" x="{x:.1f}" y="{y}" width="{cell_w:.1f}" '
                    f'height="{cell_h}" fill="url(#hatch)" stroke="#ffffff"/>'
                    f'<text class="suppressed" x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                    'text-anchor="middle">*</text>'
                )
                continue
            share = value / high
            shade = _blend(share)
            colour = "#ffffff" if share > 0.55 else "#222222"
            body.append(
                f'<rect class="cell" x="{x:.1f}" y="{y}" width="{cell_w:.1f}" height="{cell_h}" '
                f'fill="{shade}" stroke="#ffffff"><title>{escape(str(label))}, '
                f"{escape(str(column_labels[c]))}: {_fmt(value)}</title></rect>"
            )
            if cell_w >= 22:
                body.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                    f'text-anchor="middle" font-size="10" fill="{colour}">{_fmt(value)}</text>'
                )
    every = max(1, math.ceil(len(column_labels) / 24))
    for c, label in enumerate(column_labels):
        if c % every == 0:
            x = left + c * cell_w + cell_w / 2
            body.append(
                f'<text x="{x:.1f}" y="{top + cell_h * len(row_labels) + 14}" '
                f'text-anchor="middle" fill="#555555">{escape(str(label))}</text>'
            )
    note = "darker = more; * = suppressed" + (
        "; blank combinations are zero" if missing_is_zero else ""
    )
    body.append(
        f'<text x="{left}" y="{height - 6}" fill="#555555" font-size="11">{escape(note)}</text>'
    )
    return _svg(width, height, title, body)


def _blend(share: float) -> str:
    """White (0) to the palette's blue (1)."""
    start, end = (255, 255, 255), (0, 0x50, 0x8C)
    rgb = [round(a + (b - a) * max(0.0, min(1.0, share))) for a, b in zip(start, end, strict=True)]
    return "#" + "".join(f"{v:02x}" for v in rgb)
