"""The client needs only pyarrow and polars (HTTP is the standard library's): import it (and run a query) in a fresh
interpreter where the server's packages cannot be imported at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

BLOCKED = (
    "httpx",  # the client speaks HTTP with http.client (gateway.client.http)
    "httpcore",
    "duckdb",
    "sqlglot",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyproj",
)

SCRIPT = textwrap.dedent(
    """
    import sys

    BLOCKED = {blocked!r}
    for name in BLOCKED:
        sys.modules[name] = None  # "not installed": importing it raises ImportError
    from gateway.client import connect, TableNotPermitted
    with connect({url!r}, {token!r}, purpose="SA-2026") as gw:
        frame = gw.query("SELECT local_authority_code, count(*) AS n FROM crime GROUP BY 1")
        try:
            gw.query("SELECT * FROM intelligence_report")
        except TableNotPermitted:
            refused = True
    loaded = sorted(m for m, mod in sys.modules.items()
                    if m.split(".")[0] in BLOCKED and mod is not None)
    print(frame["local_authority_code"].to_list(), refused, loaded)
    """
)


def test_client_imports_and_queries_without_server_packages(live_gateway):  # type: ignore[no-untyped-def]
    script = SCRIPT.format(blocked=BLOCKED, url=live_gateway.url, token=live_gateway.token("h.lee"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['E06000001'] True []"


CLI_SCRIPT = textwrap.dedent(
    """
    import sys

    for name in {blocked!r}:
        sys.modules[name] = None
    sys.argv = ["gateway", "query", "SELECT count(*) AS n FROM crime", "--purpose", "SA-2026",
                "--url", {url!r}, "--format", "csv"]
    from gateway.cli import main
    main()
    """
)


def test_query_command_runs_without_server_packages(live_gateway):  # type: ignore[no-untyped-def]
    # typer itself depends on pydantic, so a light install has it; everything else stays blocked.
    blocked = (*tuple(b for b in BLOCKED if b != "pydantic"), "openpyxl", "scipy", "numpy")
    script = CLI_SCRIPT.format(blocked=blocked, url=live_gateway.url)
    env = {**os.environ, "GATEWAY_TOKEN": live_gateway.token("h.lee")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == '"n","protective_marking"'
    assert int(lines[1].split(",")[0]) > 0
