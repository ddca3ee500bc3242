"""Pass 7: cap the number of rows a query can return.

The cap is one more than the level's ``max_rows`` so the engine can tell "exactly max_rows"
from "more, truncated". A literal LIMIT at or under the cap is kept; anything else is capped,
wrapping the query when its own LIMIT is an expression or parameter.
"""

from __future__ import annotations

from sqlglot import exp

from gateway.rewrite.context import RewriteContext

__all__ = ["cap_rows"]


def _literal_limit(tree: exp.Expr) -> int | bool | None:
    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return False  # present but not a literal


def cap_rows(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    if ctx.max_rows is None:
        return tree
    cap = ctx.max_rows + 1
    assert isinstance(tree, exp.Query)
    current = _literal_limit(tree)
    if current is None and not tree.args.get("offset"):
        return tree.limit(cap, copy=False)
    if isinstance(current, int) and not isinstance(current, bool):
        if current > cap:
            tree.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return tree
    wrapped = exp.select("*").from_(
        exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier("__gw_capped")))
    )
    return wrapped.limit(cap, copy=False)
