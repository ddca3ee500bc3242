"""``gateway audit dispose|plan|done|incident …``: retention and the audit duties.

On the gateway's host (host maintenance: recorded as ``host:<operating-system user>`` with the
reason, see :mod:`gateway.auth.breakglass`)::

    gateway audit dispose --data-dir DIR --reason TEXT [--dry-run]
                          dispose of product manifests past [products]
                          manifest_retention_days and audit records past [retention]
                          audit_days (audited; `gateway audit verify` stays valid)

Through a gateway server, as the signed-in reviewer (token as for ``gateway query``)::

    gateway audit plan [--url URL]                    the audit plan and what is due
    gateway audit done NAME --findings TEXT [--period-start … --period-end …]
                                                      record an audit carried out
    gateway audit incident report --kind security|data_loss --discovered-at WHEN
                          --summary TEXT [--lost TEXT]
    gateway audit incident close ID --actions TEXT    close it (not by its reporter)
    gateway audit incident list                       the register, late reports flagged
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

import typer

from gateway.audit.log import AuditLog
from gateway.audit.retention import dispose_expired
from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import Action, require
from gateway.catalog import load_catalog
from gateway.cli import command_group
from gateway.cli.access import NO_NAMED_ACTOR
from gateway.cli.audit import audit_app
from gateway.cli.config import UrlOption, connection
from gateway.cli.options import DataDirOption
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.deployment import load_deployment_policy
from gateway.errors import AuditUnavailable, InputError
from gateway.governance.retention import dispose_history
from gateway.governance.service import GovernanceService
from gateway.governance.store import GovernanceStore
from gateway.products.retention import ManifestDisposal, dispose_manifests

__all__ = ["incident_app"]

incident_app = command_group(
    "incident", "The security-incident and data-loss register.", parent=audit_app
)

Output = Literal["table", "json"]


@audit_app.command("dispose")
def dispose_command(
    data_dir: DataDirOption,
    reason: Annotated[
        str, typer.Option(help="Why: the schedule, a disposal reference (recorded).")
    ] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be disposed of; change nothing.")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", hidden=True)] = None,
) -> None:
    """Dispose of what is past the policy's schedules: product manifests older than [products]
    manifest_retention_days (recorded first), then audit records older than [retention]
    audit_days (deleted with an ``audit.disposed`` record naming the last one, from which
    verification goes on). Host maintenance: recorded as ``host:<your operating-system user>``
    with the reason."""
    if by is not None:
        raise InputError(NO_NAMED_ACTOR)
    dirs = DataDir(data_dir)
    if not dirs.audit.is_file():
        raise AuditUnavailable(f"audit log {dirs.audit}: no such file")
    if not dry_run and not reason.strip():
        raise InputError("give a --reason (the schedule, a disposal reference)")
    host = HostOperator.current(reason.strip() or "dry run")
    require(host, Action.HOST_MAINTENANCE)
    policy = load_deployment_policy(dirs, load_catalog())
    actor, why = host.username, host.reason
    log = AuditLog.open(dirs, checkpoint_interval=None)
    try:
        if not dry_run:
            register = GovernanceService(GovernanceStore(dirs.governance), log, policy)
            dispose_history(register, policy.retention, actor=host, reason=why)
        manifests = dispose_manifests(
            log, dirs, policy.products, actor=actor, reason=why, now=utc_now(), dry_run=dry_run
        )
        run = dispose_expired(
            log,
            policy.retention,
            actor=actor,
            reason=why,
            dry_run=dry_run,
            break_glass=host.record(),
        )
    finally:
        if dry_run:
            log.store.close()  # a dry run writes nothing, not even a checkpoint
        else:
            log.close()
    _say_manifests(manifests, dry_run=dry_run)
    plan = run.plan
    cutoff = f"{plan.cutoff:%Y-%m-%d %H:%M} UTC ({plan.retention_days} days)"
    if not plan.through_seq:
        print(f"nothing to dispose of: no record is older than {cutoff}")
        return
    span = f"{plan.records} records (seq {plan.first_seq}..{plan.through_seq})"
    if run.record is None:
        print(f"would dispose of {span}, older than {cutoff}")
        return
    print(f"disposed of {span}, older than {cutoff}; recorded at seq {run.record.seq}")


def _say_manifests(found: ManifestDisposal, *, dry_run: bool) -> None:
    if not found.expired:
        return
    names = ", ".join(m.product_id for m in found.expired)
    if dry_run:
        print(f"would dispose of {len(found.expired)} product manifests: {names}")
        return
    print(f"disposed of {len(found.disposed)} product manifests")
    for problem in found.failed:
        print(f"could not delete the manifest of {problem}", file=sys.stderr)


def _show(rows: list[dict[str, Any]], output: Output, columns: tuple[str, ...]) -> None:
    if output == "json":
        print(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


OutputOption = Annotated[Output, typer.Option("--format", help="Output format.")]


@audit_app.command("plan")
def plan_command(url: UrlOption = None, output: OutputOption = "table") -> None:
    """The audit plan (what is sampled, how often, by whom) and when each duty is due."""
    with connection(url) as gw:
        duties = gw.audit_plan()
    _show(duties, output, ("name", "by", "every_days", "last_done", "due", "overdue", "sample"))


@audit_app.command("done")
def done_command(
    name: Annotated[str, typer.Argument(help="The plan's duty carried out.")],
    findings: Annotated[str, typer.Option(help="What the audit found (recorded).")],
    period_start: Annotated[
        str | None, typer.Option(help="Start of the period audited (ISO date).")
    ] = None,
    period_end: Annotated[
        str | None, typer.Option(help="End of the period audited (ISO date).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Record an audit carried out under the plan, with its findings (audited)."""
    with connection(url) as gw:
        done = gw.record_audit(name, findings, period_start=period_start, period_end=period_end)
    print(f"audit {done['audit_id']} of {done['duty']} recorded by {done['auditor']}")


@incident_app.command("report")
def incident_report_command(
    kind: Annotated[Literal["security", "data_loss"], typer.Option(help="security or data_loss.")],
    discovered_at: Annotated[str, typer.Option(help="When it was discovered (ISO date-time).")],
    summary: Annotated[str, typer.Option(help="What happened.")],
    lost: Annotated[
        str | None, typer.Option(help="data_loss: what was lost (required for data loss).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Report a security incident or a loss of data (the 24-hour rule: later is flagged)."""
    with connection(url) as gw:
        incident = gw.report_incident(kind, discovered_at, summary, lost=lost)
    late = (
        " — LATE: reported more than the rule's hours after discovery" if incident["late"] else ""
    )
    print(f"incident {incident['incident_id']} recorded{late}")
    if incident["late"]:
        print(
            f"warning: reported {incident['hours_to_report']:.1f} h after discovery",
            file=sys.stderr,
        )


@incident_app.command("close")
def incident_close_command(
    incident_id: Annotated[str, typer.Argument(help="The incident's reference.")],
    actions: Annotated[str, typer.Option(help="The actions taken (recorded).")],
    url: UrlOption = None,
) -> None:
    """Close an incident with the actions taken (auditors or the information security
    officer; never its reporter)."""
    with connection(url) as gw:
        closed = gw.close_incident(incident_id, actions)
    print(f"incident {closed['incident_id']} closed by {closed['closed_by']}")


@incident_app.command("list")
def incident_list_command(url: UrlOption = None, output: OutputOption = "table") -> None:
    """The incident register, late reports flagged."""
    with connection(url) as gw:
        incidents = gw.incidents()
    _show(
        incidents,
        output,
        (
            "incident_id",
            "kind",
            "discovered_at",
            "reported_at",
            "late",
            "reported_by",
            "closed_by",
            "summary",
        ),
    )
