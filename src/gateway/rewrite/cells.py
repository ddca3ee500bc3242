"""Pass 5a (analyst-written, disclosure-controlled statements only): cells from attributes.

The cell key method gives the same records the same noise, but *different* record sets get
independent noise. Free SQL can build many different record sets that all contain one small
target cell — ``count(*) FILTER (WHERE crime_id % 40 = i OR <target>)`` minus the same without
the target, for forty values of ``i`` — and the mean of the differences converges on the
target's true count (the averaging attack). This pass takes that freedom away where it comes
from: in a disclosure-controlled statement written by the analyst, every **cell** (what a
predicate keeps, what a grouping key tells apart) is defined by published attributes compared
with constants, in forms that cannot carve arbitrary subsets of records:

* **Columns.** Predicates and grouping keys may use catalogue attributes and areas (not flagged
  ``high_cardinality`` in ``warehouse.toml``). Record identifiers, person keys, direct
  identifiers, free text and exact locations appear only as join keys (``a.k = b.k``), as the
  argument of an aggregate (``count(DISTINCT crime_id)``) or as a bare column a subquery passes
  on (whose use is then checked where it is used).
* **Forms.** An attribute is compared with constants (literals, parameters, arithmetic on
  them): ``=``, ``<>``, ``IN (…)``, ``IS [NOT] NULL``; ranges only on numeric attributes. No
  arithmetic, string, hash or other function on a column, and no pattern (``LIKE``).
* **Dates** at published granularity or as fixed partitions only: ``date_trunc``/``strftime``
  to month, quarter or year, ``year()``/``quarter()``/``month()``, and ranges on a raw date
  whose bounds are first days of months (``recorded_at >= '2025-01-01' AND recorded_at <
  '2025-04-01'``); and each day, week, hour of the day or day of the week (a cast to DATE,
  ``date_trunc('day'|'week')``, ``hour()``, ``dayofweek()``, ``strftime`` to a day) as a
  grouping key or compared with ``=``/``IN`` — every day is one fixed record set with its own
  consistent noise (issue 14, finding 4's day × flag table), while a *range* of days, minutes,
  seconds or arithmetic on a time would choose records and stay refused.
* **Combinations.** ``AND`` freely; ``OR``, ``NOT`` and the ``WHEN`` conditions of one ``CASE``
  only within one column (``OR`` of two columns mixes a target with a partition). A condition
  is a condition: it may not be fed into arithmetic or a function (``greatest(a, b)`` is an OR).
* **No arbitrary cuts.** No sample, and no ``LIMIT``/``OFFSET`` but on the final result.
* **Counts are not attributes.** A count computed in a subquery may not be compared or grouped
  on (``WHERE k.n >= 3`` is a threshold probe of the exact count).

Templates are reviewed SQL with typed parameters and are not subject to this pass (their
runner does not ask for it); record-level queries without disclosure control are governed by
the access policy, not by this pass. What remains possible — many different IN-lists of areas
or month ranges, all containing one cell — still gives independent noise per list: that needs
a per-analyst budget on releases touching the same cell, which this pass does not provide.

Pure, no I/O: it checks a qualified copy and returns the tree unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date, datetime

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from gateway.catalog import Sensitivity
from gateway.errors import NotAggregate, NotProtectable
from gateway.rewrite.analyse import qualified_copy
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.guard import position_of

__all__ = ["check_cells"]


class Kind(enum.IntEnum):
    """What a column (or a subquery's output) is, for defining cells; worse is higher."""

    CONSTANT = 0
    ATTRIBUTE = 1  # a published attribute, area or a recoding of them
    DATETIME = 2  # an exact date/time: ranges on month boundaries or truncation only
    KEY = 3  # identifiers and anything high-cardinality: joins, aggregate arguments only
    COUNT = 4  # an aggregate computed in a subquery
    OPAQUE = 5  # anything else


_ATTRIBUTE_SENSITIVITIES = {Sensitivity.ATTRIBUTE, Sensitivity.AREA, Sensitivity.QUASI_IDENTIFIER}
_NUMERIC = ("INT", "DOUBLE", "DECIMAL", "FLOAT", "REAL", "NUMERIC", "BIGINT", "SMALLINT")
_GRANULES = {"MONTH", "QUARTER", "YEAR"}
#: Finer fixed partitions of time: each day, week, hour of the day or day of the week is a
#: fixed record set (its own consistent noise), never a choice of records.
_FINE = {"DAY", "WEEK", "HOUR", "DOW", "ISODOW", "DAYOFWEEK"}
_FINE_FUNCTIONS = (exp.Hour, exp.Day, exp.DayOfWeek, exp.DayOfWeekIso, exp.Dayname)
_DATE_PART = {"date_part", "datepart"}
_FORMATS = {"%Y", "%Y-%m", "%Y-%m-01", "%m", "%B", "%b", "%Y %B", "%B %Y"}
_FINE_FORMATS = {"%Y-%m-%d", "%d/%m/%Y", "%H", "%A", "%a", "%u", "%w"}
_EQUALITY = (exp.EQ, exp.NEQ, exp.In, exp.Is, exp.NullSafeEQ, exp.NullSafeNEQ)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between)
_LOGIC = (exp.And, exp.Or, exp.Not, exp.Xor, exp.Paren)
_CONDITION = (exp.Predicate, exp.Connector, exp.Not, exp.Xor)
_GROUPING = (exp.Group, exp.Rollup, exp.Cube, exp.GroupingSets, exp.Tuple)


def check_cells(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Refuse a cell defined otherwise than by published attributes (``not_protectable``)."""
    if not ctx.cell_rules:
        return tree
    if not any(_is_aggregate(select) for select in _branches(tree)):
        return tree  # record-level: disclosure control refuses it as such (not_aggregate)
    qualified = qualified_copy(tree, ctx)
    checker = _Cells(ctx)
    for scope in traverse_scope(qualified):
        for column in scope.columns:
            checker.column(column, scope)
    for cut in qualified.find_all(exp.Limit, exp.Offset, exp.Fetch, exp.TableSample):
        if cut.parent is not qualified or isinstance(cut, exp.TableSample):
            raise _refuse("a sample, LIMIT or OFFSET inside the query picks arbitrary records", cut)
    for combined in qualified.find_all(exp.Or, exp.Not, exp.Xor, exp.Case, exp.If):
        checker.one_column(combined)
    for condition in qualified.find_all(*_CONDITION):
        checker.condition(condition)
    return tree


def _refuse(message: str, node: exp.Expr) -> NotProtectable:
    return NotProtectable(
        f"disclosure control cannot protect this statement's cells: {message}. In a "
        "disclosure-controlled query, filters, FILTER/CASE conditions and grouping keys may "
        "only compare published attributes (categories, flags, area codes, months) with "
        "constants; use a template for anything finer",
        position=position_of(node),
    )


def _own_columns(node: exp.Expr) -> Iterator[exp.Column]:
    """Columns of ``node`` outside any nested subquery."""
    for column in node.find_all(exp.Column):
        if column.find_ancestor(exp.Query) is node.find_ancestor(exp.Query):
            yield column


def _constant(node: exp.Expr) -> bool:
    return not any(node.find_all(exp.Column, exp.Query, exp.AggFunc, exp.Window))


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        node = node.this
    return node


class _Cells:
    """The checks of one statement (memoised kinds of subquery outputs)."""

    def __init__(self, ctx: RewriteContext) -> None:
        self.ctx = ctx

    # --- kinds -----------------------------------------------------------------------------

    def kind(self, column: exp.Column, scope: Scope) -> tuple[Kind, str]:
        """The kind of a column and its type (upper case; empty when unknown)."""
        source = scope.sources.get(column.table)
        if isinstance(source, exp.Table):
            if str(source.db) not in ("", "main") or str(source.name) not in self.ctx.catalog:
                return Kind.OPAQUE, ""
            table = self.ctx.catalog.table(str(source.name))
            if column.name not in table.column_names:
                return Kind.OPAQUE, ""
            spec = table.column(column.name)
            kind = (
                Kind.DATETIME
                if spec.sensitivity is Sensitivity.DATETIME
                else Kind.ATTRIBUTE
                if spec.sensitivity in _ATTRIBUTE_SENSITIVITIES and not spec.high_cardinality
                else Kind.KEY
            )
            return kind, spec.type.upper()
        if isinstance(source, Scope):
            return self.output_kind(source, column.name)
        return Kind.OPAQUE, ""

    def output_kind(self, scope: Scope, name: str) -> tuple[Kind, str]:
        """The kind of a subquery's (or CTE's, or union's) output column ``name``."""
        query = scope.expression
        selects = list(_branches(query))
        if not selects:
            return Kind.OPAQUE, ""
        worst: tuple[Kind, str] = (Kind.CONSTANT, "")
        for select in selects:
            found = [p for p in select.expressions if p.alias_or_name == name]
            if not found and isinstance(query, exp.SetOperation):
                position = query.named_selects.index(name) if name in query.named_selects else -1
                found = (
                    [select.expressions[position]]
                    if 0 <= position < len(select.expressions)
                    else []
                )
            if len(found) != 1:
                return Kind.OPAQUE, ""
            here = self.expression_kind(_strip_alias(found[0]), _scope_of(scope, select))
            worst = max(worst, here, key=lambda k: k[0])
        return worst

    def expression_kind(self, node: exp.Expr, scope: Scope) -> tuple[Kind, str]:
        """The kind of a projected expression (its columns are checked where they stand)."""
        bare = _unwrap(node)
        if isinstance(bare, exp.Column):
            kind, type_ = self.kind(bare, scope)
            return (kind, type_)
        if any(bare.find_all(exp.Window)):
            return Kind.OPAQUE, ""
        if any(bare.find_all(exp.AggFunc)):
            return Kind.COUNT, ""
        if _constant(bare):
            return Kind.CONSTANT, ""
        # a truncated date, a recoding CASE, a condition: their columns passed the column
        # checks, which allow nothing finer than a published attribute
        return Kind.ATTRIBUTE, "BOOLEAN" if isinstance(bare, _CONDITION) else ""

    # --- one column where it stands ----------------------------------------------------------

    def column(self, column: exp.Column, scope: Scope) -> None:
        if _measured(column):
            return  # what an aggregate measures, not what defines a cell (classify judges it)
        kind, type_ = self.kind(column, scope)
        node: exp.Expr = column
        truncated = False
        while True:
            parent = node.parent
            if _granule(parent, node):
                node, truncated = parent, True  # type: ignore[assignment]
            elif isinstance(parent, exp.Paren | exp.Cast | exp.TryCast) or (
                isinstance(parent, exp.Coalesce) and all(_constant(e) for e in parent.expressions)
            ):
                node = parent
            else:
                break
        if truncated and kind is Kind.DATETIME:
            kind = Kind.ATTRIBUTE
        self._use(column, node, node.parent, kind, type_, scope)

    def _use(
        self,
        column: exp.Column,
        node: exp.Expr,
        parent: exp.Expr | None,
        kind: Kind,
        type_: str,
        scope: Scope,
    ) -> None:
        name = f"{column.table}.{column.name}" if column.table else column.name
        if kind is Kind.OPAQUE:
            raise _refuse(
                f"{name} is not a warehouse attribute disclosure control can follow", column
            )
        if isinstance(parent, exp.AggFunc | exp.Distinct):
            return  # what is counted or measured, not what defines a cell
        if isinstance(parent, exp.Ordered | exp.Order):
            return
        if isinstance(parent, (exp.Alias, exp.Select, exp.Window, *_GROUPING)):
            self._key(name, column, node, kind, scope)
            return
        if (isinstance(parent, exp.If) and node is not parent.this) or (
            isinstance(parent, exp.Case) and node is parent.args.get("default")
        ):
            if kind > Kind.ATTRIBUTE and not _in_aggregate(parent):
                raise _refuse(f"{name} is not a published attribute to recode", column)
            return
        if isinstance(parent, exp.Case) and node is parent.this:
            self._compare(name, column, kind, type_, parent, equality=True)
            return
        if isinstance(parent, _EQUALITY + _RANGE):
            other = [e for e in _operands(parent) if e is not node]
            if (
                isinstance(parent, exp.EQ)
                and len(other) == 1
                and isinstance(_unwrap(other[0]), exp.Column)
                and _unwrap(node) is column
                and kind in (Kind.KEY, Kind.ATTRIBUTE)
            ):
                partner = _unwrap(other[0])
                assert isinstance(partner, exp.Column)
                if partner.table != column.table:
                    return  # a join on keys (its partner is checked on its own)
            if not all(_constant(e) or _attribute_subquery(e) for e in other):
                raise _refuse(f"{name} is compared with something other than constants", column)
            if isinstance(parent, _RANGE) and kind is Kind.DATETIME and node is column:
                if not all(_month_boundary(e, self.ctx) for e in other):
                    raise _refuse(
                        f"a range on {name} must start and end on the first day of a month "
                        "(published granularity)",
                        column,
                    )
                return
            self._compare(name, column, kind, type_, parent, equality=isinstance(parent, _EQUALITY))
            return
        if isinstance(parent, (exp.Where, exp.Having, exp.Join, exp.If, exp.Case, *_LOGIC)):
            if kind is Kind.ATTRIBUTE and type_ == "BOOLEAN":
                return  # a flag used as a condition
            raise _refuse(f"{name} is used as a condition but is not a published flag", column)
        what = type(parent).__name__.lower() if parent is not None else "expression"
        raise _refuse(f"{name} is transformed ({what}); only the column itself may be used", column)

    def _key(self, name: str, column: exp.Column, node: exp.Expr, kind: Kind, scope: Scope) -> None:
        """A projection or grouping key: a published attribute in a grouped statement."""
        select = scope.expression
        grouped = isinstance(select, exp.Select) and _is_aggregate(select)
        if isinstance(node.parent, (exp.Window, *_GROUPING)) or grouped:
            if kind is Kind.KEY:
                raise NotAggregate(
                    f"disclosure control applies to counts per published group; {name} "
                    "identifies records or people (or is as fine-grained), so grouping by it "
                    "returns record-level rows. Group by an area, category, flag or month",
                    position=position_of(column),
                )
            if kind is Kind.DATETIME:  # a count as a key: classify refuses it
                raise _refuse(
                    f"{name} is an exact time: group by its day, week, month, quarter or "
                    "year, hour of the day or day of the week",
                    column,
                )
        elif node is not column and kind > Kind.ATTRIBUTE:
            raise _refuse(f"{name} is transformed; only published attributes may be", column)

    def _compare(
        self,
        name: str,
        column: exp.Column,
        kind: Kind,
        type_: str,
        parent: exp.Expr,
        *,
        equality: bool,
    ) -> None:
        if isinstance(parent, exp.Like | exp.ILike):
            raise _refuse(f"{name} is matched with a pattern", column)
        if kind is Kind.COUNT:
            raise _refuse(f"{name} is a count: a condition on a count reveals it exactly", column)
        if kind is not Kind.ATTRIBUTE:
            raise _refuse(f"{name} is an identifier, an exact time or place, or free text", column)
        if not equality and not type_.startswith(_NUMERIC) and type_:
            raise _refuse(f"{name} is not numeric: compare it with = or IN", column)

    # --- combinations ------------------------------------------------------------------------

    def one_column(self, node: exp.Expr) -> None:
        """OR, NOT, XOR and the conditions of a CASE: within one column."""
        if isinstance(node, exp.Case | exp.If):
            conditions = _case_conditions(node)
            columns = {(c.table, c.name) for cond in conditions for c in _own_columns(cond)}
        else:
            columns = {(c.table, c.name) for c in _own_columns(node)}
        if len(columns) > 1:
            what = "CASE conditions" if isinstance(node, exp.Case | exp.If) else node.key.upper()
            raise _refuse(
                f"{what} combining different columns ({', '.join(sorted(n for _, n in columns))})"
                " can carve out any set of records",
                node,
            )

    def condition(self, node: exp.Expr) -> None:
        """A condition on columns stands as a condition, not inside arithmetic or a function."""
        if not any(_own_columns(node)):
            return
        top = node
        while isinstance(top.parent, (*_LOGIC, exp.Cast)):
            top = top.parent
        parent = top.parent
        allowed = (
            exp.Where,
            exp.Having,
            exp.Join,
            exp.If,
            exp.Case,
            exp.Alias,
            exp.Select,
            exp.AggFunc,
            exp.Filter,
            exp.Qualify,
        )
        if parent is None or isinstance(parent, allowed) or isinstance(node, _LOGIC):
            return
        raise _refuse(
            f"a condition is used inside {type(parent).__name__.lower()}; use it as a "
            "condition (WHERE, FILTER, CASE WHEN) only",
            node,
        )


def _branches(query: exp.Expr) -> Iterator[exp.Select]:
    if isinstance(query, exp.Select):
        yield query
    elif isinstance(query, exp.SetOperation):
        yield from _branches(query.left)
        yield from _branches(query.right)


def _scope_of(scope: Scope, select: exp.Select) -> Scope:
    if scope.expression is select:
        return scope
    child: Scope
    for child in scope.set_operation_scopes:
        if child.expression is select:
            return child
        found = _scope_of(child, select)
        if found.expression is select:
            return found
    return scope


def _strip_alias(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Alias) else node


def _operands(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.In):
        query = node.args.get("query")
        return [node.this, *node.expressions, *([query] if query is not None else [])]
    if isinstance(node, exp.Between):
        return [node.this, node.args["low"], node.args["high"]]
    return [node.this, node.expression]


def _attribute_subquery(node: exp.Expr) -> bool:
    """``x IN (SELECT …)``: the subquery's own cells are checked in its scope."""
    return isinstance(node, exp.Subquery | exp.Query)


def _granule(parent: exp.Expr | None, node: exp.Expr) -> bool:
    """A truncation of a date to month, quarter or year, or to a fixed finer partition — day,
    week, hour of the day, day of the week (a cast to DATE, ``date_trunc``, ``hour()``,
    ``strftime`` with such a format …) — never a choice of records (minutes, seconds and
    arithmetic on times stay refused)."""
    units = _GRANULES | _FINE
    if isinstance(parent, (exp.Year, exp.Quarter, exp.Month, *_FINE_FUNCTIONS)):
        return parent.this is node
    if isinstance(parent, exp.Cast | exp.TryCast) and parent.this is node:
        return parent.to.this is exp.DataType.Type.DATE
    if isinstance(parent, exp.Extract) and parent.expression is node:
        return parent.this.name.upper() in units
    if isinstance(parent, exp.Anonymous) and str(parent.this).lower() in _DATE_PART:
        first, *rest = parent.expressions
        return rest == [node] and isinstance(first, exp.Literal) and first.name.upper() in units
    if isinstance(parent, exp.DateTrunc | exp.TimestampTrunc) and parent.this is node:
        unit = parent.args.get("unit")
        return unit is not None and unit.name.upper() in units
    if isinstance(parent, exp.TimeToStr) and parent.this is node:
        fmt = parent.args.get("format")
        truncated = isinstance(_unwrap(node), exp.DateTrunc | exp.TimestampTrunc)
        return truncated or (isinstance(fmt, exp.Literal) and fmt.name in _FORMATS | _FINE_FORMATS)
    return False


def _measured(column: exp.Column) -> bool:
    """Inside an aggregate's argument and not inside a condition there."""
    node: exp.Expr = column
    while node.parent is not None and not isinstance(node.parent, exp.Query):
        parent = node.parent
        if isinstance(parent, _CONDITION) or (
            isinstance(parent, exp.If | exp.Case) and node is parent.this
        ):
            return False
        if isinstance(parent, exp.AggFunc):
            return not isinstance(parent, exp.CountIf)
        node = parent
    return False


def _is_aggregate(select: exp.Select) -> bool:
    return select.args.get("group") is not None or any(
        _plain_aggregate(p) for p in select.expressions
    )


def _in_aggregate(node: exp.Expr) -> bool:
    found = node.find_ancestor(exp.AggFunc, exp.Select)
    return isinstance(found, exp.AggFunc)


def _plain_aggregate(node: exp.Expr) -> bool:
    return any(
        not isinstance(agg.find_ancestor(exp.Window, exp.Select), exp.Window)
        for agg in node.find_all(exp.AggFunc)
    )


def _case_conditions(node: exp.Expr) -> list[exp.Expr]:
    """The conditions of a CASE/IF and of the CASEs nested in its results."""
    out: list[exp.Expr] = []
    if isinstance(node, exp.Case):
        if node.this is not None:
            out.append(node.this)
        for branch in node.args.get("ifs") or ():
            out.append(branch.this)
            out += _nested_conditions(branch.args.get("true"))
        out += _nested_conditions(node.args.get("default"))
    elif isinstance(node, exp.If):
        out.append(node.this)
        out += _nested_conditions(node.args.get("true"))
        out += _nested_conditions(node.args.get("false"))
    return out


def _nested_conditions(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    out: list[exp.Expr] = []
    for inner in node.find_all(exp.Case, exp.If):
        if inner.find_ancestor(exp.Query) is node.find_ancestor(exp.Query):
            out += _case_conditions(inner)
    return out


def _month_boundary(node: exp.Expr, ctx: RewriteContext) -> bool:
    """Whether a constant is midnight on the first day of a month (or a month interval on)."""
    value = _date_value(node, ctx)
    return value is not None and value.day == 1 and value.time() == datetime.min.time()


def _date_value(node: exp.Expr, ctx: RewriteContext) -> datetime | None:
    node = _unwrap(node)
    if isinstance(node, exp.Add | exp.Sub):
        base = _date_value(node.this, ctx)
        step = node.expression
        if base is None or not isinstance(step, exp.Interval):
            return None
        unit = step.args.get("unit")
        if unit is None or unit.name.upper() not in _GRANULES:
            return None
        return base  # a whole number of months from a month boundary is a month boundary
    raw: object = None
    if isinstance(node, exp.Literal) and node.is_string:
        raw = node.name
    elif isinstance(node, exp.Placeholder | exp.Parameter):
        raw = ctx.params.get(node.name)
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day)
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
    return None
