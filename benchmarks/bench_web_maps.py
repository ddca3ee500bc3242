"""The template, pack and map pages' cost, against the API doing the same work on one server.

    python benchmarks/bench_web_maps.py [--n 20] [--scale 0.05]

Generates a warehouse with base maps (``--scale``, one year), starts ``gateway serve`` on it
and times, one request after another from one signed-in analyst (h.lee):

1. ``POST /templates/crime-rates`` (the form's run: the page with table and chart data) against
   ``POST /v1/templates/crime-rates/run`` with the person's token (JSON): what the page adds;
2. ``GET /maps`` (the base map: the ward table read through the policy, polygons from the
   GeoPackage, GeoJSON in the page);
3. ``POST /maps`` previews: hotspot map points as points and as a 500 m grid, crime by ward as a
   choropleth, hotspot LSOAs on the LSOA base map — each with the page's size;
4. ``POST /maps/export`` of the choropleth as a GeoPackage against the same run's export over
   the API;
5. one strategic assessment pack from the form and one over the API (one each: each is ~20
   audited runs and three files).

Figures (median and p95 in ms, page sizes in kB) are printed, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.web.conftest

from tests.gateway_server import start_gateway
from tests.web.conftest import WebClient, form_token, web_data_dir

from gateway import generate

PURPOSE = "SA-2026"


def timed(n: int, call: Callable[[], httpx.Response]) -> tuple[list[float], int]:
    first = call()  # warm: connections, the runner's domain caches
    assert first.status_code in (200, 202), first.text[:500]
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 202), response.text[:500]
    return times, len(first.content)


def report(label: str, figures: tuple[list[float], int]) -> None:
    times, size = figures
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(
        f"{label:<52} median {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms"
        f"   {size / 1024:8.1f} kB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="timed requests per figure")
    parser.add_argument("--scale", type=float, default=0.05, help="warehouse scale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "generated"
        generate.ensure(source, years=1, scale=args.scale)
        dd = web_data_dir(Path(work) / "data", source=source)
        shutil.copyfile(source / "basemaps.gpkg", dd.basemaps)
        gateway = start_gateway(dd.root)
        try:
            web = WebClient(gateway).sign_in("h.lee")
            api = gateway.client("h.lee")
            token = form_token(web.get("/maps").text)
            params = {"area": "E06000001", "year": "2025"}
            form = {"csrf_token": token, "purpose": PURPOSE}
            print(f"warehouse scale {args.scale}, 1 year; n = {args.n}")
            report(
                "template run: POST /templates/crime-rates (page)",
                timed(
                    args.n,
                    lambda: web.post(
                        "/templates/crime-rates",
                        {**form, **{f"param.{k}": v for k, v in params.items()}},
                    ),
                ),
            )
            report(
                "template run: POST /v1/templates/crime-rates/run",
                timed(
                    args.n,
                    lambda: api.post(
                        "/v1/templates/crime-rates/run", json={"purpose": PURPOSE, "params": params}
                    ),
                ),
            )
            report("map: GET /maps (ward base map)", timed(args.n, lambda: web.get("/maps")))
            previews = [
                ("hotspot-map-points", "points", "ward"),
                ("hotspot-map-points", "grid", "ward"),
                ("crime-by-area", "areas", "ward"),
                ("hotspot-lsoas", "areas", "lsoa"),
            ]
            for template, kind, base in previews:
                fields = {**form, "template": template, "kind": kind, "base": base}
                report(
                    f"map preview: {template} as {kind} on {base}",
                    timed(args.n, lambda f=fields: web.post("/maps", {**f, "cell_size": "500"})),
                )
            exported = {**form, "template": "crime-by-area", "kind": "areas", "format": "gpkg"}
            report(
                "map export: POST /maps/export (gpkg, page)",
                timed(args.n, lambda: web.post("/maps/export", exported)),
            )
            report(
                "map export: POST /v1/templates/crime-by-area/run",
                timed(
                    args.n,
                    lambda: api.post(
                        "/v1/templates/crime-by-area/run",
                        json={
                            "purpose": PURPOSE,
                            "export": {"format": "gpkg", "options": {"geometry": "areas"}},
                        },
                    ),
                ),
            )
            pack = {**form, "area": "E06000001", "year": "2025"}
            report(
                "pack: POST /products/strategic-assessment",
                timed(1, lambda: web.post("/products/strategic-assessment", pack)),
            )
            report(
                "pack: POST /v1/products/strategic-assessment",
                timed(
                    1,
                    lambda: api.post(
                        "/v1/products/strategic-assessment",
                        json={"area": "E06000001", "year": 2025, "purpose": PURPOSE},
                    ),
                ),
            )
            web.close()
            api.close()
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
