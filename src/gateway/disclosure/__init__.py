"""Statistical disclosure control for aggregate outputs leaving the secure environment.

Pure logic, no I/O: the rules come from the policy's ``[disclosure]`` section
(:class:`gateway.policy.disclosure.DisclosureRules`, parsed when the policy loads), the shape of a
result from a :class:`DisclosureSpec` (a template header declares one; any aggregate query
result can be given one), and :func:`protect` returns the protected Arrow table.

    spec.py         DisclosureSpec: dimensions, counts, people, totals, derived columns
    suppression.py  primary and secondary cell suppression for one table of counts
    apply.py        protect(table, spec, rules): suppress, round, recompute, mark
    request.py      DisclosureRequest on any aggregate query/export; the spec inferred for it
    control.py      DisclosureControl: the query service's hook that applies a request
                    (imported from its module: it needs the rewriter and the classifier)

Example:
    >>> import pyarrow as pa
    >>> from gateway.policy.disclosure import DisclosureRules
    >>> spec = parse_disclosure_spec({"dimensions": ["ward"], "counts": ["victims"]})
    >>> out = protect(pa.table({"ward": ["a", "b", "c"], "victims": [12, 3, 40]}), spec,
    ...               DisclosureRules(min_count=10))
    >>> out.table.column("victims").to_pylist()
    [None, None, 40]
"""

from gateway.disclosure.apply import (
    FLAG_SUFFIX,
    METADATA_KEY,
    DisclosureReport,
    ProtectedTable,
    protect,
    round_count,
)
from gateway.disclosure.request import (
    REQUEST_MODES,
    DisclosureRequest,
    infer_spec,
    parse_disclosure_request,
)
from gateway.disclosure.spec import (
    DERIVED_KINDS,
    Derived,
    DisclosureSpec,
    parse_disclosure_spec,
)
from gateway.disclosure.suppression import Cell, Suppression, exposed_cells, suppress_grid

__all__ = [
    "DERIVED_KINDS",
    "FLAG_SUFFIX",
    "METADATA_KEY",
    "REQUEST_MODES",
    "Cell",
    "Derived",
    "DisclosureReport",
    "DisclosureRequest",
    "DisclosureSpec",
    "ProtectedTable",
    "Suppression",
    "exposed_cells",
    "infer_spec",
    "parse_disclosure_request",
    "parse_disclosure_spec",
    "protect",
    "round_count",
    "suppress_grid",
]
