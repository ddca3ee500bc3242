"""DuckDB errors turned into gateway errors whose messages never echo data values.

DuckDB's messages quote the values they choke on ("Could not convert string 'x122881' to
INT32", ``error(<column>)`` raises the column's value as its message), so a message is never
passed through. What survives is an allowlist: the error's kind, a fixed explanation, and for
binder and catalog errors the identifiers named in a few known message shapes — or, for other
binder errors ("Cannot mix aggregates with non-aggregated columns", "Cannot compare values of
type TIMESTAMP and type INTEGER_LITERAL"), the engine's first sentence scrubbed by
:func:`scrub_message`: every quoted string that is not an identifier or a function signature
becomes ``'…'``, every number outside a type name goes, and candidate lists are dropped. The
service then keeps only names the analyst may see (:mod:`gateway.rewrite.explain`).

    DuckDB error (class, or message prefix when it surfaced through Arrow)   gateway error
    ─────────────────────────────────────────────────────────────────────   ──────────────
    Interrupt (or our timer fired)                                          QueryTimeout
    OutOfMemory                                                             ResourceLimit
    Parser / Syntax                                                         SqlParseError
    Binder, Catalog (known shapes keep their identifiers)                   ColumnNotFound,
                                                                            TableNotFound,
                                                                            QueryError
    Conversion, InvalidInput, OutOfRange, every other data-dependent one    QueryError
    Permission                                                              StatementNotAllowed
    Fatal, Internal (the connection is no longer trustworthy)               GatewayError

Example:
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> try:
    ...     con.sql("SELECT 'x122881'::INTEGER").fetchall()
    ... except duckdb.Error as exc:
    ...     err = translate_error(exc, timed_out=False, timeout_s=5, memory_limit_mb=256)
    >>> type(err).__name__, "x122881" in str(err)
    ('QueryError', False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.engines.memory import memory_exceeded
from gateway.errors import (
    ColumnNotFound,
    GatewayError,
    QueryError,
    QueryTimeout,
    SqlParseError,
    StatementNotAllowed,
    TableNotFound,
)

__all__ = ["EngineFailure", "describe_failure", "error_kind", "scrub_message", "translate_error"]

# Message prefixes DuckDB puts before every error text; an error raised while Arrow pulls
# batches arrives as a pyarrow OSError/ArrowInvalid that keeps only this text.
_PREFIX_TO_KIND = {
    "Binder Error": "Binder",
    "Catalog Error": "Catalog",
    "Constraint Error": "Constraint",
    "Conversion Error": "Conversion",
    "Dependency Error": "Dependency",
    "FATAL Error": "Fatal",
    "INTERNAL Error": "Internal",
    "INTERRUPT Error": "Interrupt",
    "Invalid Error": "InvalidInput",
    "Invalid Input Error": "InvalidInput",
    "Invalid type Error": "InvalidType",
    "Not implemented Error": "NotImplemented",
    "Out of Memory Error": "OutOfMemory",
    "Out of Range Error": "OutOfRange",
    "Parser Error": "Parser",
    "Permission Error": "Permission",
    "Sequence Error": "Sequence",
    "Syntax Error": "Syntax",
    "TransactionContext Error": "Transaction",
    "Type Error": "TypeMismatch",
}

# Fixed explanations for errors whose text may carry data values.
_DATA_ERRORS = {
    "Conversion": "a value could not be converted to the requested type (a cast or "
    "comparison failed on some row); use TRY_CAST to turn failures into NULL",
    "OutOfRange": "a computed value was out of range for its type (overflow)",
    "InvalidInput": "a function or operator was given input it cannot process on some row "
    "(for example division by zero, a malformed pattern or an invalid argument)",
    "TypeMismatch": "values of incompatible types were combined",
    "InvalidType": "values of incompatible types were combined",
    "Constraint": "the query violated a constraint",
    "NotImplemented": "the query uses a feature the engine does not implement",
}

_IDENT = r'"?([A-Za-z_][A-Za-z0-9_]{0,62})"?'
_COLUMN_SHAPES = (
    re.compile(rf"^Referenced column {_IDENT} not found"),
    re.compile(rf"^Table {_IDENT} does not have a column named {_IDENT}"),
)
_TABLE_SHAPE = re.compile(rf"^Table with name {_IDENT} does not exist")
_FUNCTION_MISSING = re.compile(rf"^(?:Scalar |Aggregate |Table )?Function with name {_IDENT} does")
_FUNCTION_TYPES = re.compile(rf"^No function matches the given name and argument types '{_IDENT}\(")
_GROUP_BY = re.compile(rf"^column {_IDENT} must appear in the GROUP BY clause")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TYPE = r"[A-Z][A-Z0-9_]*(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?"
_SIGNATURE = re.compile(rf"^[A-Za-z_+\-*/%<>=!|&^~]{{1,40}}\(({_TYPE}(?:, {_TYPE})*)?\)$")
_SINGLE = re.compile(r"'([^']*)'")
_DOUBLE = re.compile(r'"([^"]*)"')
_NUMBER = re.compile(r"(?<![A-Za-z_(,])\b\d+(?:\.\d+)?\b")
_MAX_MESSAGE = 240


def scrub_message(text: str) -> str:
    r"""The engine's message with no values in it: its first line, quoted strings kept only when
    they are identifiers or function signatures, numbers dropped, candidate lists cut.

    Example:
        >>> scrub_message("Cannot compare values of type TIMESTAMP and type INTEGER_LITERAL - an "
        ...               "explicit cast is required")
        'Cannot compare values of type TIMESTAMP and type INTEGER_LITERAL - an explicit cast is required'
        >>> scrub_message("Could not choose a best candidate function for the function call "
        ...               '"+(STRING_LITERAL, INTEGER_LITERAL)". In order to select one, please add')
        'Could not choose a best candidate function for the function call "+(STRING_LITERAL, INTEGER_LITERAL)"'
        >>> scrub_message('value \'x1228\' in column "my secret" at 42 is bad')
        'value \'…\' in column "…" at … is bad'
    """
    first = text.split("\n", 1)[0]
    for cut in (". In order to", ". You might need", " Candidate", ". Either add"):
        first = first.split(cut, 1)[0]
    first = _SINGLE.sub(lambda m: m.group(0) if _SIGNATURE.match(m.group(1)) else "'…'", first)
    first = _DOUBLE.sub(
        lambda m: m.group(0) if _NAME.match(m.group(1)) or _SIGNATURE.match(m.group(1)) else '"…"',
        first,
    )
    first = _NUMBER.sub("…", first).strip().rstrip("!.")
    return first if len(first) <= _MAX_MESSAGE else first[: _MAX_MESSAGE - 1] + "…"


@dataclass(frozen=True)
class EngineFailure:
    """A translated error plus what it means for the worker that raised it.

    Attributes:
        error: the gateway error to raise to the caller.
        worker_unhealthy: True when the connection must not be reused (fatal/internal).
    """

    error: GatewayError
    worker_unhealthy: bool


def error_kind(exc: BaseException) -> str:
    """The DuckDB error kind (``"Conversion"``, ``"Binder"`` …) or ``""`` if not DuckDB's.

    Example:
        >>> error_kind(OSError("INTERRUPT Error: Interrupted!"))
        'Interrupt'
    """
    name = type(exc).__name__
    if type(exc).__module__.startswith(("duckdb", "_duckdb")) and name.endswith("Exception"):
        return name.removesuffix("Exception")
    head = str(exc).split(":", 1)[0].strip()
    return _PREFIX_TO_KIND.get(head, "")


def translate_error(
    exc: BaseException, *, timed_out: bool, timeout_s: float, memory_limit_mb: int
) -> GatewayError:
    """Map a DuckDB (or Arrow-wrapped DuckDB) exception to a safe gateway error.

    Args:
        exc: the exception the engine raised.
        timed_out: True when the worker's timer interrupted the query.
        timeout_s: the query's time limit, for the message.
        memory_limit_mb: the query's memory limit, for the message.

    Returns:
        A :class:`~gateway.errors.GatewayError` whose message holds no data values.

    Example:
        >>> translate_error(OSError("Out of Memory Error: failed to allocate"),
        ...                 timed_out=False, timeout_s=5, memory_limit_mb=256).code
        'resource_limit'
    """
    return describe_failure(
        exc, timed_out=timed_out, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb
    ).error


def describe_failure(
    exc: BaseException, *, timed_out: bool, timeout_s: float, memory_limit_mb: int
) -> EngineFailure:
    """Like :func:`translate_error`, also saying whether the worker must be replaced."""
    kind = error_kind(exc)
    if timed_out or kind == "Interrupt":
        return EngineFailure(
            QueryTimeout(f"the query ran longer than its time limit of {timeout_s:g} s"), False
        )
    if kind == "OutOfMemory":
        return EngineFailure(memory_exceeded(memory_limit_mb), False)
    if kind in ("Fatal", "Internal"):
        return EngineFailure(
            GatewayError("the engine failed internally; its worker has been replaced"), True
        )
    if kind in ("Parser", "Syntax"):
        return EngineFailure(SqlParseError("the engine could not parse the query"), False)
    if kind in ("Binder", "Catalog"):
        return EngineFailure(_binder_error(_first_line(exc)), False)
    if kind == "Permission":
        return EngineFailure(
            StatementNotAllowed("the query tried to use an engine feature that is disabled"),
            False,
        )
    explanation = _DATA_ERRORS.get(kind, "the engine could not run the query")
    return EngineFailure(QueryError(explanation), False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0]
    return text.split(": ", 1)[1] if ": " in text else text


def _binder_error(text: str) -> GatewayError:
    for shape in _COLUMN_SHAPES:
        if m := shape.match(text):
            column = m.group(m.lastindex or 1)
            return ColumnNotFound(f'column "{column}" not found')
    if m := _TABLE_SHAPE.match(text):
        return TableNotFound(f'table "{m.group(1)}" does not exist')
    if m := _FUNCTION_MISSING.match(text):
        return QueryError(f'function "{m.group(1)}" does not exist')
    if m := _FUNCTION_TYPES.match(text):
        return QueryError(f'function "{m.group(1)}" does not accept arguments of these types')
    if m := _GROUP_BY.match(text):
        return QueryError(
            f'column "{m.group(1)}" must appear in the GROUP BY clause or inside an aggregate'
        )
    return QueryError(f"the engine could not bind the query: {scrub_message(text)}")
