"""A template's parameters as form fields: the input each needs, its choices and its default.

Pure: the caller's areas, the reference domains and the data month come in a
:class:`~gateway.templates.params.BindingContext` (:meth:`TemplateRunner.binding_context
<gateway.templates.runner.TemplateRunner.binding_context>` makes one through the service, so
the choices are what the caller's policy shows). Whatever a field offers, the run binds the
submitted values with :func:`~gateway.templates.params.bind_parameters`, as the API does — a
form never decides what is allowed.

    allowed values        a select of them
    domain (+ extra)      a select of the reference column's values (and ``all`` …)
    area code, authority  a select of the caller's local authorities
    area code, any        a text input (an LSOA, ward, neighbourhood or authority code)
    month / date          ``<input type=month>`` / ``<input type=date>``
    integer / number      a number input with the declared bounds
    boolean               a select of yes / no

Example:
    >>> from datetime import date
    >>> from gateway.templates.format import parse_template
    >>> t = parse_template("t", '''-- title = "T"
    ... -- [parameters.year]
    ... -- type = "integer"
    ... -- default = "@year-1"
    ... -- min = 2000
    ... -- [parameters.area]
    ... -- type = "area_code"
    ... -- default = "@my_area"
    ... SELECT $year AS y, $area AS a''')
    >>> year, area = form_fields(t, BindingContext(today=date(2026, 11, 2), areas=("E06000002",)))
    >>> year.input, year.value, year.minimum
    ('number', '2025', 2000.0)
    >>> area.input, area.choices, area.value
    ('select', ('E06000002',), 'E06000002')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from gateway.errors import GatewayError
from gateway.templates.format import Parameter, Template
from gateway.templates.params import BindingContext, resolve_default

__all__ = ["FormField", "InputKind", "form_fields"]

InputKind = Literal["select", "text", "number", "month", "date"]
_MAX_CHOICES = 500


@dataclass(frozen=True)
class FormField:
    """One parameter as a form field.

    Attributes:
        name: the parameter's name (the form field's name).
        label: what the person reads (the parameter's description, else its name).
        input: the kind of input.
        value: the value to show (a submitted one, else the resolved default, else empty).
        choices: the options of a select.
        required: whether the run needs a value.
        minimum, maximum: bounds of a number input.
        step: ``1`` for whole numbers, ``any`` otherwise.
        hint: the type in words (``a month like 2025-04``).
    """

    name: str
    label: str
    input: InputKind
    value: str = ""
    choices: tuple[str, ...] = ()
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    step: str = "1"
    hint: str = ""


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.strftime("%Y-%m") if kind == "month" else value.isoformat()
    return str(value)


def _default(parameter: Parameter, context: BindingContext, where: str) -> str:
    """The resolved default as text; empty when there is none or it cannot be resolved (e.g.
    ``@my_area`` for a person with several areas: they choose)."""
    if parameter.default is None:
        return ""
    try:
        return _text(resolve_default(parameter, context, where), parameter.type)
    except GatewayError:
        return ""


def _choices(parameter: Parameter, context: BindingContext) -> tuple[str, ...]:
    if parameter.type == "boolean":
        return ("yes", "no")
    if parameter.allowed:
        return tuple(_text(v, parameter.type) for v in parameter.allowed)
    if parameter.domain:
        values = sorted(context.domain(parameter.domain))[:_MAX_CHOICES]
        return (*parameter.extra, *values)
    if parameter.type == "area_code" and parameter.scope == "authority":
        return tuple(context.areas)
    return ()


_HINTS = {
    "month": "a month like 2025-04",
    "date": "a date like 2025-04-01",
    "integer": "a whole number",
    "number": "a number",
    "area_code": "an LSOA, ward, neighbourhood or authority code within your areas",
}


def form_fields(
    template: Template, context: BindingContext, given: Mapping[str, str] | None = None
) -> list[FormField]:
    """The template's parameters as form fields, in declaration order, showing ``given``
    values (a submitted form) over the defaults.

    Raises:
        GatewayError: a reference domain could not be read (the service refused it).
    """
    given = given or {}
    fields: list[FormField] = []
    for p in template.parameters:
        where = f"template {template.name}: parameter {p.name!r}"
        choices = _choices(p, context)
        value = given.get(p.name, _default(p, context, where))
        kind: InputKind
        if choices:
            kind = "select"
        elif p.type in ("month", "date"):
            kind = p.type
        elif p.type in ("integer", "number"):
            kind = "number"
        else:
            kind = "text"
        fields.append(
            FormField(
                name=p.name,
                label=p.description or p.name.replace("_", " "),
                input=kind,
                value=value,
                choices=choices,
                required=p.required and p.default is None,
                minimum=p.minimum,
                maximum=p.maximum,
                step="1" if p.type == "integer" else "any",
                hint=_HINTS.get(p.type, ""),
            )
        )
    return fields
