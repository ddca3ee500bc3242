"""Product manifest retention: dispose of manifests past ``[products] manifest_retention_days``.

Each product's manifest (its provenance, every section's query id, its files' SHA-256) is kept
under ``DIR/products/<product id>.json`` for the manifest retention period (seven years by
default) — beyond its files, which exports retention prunes much earlier. Past it, a retention
run (``gateway audit dispose``) disposes of it. A manifest's age counts from the latest of its
registration (``product.registered``) and its file's modification time, so a manifest is never
disposed of before its period has run from either.

The run is recorded first — one ``product.manifests_disposed`` record naming each product and
its manifest's SHA-256, the schedule and the cut-off — and only then are the files deleted (no
record, no disposal); a file that cannot be deleted stays and is reported. A dry run only plans.

Example:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2033, 6, 1, tzinfo=timezone.utc)
    >>> old = KeptManifest("p1", datetime(2026, 1, 5, tzinfo=timezone.utc), "ab" * 32)
    >>> new = KeptManifest("p2", datetime(2030, 1, 5, tzinfo=timezone.utc), "cd" * 32)
    >>> [m.product_id for m in expired_manifests([old, new], now=now, retention_days=2557)]
    ['p1']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gateway.audit.chain import format_time
from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.datadir import DataDir
from gateway.policy.products import ProductSettings

__all__ = [
    "KeptManifest",
    "ManifestDisposal",
    "ManifestsDisposed",
    "dispose_manifests",
    "expired_manifests",
    "kept_manifests",
]


@dataclass(frozen=True)
class KeptManifest:
    """A manifest under ``DIR/products``: its product, how old it is, its SHA-256."""

    product_id: str
    since: datetime
    sha256: str


@dataclass(frozen=True)
class ManifestsDisposed:
    """``product.manifests_disposed``: one run that disposed of manifests past the schedule."""

    actor: str
    retention_days: int
    cutoff: datetime
    reason: str
    manifests: tuple[KeptManifest, ...]

    kind: ClassVar[EventKind] = EventKind.PRODUCT_MANIFESTS_DISPOSED
    organisation: ClassVar[str] = ""

    def details(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "retention_days": self.retention_days,
            "cutoff": format_time(self.cutoff),
            "manifests": [{"product_id": m.product_id, "sha256": m.sha256} for m in self.manifests],
        }


@dataclass(frozen=True)
class ManifestDisposal:
    """What a run found past the schedule, disposed of, and could not delete."""

    cutoff: datetime
    expired: tuple[KeptManifest, ...]
    disposed: tuple[KeptManifest, ...] = ()
    failed: tuple[str, ...] = ()


def expired_manifests(
    manifests: Iterable[KeptManifest], *, now: datetime, retention_days: int
) -> list[KeptManifest]:
    """The manifests older than the schedule (pure)."""
    cutoff = now - timedelta(days=retention_days)
    return [m for m in manifests if m.since < cutoff]


def kept_manifests(log: AuditLog, data_dir: DataDir) -> list[KeptManifest]:
    """Every manifest under ``DIR/products``, aged from the latest of its registration and its
    file's modification time.

    Raises:
        AuditUnavailable: the log cannot be read.
    """
    folder = data_dir.products
    if not folder.is_dir():
        return []
    registered = {
        str(e.details.get("product_id", "")): e.time
        for e in log.events(kinds=(EventKind.PRODUCT_REGISTERED,))
    }
    kept = []
    for path in sorted(folder.glob("*.json")):
        product_id = path.stem
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        since = max(written, registered.get(product_id, written))
        kept.append(KeptManifest(product_id, since, hashlib.sha256(path.read_bytes()).hexdigest()))
    return kept


def dispose_manifests(
    log: AuditLog,
    data_dir: DataDir,
    settings: ProductSettings,
    *,
    actor: str,
    reason: str,
    now: datetime,
    dry_run: bool = False,
) -> ManifestDisposal:
    """Record, then delete, every manifest past ``settings.manifest_retention_days``.

    Raises:
        AuditUnavailable: not recorded (nothing deleted).
    """
    days = settings.manifest_retention_days
    cutoff = now - timedelta(days=days)
    expired = tuple(expired_manifests(kept_manifests(log, data_dir), now=now, retention_days=days))
    if dry_run or not expired:
        return ManifestDisposal(cutoff, expired)
    log.record(ManifestsDisposed(actor, days, cutoff, reason, expired))
    disposed, failed = [], []
    for manifest in expired:
        try:
            (data_dir.products / f"{manifest.product_id}.json").unlink()
        except OSError as exc:
            failed.append(f"{manifest.product_id}: {exc.strerror}")
        else:
            disposed.append(manifest)
    return ManifestDisposal(cutoff, expired, tuple(disposed), tuple(failed))
