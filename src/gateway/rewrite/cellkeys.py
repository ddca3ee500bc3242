"""Pass 5 (disclosure-controlled statements only): a cell key beside every count.

The cell key method (:mod:`gateway.disclosure.cellkey`) perturbs a published count by a noise
looked up by its **cell key**: the sum of the record keys (:mod:`gateway.policy.record_keys`)
of the records the cell counts. So the same records give the same key — and the same published
value — whatever the query calls them, and averaging relabelled copies of a count gives
nothing. This pass makes the engine compute that sum beside each count, as a *companion
aggregate* of the same rows, the same ``FILTER`` and the same grouping:

    ``count(*)``                       ``sum(<row key>)``
    ``count(x)``                       ``sum(CASE WHEN x IS NOT NULL THEN <row key> END)``
    ``count(DISTINCT t.person_id)``    ``sum(DISTINCT t.__gw_key_person_id)`` (the person's key)
    ``count_if(c)``, ``sum(<0/1>)``    ``sum(CASE WHEN c THEN <row key> END)``, ``sum(x * <row key>)``
    ``sum(k.n)`` of a subquery count   ``sum(k.<n's companion>)``
    ``coalesce(k.n, 0)``, a cast       the same around the companion

and carries it out through CTEs and subqueries to a result column ``__gw_cell_key_<i>`` after
the analyst's columns (disclosure control reads and drops it: it is never released).

**Which records a row is.** A row of ``FROM a JOIN b ON b.pk = a.fk …`` is one record of its
*unit* ``a``: every other source is tied to it at most once (its whole primary key equated to
columns of sources already tied, or to constants — a grouping column is a constant within one
cell; or a one-row subquery; or a subquery grouped by columns so equated; or a list of at most
four literal rows told apart by a grouping column). The row key is the unit's record key. A join that can repeat a record
(a self-join on a non-key, a cross join with a list of values) has no unit: its counts get no
cell key, and disclosure control refuses to release them (``not_protectable``) — which also
stops the "multiply a count, divide the noise away" attack.

**Nothing reaches a record key but this pass.** Keys are columns of the policy subqueries the
analyst cannot name (they are not in the catalog); stars (other than ``count(*)``) and
whole-row references, which would carry them, are refused in these statements, and so are
identifiers starting ``__gw`` (the pass's own names).

Pure, no I/O; where a key cannot be derived the column simply gets none (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from gateway.errors import NotProtectable
from gateway.policy.record_keys import KEYABLE_MASKS, RECORD_KEY, key_column, key_entity
from gateway.rewrite.context import RewriteContext
from gateway.rewrite.guard import position_of
from gateway.rewrite.substitute import KEYS_META

__all__ = ["CELL_KEY_PREFIX", "add_cell_keys"]

#: Result columns holding cell keys: ``__gw_cell_key_<position of the count>``.
CELL_KEY_PREFIX = "__gw_cell_key_"
_ROW_KEY = "__gw_row_key"
_COMPANION = "__gw_ck_"
_RESERVED = "__gw"
#: The most rows a list of literal rows joined to the counted records may have: each record is
#: counted once per row (in that row's cell), so a long list would let one query average many
#: differently perturbed cells that share the same records.
_MAX_LITERAL_ROWS = 4


def add_cell_keys(tree: exp.Expr, ctx: RewriteContext) -> exp.Expr:
    """Add a cell key column for every output column that is a count of known records."""
    if not ctx.cell_keys:
        return tree
    _refuse_hidden_reads(tree)
    if not isinstance(tree, exp.Select):
        return tree  # a set operation's counts get no cell keys (control refuses them)
    root = build_scope(tree)
    if root is None:
        return tree
    keys = _CellKeys(ctx)
    for position, projection in enumerate(list(tree.expressions)):
        key = keys.of(projection, root)
        if key is not None:
            name = f"{CELL_KEY_PREFIX}{position}"
            tree.append("expressions", exp.alias_(key, name))
            ctx.cell_key_columns[position] = name
    return tree


def _refuse_hidden_reads(tree: exp.Expr) -> None:
    """Stars, whole-row references and ``__gw`` names could read a record key: refused."""
    for star in tree.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            raise NotProtectable(
                "disclosure control needs the columns named: replace * with the columns the "
                "query uses",
                position=position_of(star),
            )
    for identifier in tree.find_all(exp.Identifier):
        if str(identifier.this).lower().startswith(_RESERVED):
            raise NotProtectable(
                "names starting with __gw are reserved for the gateway; choose another name",
                position=position_of(identifier),
            )
    for scope in _scopes(tree):
        for column in scope.columns:
            if not column.table and column.name in scope.sources:
                raise NotProtectable(
                    f"disclosure control needs the columns named: {column.name!r} is a whole "
                    "row; name the columns you need",
                    position=position_of(column),
                )


def _scopes(tree: exp.Expr) -> Iterator[Scope]:
    root = build_scope(tree)
    if root is not None:
        yield from root.traverse()


def _conjuncts(condition: exp.Expr | None) -> Iterator[exp.Expr]:
    if condition is None:
        return
    node = condition.this if isinstance(condition, exp.Where) else condition
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    else:
        yield node


def _bare(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Alias | exp.Paren):
        node = node.this
    return node


def _is_constant(node: exp.Expr) -> bool:
    return isinstance(_bare(node), exp.Literal | exp.Placeholder | exp.Parameter)


def _is_zero(node: exp.Expr) -> bool:
    node = _bare(node)
    return isinstance(node, exp.Literal) and node.is_int and int(node.this) == 0


def _indicator(node: exp.Expr) -> bool:
    """A 0/1 (or boolean) value per row: CASE/IF with 0, 1 or NULL results, a comparison, a
    cast of one."""
    node = _bare(node)
    if isinstance(node, exp.Cast):
        return _indicator(node.this)
    if isinstance(node, exp.Predicate | exp.Not | exp.And | exp.Or | exp.Boolean):
        return True
    if isinstance(node, exp.Case | exp.If):
        if isinstance(node, exp.Case):
            results = [i.args.get("true") for i in node.args.get("ifs") or ()]
            results.append(node.args.get("default"))
        else:
            results = [node.args.get("true"), node.args.get("false")]
        return all(
            r is None
            or isinstance(_bare(r), exp.Null)
            or (isinstance(_bare(r), exp.Literal) and _bare(r).name in ("0", "1"))
            for r in results
        )
    return False


def _sum(value: exp.Expr, *, distinct: bool = False) -> exp.Expr:
    return exp.Sum(this=exp.Distinct(expressions=[value]) if distinct else value)


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


class _CellKeys:
    """Companion expressions for one statement (memoised per subquery column)."""

    def __init__(self, ctx: RewriteContext) -> None:
        self.ctx = ctx
        self._added: dict[tuple[int, str], str] = {}

    # --- per output expression -------------------------------------------------------------

    def of(self, node: exp.Expr, scope: Scope) -> exp.Expr | None:
        """The cell key expression of ``node`` evaluated in ``scope``, or None."""
        node = _bare(node)
        if isinstance(node, exp.Coalesce) and all(_is_zero(e) for e in node.expressions):
            inner = self.of(node.this, scope)
            return (
                None
                if inner is None
                else exp.Coalesce(this=inner, expressions=[exp.Literal.number(0)])
            )
        if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.INTEGER_TYPES):
            return self.of(node.this, scope)
        if isinstance(node, exp.Filter) and isinstance(node.expression, exp.Where):
            inner = self._aggregate(_bare(node.this), scope)
            if inner is None:
                return None
            return exp.Filter(this=inner, expression=node.expression.copy())
        if isinstance(node, exp.AggFunc):
            return self._aggregate(node, scope)
        if isinstance(node, exp.Column):
            return self._through(node, scope)
        if isinstance(node, exp.Case):
            return self._case(node, scope)
        return None

    def _case(self, node: exp.Case, scope: Scope) -> exp.Expr | None:
        """A CASE choosing between counts (or NULL): the same CASE choosing their keys."""
        keyed = node.copy()
        branches: list[tuple[exp.Expr, str]] = [(i, "true") for i in keyed.args.get("ifs") or ()]
        if keyed.args.get("default") is not None:
            branches.append((keyed, "default"))
        originals = [i for i in node.args.get("ifs") or ()]
        sources: list[exp.Expr | None] = [i.args.get("true") for i in originals]
        sources.append(node.args.get("default"))
        for (holder, arg), value in zip(branches, sources, strict=False):
            if value is None or isinstance(_bare(value), exp.Null):
                continue
            key = self.of(value, scope)
            if key is None:
                return None
            holder.set(arg, key)
        return keyed

    def _aggregate(self, node: exp.Expr, scope: Scope) -> exp.Expr | None:
        if isinstance(node, exp.Count):
            argument = node.this
            if isinstance(argument, exp.Distinct):
                values = argument.expressions
                if len(values) != 1 or not isinstance(_bare(values[0]), exp.Column):
                    return None
                key = self._column_key(_bare(values[0]), scope)  # type: ignore[arg-type]
                return None if key is None else _sum(key, distinct=True)
            row = self._row_key(scope)
            if row is None:
                return None
            if argument is None or isinstance(argument, exp.Star):
                return _sum(row)
            return _sum(
                _when(exp.Not(this=exp.Is(this=argument.copy(), expression=exp.Null())), row)
            )
        if isinstance(node, exp.CountIf):
            row = self._row_key(scope)
            return None if row is None else _sum(_when(node.this.copy(), row))
        if isinstance(node, exp.Sum) and not isinstance(node.this, exp.Distinct):
            value = _bare(node.this)
            if not _plain_aggregate(value):  # a sum of counts read from a subquery
                through = self.of(value, scope)
                if through is not None:
                    return _sum(through)
            if _indicator(value) or self._boolean(value, scope):
                row = self._row_key(scope)
                if row is None:
                    return None
                indicator = exp.Cast(this=value.copy(), to=exp.DataType.build("BIGINT"))
                return _sum(exp.Mul(this=indicator, expression=row))
        return None

    # --- sources ---------------------------------------------------------------------------

    def _source_of(self, column: exp.Column, scope: Scope) -> tuple[str, exp.Table | Scope] | None:
        """The source (alias, table or subquery scope) a column of ``scope`` reads from."""
        if column.table:
            source = scope.sources.get(column.table)
            return None if source is None else (column.table, source)
        found = [
            (alias, source)
            for alias, source in scope.sources.items()
            if alias in scope.selected_sources and column.name in self._columns(source)
        ]
        return found[0] if len(found) == 1 else None

    def _columns(self, source: exp.Table | Scope) -> list[str]:
        if isinstance(source, exp.Table):
            view = self.ctx.view.tables.get(str(source.name))
            return list(view.column_names) if view is not None and str(source.db) == "main" else []
        expression = source.expression
        return list(expression.named_selects) if isinstance(expression, exp.Query) else []

    def _base(self, source: exp.Table | Scope) -> exp.Table | None:
        if isinstance(source, exp.Table) and str(source.db) == "main":
            return source
        return None

    def _mark(self, table: exp.Table, key: str) -> None:
        table.meta[KEYS_META] = frozenset(table.meta.get(KEYS_META, ())) | {key}

    def _add(self, scope: Scope, name: str, build: exp.Expr | None) -> str | None:
        """Add ``build AS name`` to the subquery ``scope`` once; the name, or None."""
        memo = (id(scope.expression), name)
        if memo in self._added:
            return self._added[memo]
        if build is None or not isinstance(scope.expression, exp.Select):
            return None
        scope.expression.append("expressions", exp.alias_(build, name))
        self._added[memo] = name
        return name

    def _boolean(self, node: exp.Expr, scope: Scope) -> bool:
        """A BOOLEAN warehouse column (or a cast of one)."""
        node = _bare(node)
        if isinstance(node, exp.Cast):
            return self._boolean(node.this, scope)
        if not isinstance(node, exp.Column):
            return False
        found = self._source_of(node, scope)
        table = None if found is None else self._base(found[1])
        if table is None:
            return False
        view = self.ctx.view.tables[str(table.name)]
        return node.name in view.column_names and view.column(node.name).type.upper() == "BOOLEAN"

    def _through(self, column: exp.Column, scope: Scope) -> exp.Expr | None:
        """A count computed in a subquery or CTE and read here: its companion there."""
        found = self._source_of(column, scope)
        if found is None:
            return None
        alias, inner = found
        if not isinstance(inner, Scope):
            return None
        projection = self._projection(inner, column.name)
        if projection is None:
            return None
        name = self._add(inner, f"{_COMPANION}{column.name}", self.of(projection, inner))
        return None if name is None else exp.column(name, table=alias)

    def _projection(self, scope: Scope, name: str) -> exp.Expr | None:
        select = scope.expression
        if not isinstance(select, exp.Select):
            return None
        found = [p for p in select.expressions if p.alias_or_name == name]
        return found[0] if len(found) == 1 else None

    def _column_key(self, column: exp.Column, scope: Scope) -> exp.Expr | None:
        """The key of the record (or person) a column names: for ``count(DISTINCT column)``."""
        found = self._source_of(column, scope)
        if found is None:
            return None
        alias, source = found
        table = self._base(source)
        if table is not None:
            name = str(column.name)
            view = self.ctx.view.tables[str(table.name)]
            if name not in view.column_names or view.column(name).mask.kind not in KEYABLE_MASKS:
                return None
            if key_entity(self.ctx.catalog.table(str(table.name)), name) is None:
                return None
            self._mark(table, name)
            return exp.column(key_column(name), table=alias)
        assert isinstance(source, Scope)
        projection = self._projection(source, column.name)
        if projection is None or not isinstance(_bare(projection), exp.Column):
            return None
        inner = self._column_key(_bare(projection), source)  # type: ignore[arg-type]
        select = source.expression
        assert isinstance(select, exp.Select)  # _projection found one
        if inner is not None and _is_aggregate(select):
            # a grouping column names one record per group: any row's key is the group's
            if not any(p is projection for p in _grouped(select)):
                return None
            inner = exp.Min(this=inner)
        added = self._add(source, key_column(column.name), inner)
        return None if added is None else exp.column(added, table=alias)

    # --- the unit of a FROM clause ------------------------------------------------------------

    def _row_key(self, scope: Scope) -> exp.Expr | None:
        """The record key of each row of ``scope``'s FROM clause (its unit's), or None."""
        select = scope.expression
        if not isinstance(select, exp.Select) or select.args.get("from_") is None:
            return None
        if any(alias not in scope.sources for alias in scope.selected_sources):
            return None
        sources = {alias: scope.sources[alias] for alias in scope.selected_sources}
        ties = self._ties(select, scope, sources)
        single = {a for a, s in sources.items() if isinstance(s, Scope) and _one_row(s)}
        units = [
            alias
            for alias in sources
            if alias not in single and self._closure(alias, single, sources, ties) == set(sources)
        ]
        if len(units) != 1:
            return None
        alias = units[0]
        source = sources[alias]
        table = self._base(source)
        if table is not None:
            if not self.ctx.catalog.table(str(table.name)).primary_key:
                return None  # records without an identity have no keys
            self._mark(table, RECORD_KEY)
            return exp.column(RECORD_KEY, table=alias)
        assert isinstance(source, Scope)
        inner = source.expression
        if (
            not isinstance(inner, exp.Select)
            or _is_aggregate(inner)
            or inner.args.get("distinct") is not None
        ):
            return None  # a grouped subquery's rows are groups, not records
        name = self._add(source, _ROW_KEY, self._row_key(source))
        return None if name is None else exp.column(name, table=alias)

    def _ties(
        self, select: exp.Select, scope: Scope, sources: dict[str, exp.Table | Scope]
    ) -> list[tuple[str, str, str | None]]:
        """Equalities of the FROM clause: ``(alias, column, other alias or None for a
        constant)``, both ways round."""
        conditions: list[exp.Expr] = list(_conjuncts(select.args.get("where")))
        ties: list[tuple[str, str, str | None]] = []
        for join in select.args.get("joins") or ():
            conditions += list(_conjuncts(join.args.get("on")))
            right = join.this.alias_or_name
            for name in join.args.get("using") or ():
                others = [
                    a
                    for a, s in sources.items()
                    if a != right and str(name.name) in self._columns(s)
                ]
                if len(others) == 1:
                    ties += [(right, str(name.name), others[0]), (others[0], str(name.name), right)]
        for grouped in _grouped(select):  # within one cell, a grouping column is a constant
            value = _bare(grouped)
            found = self._source_of(value, scope) if isinstance(value, exp.Column) else None
            if found is not None:
                ties.append((found[0], str(value.name), None))
        for condition in conditions:
            if not isinstance(condition, exp.EQ):
                continue
            sides = [_bare(condition.this), _bare(condition.expression)]
            resolved = [
                self._source_of(s, scope) if isinstance(s, exp.Column) else None for s in sides
            ]
            for mine, theirs, side in ((0, 1, sides[1]), (1, 0, sides[0])):
                here = resolved[mine]
                if here is None:
                    continue
                column = str(sides[mine].name)
                if _is_constant(side):
                    ties.append((here[0], column, None))
                elif resolved[theirs] is not None and resolved[theirs][0] != here[0]:  # type: ignore[index]
                    ties.append((here[0], column, resolved[theirs][0]))  # type: ignore[index]
        return ties

    def _identity(self, source: exp.Table | Scope) -> tuple[str, ...] | None:
        """The columns that pick out at most one row of a source."""
        table = self._base(source)
        if table is not None:
            view = self.ctx.view.tables[str(table.name)]
            key = self.ctx.catalog.table(str(table.name)).primary_key
            if not key or any(
                k not in view.column_names or view.column(k).mask.kind not in KEYABLE_MASKS
                for k in key
            ):
                return None  # a key the analyst sees generalised may name many rows
            return key
        if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
            select = source.expression
            grouped = _grouped(select)
            if not grouped or select.args.get("distinct") is not None:
                return None  # only a grouped subquery has one row per value of its keys
            if len(grouped) != len(select.args["group"].expressions) and not select.args[
                "group"
            ].args.get("all"):
                return None
            return tuple(p.alias_or_name for p in grouped)
        if isinstance(source, Scope) and isinstance(source.expression, exp.Union):
            return _literal_rows(source.expression)
        return None

    def _closure(
        self,
        unit: str,
        single: set[str],
        sources: dict[str, exp.Table | Scope],
        ties: list[tuple[str, str, str | None]],
    ) -> set[str]:
        """The sources tied at most once to each row of ``unit``."""
        tied = {unit} | single
        changed = True
        while changed:
            changed = False
            for alias, source in sources.items():
                if alias in tied:
                    continue
                identity = self._identity(source)
                if identity is None:
                    continue
                fixed = {
                    c for a, c, other in ties if a == alias and (other is None or other in tied)
                }
                if set(identity) <= fixed:
                    tied.add(alias)
                    changed = True
        return tied


def _plain_aggregate(node: exp.Expr) -> bool:
    """Whether ``node`` aggregates rows (an aggregate function outside any window)."""
    return any(
        agg.find_ancestor(exp.Window, exp.Select) is None
        or isinstance(agg.find_ancestor(exp.Window, exp.Select), exp.Select)
        for agg in node.find_all(exp.AggFunc)
    )


def _is_aggregate(select: exp.Select) -> bool:
    return select.args.get("group") is not None or any(
        _plain_aggregate(p) for p in select.expressions
    )


def _grouped(select: exp.Select) -> list[exp.Expr]:
    """The projections a grouped SELECT groups by (positions, aliases and ALL resolved)."""
    group = select.args.get("group")
    if group is None or any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        return []  # grouping sets repeat key values across sets
    projections = select.expressions
    if group.args.get("all"):
        return [p for p in projections if not _plain_aggregate(p)]
    out = []
    for g in group.expressions:
        g = _bare(g)
        if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.this) <= len(projections):
            out.append(projections[int(g.this) - 1])
            continue
        match = [
            p
            for p in projections
            if _bare(p).sql() == g.sql()
            or (isinstance(g, exp.Column) and not g.table and p.alias == g.name)
        ]
        if len(match) != 1:
            return []
        out.append(match[0])
    return out


def _literal_rows(union: exp.Union) -> tuple[str, ...] | None:
    """A UNION ALL of FROM-less rows: a column whose values are distinct literals picks out one
    row (``SELECT 'intervention' AS role UNION ALL SELECT 'comparison'``)."""
    rows: list[exp.Select] = []
    pending: list[exp.Expr] = [union]
    while pending:
        node = pending.pop()
        if isinstance(node, exp.Union) and not node.args.get("distinct"):
            pending += [node.left, node.right]
        elif isinstance(node, exp.Select) and node.args.get("from_") is None:
            rows.append(node)
        else:
            return None
    width = {len(r.expressions) for r in rows}
    if len(width) != 1 or len(rows) > _MAX_LITERAL_ROWS:
        return None
    for position, name in enumerate(union.named_selects):
        values = [_bare(r.expressions[position]) for r in rows]
        literals = [(v.is_string, v.name) for v in values if isinstance(v, exp.Literal)]
        if len(literals) == len(values) == len(set(literals)):
            return (name,)
    return None


def _one_row(scope: Scope) -> bool:
    """A subquery with at most one row: no FROM, or aggregates without GROUP BY."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return False
    if select.args.get("from_") is None:
        return True
    if select.args.get("group") is not None:
        return False
    return bool(select.expressions) and all(_plain_aggregate(p) for p in select.expressions)
