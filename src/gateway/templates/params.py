"""Parameter validation and binding: caller's values (text from a command line, JSON values from
the API) → typed values the engine binds as ``$name`` parameters.

Every problem is a :class:`~gateway.errors.ParameterError` that names the template and the
parameter: unknown parameter, wrong type, value not allowed, value out of range, missing
required value.

Relative defaults count back from the *data month*: the month after the last complete month
that has data (``@month-1`` is that last complete month, so a default period never compares a
part-month or a month without data against full ones). ``@month`` (first day of the data month),
``@month-N`` (N months earlier), ``@year`` and ``@year-N`` use it; ``@today`` is the service's
date, and ``@my_area`` the caller's local authority, when they have exactly one. Without a data
month (no warehouse to ask) the service's current month is used.

Example:
    >>> from datetime import date
    >>> from gateway.templates.format import parse_template
    >>> t = parse_template("t", '''-- title = "T"
    ... -- [parameters.year]
    ... -- type = "integer"
    ... -- default = "@year-1"
    ... SELECT $year AS y''')
    >>> ctx = BindingContext(today=date(2026, 11, 22), areas=("E06000002",))
    >>> bind_parameters(t, {}, ctx), bind_parameters(t, {"year": "2024"}, ctx)
    ({'year': 2025}, {'year': 2024})
    >>> data_ends_october = BindingContext(today=date(2026, 12, 4), data_month=lambda: date(2026, 11, 1))
    >>> m = parse_template("m", '''-- title = "M"
    ... -- [parameters.end_month]
    ... -- type = "month"
    ... -- default = "@month-1"
    ... SELECT $end_month AS m''')
    >>> bind_parameters(m, {}, data_ends_october)
    {'end_month': datetime.date(2026, 10, 1)}
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from gateway.errors import ParameterError
from gateway.templates.format import Parameter, Template

__all__ = [
    "BindingContext",
    "bind_parameters",
    "data_month_after",
    "parse_assignments",
    "resolve_default",
]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_AREA = re.compile(r"^[A-Z0-9]{2,16}$")
_RELATIVE = re.compile(r"^@(today|month|year|my_area)(?:-(\d{1,3}))?$")
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}
MAX_TEXT = 200


def _no_domain(name: str) -> frozenset[str]:
    raise ParameterError(f"no catalogue is available to check values against {name}")


def _no_areas() -> Mapping[str, str]:
    raise ParameterError("no catalogue of area codes is available")


@dataclass(frozen=True)
class BindingContext:
    """What binding needs to know about the caller and the warehouse.

    Attributes:
        today: the service's date (``@today``).
        areas: local authority codes the caller may see for this purpose.
        domain: ``"table.column"`` → the values of that reference column.
        area_codes: every LSOA, ward, neighbourhood and authority code → its authority.
        data_month: first day of the month after the last complete month with data (asked
            only when a month or year default needs it); None: the month of ``today``.
    """

    today: date
    areas: tuple[str, ...] = ()
    domain: Callable[[str], frozenset[str]] = field(default=_no_domain)
    area_codes: Callable[[], Mapping[str, str]] = field(default=_no_areas)
    data_month: Callable[[], date] | None = None

    def anchor_month(self) -> date:
        """The month relative defaults count back from (its first day)."""
        return self.data_month() if self.data_month is not None else _month_start(self.today, 0)


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``["year=2025", "area=E06000002"]`` → ``{"year": "2025", "area": "E06000002"}``.

    Raises:
        ParameterError: an item without ``=`` or a name given twice.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"--param {pair!r}: write it as name=value")
        if name in out:
            raise ParameterError(f"parameter {name!r} given twice")
        out[name] = value.strip()
    return out


def _month_start(today: date, back: int) -> date:
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def data_month_after(last_day: date | None, today: date) -> date:
    """The data month for data whose last recorded day is ``last_day``: the month after the
    last complete month with data, never later than the month of ``today``.

    Example:
        >>> data_month_after(date(2026, 10, 31), date(2026, 12, 4))  # October is complete
        datetime.date(2026, 11, 1)
        >>> data_month_after(date(2026, 11, 15), date(2026, 12, 4))  # November is not
        datetime.date(2026, 11, 1)
        >>> data_month_after(None, date(2026, 12, 4))  # no data: the calendar
        datetime.date(2026, 12, 1)
    """
    current = _month_start(today, 0)
    if last_day is None:
        return current
    return min(current, _month_start(last_day + timedelta(days=1), 0))


def resolve_default(parameter: Parameter, context: BindingContext, where: str) -> Any:
    """The parameter's default, with relative tokens resolved."""
    value = parameter.default
    if not isinstance(value, str) or not value.startswith("@"):
        return value
    match = _RELATIVE.match(value)
    if not match:
        raise ParameterError(f"{where}: unknown relative default {value!r}")
    anchor, back = match.group(1), int(match.group(2) or 0)
    if anchor == "today":
        return context.today
    if anchor == "month":
        return _month_start(context.anchor_month(), back)
    if anchor == "year":
        return context.anchor_month().year - back
    if len(context.areas) == 1:
        return context.areas[0]
    listed = ", ".join(context.areas) or "none"
    raise ParameterError(
        f"{where}: you have several areas ({listed}); choose one, e.g. "
        f"{parameter.name}={context.areas[0] if context.areas else 'E06000002'}"
    )


def _fail(where: str, message: str) -> ParameterError:
    return ParameterError(f"{where}: {message}")


def _coerce(parameter: Parameter, value: Any, where: str) -> Any:
    kind = parameter.type
    if value is None:
        raise _fail(where, "a value is required (not null)")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _fail(where, f"expected true or false, got {value!r}")
    if kind == "integer":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise _fail(where, f"expected a whole number, got {value!r}")
        try:
            return int(value) if not isinstance(value, str) else int(value.strip())
        except (TypeError, ValueError):
            raise _fail(where, f"expected a whole number, got {value!r}") from None
    if kind == "number":
        if isinstance(value, bool):
            raise _fail(where, f"expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _fail(where, f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise _fail(where, f"expected a finite number, got {value!r}")
        return number
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise _fail(where, f"expected a date like 2025-04-01, got {value!r}") from None
    if kind == "month":
        if isinstance(value, date):
            return date(value.year, value.month, 1)
        text = str(value).strip()
        if len(text) == 10 and text.endswith("-01"):  # the first day of a month, as ISO date
            text = text[:7]
        match = _MONTH.match(text)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise _fail(where, f"expected a month like 2025-04, got {value!r}")
        return date(int(match.group(1)), int(match.group(2)), 1)
    if not isinstance(value, str):
        raise _fail(where, f"expected text, got {value!r}")
    text = value.strip()
    if len(text) > MAX_TEXT:
        raise _fail(where, f"at most {MAX_TEXT} characters")
    if kind == "area_code":
        text = text.upper()
        if not _AREA.match(text):
            raise _fail(where, f"expected an area code like E06000002, got {value!r}")
    return text


def _check_allowed(parameter: Parameter, value: Any, context: BindingContext, where: str) -> None:
    numeric = parameter.type in ("integer", "number")
    if numeric and parameter.minimum is not None and value < parameter.minimum:
        raise _fail(where, f"must be at least {parameter.minimum:g}, got {value!r}")
    if numeric and parameter.maximum is not None and value > parameter.maximum:
        raise _fail(where, f"must be at most {parameter.maximum:g}, got {value!r}")
    if parameter.allowed and value not in parameter.allowed:
        choices = ", ".join(str(a) for a in parameter.allowed)
        raise _fail(where, f"{value!r} is not allowed; choose one of: {choices}")
    if parameter.domain and value not in parameter.extra:
        values = context.domain(parameter.domain)
        if value not in values:
            choices = ", ".join(sorted([*parameter.extra, *values])[:30])
            raise _fail(where, f"{value!r} is not allowed; choose one of: {choices}")
    if parameter.type == "area_code":
        _check_area(parameter, value, context, where)


def _check_area(parameter: Parameter, code: str, context: BindingContext, where: str) -> None:
    yours = ", ".join(context.areas) or "none"
    if parameter.scope == "authority":
        if code not in context.areas:
            raise _fail(where, f"{code} is not one of your areas ({yours})")
        return
    authority = context.area_codes().get(code)
    if authority is None:
        raise _fail(where, f"{code} is not an LSOA, ward, neighbourhood or authority code")
    if authority not in context.areas:
        raise _fail(where, f"{code} is outside your areas ({yours})")


def bind_parameters(
    template: Template, given: Mapping[str, Any], context: BindingContext
) -> dict[str, Any]:
    """Validate the caller's values and fill in defaults.

    Args:
        template: the template to run.
        given: name → value (text from a command line, or JSON values).
        context: the caller's areas, the date and the reference domains.

    Returns:
        Every declared parameter → its typed value (``date``, ``int``, ``float``, ``bool``,
        ``str``), ready to bind.

    Raises:
        ParameterError: naming the template and the parameter.
    """
    declared = {p.name for p in template.parameters}
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(
                f"template {template.name}: unknown parameter {name!r} (parameters: {known})"
            )
    bound: dict[str, Any] = {}
    for parameter in template.parameters:
        where = f"template {template.name}: parameter {parameter.name!r}"
        if parameter.name in given:
            value = _coerce(parameter, given[parameter.name], where)
        elif parameter.default is not None:
            value = _coerce(parameter, resolve_default(parameter, context, where), where)
        elif parameter.required:
            raise ParameterError(f"{where}: required ({_describe(parameter)})")
        else:
            continue
        _check_allowed(parameter, value, context, where)
        bound[parameter.name] = value
    return bound


def _describe(parameter: Parameter) -> str:
    examples = {
        "text": "text",
        "integer": "a whole number",
        "number": "a number",
        "date": "a date like 2025-04-01",
        "month": "a month like 2025-04",
        "area_code": "an area code like E06000002",
        "category": "one of its categories",
        "boolean": "true or false",
    }
    return f"give {examples[parameter.type]}, e.g. --param {parameter.name}=…"
