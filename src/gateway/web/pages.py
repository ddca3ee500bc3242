"""Server-rendered pages: Jinja2 templates from the package, escaped by default.

Every page extends ``base.html`` (the monitoring notice, the signed-in person, the navigation,
one stylesheet and at most one script file — never inline script, so the Content-Security-Policy
can forbid it), and carries the protective marking of what it shows in a banner at its top and
bottom (``page_marking``: the highest marking of the data displayed, :func:`page_marking`;
:data:`NO_DATA_MARKING` for a page showing none). Pages whose script fetches data (the SQL
console) raise the banners to the answer's ``X-Protective-Marking`` when it arrives.

Example:
    >>> "<html" in render_text("error.html", title="Not found", message="no such page")
    True
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from gateway.policy.markings import MarkingSettings

__all__ = [
    "NO_DATA_MARKING",
    "audit_marking",
    "error_page",
    "page",
    "page_marking",
    "render_text",
]

#: The marking of a page that shows no data from the warehouse, the audit trail or a product.
NO_DATA_MARKING = "OFFICIAL"


def page_marking(markings: MarkingSettings, *shown: str) -> str:
    """The banner of a page showing data of these markings: the highest of them (never
    below :data:`NO_DATA_MARKING`).

    Example:
        >>> page_marking(MarkingSettings()), page_marking(MarkingSettings(), "OFFICIAL-SENSITIVE")
        ('OFFICIAL', 'OFFICIAL-SENSITIVE')
    """
    return markings.highest([NO_DATA_MARKING, *shown])


def audit_marking(markings: MarkingSettings) -> str:
    """The banner of a page showing audit records (query history, the exports register, the
    audit dashboard): the policy's ``audit`` marking."""
    return page_marking(markings, markings.audit)


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("gateway.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_text(template: str, **context: Any) -> str:
    """A template rendered with ``context`` (``user`` and ``csrf_token`` default to none)."""
    context.setdefault("user", None)
    context.setdefault("csrf_token", "")
    context.setdefault("notice", "")
    context.setdefault("idle_seconds", 0)
    context.setdefault("page_marking", NO_DATA_MARKING)
    return _environment().get_template(template).render(**context)


def page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page response."""
    return HTMLResponse(render_text(template, **context), status_code=status)


#: The title of an error page, by status.
_ERROR_TITLES = {400: "Not understood", 403: "Not permitted", 404: "Not found", 409: "Conflict"}


def error_page(status: int, message: str, **context: Any) -> HTMLResponse:
    """An error page: ``status`` with its title and ``message`` (never a stack trace)."""
    title = _ERROR_TITLES.get(status, "Refused" if status < 500 else "Unavailable")
    return page("error.html", status=status, title=title, message=message, **context)
