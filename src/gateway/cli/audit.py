"""``gateway audit …``: verify the audit chain, write a checkpoint, print review reports.

    gateway audit verify --data-dir DIR [--witness FILE]   exit 0 valid, 1 broken (2 = unreadable)
    gateway audit checkpoint --data-dir DIR        sign the current head now (e.g. from cron)
    gateway audit acknowledge --data-dir DIR --reason TEXT       (break-glass: host:<OS user>)
                                                   accept what verify found (audited), so the
                                                   server starts again
    gateway audit report KIND --data-dir DIR [--since … --until … --format table|csv|json]
                                                   (the run is audited as host:<OS user>)

The witness file defaults to ``GATEWAY_AUDIT_WITNESS_FILE`` (see :mod:`gateway.audit.witness`).

Remote, through a gateway server (senior analysts and auditors; token as for `gateway query`)::

    gateway audit verify --url URL
    gateway audit report KIND --url URL [--since … --until …]
    gateway audit events --url URL [--kind … --actor … --since … --until … --limit N]

Report kinds: activity, person-lookups, large-extractions, out-of-hours, denied, exports,
dormant — the table :data:`gateway.audit.reporting.REPORTS`, offered with the same parameters
by the API. Dates without a time zone are read in ``--timezone`` (Europe/London).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import polars as pl
import typer

from gateway.audit.checkpoints import CHECKPOINT_KEY
from gateway.audit.facts import AccessEvent
from gateway.audit.integrity import acknowledgement_of
from gateway.audit.kinds import EventKind
from gateway.audit.location import embedded_log_missing, open_audit_store
from gateway.audit.log import AuditLog
from gateway.audit.reporting import (
    REPORT_PARAMETERS,
    ReportArguments,
    ReportName,
    ReportSources,
    parse_clock,
    report_zone,
    run_report,
)
from gateway.audit.reports import users_seen
from gateway.audit.tables import AuditTables, audit_tables
from gateway.audit.verify import verify_data_dir
from gateway.audit.witness import FileWitness, Witness, witnesses_from_env
from gateway.auth.breakglass import HostOperator
from gateway.auth.permissions import Action, require
from gateway.catalog import load_catalog
from gateway.cli import command_group
from gateway.cli.access import NO_NAMED_ACTOR
from gateway.cli.config import UrlOption, configured_url, connection
from gateway.cli.options import AuditStoreOption, DataDirOption, use_audit_store
from gateway.clock import parse_when
from gateway.datadir import DataDir
from gateway.deployment import Deployment
from gateway.errors import AuditUnavailable, InputError
from gateway.governance.directory import has_register

__all__ = ["audit_app"]

audit_app = command_group("audit", "Verify and review the audit trail.")

OutputFormat = Literal["table", "csv", "json"]

CheckpointsOption = Annotated[
    Path | None,
    typer.Option(
        "--checkpoints",
        help="Checkpoint file (default DIR/audit.checkpoints.jsonl).",
        dir_okay=False,
    ),
]


OptionalDataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The deployment's data directory (local).", file_okay=False),
]

WitnessOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--witness",
        help="A witness checkpoint file to compare with (repeatable; default: "
        "GATEWAY_AUDIT_WITNESS_FILE and the other GATEWAY_AUDIT_WITNESS_* settings).",
        dir_okay=False,
    ),
]


def _witnesses(data_dir: Path, given: list[Path] | None) -> Sequence[Witness]:
    if given:
        return tuple(FileWitness(path) for path in given)
    return witnesses_from_env(os.environ, data_dir=data_dir)


def _local(data_dir: Path | None) -> Path:
    if data_dir is None:
        raise InputError("give --data-dir DIR (on the gateway's host) or --url URL (remote)")
    return data_dir


@audit_app.command("verify")
def verify_command(
    data_dir: OptionalDataDir = None,
    checkpoints: CheckpointsOption = None,
    witness: WitnessOption = None,
    url: UrlOption = None,
    audit_store: AuditStoreOption = None,
) -> None:
    """Recompute the hash chain and record MACs, check the signed checkpoints (and witnesses)
    and the database; exit 1 if anything is wrong."""
    use_audit_store(audit_store)
    if data_dir is None and configured_url(url):
        with connection(url) as gw:
            remote = gw.audit_verify()
        print(remote["summary"])
        for problem in remote["checkpoint_problems"]:
            print(f"checkpoint problem: {problem}")
        for warning in remote["warnings"]:
            print(f"note: {warning}", file=sys.stderr)
        raise typer.Exit(0 if remote["ok"] else 1)
    data_dir = _local(data_dir)
    report = verify_data_dir(
        DataDir(data_dir), checkpoints=checkpoints, witnesses=_witnesses(data_dir, witness)
    )
    print(report.summary())
    for damage in report.damage[1:]:
        print(f"damage: {damage}")
    for problem in report.checkpoint_problems:
        print(f"checkpoint problem: {problem}")
    for warning in report.warnings:
        print(f"note: {warning}", file=sys.stderr)
    raise typer.Exit(0 if report.ok else 1)


def _existing(data_dir: Path) -> DataDir:
    deployment = DataDir(data_dir)
    if embedded_log_missing(deployment):
        raise AuditUnavailable(f"audit log {deployment.audit}: no such file")
    return deployment


@audit_app.command("checkpoint")
def checkpoint_command(data_dir: DataDirOption, checkpoints: CheckpointsOption = None) -> None:
    """Sign a checkpoint of the current head now (the server also does every few seconds)."""
    with AuditLog.open(_existing(data_dir), checkpoints=checkpoints) as log:
        cp = log.checkpoint()
    print("audit log is empty: no checkpoint written" if cp is None else f"checkpoint seq {cp.seq}")


@audit_app.command("acknowledge")
def acknowledge_command(
    data_dir: DataDirOption,
    reason: Annotated[str, typer.Option(help="Why the loss is accepted (an incident reference).")],
    checkpoints: CheckpointsOption = None,
    witness: WitnessOption = None,
    by: Annotated[str | None, typer.Option("--by", hidden=True)] = None,
) -> None:
    """Break-glass on the host: accept what verification finds (a cut tail, a rollback, a
    forged or lost record) after investigating it: appends an audited ``audit.acknowledged``
    record naming exactly those problems, by ``host:<your operating-system user>`` with the
    reason, and checkpoints it, so the gateway serves again. New problems still fail."""
    if by is not None:
        raise InputError(NO_NAMED_ACTOR)
    if not reason.strip():
        raise InputError("give a --reason (what happened, an incident reference)")
    host = HostOperator.current(reason)
    require(host, Action.HOST_MAINTENANCE)
    deployment = _existing(data_dir)
    witnesses = _witnesses(data_dir, witness)
    with AuditLog.open(
        deployment,
        checkpoints=checkpoints,
        witnesses=witnesses,
        checkpoint_interval=None,
        check=False,
    ) as log:
        assert log.checkpoints is not None
        ack = acknowledgement_of(
            log.store,
            log.checkpoints,
            deployment.secret(CHECKPOINT_KEY),
            actor=host.username,
            reason=host.reason,
            witnesses=witnesses,
        )
        if not ack.needed:
            print("nothing to acknowledge: " + ack.report.summary())
            return
        for found in ack.details()["findings"]:
            print(f"acknowledging: {found}")
        event = log.record(ack)
        cp = log.checkpoint()
    print(
        f"acknowledged at seq {event.seq} by {event.actor}"
        + (f"; checkpoint seq {cp.seq}" if cp is not None else "")
    )


def _load(data_dir: Path) -> AuditTables:
    store = open_audit_store(DataDir(data_dir), read_only=True)
    try:
        return audit_tables(store.events())
    finally:
        store.close()


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(pl.col(name).list.join("; ") for name in lists)


def render(frame: pl.DataFrame, output: OutputFormat) -> str:
    """A report as text: an aligned table, CSV (lists joined by ``; ``) or JSON rows."""
    if output == "csv":
        return _flatten(frame).write_csv()
    if output == "json":
        return frame.write_json()
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        fmt_str_lengths=60,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        return str(frame)


def _help(name: str) -> str:
    return REPORT_PARAMETERS[name].help


def _users(given: list[str] | None, users_file: Path | None) -> tuple[str, ...]:
    users = set(given or ())
    if users_file is not None:
        try:
            lines = users_file.read_text("utf-8").splitlines()
        except OSError as exc:
            raise InputError(f"cannot read {users_file}: {exc.strerror}") from exc
        users.update(line.strip() for line in lines if line.strip())
    return tuple(sorted(users))


def _local_sources(data_dir: Path, now: datetime) -> ReportSources:
    """The sources of a report run on the gateway's host: the log read-only, the packaged
    catalog, and everyone with access in the deployment's directory (users seen in the log
    when the directory has no users file or register)."""
    deployment = DataDir(data_dir)
    tables = _load(data_dir)

    def users_with_access() -> Collection[str]:
        if deployment.users.is_file() or has_register(deployment):
            return Deployment.principal_directory(deployment).usernames()
        return users_seen(tables.queries)

    return ReportSources(tables, load_catalog(), users_with_access, now)


def _record_review(
    deployment: DataDir, kind: str, arguments: ReportArguments, host: HostOperator
) -> None:
    """Record a report run on the host (``access.audit_reviewed`` by ``host:<operating-system
    user>``, with the reason) before it is made: reviews are audited from every channel (no
    record, no report)."""
    facts = {
        "channel": "cli",
        "break_glass": host.record(),
        "since": arguments.since.isoformat() if arguments.since else None,
        "until": arguments.until.isoformat() if arguments.until else None,
    }
    with AuditLog.open(deployment, checkpoint_interval=None) as log:
        log.record(
            AccessEvent(
                EventKind.ACCESS_AUDIT_REVIEWED,
                host.username,
                "",
                subject=f"report:{kind}",
                extra={k: v for k, v in facts.items() if v is not None},
            )
        )


@audit_app.command("report")
def report_command(
    kind: Annotated[ReportName, typer.Argument(help="Which report.")],
    data_dir: OptionalDataDir = None,
    since: Annotated[str | None, typer.Option(help=_help("since"))] = None,
    until: Annotated[str | None, typer.Option(help=_help("until"))] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = "table",
    min_rows: Annotated[int, typer.Option(help=_help("min_rows"))] = 10_000,
    work_start: Annotated[str, typer.Option(help=_help("work_start"))] = "08:00",
    work_end: Annotated[str, typer.Option(help=_help("work_end"))] = "18:00",
    timezone: Annotated[str, typer.Option(help=_help("timezone"))] = "Europe/London",
    users: Annotated[list[str] | None, typer.Option("--user", help=_help("users"))] = None,
    users_file: Annotated[
        Path | None, typer.Option(help="dormant: file of users to check, one per line.")
    ] = None,
    months: Annotated[int, typer.Option(help=_help("months"))] = 6,
    url: UrlOption = None,
    reason: Annotated[
        str, typer.Option(help="On the host: why the report is run (recorded with your OS user).")
    ] = "audit report on the host",
) -> None:
    """Print a review report over the audit log; the same reports and parameters as
    ``GET /v1/audit/reports/{name}`` (:data:`gateway.audit.reporting.REPORTS`). Every run is
    audited: on the host as ``host:<operating-system user>`` with ``--reason``, through a
    server as the signed-in user."""
    zone = report_zone(timezone)
    arguments = ReportArguments(
        since=parse_when(since, zone),
        until=parse_when(until, zone),
        min_rows=min_rows,
        work_start=parse_clock(work_start),
        work_end=parse_clock(work_end),
        timezone=timezone,
        months=months,
        users=_users(users, users_file),
    )
    if data_dir is None and configured_url(url):
        with connection(url) as gw:
            frame = gw.audit_report(
                kind,
                since=arguments.since,
                until=arguments.until,
                min_rows=min_rows,
                work_start=arguments.work_start,
                work_end=arguments.work_end,
                timezone=timezone,
                months=months,
                users=arguments.users,
            )
    else:
        local = _local(data_dir)
        _record_review(_existing(local), kind, arguments, HostOperator.current(reason))
        sources = _local_sources(local, datetime.now(zone))
        frame = run_report(kind, sources, arguments)
    print(render(frame, output), end="" if output == "csv" else "\n")


@audit_app.command("events")
def events_command(
    url: UrlOption = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only this kind (repeatable).")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user.")] = None,
    since: Annotated[str | None, typer.Option(help="Start (inclusive), ISO date/time.")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), ISO date/time.")] = None,
    after_seq: Annotated[int, typer.Option(help="Only events after this seq.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = "table",
) -> None:
    """List audit events through a gateway server (senior analysts, auditors)."""
    zone = ZoneInfo("Europe/London")
    with connection(url) as gw:
        page = gw.audit_events(
            kinds=kind,
            actor=actor,
            since=parse_when(since, zone),
            until=parse_when(until, zone),
            after_seq=after_seq,
            limit=limit,
        )
    frame = pl.DataFrame(
        [
            {
                "seq": e["seq"],
                "time": e["time"],
                "kind": e["kind"],
                "actor": e["actor"],
                "organisation": e["organisation"],
                "details": json.dumps(e["details"], sort_keys=True),
            }
            for e in page["events"]
        ],
        schema={
            "seq": pl.Int64,
            "time": pl.String,
            "kind": pl.String,
            "actor": pl.String,
            "organisation": pl.String,
            "details": pl.String,
        },
    )
    print(render(frame, output), end="" if output == "csv" else "\n")
    if page.get("next_after_seq"):
        print(f"more: --after-seq {page['next_after_seq']}", file=sys.stderr)
