"""Text encodings of governance values for the SQLite store (ISO dates, JSON lists and forms).

Example:
    >>> from datetime import date
    >>> decode_form(encode_form(RequestForm("a.khan", "general", (Purpose("SA", "strategic assessment"),),
    ...     BusinessCase("duties", ("SA",), ("CSP board",)), areas=("E06000002",),
    ...     starts=date(2026, 5, 1)))).starts
    datetime.date(2026, 5, 1)
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from gateway.errors import ConfigurationError
from gateway.governance.requests import (
    Applicant,
    BusinessCase,
    EnhancedScope,
    Purpose,
    RequestForm,
)

__all__ = [
    "decode_applicant",
    "decode_form",
    "encode_applicant",
    "encode_form",
    "from_day",
    "from_json_list",
    "to_day",
    "to_json_list",
]


def to_day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def from_day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def to_json_list(values: tuple[str, ...] | frozenset[str]) -> str:
    return json.dumps(sorted(values) if isinstance(values, frozenset) else list(values))


def from_json_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    values = json.loads(text)
    if not isinstance(values, list):
        raise ConfigurationError("governance database: expected a JSON list")
    return tuple(str(v) for v in values)


def encode_form(form: RequestForm) -> str:
    """The form as JSON text."""
    enhanced = form.enhanced
    return json.dumps(
        {
            "applicant": form.applicant,
            "level": form.level,
            "purposes": [{"code": p.code, "description": p.description} for p in form.purposes],
            "business_case": {
                "key_duties": form.business_case.key_duties,
                "products": list(form.business_case.products),
                "dissemination": list(form.business_case.dissemination),
            },
            "areas": list(form.areas),
            "enhanced": None
            if enhanced is None
            else {
                "tables": list(enhanced.tables),
                "unmask": list(enhanced.unmask),
                "areas": list(enhanced.areas),
                "justification": enhanced.justification,
                "method": enhanced.method,
            },
            "starts": to_day(form.starts),
            "ends": to_day(form.ends),
            "deputy_for": form.deputy_for,
        },
        sort_keys=True,
    )


def decode_form(text: str) -> RequestForm:
    """A form written by :func:`encode_form`."""
    raw: dict[str, Any] = json.loads(text)
    case = raw["business_case"]
    enhanced = raw.get("enhanced")
    return RequestForm(
        applicant=raw["applicant"],
        level=raw["level"],
        purposes=tuple(Purpose(p["code"], p["description"]) for p in raw["purposes"]),
        business_case=BusinessCase(
            case["key_duties"], tuple(case["products"]), tuple(case["dissemination"])
        ),
        areas=tuple(raw.get("areas", ())),
        enhanced=None
        if enhanced is None
        else EnhancedScope(
            tables=tuple(enhanced["tables"]),
            unmask=tuple(enhanced["unmask"]),
            areas=tuple(enhanced["areas"]),
            justification=enhanced["justification"],
            method=enhanced.get("method", ""),
        ),
        starts=from_day(raw.get("starts")),
        ends=from_day(raw.get("ends")),
        deputy_for=raw.get("deputy_for"),
    )


def encode_applicant(applicant: Applicant) -> str:
    return json.dumps(
        {
            "username": applicant.username,
            "full_name": applicant.full_name,
            "role_title": applicant.role_title,
            "organisation": applicant.organisation,
            "organisation_name": applicant.organisation_name,
            "email": applicant.email,
            "phone": applicant.phone,
        },
        sort_keys=True,
    )


def decode_applicant(text: str) -> Applicant:
    raw: dict[str, Any] = json.loads(text)
    return Applicant(**{k: str(v) for k, v in raw.items()})
