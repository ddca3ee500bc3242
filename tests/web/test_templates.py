"""The template library as forms: over plain HTTP (forms built from the declarations, the
result equal to the API's, bad input a clear 4xx on the page) and in the browser (a run with
its chart drawn, axe-core on each page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.gateway_server import LiveGateway
from tests.web.conftest import WebClient, form_token
from tests.web.test_browser import accept_syops, serious_violations, sign_in

CRIME_RATES = {"area": "E06000001", "year": "2025"}


class ResultTableText(HTMLParser):
    """The cells of ``#result-table`` as the page sends them: text, or ``*`` when the cell is
    marked suppressed."""

    def __init__(self) -> None:
        super().__init__()
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._in_table = False
        self._cell: list[str] | None = None
        self._suppressed = False
        self._head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and found.get("id") == "result-table":
            self._in_table = True
        if not self._in_table:
            return
        if tag == "thead":
            self._head = True
        if tag == "tr" and not self._head:
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
            self._suppressed = found.get("data-suppressed") == "true"

    def handle_endtag(self, tag: str) -> None:
        if not self._in_table:
            return
        if tag == "thead":
            self._head = False
        if tag in ("td", "th") and self._cell is not None:
            text = "*" if self._suppressed else "".join(self._cell).strip()
            (self.header if self._head else self.rows[-1]).append(text)
            self._cell = None
        if tag == "table":
            self._in_table = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._suppressed:
            self._cell.append(data)


def result_cells(html: str) -> tuple[list[str], list[list[str]]]:
    parser = ResultTableText()
    parser.feed(html)
    return parser.header, parser.rows


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def api_cells(answer: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The API's answer as the page must show it: flag columns folded into their cells."""
    names = [c["name"] for c in answer["columns"]]
    shown = [
        i
        for i, n in enumerate(names)
        if not (n.endswith("_suppressed") and n.removesuffix("_suppressed") in names)
    ]
    rows = []
    for row in answer["rows"]:
        cells = []
        for i in shown:
            flag = f"{names[i]}_suppressed"
            hidden = flag in names and row[names.index(flag)] is True
            cells.append("*" if hidden else as_text(row[i]))
        rows.append(cells)
    return [names[i] for i in shown], rows


@pytest.fixture
def analyst(generated_web_gateway: LiveGateway) -> Iterator[WebClient]:
    client = WebClient(generated_web_gateway).sign_in("h.lee")
    yield client
    client.close()


def run_form(client: WebClient, name: str, params: dict[str, str], **fields: str) -> Any:
    token = form_token(client.get(f"/templates/{name}").text)
    data = {"csrf_token": token, "purpose": "SA-2026", **fields}
    data.update({f"param.{k}": v for k, v in params.items()})
    return client.post(f"/templates/{name}", data)


def page_error(html: str) -> str:
    match = re.search(r'id="template-error"><p>(.*?)</p>', html, re.S)
    assert match, "no error shown on the page"
    return match.group(1)


# --- over HTTP -------------------------------------------------------------------------------


def test_the_library_lists_what_the_level_may_run(analyst: WebClient) -> None:
    listing = analyst.get("/templates")
    assert listing.status_code == 200
    assert 'href="/templates/crime-rates"' in listing.text
    assert 'href="/templates/intelligence-by-month"' not in listing.text  # enhanced only
    assert "1 more need a higher access level" in listing.text


def test_the_form_is_built_from_the_parameter_declarations(analyst: WebClient) -> None:
    html = analyst.get("/templates/hotspot-grid").text
    # allowed values as a select, with the declared default chosen
    cell = re.search(r'<select id="param-cell_metres".*?</select>', html, re.S)
    assert cell
    assert re.findall(r'<option value="(\d+)"', cell.group(0)) == [
        "100",
        "200",
        "250",
        "500",
        "1000",
    ]
    assert '<option value="250" selected>' in cell.group(0)
    # a reference domain plus its extra values; the analyst's only authority preselected
    category = re.search(r'<select id="param-category".*?</select>', html, re.S)
    assert category
    assert '<option value="all" selected>' in category.group(0)
    assert '<option value="burglary">' in category.group(0)
    assert re.search(r'<select id="param-area"[^>]*>\s*<option value="E06000001" selected>', html)
    # months as month inputs, the relative default resolved to a month
    assert re.search(r'<input type="month" id="param-start_month" [^>]*value="\d{4}-\d{2}"', html)
    # the purpose picker offers the analyst's approved purposes only
    picker = re.search(r'<select id="purpose-picker".*?</select>', html, re.S)
    assert picker
    assert re.findall(r'<option value="([^"]+)"', picker.group(0)) == [
        "SA-2026",
        "JAG-2026-HPL",
    ]


def test_a_run_shows_the_apis_answer_with_disclosure_control_and_marking(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    response = run_form(analyst, "crime-rates", CRIME_RATES)
    assert response.status_code == 200
    with generated_web_gateway.client("h.lee") as api:
        answer = api.post(
            "/v1/templates/crime-rates/run", json={"purpose": "SA-2026", "params": CRIME_RATES}
        )
    assert answer.status_code == 200
    expected = api_cells(answer.json())
    assert result_cells(response.text) == expected
    assert any("*" in row for row in expected[1])  # the small cells are suppressed on both
    marking = answer.headers["x-protective-marking"]
    assert f'<strong id="result-marking">{marking}</strong>' in response.text
    banners = re.findall(r"data-page-marking>([^<]*)<", response.text)
    assert banners == [marking, marking]  # the page shows the answer: its marking, top and bottom
    disclosure = answer.json()["provenance"]["disclosure"]
    summary = re.search(r'id="disclosure-summary">(.*?)</dd>', response.text, re.S)
    assert summary
    hidden = disclosure["primary"] + disclosure["secondary_suppressed"]
    assert f"{hidden} of {disclosure['cells']} cells suppressed" in summary.group(1)
    assert f"{disclosure['perturbed']} cells perturbed" in summary.group(1)


@pytest.mark.parametrize(
    ("name", "params", "fields", "status", "code", "words"),
    [
        ("no-such-template", {}, {}, 404, None, "no template called"),
        ("crime-rates", {"year": "twenty"}, {}, 400, "invalid_parameter", "whole number"),
        ("crime-rates", {"year": "1999"}, {}, 400, "invalid_parameter", "at least 2000"),
        ("crime-rates", {"area": "E06000002"}, {}, 400, "invalid_parameter", "not one of your"),
        ("crime-rates", {"colour": "red"}, {}, 400, "invalid_parameter", "unknown parameter"),
        ("hotspot-grid", {"cell_metres": "300"}, {}, 400, "invalid_parameter", "not allowed"),
        ("crime-rates", {}, {"disclosure": "secret"}, 400, "bad_request", "disclosure"),
        ("crime-rates", {}, {"purpose": "FISHING"}, 403, "purpose_not_approved", "FISHING"),
        ("intelligence-by-month", {}, {}, 403, "access_denied", "enhanced-level"),
    ],
)
def test_bad_input_is_a_clear_4xx_on_the_page(
    analyst: WebClient,
    name: str,
    params: dict[str, str],
    fields: dict[str, str],
    status: int,
    code: str | None,
    words: str,
) -> None:
    token = form_token(analyst.get("/templates").text)
    data = {"csrf_token": token, "purpose": "SA-2026", **fields}
    data.update({f"param.{k}": v for k, v in params.items()})
    response = analyst.post(f"/templates/{name}", data)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    if code is None:
        assert words in response.text
        assert analyst.get(f"/templates/{name}").status_code == 404
    else:
        assert page_error(response.text).startswith(f"{code}: ")
        assert words in page_error(response.text)


def test_a_run_needs_the_forms_token(analyst: WebClient) -> None:
    response = analyst.post("/templates/crime-rates", {"purpose": "SA-2026"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


# --- in the browser --------------------------------------------------------------------------


def test_a_template_run_draws_its_chart_from_the_apis_values(
    page: Any, generated_web_gateway: LiveGateway
) -> None:
    sign_in(page, generated_web_gateway, "h.lee")
    accept_syops(page)
    page.get_by_role("link", name="Templates").click()
    assert not serious_violations(page)
    page.get_by_role("link", name="Crime counts and rates per 1,000 residents by category").click()
    page.get_by_label("Calendar year of recording").fill(CRIME_RATES["year"])
    assert not serious_violations(page)
    page.get_by_role("button", name="Run template").click()
    page.locator("#result-table").wait_for()
    with generated_web_gateway.client("h.lee") as api:
        answer = api.post(
            "/v1/templates/crime-rates/run", json={"purpose": "SA-2026", "params": CRIME_RATES}
        ).json()
    header, rows = api_cells(answer)
    assert result_cells(page.content()) == (header, rows)
    # the chart: one bar per category, its values the table's (suppressed: a gap)
    drawn = page.evaluate(
        """() => ({labels: window.gatewayChart.data.labels,
                   values: window.gatewayChart.data.datasets[0].data})"""
    )
    x, y = header.index("police_uk_category"), header.index("crimes")
    assert drawn["labels"] == [row[x] for row in rows]
    assert drawn["values"] == [None if row[y] == "*" else int(row[y]) for row in rows]
    painted = page.evaluate(
        """() => { const c = document.getElementById('result-chart');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
                   return {n: n, w: c.width, h: c.height}; }"""
    )
    assert painted["w"] > 100
    assert painted["h"] > 100
    assert painted["n"] > 0.01 * painted["w"] * painted["h"]  # bars, axes and labels painted
    assert not serious_violations(page)


def test_a_template_listing_individuals_is_shown_without_disclosure_control(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    response = run_form(analyst, "repeat-offenders", {})
    assert response.status_code == 200
    summary = re.search(r'id="disclosure-summary">(.*?)</dd>', response.text, re.S)
    assert summary
    assert summary.group(1).startswith("none: this template lists individuals")
    with generated_web_gateway.client("h.lee") as api:
        answer = api.post("/v1/templates/repeat-offenders/run", json={"purpose": "SA-2026"})
    assert result_cells(response.text) == api_cells(answer.json())
    assert "<canvas" not in response.text  # no chart declared


def test_an_enhanced_template_runs_only_for_the_purpose_of_the_grant(
    generated_web_gateway: LiveGateway,
) -> None:
    enhanced = WebClient(generated_web_gateway).sign_in("e.okafor")
    try:
        assert 'href="/templates/intelligence-by-month"' in enhanced.get("/templates").text
        granted = run_form(enhanced, "intelligence-by-month", {}, purpose="JAG-2026-07")
        assert granted.status_code == 200
        assert re.search(r'id="result-rows">\d+', granted.text)
        other = run_form(enhanced, "intelligence-by-month", {}, purpose="SA-2026")
        assert other.status_code == 403
        assert page_error(other.text).startswith("table_not_permitted: ")
    finally:
        enhanced.close()
