"""Pass 5: named parameters (``$name``) must match the values supplied, and values must be plain
data. Values are bound by the engine, never formatted into SQL text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Mapping

from sqlglot import exp

from gateway.errors import ParameterError
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.guard import position_of

__all__ = ["check_parameter_values", "check_parameters"]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SCALARS = (str, int, float, bool, decimal.Decimal, dt.date, dt.datetime, type(None))
MAX_LIST = 10_000


def _check_value(name: str, value: object) -> None:
    if isinstance(value, list | tuple):
        if len(value) > MAX_LIST:
            raise ParameterError(f"parameter ${name}: lists may hold at most {MAX_LIST:,} values")
        for item in value:
            if not isinstance(item, _SCALARS):
                raise ParameterError(f"parameter ${name}: list items must be plain values")
        return
    if not isinstance(value, _SCALARS):
        raise ParameterError(
            f"parameter ${name}: must be text, a number, true/false, a date, null or a list of those"
        )
    if isinstance(value, float) and value != value:  # NaN
        raise ParameterError(f"parameter ${name}: NaN is not a value")


def check_parameter_values(params: Mapping[str, object]) -> dict[str, object]:
    """Lower-cased names and plain values (raises ParameterError otherwise)."""
    supplied = {str(k).lower(): v for k, v in params.items()}
    for name, value in supplied.items():
        _check_value(name, value)
    return supplied


def check_parameters(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Refuse positional, unknown or missing parameters and non-plain values."""
    used: set[str] = set()
    for node in tree.find_all(exp.Placeholder):
        name = str(node.name or "")
        if not name or name.isdigit():
            raise ParameterError(
                "positional parameters (? or $1) are not supported; use named ones like $area",
                position=position_of(node),
            )
        name = name.lower()
        if not _NAME.match(name):
            raise ParameterError(f"invalid parameter name ${name}", position=position_of(node))
        node.set("this", name)
        used.add(name)
    supplied = {str(k).lower(): v for k, v in ctx.params.items()}
    missing = sorted(used - set(supplied))
    if missing:
        raise ParameterError(
            f"no value supplied for parameter(s): {', '.join('$' + m for m in missing)}"
        )
    unused = sorted(set(supplied) - used)
    if unused:
        raise ParameterError(
            f"parameter(s) not used by the query: {', '.join('$' + u for u in unused)}"
        )
    check_parameter_values(supplied)
    _list_membership(tree, supplied)
    ctx.placeholders = used
    ctx.params = supplied
    return tree


def _list_membership(tree: exp.Expr, supplied: dict[str, object]) -> None:
    """``x IN ($areas)`` with a list value means membership: bind it as ``list_contains``."""
    for node in list(tree.find_all(exp.In)):
        items = node.expressions
        single = items[0] if len(items) == 1 else None
        if isinstance(single, exp.Placeholder) and isinstance(
            supplied.get(str(single.name).lower()), list | tuple
        ):
            node.replace(exp.ArrayContains(this=single.copy(), expression=node.this.copy()))
