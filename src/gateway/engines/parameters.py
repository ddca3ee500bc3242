"""Named query parameters: checked against the statement, then bound by DuckDB as data.

A parameter value is never written into SQL text; DuckDB binds it, so a value such as
``"x'; DROP TABLE crime; --"`` is just a string. This module only checks that the names
match the statement's ``$name`` markers exactly and that every value is a plain scalar (or a
list of them) that can cross to a worker process and that DuckDB binds predictably.

Example:
    >>> bind_parameters({"area": "E06000002"}, frozenset({"area"}))
    (('area', 'E06000002'),)
    >>> bind_parameters({}, frozenset({"area"}))
    Traceback (most recent call last):
    ...
    gateway.errors.ParameterError: no value given for parameter $area
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal

from gateway.errors import ParameterError

__all__ = ["bind_parameters"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SCALARS = (
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    Decimal,
    dt.date,
    dt.datetime,
    dt.time,
    dt.timedelta,
    uuid.UUID,
)


def bind_parameters(
    params: Mapping[str, object], expected: frozenset[str]
) -> tuple[tuple[str, object], ...]:
    """Check ``params`` against the statement's parameter names; return them as pairs.

    Args:
        params: name → value, as the caller gave them (names without ``$``).
        expected: the ``$name`` markers in the statement.

    Returns:
        ``(name, value)`` pairs in name order, ready to send to a worker.

    Raises:
        gateway.errors.ParameterError: a name is missing, extra or malformed, or a value is
            not a supported type.
    """
    for name in sorted(expected):
        if not _NAME.match(name):
            raise ParameterError("use named parameters ($name) only, not positional ones (?)")
        if name not in params:
            raise ParameterError(f"no value given for parameter ${name}")
    for name, value in params.items():
        if name not in expected:
            raise ParameterError(f"the query has no parameter ${name}")
        if not _supported(value):
            raise ParameterError(
                f"parameter ${name} has an unsupported type ({type(value).__name__}); use "
                "text, numbers, booleans, dates, times, bytes, UUIDs or lists of them"
            )
    return tuple((name, _plain(params[name])) for name in sorted(params))


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _supported(value: object) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(item, _SCALARS) for item in value)
    return isinstance(value, _SCALARS)
