"""Look-ups of individual people: predicates that pin an identifying column to a literal.

Partnership analysts work with aggregates; a query that asks for one person — by id, name,
PNC id, date of birth, postcode or address — is worth a reviewer's look. This module reads
the SQL *as submitted* (sqlglot, DuckDB dialect) and finds comparisons of the forms

    column = literal        column IN (literal, …)        column [I]LIKE literal
    f(column) = literal     regexp_matches(column, literal)

(either side; a query parameter such as ``:pid`` or ``$1`` counts as a literal) where the
column's catalog sensitivity is ``person_key``, ``direct_identifier``, ``quasi_identifier`` or
``exact_location``. Joins (column = column) and comparisons with subqueries do not count.

Quasi-identifiers with a handful of values (``person.gender``, ``person.ethnicity``) pin a
group, not a person: by default they are ignored (:data:`GROUP_COLUMNS`).

Column resolution is deliberately forgiving (the SQL may have been refused): a qualified
column whose qualifier is a catalog table or its alias resolves to that table; any other
column resolves to every catalog table in the query that has a column of that name.

The SQL may be hostile (it was refused, or written to blind reviewers), so analysis is
bounded before it parses: at most :data:`MAX_ANALYSED_CHARS` characters, brackets at most
:data:`MAX_BRACKET_DEPTH` deep (counted on the tokens, which needs no recursion), a tree at
most :data:`MAX_TREE_DEPTH` deep. :func:`analyse_lookups` — what the service calls once, when a
query arrives, and what reports fall back to for records without it — never raises: SQL it
cannot analyse comes back as a :class:`~gateway.analysis.results.LookupAnalysis` saying why
(``unparseable``, ``too_large``, ``too_deep``, ``failed``), for reports to flag.

Example:
    >>> from gateway.catalog import load_catalog
    >>> found = pinned_predicates(
    ...     "SELECT * FROM person p WHERE lower(p.surname) = 'smith'", load_catalog())
    >>> [(f.column, f.sensitivity.value) for f in found]
    [('person.surname', 'direct_identifier')]
    >>> pinned_predicates("SELECT count(*) FROM person WHERE gender = 'female'", load_catalog())
    ()
    >>> analyse_lookups("SELECT " + "(" * 3000 + "1" + ")" * 3000, load_catalog()).status
    'too_deep'
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlglot import Token, TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError

from gateway.analysis.results import LookupAnalysis, LookupStatus
from gateway.catalog import Catalog, Sensitivity
from gateway.errors import SqlParseError

__all__ = [
    "GROUP_COLUMNS",
    "MAX_ANALYSED_CHARS",
    "MAX_BRACKET_DEPTH",
    "MAX_PREDICATES",
    "MAX_PREDICATE_CHARS",
    "MAX_TREE_DEPTH",
    "PERSON_SENSITIVITIES",
    "PinnedPredicate",
    "analyse_lookups",
    "pinned_predicates",
]

PERSON_SENSITIVITIES = frozenset(
    {
        Sensitivity.PERSON_KEY,
        Sensitivity.DIRECT_IDENTIFIER,
        Sensitivity.QUASI_IDENTIFIER,
        Sensitivity.EXACT_LOCATION,
    }
)
GROUP_COLUMNS = frozenset({"person.gender", "person.ethnicity"})

#: Longest SQL analysed (the gateway parses nothing longer; the API accepts half of it).
MAX_ANALYSED_CHARS = 100_000
#: Deepest nesting of ``(``, ``[`` and ``{`` parsed; sqlglot recurses about ten Python frames
#: per bracket, so far deeper nesting would exhaust the stack (the gateway refuses it anyway).
MAX_BRACKET_DEPTH = 64
#: Deepest syntax tree walked (the gateway runs nothing deeper than 120).
MAX_TREE_DEPTH = 200
#: At most this many predicates are kept per query, each cut to this many characters.
MAX_PREDICATES = 50
MAX_PREDICATE_CHARS = 500
_DETAIL_CHARS = 300
_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


@dataclass(frozen=True)
class PinnedPredicate:
    """One comparison that pins an identifying column to a literal.

    Attributes:
        column: ``table.column`` pinned.
        sensitivity: its catalog sensitivity.
        operator: ``=``, ``IN``, ``LIKE``, ``ILIKE`` or ``REGEXP``.
        predicate: the comparison as SQL (it contains the literal: for reviewers only).
    """

    column: str
    sensitivity: Sensitivity
    operator: str
    predicate: str


_OPERATORS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.In: "IN",
    exp.Like: "LIKE",
    exp.ILike: "ILIKE",
    exp.RegexpLike: "REGEXP",
}


def _is_literal(node: exp.Expr | None) -> bool:
    """No column, no subquery, and at least one literal or parameter inside."""
    if node is None or node.find(exp.Column, exp.Select) is not None:
        return False
    return node.find(exp.Literal, exp.Placeholder, exp.Parameter) is not None


def _pinned_sides(node: exp.Expr) -> list[exp.Expr]:
    """The column-bearing side(s) of ``node`` that are compared with a literal."""
    if isinstance(node, exp.In):
        values = node.expressions
        if node.args.get("query") or not values or not all(_is_literal(v) for v in values):
            return []
        return [node.this]
    left, right = node.this, node.expression
    if isinstance(node, exp.EQ) and _is_literal(left):
        left, right = right, left
    return [left] if left.find(exp.Column) is not None and _is_literal(right) else []


class _Resolver:
    def __init__(self, tree: exp.Expr, catalog: Catalog) -> None:
        self.catalog = catalog
        self.aliases: dict[str, str] = {}
        for table in tree.find_all(exp.Table):
            name = table.name.lower()
            if name in catalog:
                self.aliases[table.alias_or_name.lower()] = name
                self.aliases.setdefault(name, name)
        self.in_query = sorted(set(self.aliases.values()))

    def tables_for(self, column: exp.Column) -> list[str]:
        name = column.name.lower()
        qualifier = column.table.lower()
        if qualifier and qualifier in self.aliases:
            candidates = [self.aliases[qualifier]]
        else:
            candidates = self.in_query
        return [t for t in candidates if name in self.catalog.table(t).column_names]


class _Unanalysable(Exception):
    """Why a statement cannot be analysed (internal: callers see a status or SqlParseError)."""

    def __init__(self, status: LookupStatus, detail: str) -> None:
        super().__init__(detail)
        self.status: LookupStatus = status
        self.detail = detail


def _bracket_depth(tokens: Sequence[Token]) -> int:
    deepest = depth = 0
    for token in tokens:
        if token.token_type in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in _CLOSING:
            depth -= 1
    return deepest


def _tree_depth(tree: exp.Expr) -> int:
    """Depth of ``tree`` (iterative; stops counting past :data:`MAX_TREE_DEPTH`)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack and deepest <= MAX_TREE_DEPTH:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def _statements(statement: str | exp.Expr) -> list[exp.Expr]:
    """The statement's trees, within the bounds, or :class:`_Unanalysable` saying why not."""
    if isinstance(statement, exp.Expr):
        trees = [statement]
    else:
        if len(statement) > MAX_ANALYSED_CHARS:
            raise _Unanalysable(
                "too_large", f"the SQL is longer than {MAX_ANALYSED_CHARS:,} characters"
            )
        dialect = Dialect.get_or_raise("duckdb")
        try:
            tokens = dialect.tokenize(statement)
        except SqlglotError as exc:
            raise _Unanalysable("unparseable", _first_line(exc)) from exc
        if _bracket_depth(tokens) > MAX_BRACKET_DEPTH:
            raise _Unanalysable(
                "too_deep", f"brackets are nested more than {MAX_BRACKET_DEPTH} deep"
            )
        try:
            parsed = dialect.parser().parse(tokens, statement)
        except SqlglotError as exc:
            raise _Unanalysable("unparseable", _first_line(exc)) from exc
        except RecursionError as exc:
            raise _Unanalysable("too_deep", "nested too deeply for the parser") from exc
        trees = [tree for tree in parsed if tree is not None]
    if any(_tree_depth(tree) > MAX_TREE_DEPTH for tree in trees):
        raise _Unanalysable("too_deep", f"the syntax tree is more than {MAX_TREE_DEPTH} deep")
    return trees


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:_DETAIL_CHARS]


def _find_pinned(
    trees: Sequence[exp.Expr],
    catalog: Catalog,
    sensitivities: Collection[Sensitivity],
    ignore: Collection[str],
) -> tuple[PinnedPredicate, ...]:
    found: list[PinnedPredicate] = []
    for tree in trees:
        resolver = _Resolver(tree, catalog)
        for node in tree.find_all(*_OPERATORS):
            predicate = node.sql(dialect="duckdb")
            for side in _pinned_sides(node):
                for column in side.find_all(exp.Column):
                    for table in resolver.tables_for(column):
                        qualified = f"{table}.{column.name.lower()}"
                        sensitivity = catalog.table(table).column(column.name.lower()).sensitivity
                        if sensitivity in sensitivities and qualified not in ignore:
                            found.append(
                                PinnedPredicate(
                                    qualified, sensitivity, _OPERATORS[type(node)], predicate
                                )
                            )
    return tuple(dict.fromkeys(found))


def pinned_predicates(
    statement: str | exp.Expr,
    catalog: Catalog,
    *,
    sensitivities: Collection[Sensitivity] = PERSON_SENSITIVITIES,
    ignore: Collection[str] = GROUP_COLUMNS,
) -> tuple[PinnedPredicate, ...]:
    """Every comparison in ``statement`` that pins an identifying column to a literal.

    Args:
        statement: the SQL as submitted (DuckDB dialect), or its parsed tree (not modified).
        catalog: the warehouse catalog (column sensitivities).
        sensitivities: which sensitivity classes identify a person.
        ignore: ``table.column`` names that never count (group-level quasi-identifiers).

    Raises:
        SqlParseError: the statement cannot be analysed: not SQL, or beyond the bounds on size
            and nesting (:func:`analyse_lookups` says which, without raising).
    """
    try:
        return _find_pinned(_statements(statement), catalog, sensitivities, ignore)
    except _Unanalysable as exc:
        raise SqlParseError(f"cannot analyse the SQL for look-ups: {exc.detail}") from exc
    except RecursionError as exc:
        raise SqlParseError("cannot analyse the SQL for look-ups: nested too deeply") from exc


def _cut(text: str) -> str:
    return text if len(text) <= MAX_PREDICATE_CHARS else text[: MAX_PREDICATE_CHARS - 1] + "…"


def analyse_lookups(
    statement: str | exp.Expr,
    catalog: Catalog,
    *,
    sensitivities: Collection[Sensitivity] = PERSON_SENSITIVITIES,
    ignore: Collection[str] = GROUP_COLUMNS,
) -> LookupAnalysis:
    """What :func:`pinned_predicates` finds in ``statement``, as a record can hold it.

    Never raises: SQL that cannot be analysed — not SQL, too long, nested too deeply, or any
    error at all inside the analysis — comes back with that status and the reason in
    ``detail``, so a review report shows the query as unanalysed instead of failing or
    passing over it. Call it on the SQL as submitted (the rewritten statement holds the
    policy's own filters, which are not the analyst's look-ups).

    Example:
        >>> from gateway.catalog import load_catalog
        >>> a = analyse_lookups("SELECT * FROM person WHERE pnc_id = $p", load_catalog())
        >>> a.status, a.pinned, a.predicates
        ('ok', ('person.pnc_id',), ('pnc_id = $p',))
        >>> analyse_lookups("SELEC 1 FROM", load_catalog()).status
        'unparseable'
    """
    try:
        found = _find_pinned(_statements(statement), catalog, sensitivities, ignore)
    except _Unanalysable as exc:
        return LookupAnalysis(exc.status, detail=exc.detail)
    except RecursionError:
        return LookupAnalysis("too_deep", detail="nested too deeply for the analysis")
    except Exception as exc:  # reported as a flagged analysis, not hidden
        return LookupAnalysis("failed", detail=f"{type(exc).__name__}: {_first_line(exc)}")
    predicates = list(dict.fromkeys(f.predicate for f in found))
    return LookupAnalysis(
        "ok",
        pinned=tuple(dict.fromkeys(f.column for f in found)),
        predicates=tuple(_cut(p) for p in predicates[:MAX_PREDICATES]),
    )
