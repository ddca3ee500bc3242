"""SVG charts: well-formed XML, one mark per published value, suppressed values marked not
drawn, deterministic output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gateway.products import bar_chart, heatmap, line_chart
from gateway.products.charts import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None
    return root


def with_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == cls]


def test_bar_chart_draws_one_bar_per_published_value() -> None:
    root = parse(bar_chart(["a", "b & c", "d"], [10, None, 25.5], title="Crimes <by> category"))
    bars = with_class(root, "rect", "bar")
    assert len(bars) == 2
    assert len(with_class(root, "text", "suppressed")) == 1
    widths = [float(b.get("width", "0")) for b in bars]
    assert widths[1] > widths[0] > 0
    texts = "".join(root.itertext())
    assert "b & c" in texts
    assert "25.5" in texts


def test_bar_chart_all_suppressed_or_empty() -> None:
    root = parse(bar_chart(["a", "b"], [None, None], title="T"))
    assert not with_class(root, "rect", "bar")
    assert len(with_class(root, "text", "suppressed")) == 2
    parse(bar_chart([], [], title="Empty"))


def test_line_chart_breaks_at_suppressed_values() -> None:
    root = parse(
        line_chart(
            ["2025-01", "2025-02", "2025-03", "2025-04"],
            {"this year": [5, None, 7, 8], "last year": [None, None, None, None]},
            title="T",
        )
    )
    assert len(with_class(root, "circle", "point")) == 3
    assert len(with_class(root, "path", "line")) == 2  # two runs: [5] and [7, 8]
    texts = "".join(root.itertext())
    assert "Jan 25" in texts
    assert "last year (suppressed)" in texts


def test_heatmap_one_cell_per_pair() -> None:
    root = parse(heatmap(["Mon", "Tue"], ["00", "01", "02"], [[1, 0, 5], [None, 2, 3]], title="T"))
    assert len(with_class(root, "rect", "cell")) == 6
    assert len(with_class(root, "text", "suppressed")) == 1


def test_mismatched_lengths_are_errors() -> None:
    with pytest.raises(ValueError, match="differ"):
        bar_chart(["a"], [1, 2], title="T")
    with pytest.raises(ValueError, match="has 1 values"):
        line_chart(["a", "b"], {"s": [1]}, title="T")
    with pytest.raises(ValueError, match="rows × columns"):
        heatmap(["a"], ["x", "y"], [[1]], title="T")


def test_deterministic() -> None:
    args = (["a", "b"], [3, 4])
    assert bar_chart(*args, title="T") == bar_chart(*args, title="T")


@pytest.mark.parametrize(("top", "last"), [(0, 1.0), (9, 10.0), (87, 100.0), (1150, 1250.0)])
def test_ticks_cover_the_top(top: float, last: float) -> None:
    ticks = nice_ticks(top)
    assert ticks[0] == 0
    assert ticks[-1] == last
    assert ticks[-1] >= top
