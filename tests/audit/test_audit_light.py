"""The audit log needs no SQL parser: without sqlglot it can still write, verify and tabulate a
log, look-up analyses included — the analysers live in :mod:`gateway.analysis.lookups`, the
values a record holds in :mod:`gateway.analysis.results`, which imports no sqlglot. (The live
audit tables use DuckDB, so the audit package as a whole needs the server extra.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SERVER_PACKAGES = ("sqlglot",)

SCRIPT = textwrap.dedent(
    """
    import sys
    for name in {blocked!r}:
        sys.modules[name] = None  # "not installed": importing it raises ImportError
    import json
    from pathlib import Path
    from gateway.analysis.results import LookupAnalysis
    from gateway.audit import AuditLog, QueryStarted, QueryRequest, audit_tables, verify_data_dir
    from gateway.datadir import DataDir

    analysis = LookupAnalysis("ok", ("person.surname",), ("surname = 'Reed'",))
    request = QueryRequest("a.khan", "MBC", "general", ("analyst",), "SA-2026",
                           "SELECT * FROM person WHERE surname = 'Reed'", person_lookups=analysis)
    data_dir = DataDir(Path({root!r}))
    with AuditLog.open(data_dir) as log:
        log.record(QueryStarted("Q1", request, "SELECT 1", "p" * 64))
        events = list(log.events())
    report = verify_data_dir(data_dir)
    stored = audit_tables(events).queries.column("person_lookups").to_pylist()
    loaded = sorted(m for m, mod in sys.modules.items()
                    if m.split(".")[0] in {blocked!r} and mod is not None)
    kept = LookupAnalysis.from_details(json.loads(stored[0])) == analysis
    print(report.ok, report.records, kept, loaded)
    """
)


def test_the_audit_log_works_without_sqlglot(tmp_path: Path) -> None:
    script = SCRIPT.format(blocked=SERVER_PACKAGES, root=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "True", "[]"]
