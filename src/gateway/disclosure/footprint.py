"""The footprint of a disclosure-controlled release: the *custom selections* defining its cells.

Under the cell key method the same records always get the same noise, so asking again, or for
the same cells in another shape, tells nothing new. Different record sets get independent
noise, though, and an analyst who can release many *different* sets that all contain one
small cell — ``lsoa_code IN (target, A)``, ``IN (target, B)``, … minus ``A``, ``B``, …; or many
month ranges around one month — can average the noise away. The cells of an analyst-written
statement are already defined only by published attributes compared with constants
(:mod:`gateway.rewrite.cells`); what remains free is *which constants*. This module reads them.

A **selection** is one attribute compared with constants: a set of values (``=``, ``IN``,
``OR`` of equalities on one attribute), an exclusion (``<>``, ``NOT IN``, ``IS NOT NULL``) or a
range (``<``, ``>=``, ``BETWEEN``; bounds on one attribute in one ``AND`` chain are merged).
Selections are **standard** when they define a cell that the published hierarchies define
anyway — one value (an area, a category, a flag, a month given as ``date_trunc``/``year()``),
or a range of exactly one calendar month, quarter or year — and **custom** otherwise: a list
of two or more values, an exclusion, any other range, a number threshold. Standard cells are
the hierarchy lattice the differencing adversary attacks (``tests/disclosure/test_adversary.py``)
and cost nothing; only custom selections go to the ledger (:mod:`gateway.disclosure.ledger`),
which bounds how many *different, overlapping* ones an analyst may be given.

Attributes are named without table qualifiers (``lsoa_code`` of ``crime`` and of ``lsoa`` name
the same areas); every area column (the catalog's ``area`` sensitivity) is one attribute,
``area``, whose values keep their column (``ward_code=E05…``): area lists at different levels
are taken to overlap (nesting is not worked out — the conservative reading). A function of a
column is its own attribute (``year(recorded_at)``).

Template runs are reviewed SQL whose cells vary only with their typed parameters, so their
footprint is read from the parameters (:func:`template_footprint`): the period their month
parameters span (standard when it is one month, quarter or calendar year), any list, and every
number or exact date (a grid size or an intervention date moves records between cells, so two
different values are taken to overlap).

Pure: no I/O.

Example:
    >>> sql = "SELECT count(*) AS n FROM crime WHERE lsoa_code IN ('E01', 'E02')"
    >>> [s.describe() for s in statement_footprint(sql, {}, frozenset({"lsoa_code"}))]
    ['area in {lsoa_code=E01, lsoa_code=E02}']
    >>> statement_footprint("SELECT count(*) AS n FROM crime WHERE lsoa_code = 'E01' "
    ...     "AND recorded_at >= DATE '2025-01-01' AND recorded_at < DATE '2025-04-01'",
    ...     {}, frozenset({"lsoa_code"}))
    frozenset()
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.simplify import simplify

from gateway.errors import NotProtectable

__all__ = ["AREA", "Selection", "base_attribute", "statement_footprint", "template_footprint"]

#: The one attribute every area column is read as.
AREA = "area"
#: Selection kinds.
VALUES, EXCEPT, RANGE, ANY = "values", "except", "range", "any"
_BOUNDS = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_FLIP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}


@dataclass(frozen=True, order=True)
class Selection:
    """One custom selection: an attribute and the constants that select on it.

    Attributes:
        attribute: the attribute (``area``, a column name, or a function of a column).
        kind: ``values`` (one of these), ``except`` (none of these), ``range`` (``values`` is
            ``(low, high)``, ``""`` for no bound) or ``any`` (a value that overlaps every other
            selection on the attribute: numbers and exact dates of templates).
        values: the constants, as canonical text, sorted (ranges: low then high).
    """

    attribute: str
    kind: str
    values: tuple[str, ...]

    def overlaps(self, other: Selection) -> bool:
        """Whether some record could be in both (always true across different kinds but
        two value sets, or an ``except`` and a set it covers).

        Example:
            >>> a = Selection("area", "values", ("lsoa_code=T", "lsoa_code=A"))
            >>> a.overlaps(Selection("area", "values", ("lsoa_code=B", "lsoa_code=T")))
            True
            >>> a.overlaps(Selection("area", "values", ("lsoa_code=B",)))
            False
            >>> Selection("m", "range", ("2025-01-01", "2025-03-01")).overlaps(
            ...     Selection("m", "range", ("2025-03-01", "")))
            True
        """
        if self.attribute != other.attribute:
            # one column read at two granularities (a day list, a month range): their cells
            # nest, so some record may be in both
            return base_attribute(self.attribute) == base_attribute(other.attribute)
        if self.kind == VALUES and other.kind == VALUES:
            if set(self.values) & set(other.values):
                return True
            return self.attribute == AREA and _columns(self.values) != _columns(other.values)
        if {self.kind, other.kind} == {VALUES, EXCEPT}:
            shown, hidden = (self, other) if self.kind == VALUES else (other, self)
            return not set(shown.values) <= set(hidden.values)
        if self.kind == RANGE and other.kind == RANGE:
            return _before(self.values[0], other.values[1]) and _before(
                other.values[0], self.values[1]
            )
        if {self.kind, other.kind} == {VALUES, RANGE}:
            points, span = (self, other) if self.kind == VALUES else (other, self)
            return any(_within(v, span.values) for v in points.values)
        return True

    def describe(self) -> str:
        """One line for messages and the audit record, e.g. ``area in {…}``."""
        if self.kind == RANGE:
            return f"{self.attribute} from {self.values[0] or '…'} to {self.values[1] or '…'}"
        if self.kind == ANY:
            return f"{self.attribute} = {self.values[0]}"
        word = "in" if self.kind == VALUES else "not in"
        return f"{self.attribute} {word} {{{', '.join(self.values)}}}"

    def to_json(self) -> str:
        return json.dumps([self.attribute, self.kind, list(self.values)], ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Selection:
        attribute, kind, values = json.loads(text)
        return cls(str(attribute), str(kind), tuple(str(v) for v in values))


def _columns(values: Iterable[str]) -> set[str]:
    return {v.split("=", 1)[0] for v in values}


def _order(value: str) -> tuple[int, Decimal | str]:
    try:
        return 0, Decimal(value)
    except InvalidOperation:
        return 1, value


def _before(low: str, high: str) -> bool:
    """``low <= high``, either side open (``""``); numbers as numbers, dates as ISO text."""
    if not low or not high:
        return True
    a, b = _order(low), _order(high)
    return a <= b if a[0] == b[0] else True


def _within(value: str, span: tuple[str, ...]) -> bool:
    return _before(span[0], value) and _before(value, span[1])


# --- analyst-written statements ------------------------------------------------------------


def statement_footprint(
    sql: str, params: Mapping[str, object], area_columns: frozenset[str]
) -> frozenset[Selection]:
    """The custom selections of an analyst's statement (parameters bound, constants folded).

    Args:
        sql: the statement as the analyst wrote it (it passed the rewrite).
        params: its parameter values.
        area_columns: the catalog's area columns (read as the one attribute ``area``).

    Raises:
        NotProtectable: the statement cannot be read (it passed the rewrite, so it should).

    Example:
        >>> sql = ("SELECT count(*) FILTER (WHERE police_uk_category <> 'drugs') AS n FROM crime "
        ...        "WHERE recorded_at >= $start AND recorded_at < $start + INTERVAL 2 MONTH")
        >>> for s in sorted(statement_footprint(sql, {"start": date(2025, 1, 1)}, frozenset())):
        ...     print(s.describe())
        police_uk_category not in {drugs}
        recorded_at from 2025-01-01 to 2025-03-01
    """
    try:
        tree = _bind(sqlglot.parse_one(sql, read="duckdb"), params)
    except (SqlglotError, ValueError, TypeError, RecursionError) as exc:
        raise NotProtectable(
            "disclosure control cannot read which constants this statement's cells are "
            "selected by; write it with plain comparisons of attributes with constants"
        ) from exc
    # A constant sqlglot cannot fold stays as text (a custom selection).
    with contextlib.suppress(SqlglotError, ValueError, TypeError, RecursionError):
        tree = simplify(tree.copy())
    found: set[Selection] = set()
    done: set[int] = set()
    for node in tree.walk():
        if id(node) in done:
            continue
        if isinstance(node, exp.And):
            found |= _conjunction(node, done, area_columns)
        elif isinstance(node, exp.Or):
            found |= _disjunction(node, done, area_columns)
        elif isinstance(node, exp.Not) and isinstance(node.this, exp.In | exp.Is):
            done.add(id(node.this))
            found |= _custom(_single(node.this, area_columns, negated=True))
        else:
            found |= _custom(_single(node, area_columns))
    return frozenset(found)


def _bind(tree: exp.Expr, params: Mapping[str, object]) -> exp.Expr:
    """Parameters as literals (a list inside ``IN (…)`` as its items)."""
    values = {str(k).lower(): v for k, v in params.items()}
    for node in list(tree.find_all(exp.Placeholder)):
        name = str(node.name or "").lower()
        if name not in values:
            continue
        value = values[name]
        parent = node.parent
        if isinstance(value, list | tuple):
            items = [_literal(v) for v in value]
            if isinstance(parent, exp.In) and len(parent.expressions) == 1:
                parent.set("expressions", items)
                continue
            node.replace(exp.Array(expressions=items))
            continue
        node.replace(_literal(value))
    return tree


def _literal(value: object) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    return exp.Literal.string(str(value))


def _custom(selection: Selection | None) -> set[Selection]:
    return set() if selection is None or _standard(selection) else {selection}


def _standard(selection: Selection) -> bool:
    if selection.kind == VALUES:
        return len(selection.values) == 1
    if selection.kind == RANGE:
        return _published_period(*selection.values)
    return False


def _published_period(low: str, high: str) -> bool:
    """``[low, high)`` is exactly one calendar month, quarter or year.

    Example:
        >>> _published_period("2025-04-01", "2025-07-01"), _published_period("2025-02-01", "2025-05-01")
        (True, False)
    """
    first, last = _month(low), _month(high)
    if first is None or last is None:
        return False
    span = last - first
    return span == 1 or (span == 3 and first % 3 == 0) or (span == 12 and first % 12 == 0)


def _month(value: str) -> int | None:
    """Months since year 0 of a first-of-month date (``2025-04-01``), else None."""
    text = value.removesuffix(" 00:00:00").removesuffix("T00:00:00")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day.year * 12 + day.month - 1 if day.day == 1 and len(text) == 10 else None


def _conjunction(node: exp.And, done: set[int], areas: frozenset[str]) -> set[Selection]:
    """Bounds on one attribute within one AND chain make one range; the other parts are
    read on their own as the walk reaches them."""
    low: dict[str, str] = {}
    high: dict[str, str] = {}
    bounded: dict[str, list[exp.Expr]] = defaultdict(list)
    for part in _chain(node, exp.And, done):
        bound = _bound(part, areas)
        if bound is None:
            continue
        attribute, side, value = bound
        bounded[attribute].append(part)
        if side == "low":
            low[attribute] = max(low.get(attribute, value), value, key=_order)
        else:
            high[attribute] = min(high.get(attribute, value), value, key=_order)
    found: set[Selection] = set()
    for attribute, parts in bounded.items():
        done.update(id(p) for p in parts)
        found |= _custom(
            Selection(attribute, RANGE, (low.get(attribute, ""), high.get(attribute, "")))
        )
    return found


def _disjunction(node: exp.Or, done: set[int], areas: frozenset[str]) -> set[Selection]:
    """Equalities on one attribute OR'ed together are one set of values; any other OR within
    one column (a month OR a day, a range OR a value) is one custom selection of its own on
    that column, overlapping every other (each different one is a different record set)."""
    parts = _chain(node, exp.Or, set())
    read = [_single(p, areas) for p in parts]
    if all(s is not None and s.kind == VALUES for s in read):
        attributes = {s.attribute for s in read if s is not None}
        if len(attributes) == 1:
            done.update(id(p) for p in parts)
            done.update(id(n) for n in _chain_nodes(node, exp.Or))
            values = sorted({v for s in read if s is not None for v in s.values})
            return _custom(Selection(attributes.pop(), VALUES, tuple(values)))
    columns = {c.name.lower() for part in parts for c in part.find_all(exp.Column)}
    if len(columns) != 1:
        return set()  # the cell rules allow OR within one column only
    done.update(id(n) for n in _chain_nodes(node, exp.Or))
    column = columns.pop()
    return {Selection(AREA if column in areas else column, ANY, (node.sql("duckdb"),))}


@functools.lru_cache(maxsize=1024)
def base_attribute(attribute: str) -> str:
    """The column an attribute reads (``year(recorded_at)`` → ``recorded_at``).

    Example:
        >>> base_attribute("year(recorded_at)"), base_attribute("CAST(recorded_at AS DATE)")
        ('recorded_at', 'recorded_at')
        >>> base_attribute("area")
        'area'
    """
    try:
        columns = {c.name.lower() for c in sqlglot.parse_one(attribute).find_all(exp.Column)}
    except (SqlglotError, ValueError, RecursionError):
        return attribute
    return columns.pop() if len(columns) == 1 else attribute


def _chain(node: exp.Expr, kind: type[exp.Expr], done: set[int]) -> list[exp.Expr]:
    """The operands of a chain of ``kind`` (parentheses looked through); the chain's own
    nodes are marked done."""
    out: list[exp.Expr] = []
    stack = [node]
    while stack:
        current = stack.pop()
        while isinstance(current, exp.Paren):
            done.add(id(current))
            current = current.this
        if isinstance(current, kind):
            done.add(id(current))
            stack.extend([current.expression, current.this])
        else:
            out.append(current)
    return out


def _chain_nodes(node: exp.Expr, kind: type[exp.Expr]) -> list[exp.Expr]:
    marks: set[int] = set()
    _chain(node, kind, marks)
    return [n for n in node.walk() if id(n) in marks]


def _attribute(node: exp.Expr, areas: frozenset[str]) -> str | None:
    """The attribute an expression reads (one column, maybe under functions), or None."""
    columns = list(node.find_all(exp.Column))
    if not columns or node.find(exp.Subquery, exp.Select) is not None:
        return None
    if len({c.name.lower() for c in columns}) != 1:
        return None
    if isinstance(node, exp.Column):
        name = node.name.lower()
        return AREA if name in areas else name
    bare = node.copy().transform(lambda n: exp.column(n.name) if isinstance(n, exp.Column) else n)
    return bare.sql("duckdb").lower()


def _constant(node: exp.Expr) -> str | None:
    """Canonical text of a constant expression, or None when it reads a column."""
    if node.find(exp.Column, exp.Subquery, exp.Select, exp.AggFunc) is not None:
        return None
    inner = node
    while isinstance(inner, exp.Cast | exp.Paren):
        inner = inner.this
    if isinstance(inner, exp.Null):
        return "NULL"
    if isinstance(inner, exp.Boolean):
        return "true" if inner.this else "false"
    if isinstance(inner, exp.Literal):
        text = str(inner.this)
        if not inner.is_string:
            return format(Decimal(text).normalize(), "f") if _order(text)[0] == 0 else text
        return text.removesuffix(" 00:00:00")
    if isinstance(inner, exp.Neg) and isinstance(inner.this, exp.Literal):
        return "-" + str(inner.this.this)
    return node.sql("duckdb")


def _sides(node: exp.Expr, areas: frozenset[str]) -> tuple[str, str, bool] | None:
    """``(attribute, constant, flipped)`` of a binary comparison of an attribute with a
    constant (flipped: the constant is on the left)."""
    left, right = node.this, node.expression
    attribute, value = _attribute(left, areas), _constant(right)
    if attribute is not None and value is not None:
        return attribute, _tagged(attribute, left, value), False
    attribute, value = _attribute(right, areas), _constant(left)
    if attribute is not None and value is not None:
        return attribute, _tagged(attribute, right, value), True
    return None


def _tagged(attribute: str, column: exp.Expr, value: str) -> str:
    """Area values keep their column (``ward_code=E05…``)."""
    if attribute == AREA and isinstance(column, exp.Column):
        return f"{column.name.lower()}={value}"
    return value


def _bound(node: exp.Expr, areas: frozenset[str]) -> tuple[str, str, str] | None:
    """``(attribute, low|high, value)`` of ``attribute <|<=|>|>= constant``."""
    if not isinstance(node, _BOUNDS):
        return None
    sides = _sides(node, areas)
    if sides is None:
        return None
    attribute, value, flipped = sides
    kind = _FLIP[type(node)] if flipped else type(node)
    return attribute, "low" if kind in (exp.GT, exp.GTE) else "high", value


def _single(node: exp.Expr, areas: frozenset[str], *, negated: bool = False) -> Selection | None:
    """The selection one comparison makes, or None when it is not attribute-vs-constant."""
    if isinstance(node, exp.In):
        attribute = _attribute(node.this, areas)
        if attribute is None or node.args.get("query") is not None:
            return None
        values = [_constant(e) for e in node.expressions]
        if any(v is None for v in values):
            return None
        tagged = sorted({_tagged(attribute, node.this, v) for v in values if v is not None})
        return Selection(attribute, EXCEPT if negated else VALUES, tuple(tagged))
    if isinstance(node, exp.Is):
        attribute = _attribute(node.this, areas)
        if attribute is None:
            return None
        return Selection(attribute, EXCEPT if negated else VALUES, ("NULL",))
    if isinstance(node, exp.EQ | exp.NullSafeEQ | exp.NEQ | exp.NullSafeNEQ):
        sides = _sides(node, areas)
        if sides is None:
            return None
        kind = EXCEPT if isinstance(node, exp.NEQ | exp.NullSafeNEQ) else VALUES
        return Selection(sides[0], kind, (sides[1],))
    if isinstance(node, exp.Between):
        attribute = _attribute(node.this, areas)
        low, high = _constant(node.args["low"]), _constant(node.args["high"])
        if attribute is None or low is None or high is None:
            return None
        return Selection(attribute, RANGE, (low, high))
    bound = _bound(node, areas)
    if bound is not None:
        attribute, side, value = bound
        return Selection(attribute, RANGE, (value, "") if side == "low" else ("", value))
    return None


# --- template runs -------------------------------------------------------------------------


def template_footprint(
    template: str, types: Mapping[str, str], params: Mapping[str, Any]
) -> frozenset[Selection]:
    """The custom selections of a template run, from its typed parameters: the period its
    month parameters span is the attribute ``period`` of every template (the same months
    select the same records); any other parameter is the template's own (``name.$param``).

    Args:
        template: the template's name.
        types: each parameter's type (``month``, ``date``, ``integer``, ``area_code`` …).
        params: the bound values.

    Example:
        >>> types = {"area": "area_code", "start_month": "month", "end_month": "month"}
        >>> run = {"area": "E06", "start_month": date(2025, 2, 1), "end_month": date(2026, 1, 1)}
        >>> [s.describe() for s in template_footprint("crime-by-area", types, run)]
        ['period from 2025-02-01 to 2026-02-01']
        >>> template_footprint("crime-by-area", types, {**run, "start_month": date(2025, 1, 1),
        ...                                             "end_month": date(2025, 12, 1)})
        frozenset()
    """
    found: set[Selection] = set()
    months = sorted(_iso(v) for k, v in params.items() if types.get(k) == "month" and v)
    if len(months) >= 2:
        found |= _custom(Selection("period", RANGE, (months[0], _next_month(months[-1]))))
    for name, value in sorted(params.items()):
        kind = types.get(name, "text")
        if isinstance(value, list | tuple):
            values = tuple(sorted(map(str, value)))
            found |= _custom(Selection(f"{template}.${name}", VALUES, values))
        elif kind in ("integer", "number", "date") and value is not None:
            found.add(Selection(f"{template}.${name}", ANY, (_iso(value),)))
    return frozenset(found)


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _next_month(value: str) -> str:
    day = date.fromisoformat(value[:10])
    return (
        date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    ).isoformat()
