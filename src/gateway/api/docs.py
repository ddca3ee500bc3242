"""``/docs``: Swagger UI from assets shipped in the package (no CDN, no inline script).

The assets (``static/swagger-ui``, from the npm package ``swagger-ui-dist``; see
``static/VENDORED.md``) are served under ``/static/swagger-ui/``; the page loads them and
``init.js`` points Swagger UI at ``/openapi.json``.

Example:
    >>> "/static/swagger-ui/swagger-ui-bundle.js" in docs_page().body.decode()
    True
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC_DIRECTORY", "docs_page", "install_docs"]

#: The API's own static assets (Swagger UI).
STATIC_DIRECTORY = Path(__file__).with_name("static")
_PREFIX = "/static/swagger-ui"

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Partnership Analytics Gateway: API</title>
<link rel="stylesheet" href="{_PREFIX}/swagger-ui.css">
<link rel="icon" type="image/png" href="{_PREFIX}/favicon-32x32.png">
</head>
<body>
<main id="swagger-ui"></main>
<script src="{_PREFIX}/swagger-ui-bundle.js"></script>
<script src="{_PREFIX}/init.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs_page() -> HTMLResponse:
    """The API's interactive description."""
    return HTMLResponse(_PAGE)


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets (create the app with ``docs_url=None``)."""
    app.include_router(router)
    app.mount(_PREFIX, StaticFiles(directory=STATIC_DIRECTORY / "swagger-ui"), name="swagger-ui")
