"""Export retention: delete export files once ``[exports] retention_days`` have passed.

Export files are OFFICIAL-SENSITIVE; they stay on the server only as long as the policy says.
Everything under ``DIR/exports`` is looked at, one *stored item* at a time::

    <export id>/         an export (its file and export.json), or a product bundle
    .tmp-<export id>/    a partial export a crash left behind (never registered)
    <other folder>/      each file on its own (police-uk/ extracts, unregistered leftovers);
                         the folder goes once empty
    <file>               a loose file, on its own

An item's age counts from the latest of: the newest modification time of its files, its
registration in the audit log and the approval decision on it (an export approved late still
gets the whole period after its release). Items last touched before ``now - retention_days``
are deleted, except an export still pending a senior analyst's review, which is never deleted.

:func:`plan_retention` decides (pure); :func:`scan_exports` reads the directory;
:func:`prune_exports` deletes and records one ``export.pruned`` audit event per run that
deleted anything, listing each item (the exports register then shows ``deleted_at``, and a
later download gets :class:`~gateway.errors.ExportExpired`). A dry run deletes and records
nothing. The service prunes when it starts; ``gateway export prune --data-dir DIR`` prunes
from the command line (e.g. nightly from cron).

Example:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
    >>> old = StoredItem("q1", datetime(2026, 1, 2, tzinfo=timezone.utc), ("export.csv",), 10)
    >>> new = StoredItem("q2", datetime(2026, 3, 30, tzinfo=timezone.utc), ("export.csv",), 10)
    >>> [(d.item.name, d.delete) for d in plan_retention([old, new], {}, now=now,
    ...                                                  retention_days=30)]
    [('q1', True), ('q2', False)]
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.audit.chain import AuditEvent
from gateway.audit.facts import ExportsPruned, PrunedItem
from gateway.audit.kinds import EXPORT_KINDS
from gateway.audit.log import AuditLog
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable
from gateway.exports.approval import PENDING, ExportRecord, export_records
from gateway.exports.export import MANIFEST
from gateway.policy.exports import ExportSettings
from gateway.service import QueryService

__all__ = [
    "PARTIAL_PREFIX",
    "PruneReport",
    "RetentionDecision",
    "StoredItem",
    "apply_retention",
    "plan_retention",
    "prune_exports",
    "scan_exports",
]

log = logging.getLogger("gateway.exports")

#: Work folders of exports being written (``DIR/exports/.tmp-<export id>``).
PARTIAL_PREFIX = ".tmp-"


@dataclass(frozen=True)
class StoredItem:
    """One thing under ``DIR/exports`` that is kept or deleted as a whole.

    Attributes:
        name: its path under ``DIR/exports`` (``q…``, ``.tmp-q…``, ``police-uk/….csv``).
        modified_at: the newest modification time of its files (UTC; an empty folder's own).
        files: its files, relative to the item (a file item: its own name).
        bytes: their total size.
        folder: a whole export folder (else a single file).
    """

    name: str
    modified_at: datetime
    files: tuple[str, ...] = ()
    bytes: int = 0
    folder: bool = True

    @property
    def export_id(self) -> str:
        """The export this item holds, judged by its name (``""`` for single files)."""
        if not self.folder or "/" in self.name:
            return ""
        return self.name.removeprefix(PARTIAL_PREFIX)

    @property
    def partial(self) -> bool:
        """A work folder of an export that was never finished."""
        return self.folder and self.name.startswith(PARTIAL_PREFIX)


@dataclass(frozen=True)
class RetentionDecision:
    """What retention does with one item, and why.

    Attributes:
        item: the stored item.
        delete: whether it goes.
        reason: ``expired``, ``pending approval`` or ``within retention``.
        record: the export's audit record, when the item is a registered export.
        last_touched: the time its age counts from.
    """

    item: StoredItem
    delete: bool
    reason: str
    record: ExportRecord | None
    last_touched: datetime


def _last_touched(item: StoredItem, record: ExportRecord | None) -> datetime:
    times = [item.modified_at]
    if record is not None:
        times.append(record.registered_at)
        if record.decided_at is not None:
            times.append(record.decided_at)
    return max(times)


def plan_retention(
    items: Iterable[StoredItem],
    records: Mapping[str, ExportRecord],
    *,
    now: datetime,
    retention_days: int,
) -> list[RetentionDecision]:
    """Decide, for each stored item, whether it is deleted (pure: no clock, no files).

    Args:
        items: what is stored (:func:`scan_exports`).
        records: the exports register by export id (:func:`~.approval.export_records`).
        now: the current time (UTC).
        retention_days: the ``[exports]`` retention period.

    Returns:
        One decision per item, in the order given.
    """
    cutoff = now - timedelta(days=retention_days)
    decisions = []
    for item in items:
        record = None if item.partial else records.get(item.export_id)
        touched = _last_touched(item, record)
        if record is not None and record.approval == PENDING:
            decision = RetentionDecision(item, False, "pending approval", record, touched)
        elif touched < cutoff:
            decision = RetentionDecision(item, True, "expired", record, touched)
        else:
            decision = RetentionDecision(item, False, "within retention", record, touched)
        decisions.append(decision)
    return decisions


# --- reading and deleting files ----------------------------------------------------------------


def _mtime(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, UTC)


def _folder_item(name: str, path: Path) -> StoredItem:
    times: list[datetime] = []
    files: list[str] = []
    size = 0
    for parent, _dirs, names in os.walk(path):  # symbolic links are not followed
        for file_name in names:
            file_path = Path(parent, file_name)
            stat = file_path.lstat()
            times.append(_mtime(stat))
            files.append(str(file_path.relative_to(path)))
            size += stat.st_size
    newest = max(times) if times else _mtime(path.lstat())  # an empty folder: its own time
    return StoredItem(name, newest, tuple(sorted(files)), size)


def _file_item(name: str, path: Path) -> StoredItem:
    stat = path.lstat()
    return StoredItem(name, _mtime(stat), (path.name,), stat.st_size, folder=False)


def _is_export_folder(path: Path, registered: Mapping[str, ExportRecord]) -> bool:
    name = path.name
    return name.startswith(PARTIAL_PREFIX) or name in registered or (path / MANIFEST).exists()


def scan_exports(exports: Path, registered: Mapping[str, ExportRecord]) -> list[StoredItem]:
    """The stored items under ``exports`` (``DIR/exports``), sorted by name.

    Args:
        exports: the exports folder (missing: nothing stored).
        registered: the exports register, to tell export folders from folders of files.

    Symbolic links are left alone (the gateway never makes them).
    """
    if not exports.is_dir():
        return []
    items: list[StoredItem] = []
    for entry in sorted(os.scandir(exports), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_symlink():
            continue
        if entry.is_file():
            items.append(_file_item(entry.name, path))
        elif entry.is_dir() and _is_export_folder(path, registered):
            items.append(_folder_item(entry.name, path))
        elif entry.is_dir():
            for sub in sorted(os.scandir(path), key=lambda e: e.name):
                if sub.is_file(follow_symlinks=False):
                    items.append(_file_item(f"{entry.name}/{sub.name}", Path(sub.path)))
    return items


def _delete(exports: Path, item: StoredItem) -> None:
    path = exports / item.name
    if item.folder:
        shutil.rmtree(path)
        return
    path.unlink()
    if "/" in item.name:
        with contextlib.suppress(OSError):  # not empty (or gone already): it stays
            path.parent.rmdir()  # the folder goes once its last file has


@dataclass(frozen=True)
class PruneReport:
    """What one retention run found and did.

    Attributes:
        retention_days, cutoff: the period applied and the time it gives.
        decisions: one per stored item.
        deleted: the items deleted (none on a dry run).
        failed: ``name: reason`` for items that could not be deleted.
        event: the ``export.pruned`` audit event (``None``: nothing deleted, or a dry run).
        dry_run: nothing was deleted or recorded.
    """

    retention_days: int
    cutoff: datetime
    decisions: tuple[RetentionDecision, ...]
    deleted: tuple[StoredItem, ...] = ()
    failed: tuple[str, ...] = ()
    event: AuditEvent | None = None
    dry_run: bool = False

    @property
    def expired(self) -> tuple[RetentionDecision, ...]:
        """The decisions to delete (what a dry run would have deleted)."""
        return tuple(d for d in self.decisions if d.delete)

    def summary(self) -> str:
        """One line, e.g. ``deleted 3 of 5 stored exports (older than 30 days)``."""
        verb = "would delete" if self.dry_run else "deleted"
        count = len(self.expired) if self.dry_run else len(self.deleted)
        kept = sum(1 for d in self.decisions if d.reason == "pending approval")
        held = f"; {kept} pending approval kept" if kept else ""
        failed = f"; {len(self.failed)} could not be deleted" if self.failed else ""
        return (
            f"{verb} {count} of {len(self.decisions)} stored exports "
            f"(older than {self.retention_days} days){held}{failed}"
        )


def prune_exports(
    audit: AuditLog,
    data_dir: DataDir,
    settings: ExportSettings,
    *,
    now: datetime,
    actor: str = "system",
    organisation: str = "",
    dry_run: bool = False,
) -> PruneReport:
    """Delete the export files past retention and record the run in the audit log.

    Args:
        audit: the deployment's audit log (the exports register, and where the run is recorded).
        data_dir: the deployment (files under ``DIR/exports``).
        settings: the ``[exports]`` settings (``retention_days``).
        now: the current time (UTC).
        actor, organisation: who runs it, for the audit record.
        dry_run: only report what would be deleted.

    Raises:
        AuditUnavailable: the register cannot be read (nothing is deleted), or the run could
            not be recorded (the files are already gone; the error says so).
    """
    records = export_records(audit.events(kinds=EXPORT_KINDS))
    items = scan_exports(data_dir.exports, records)
    decisions = tuple(
        plan_retention(items, records, now=now, retention_days=settings.retention_days)
    )
    cutoff = now - timedelta(days=settings.retention_days)
    if dry_run:
        return PruneReport(settings.retention_days, cutoff, decisions, dry_run=True)
    deleted: list[PrunedItem] = []
    gone: list[StoredItem] = []
    failed: list[str] = []
    for decision in decisions:
        if not decision.delete:
            continue
        item = decision.item
        try:
            _delete(data_dir.exports, item)
        except FileNotFoundError:
            continue  # deleted meanwhile (another run records it)
        except OSError as exc:
            failed.append(f"{item.name}: {exc.strerror or type(exc).__name__}")
            continue
        gone.append(item)
        record = decision.record
        deleted.append(
            PrunedItem(
                name=item.name,
                export_id=record.export_id if record is not None else "",
                file_sha256=record.file_sha256 if record is not None else "",
                files=len(item.files),
                bytes=item.bytes,
            )
        )
    event = None
    if deleted or failed:
        run = ExportsPruned(
            actor,
            organisation,
            retention_days=settings.retention_days,
            cutoff=cutoff,
            deleted=tuple(deleted),
            failed=tuple(failed),
        )
        try:
            event = audit.record(run)
        except AuditUnavailable as exc:
            names = ", ".join(item.name for item in gone) or "nothing"
            raise AuditUnavailable(
                f"export retention deleted {names} but could not record it: {exc}"
            ) from exc
    return PruneReport(
        settings.retention_days, cutoff, decisions, tuple(gone), tuple(failed), event
    )


def apply_retention(service: QueryService, data_dir: DataDir) -> PruneReport:
    """Prune a serving deployment's exports now (the service calls this when it starts).

    Raises:
        AuditUnavailable: as :func:`prune_exports`.
    """
    report = prune_exports(service.audit, data_dir, service.policy.exports, now=service.clock())
    if report.deleted or report.failed:
        log.info("export retention: %s", report.summary())
    for problem in report.failed:
        log.warning("export retention: could not delete %s", problem)
    return report
