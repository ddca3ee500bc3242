"""The map exporter's view: base boundaries of the person's areas, a template run previewed as
points (where the policy puts them), a choropleth or a hotspot grid — the layer the export
writes — then exported with its marking. Over HTTP (compared with the API's answers) and in the
browser (features drawn = features returned, axe-core)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway_server import LiveGateway
from tests.web.conftest import WebClient, form_token
from tests.web.test_browser import accept_syops, serious_violations, sign_in

AREA = "E06000001"


@pytest.fixture
def analyst(generated_web_gateway: LiveGateway) -> Iterator[WebClient]:
    client = WebClient(generated_web_gateway).sign_in("h.lee")
    yield client
    client.close()


def geojson(page_html: str, attribute: str) -> dict[str, Any]:
    match = re.search(rf"{attribute}='([^']*)'", page_html)
    assert match, f"no {attribute} on the page"
    loaded: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return loaded


def preview(client: WebClient, template: str, kind: str, **fields: str) -> Any:
    token = form_token(client.get("/maps").text)
    form = {"csrf_token": token, "purpose": "SA-2026", "template": template, "kind": kind}
    return client.post("/maps", {"base": "ward", **form, **fields})


def api_rows(gateway: LiveGateway, sql: str) -> list[dict[str, Any]]:
    with gateway.client("h.lee") as api:
        answer = api.post("/v1/query", json={"sql": sql, "purpose": "SA-2026", "format": "json"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def api_run(gateway: LiveGateway, template: str, params: dict[str, Any] | None = None) -> Any:
    with gateway.client("h.lee") as api:
        answer = api.post(
            f"/v1/templates/{template}/run", json={"purpose": "SA-2026", "params": params or {}}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def test_the_base_map_holds_the_boundaries_of_the_persons_areas(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    page = analyst.get("/maps")
    assert page.status_code == 200
    base = geojson(page.text, "data-base")
    wards = api_rows(
        generated_web_gateway, f"SELECT ward_code FROM ward WHERE local_authority_code = '{AREA}'"
    )
    assert sorted(f["properties"]["ward_code"] for f in base["features"]) == sorted(
        w["ward_code"] for w in wards
    )
    for feature in base["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        lon, lat = feature["geometry"]["coordinates"][0][0][0]
        assert -2.0 < lon < -0.5
        assert 54.0 < lat < 55.0  # Cleveland, in WGS 84


def test_points_are_where_the_policy_puts_them(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    response = preview(analyst, "hotspot-map-points", "points")
    assert response.status_code == 200
    layer = geojson(response.text, "data-result")
    expected = api_run(generated_web_gateway, "hotspot-map-points")
    assert len(layer["features"]) == len(expected)
    assert [f["properties"]["map_point_id"] for f in layer["features"]] == [
        r["map_point_id"] for r in expected
    ]
    assert [f["properties"]["crimes"] for f in layer["features"]] == [r["crimes"] for r in expected]
    # every point is an anonymous map point (general access never sees a dwelling)
    points = api_rows(generated_web_gateway, "SELECT easting, northing FROM map_point")
    anonymous = {(p["easting"], p["northing"]) for p in points}
    for feature in layer["features"]:
        props = feature["properties"]
        assert (props["easting"], props["northing"]) in anonymous
    assert f'id="feature-count">{len(expected)}<' in response.text


def test_a_choropleth_is_every_area_with_the_published_counts(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    response = preview(analyst, "crime-by-area", "areas", **{"param.geography": "ward"})
    assert response.status_code == 200
    layer = geojson(response.text, "data-result")
    expected = {r["area_code"]: r for r in api_run(generated_web_gateway, "crime-by-area")}
    drawn = {f["properties"]["ward_code"]: f for f in layer["features"]}
    assert set(drawn) == set(expected)
    for code, feature in drawn.items():
        assert feature["properties"]["crimes"] == expected[code]["crimes"]
        assert feature["geometry"]["type"] == "MultiPolygon"
    assert re.search(r'data-value="rate_per_1000"', response.text)


def test_a_hotspot_grid_sums_the_published_counts(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    response = preview(analyst, "hotspot-map-points", "grid", cell_size="500")
    assert response.status_code == 200
    layer = geojson(response.text, "data-result")
    expected = api_run(generated_web_gateway, "hotspot-map-points")
    cells = [f["properties"] for f in layer["features"]]
    assert sum(c["count"] for c in cells) == len(expected)
    assert sum(c["sum_crimes"] for c in cells) == sum(r["crimes"] or 0 for r in expected)
    assert all(c["cell_id"].startswith("S500:") for c in cells)
    assert all(f["geometry"]["type"] == "Polygon" for f in layer["features"])


def test_the_previewed_layer_is_exported_with_its_marking(
    analyst: WebClient, generated_web_gateway: LiveGateway, tmp_path: Path
) -> None:
    shown = preview(analyst, "hotspot-lsoas", "areas")
    features = len(geojson(shown.text, "data-result")["features"])
    token = form_token(shown.text)
    form = {"csrf_token": token, "purpose": "SA-2026", "template": "hotspot-lsoas"}
    exported = analyst.post(
        "/maps/export",
        {**form, "kind": "areas", "format": "gpkg", "crs": "27700", "marking": "SECRET"},
    )
    assert exported.status_code == 200
    export_id = re.search(r'<code id="exported-id">([^<]+)</code>', exported.text)
    assert export_id
    assert re.search(r'id="exported-marking">SECRET<', exported.text)
    assert re.search(r'id="exported-approval">not required<', exported.text)  # an aggregate
    marking = re.search(r'id="result-marking">([^<]+)<', shown.text)
    assert marking
    offered = re.search(r'<select id="marking".*?</select>', shown.text, re.S)
    assert offered
    choices = re.findall(r'<option value="([^"]+)"', offered.group(0))
    assert choices[0] == marking.group(1)  # the run's marking or higher, never lower
    assert "SECRET" in choices
    with generated_web_gateway.client("h.lee") as api:
        record = api.get(f"/v1/exports/{export_id.group(1)}").json()
        assert record["marking"] == "SECRET"
        assert record["format"] == "gpkg"
        download = api.get(record["download"])
    assert download.status_code == 200
    assert download.headers["x-protective-marking"] == "SECRET"
    path = tmp_path / "layer.gpkg"
    path.write_bytes(download.content)
    import pyogrio

    info = pyogrio.read_info(path)
    assert info["features"] == features  # the file holds what the preview drew
    assert info["crs"] == "EPSG:27700"


@pytest.mark.parametrize(
    ("path", "fields", "status", "code"),
    [
        ("/maps", {"template": "no-such-template", "kind": "points"}, 404, "not_found"),
        ("/maps", {"template": "crime-by-area", "kind": "points"}, 400, "bad_request"),
        (
            "/maps",
            {"template": "hotspot-grid", "kind": "grid", "cell_size": "7"},
            400,
            "bad_request",
        ),
        (
            "/maps",
            {"template": "hotspot-grid", "kind": "points", "param.cell_metres": "300"},
            400,
            "invalid_parameter",
        ),
        (
            "/maps",
            {"template": "hotspot-lsoas", "kind": "areas", "param.area": "E06000002"},
            400,
            "invalid_parameter",
        ),
        (
            "/maps",
            {"template": "hotspot-lsoas", "kind": "areas", "purpose": "X"},
            403,
            "purpose_not_approved",
        ),
        (
            "/maps/export",
            {"template": "hotspot-lsoas", "kind": "areas", "format": "docx"},
            400,
            "bad_request",
        ),
        (
            "/maps/export",
            {
                "template": "hotspot-lsoas",
                "kind": "areas",
                "format": "gpkg",
                "marking": "NOT PROTECTIVELY MARKED",
            },
            400,
            "marking_lowered",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_on_the_page(
    analyst: WebClient, path: str, fields: dict[str, str], status: int, code: str
) -> None:
    token = form_token(analyst.get("/maps").text)
    response = analyst.post(path, {"csrf_token": token, "purpose": "SA-2026", **fields})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    error = re.search(r'id="map-error"><p>(.*?)</p>', response.text, re.S)
    assert error
    assert error.group(1).startswith(f"{code}: ")


def test_previews_and_exports_need_the_forms_token(analyst: WebClient) -> None:
    for path in ("/maps", "/maps/export"):
        response = analyst.post(path, {"template": "hotspot-lsoas", "kind": "areas"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"


def test_a_map_preview_draws_every_feature_returned(
    page: Any, generated_web_gateway: LiveGateway
) -> None:
    sign_in(page, generated_web_gateway, "h.lee")
    accept_syops(page)
    page.get_by_role("link", name="Map").click()
    page.locator(".leaflet-base-pane path").first.wait_for()
    base = json.loads(page.locator("#map").get_attribute("data-base"))
    assert page.locator(".leaflet-base-pane path").count() == len(base["features"]) > 0
    assert not serious_violations(page)
    page.get_by_label("Template").select_option("hotspot-map-points")
    page.get_by_role("button", name="Choose").click()
    page.get_by_label("Show as").select_option("points")
    page.get_by_role("button", name="Preview").click()
    page.locator("#feature-count").wait_for()
    returned = json.loads(page.locator("#map").get_attribute("data-result"))["features"]
    expected = api_run(generated_web_gateway, "hotspot-map-points")
    assert len(returned) == len(expected) > 0
    drawn = page.locator(".leaflet-result-pane path")
    assert drawn.count() == len(returned)
    assert page.evaluate("() => window.gatewayMap.drawn.result") == len(returned)
    assert page.locator("#feature-count").inner_text() == str(len(returned))
    # each circle is inside the map's visible box (fitted to the layer)
    box = page.locator("#map").bounding_box()
    for i in range(drawn.count()):
        circle = drawn.nth(i).bounding_box()
        assert box["x"] <= circle["x"] <= box["x"] + box["width"]
        assert box["y"] <= circle["y"] <= box["y"] + box["height"]
    assert "crimes:" in page.locator("#legend").inner_text()
    assert not serious_violations(page)
