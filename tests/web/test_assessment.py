"""The strategic assessment pack built from a form: it goes to the senior analyst's QA queue as
the release rules say (the default policy samples every product), its status is shown, and bad
input is a clear 4xx on the page. Over HTTP and in the browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gateway_server import LiveGateway
from tests.web.conftest import WebClient, form_token
from tests.web.test_browser import accept_syops, serious_violations, sign_in

PATH = "/products/strategic-assessment"


@pytest.fixture
def analyst(generated_web_gateway: LiveGateway) -> Iterator[WebClient]:
    client = WebClient(generated_web_gateway).sign_in("h.lee")
    yield client
    client.close()


def qa_queue(gateway: LiveGateway, senior: str = "s.patel") -> dict[str, dict[str, Any]]:
    with gateway.client(senior) as api:
        listed = api.get("/v1/products", params={"pending": "true"})
    assert listed.status_code == 200
    return {p["product_id"]: p for p in listed.json()["products"]}


def test_the_form_offers_the_persons_areas_purposes_and_markings(analyst: WebClient) -> None:
    html = analyst.get(PATH).text
    area = re.search(r'<select id="area".*?</select>', html, re.S)
    assert area
    assert re.findall(r'<option value="([^"]+)"', area.group(0)) == ["E06000001"]
    marking = re.search(r'<select id="marking".*?</select>', html, re.S)
    assert marking
    # the policy's marking for record data and those above it: never a lower one
    assert re.findall(r'<option value="([^"]+)"', marking.group(0)) == [
        "OFFICIAL-SENSITIVE",
        "SECRET",
        "TOP SECRET",
    ]


def test_a_pack_built_from_the_form_goes_to_the_qa_queue(
    analyst: WebClient, generated_web_gateway: LiveGateway
) -> None:
    token = form_token(analyst.get(PATH).text)
    form = {"csrf_token": token, "purpose": "SA-2026", "area": "E06000001", "year": "2025"}
    response = analyst.post(PATH, {**form, "marking": "SECRET"})
    assert response.status_code == 200
    made = re.search(r'<h2 id="made-heading">Pack (p\S+)</h2>', response.text)
    assert made
    product_id = made.group(1)
    assert re.search(r'id="made-status">awaiting QA<', response.text)
    assert re.search(r'id="made-marking">SECRET<', response.text)
    queued = qa_queue(generated_web_gateway)
    assert product_id in queued
    assert queued[product_id]["owner"] == "h.lee"
    assert queued[product_id]["marking"] == "SECRET"
    assert queued[product_id]["qa"] == "pending"
    # listed with its status on the form page; the owner cannot download it yet
    listed = analyst.get(PATH).text
    assert re.search(rf"<code>{product_id}</code>.*?awaiting QA", listed, re.S)
    with generated_web_gateway.client("h.lee") as api:
        assert api.get(f"/v1/products/{product_id}/file").status_code == 403


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"area": "E06000002"}, 400, "invalid_parameter"),  # not the analyst's area
        ({"year": "last year"}, 400, "bad_request"),
        ({"year": "1850"}, 400, "bad_request"),
        ({"marking": "OFFICIAL"}, 400, "marking_lowered"),
        ({"marking": "PURPLE"}, 400, "marking_unknown"),
        ({"purpose": "FISHING"}, 403, "purpose_not_approved"),
    ],
)
def test_bad_input_is_a_clear_4xx_on_the_page(
    analyst: WebClient,
    generated_web_gateway: LiveGateway,
    fields: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = set(qa_queue(generated_web_gateway))
    token = form_token(analyst.get(PATH).text)
    form = {"csrf_token": token, "purpose": "SA-2026", "area": "E06000001", "year": "2025"}
    response = analyst.post(PATH, {**form, **fields})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    error = re.search(r'id="assessment-error"><p>(.*?)</p>', response.text, re.S)
    assert error
    assert error.group(1).startswith(f"{code}: ")
    assert set(qa_queue(generated_web_gateway)) == before  # nothing was made


def test_building_needs_the_forms_token(analyst: WebClient) -> None:
    response = analyst.post(PATH, {"purpose": "SA-2026", "area": "E06000001", "year": "2025"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_the_pack_form_submits_in_the_browser_and_the_pack_is_in_the_qa_queue(
    page: Any, generated_web_gateway: LiveGateway
) -> None:
    sign_in(page, generated_web_gateway, "h.lee")
    accept_syops(page)
    page.get_by_role("link", name="Strategic assessment").click()
    assert not serious_violations(page)
    page.get_by_label("Calendar year assessed").fill("2025")
    page.get_by_role("button", name="Build the pack").click()
    page.locator("#made").wait_for()
    assert page.locator("#made-status").inner_text() == "awaiting QA"
    heading = page.locator("#made-heading").inner_text()
    product_id = heading.removeprefix("Pack ")
    assert product_id in qa_queue(generated_web_gateway)
    assert product_id in page.locator("#packs").inner_text()
    assert not serious_violations(page)
    # the designated senior analyst finds it in her QA queue, with a Pass button
    page.context.clear_cookies()
    sign_in(page, generated_web_gateway, "s.patel")
    accept_syops(page)
    page.get_by_role("link", name="Products", exact=True).click()
    queued = page.locator("section.product", has_text=product_id)
    assert queued.locator(".qa").inner_text() == "awaiting QA"
    assert queued.get_by_role("button", name="Pass").count() == 1
