"""Column masks as SQL expressions (sqlglot ASTs) that the engine evaluates, vectorised.

Each mask kind is a function ``(column, spec, context) -> expression`` over the *raw* column of
the base table. Masks are trusted code: they must never raise on any stored value (so they
cannot become an error oracle), and their output must not be reversible.

The keyed pseudonym is a real HMAC-SHA256 computed by the engine. The key never appears in SQL
text: the engine holds the HMAC's inner and outer padded keys as session variables
(:func:`pseudonym_session_variables`), and a trusted macro defined before the engine's
configuration is locked (:data:`PSEUDONYM_MACRO`) is the only code that reads them. Generated
SQL calls the macro, so the engine can refuse ``getvariable`` in every statement it runs — even
a rewriter bug could not read the key.

Example:
    >>> from sqlglot import exp
    >>> from gateway.policy.model import MaskSpec
    >>> col = exp.column("easting", table="b")
    >>> mask_expression(col, "DOUBLE", MaskSpec("grid", {"metres": 100}), MaskContext("b")).sql("duckdb")
    '(FLOOR(b.easting / 100) * 100 + 50)'
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from gateway.policy.model import MaskSpec

__all__ = [
    "PSEUDONYM_FUNCTION",
    "PSEUDONYM_MACRO",
    "PSEUDONYM_VARIABLES",
    "MaskContext",
    "mask_expression",
    "pseudonym_python",
    "pseudonym_session_variables",
]

#: Session variable names holding the HMAC's padded keys (inner, outer).
PSEUDONYM_VARIABLES = ("gw_pseudonym_ipad", "gw_pseudonym_opad")
#: The macro computing HMAC-SHA256(key, message) as hex, defined in every engine session.
PSEUDONYM_FUNCTION = "gw_hmac_sha256"
PSEUDONYM_MACRO = (
    f"CREATE TEMP MACRO {PSEUDONYM_FUNCTION}(message) AS "
    f"sha256(getvariable('{PSEUDONYM_VARIABLES[1]}') || "
    f"unhex(sha256(getvariable('{PSEUDONYM_VARIABLES[0]}') || encode(message))))"
)
_PSEUDONYM_HEX_CHARS = 16
_BLOCK = 64  # SHA-256 block size


@dataclass(frozen=True)
class MaskContext:
    """Where a mask is evaluated.

    Attributes:
        base_alias: the alias of the base table in the policy subquery.
        vault: pseudonym domains available as precomputed lookups, ``{domain: value type}``,
            in the catalog ``vault_catalog`` (see :mod:`gateway.pseudonym_vault`); other
            domains are computed per row.
    """

    base_alias: str
    vault: Mapping[str, str] | None = None
    vault_catalog: str = "pseudonyms"


def pseudonym_session_variables(key: bytes) -> dict[str, bytes]:
    """The HMAC-SHA256 padded keys for ``key``, to hand to the engine as session variables."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return {
        PSEUDONYM_VARIABLES[0]: bytes(b ^ 0x36 for b in key),
        PSEUDONYM_VARIABLES[1]: bytes(b ^ 0x5C for b in key),
    }


def pseudonym_python(key: bytes, domain: str, value: object, prefix: str = "P") -> str:
    """The pseudonym the engine computes, computed in Python (for tests and exports)."""
    mac = hmac.new(key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{mac[:_PSEUDONYM_HEX_CHARS]}"


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: str) -> exp.Expr:
    return exp.Literal.string(value)


def _null_of(column_type: str) -> exp.Expr:
    return exp.Cast(this=exp.Null(), to=exp.DataType.build(column_type, dialect="duckdb"))


def _mask_null(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    return _null_of(ctype)


def _mask_redact(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    if ctype.upper() != "VARCHAR":
        return _null_of(ctype)
    value = str(spec.options.get("value", "[REDACTED]"))
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=col.copy(), expression=exp.Null()), true=exp.Null())],
        default=_text(value),
    )


def _mask_pseudonym(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    domain = str(spec.options["domain"])
    prefix = str(spec.options.get("prefix", "P"))
    message = exp.DPipe(
        this=_text(f"{domain}:"),
        expression=exp.Cast(this=col.copy(), to=exp.DataType.build("VARCHAR")),
        safe=True,
    )
    digest: exp.Expr
    if ctx.vault and domain in ctx.vault:
        lookup = (
            exp.select(exp.column("digest", table="v"))
            .from_(
                exp.Table(
                    this=exp.to_identifier(domain),
                    db=exp.to_identifier("main"),
                    catalog=exp.to_identifier(ctx.vault_catalog),
                    alias=exp.TableAlias(this=exp.to_identifier("v")),
                )
            )
            .where(
                exp.EQ(
                    this=exp.column("value", table="v"),
                    expression=exp.Cast(
                        this=col.copy(), to=exp.DataType.build(ctx.vault[domain], dialect="duckdb")
                    ),
                )
            )
        )
        digest = exp.Subquery(this=lookup)
    else:
        mac = _fn(PSEUDONYM_FUNCTION, message)
        digest = exp.Anonymous(
            this="left", expressions=[mac, exp.Literal.number(_PSEUDONYM_HEX_CHARS)]
        )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=col.copy(), expression=exp.Null()), true=exp.Null())],
        default=exp.DPipe(this=_text(prefix), expression=digest, safe=True),
    )


def _mask_truncate_date(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    unit = str(spec.options["unit"])
    truncated = _fn("date_trunc", _text(unit), col.copy())
    return exp.Cast(this=truncated, to=exp.DataType.build(ctype, dialect="duckdb"))


def _mask_age_band(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    bands: list[int] = list(spec.options.get("bands", [0, 10, 18, 25, 35, 45, 55, 65]))
    age = _fn("date_sub", _text("year"), col.copy(), exp.CurrentDate())
    ifs = []
    for low, high in itertools.pairwise(bands):
        ifs.append(
            exp.If(
                this=exp.LT(this=age.copy(), expression=exp.Literal.number(high)),
                true=_text(f"{low}-{high - 1}"),
            )
        )
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=col.copy(), expression=exp.Null()), true=exp.Null()),
            exp.If(
                this=exp.LT(this=age.copy(), expression=exp.Literal.number(bands[0])),
                true=exp.Null(),
            ),
            *ifs,
        ],
        default=_text(f"{bands[-1]}+"),
    )


_POSTCODE = r"^\s*([A-Za-z]{1,2}[0-9][A-Za-z0-9]?)\s*([0-9])[A-Za-z]{2}\s*$"


def _mask_postcode_sector(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    # Only well-formed postcodes yield a sector; anything else (typos, free text) becomes NULL.
    return exp.Case(
        ifs=[
            exp.If(
                this=_fn("regexp_full_match", col.copy(), _text(_POSTCODE)),
                true=exp.Upper(
                    this=_fn("regexp_replace", col.copy(), _text(_POSTCODE), _text(r"\1 \2"))
                ),
            )
        ],
        default=exp.Null(),
    )


def _mask_grid(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    metres = int(spec.options["metres"])
    cell = exp.Mul(
        this=exp.Floor(this=exp.Div(this=col.copy(), expression=exp.Literal.number(metres))),
        expression=exp.Literal.number(metres),
    )
    return exp.Paren(this=exp.Add(this=cell, expression=exp.Literal.number(metres // 2)))


def _mask_map_point(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    field = str(spec.options["field"])
    point = exp.to_identifier("mp")
    select = (
        exp.select(exp.column(field, table="mp"))
        .from_(
            exp.Table(
                this=exp.to_identifier("map_point"),
                db=exp.to_identifier("main"),
                alias=exp.TableAlias(this=point),
            )
        )
        .where(
            exp.EQ(
                this=exp.column("map_point_id", table="mp"),
                expression=exp.column("map_point_id", table=ctx.base_alias),
            )
        )
    )
    value: exp.Expr = exp.Subquery(this=select)
    if field == "name":
        value = exp.DPipe(this=_text("On or near "), expression=value, safe=True)
    return value


def _mask_last_n(col: exp.Expr, ctype: str, spec: MaskSpec, ctx: MaskContext) -> exp.Expr:
    n = int(spec.options["n"])
    length = exp.Length(this=col.copy())
    stars = _fn("repeat", _text("*"), exp.Sub(this=length.copy(), expression=exp.Literal.number(n)))
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=col.copy(), expression=exp.Null()), true=exp.Null()),
            exp.If(
                this=exp.LTE(this=length.copy(), expression=exp.Literal.number(n)),
                true=_fn("repeat", _text("*"), length.copy()),
            ),
        ],
        default=exp.DPipe(
            this=stars,
            expression=exp.Right(this=col.copy(), expression=exp.Literal.number(n)),
            safe=True,
        ),
    )


_BUILDERS: Mapping[str, Callable[[exp.Expr, str, MaskSpec, MaskContext], exp.Expr]] = {
    "null": _mask_null,
    "redact": _mask_redact,
    "pseudonym": _mask_pseudonym,
    "truncate_date": _mask_truncate_date,
    "age_band": _mask_age_band,
    "postcode_sector": _mask_postcode_sector,
    "grid": _mask_grid,
    "map_point": _mask_map_point,
    "last_n": _mask_last_n,
}


def mask_expression(
    column: exp.Expr,
    column_type: str,
    spec: MaskSpec,
    ctx: MaskContext,
    show_when: Any = None,
) -> exp.Expr:
    """The SQL expression producing the masked value of ``column``.

    ``show_when`` is the parsed ``spec.show_when`` predicate (already qualified to the base
    alias) when the mask has one: the raw value is shown only where it is TRUE.
    """
    if spec.kind == "show":
        return column.copy()
    masked = _BUILDERS[spec.kind](column, column_type, spec, ctx)
    if show_when is not None:
        return exp.Case(ifs=[exp.If(this=show_when, true=column.copy())], default=masked)
    return masked
