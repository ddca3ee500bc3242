"""SQL analyses: facts read from a query's AST (sqlglot), pure, over the catalog only.

The rewrite (:mod:`gateway.rewrite`) *changes* a query so it obeys the policy; the analyses
here only *read* one — the SQL the engine executed, or the SQL as submitted — and report what
it is. They import nothing of the gateway but the catalog and the error tree, so every layer
that needs a fact about a query (exports, disclosure control, the audit's review reports)
can ask without importing the others::

    classify   record-level, aggregate or reference; output column roles for disclosure
               control (key / count / aggregate), refusing counts it cannot protect
    lookups    predicates pinning a person identifier to a literal (for audit review),
               bounded: hostile SQL comes back flagged, never as an exception
    results    what the analyses report as plain values a record holds (LookupAnalysis):
               no sqlglot, so the audit log reads them back without the server extra

Each analysis is tested from one SQL-in/facts-out fixture file (``tests/analysis/fixtures``).
The enforcement check on what runs is engine-specific and lives with the engines
(:mod:`gateway.engines.invariant`).

The modules are imported by their full name (``from gateway.analysis.classify import …``):
this package imports none of them, so loading one does not load sqlglot for the others.
"""
