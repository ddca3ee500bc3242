"""Products' release: QA sampling, the QA queue, the senior analyst's decision, downloads.

Policy 198 (3.2): a selection of products is quality-assured by the senior analyst before it
is released. A written product (:func:`~gateway.products.bundle.write_product`) is registered
here (``product.registered``) with the QA it needs::

    sampled   sample = the product id's SHA-256 read as a fraction in [0, 1); held for QA when
              sample < ``[products] qa_sample_rate`` (1.0, the default: every product) —
              fixed by the id, recorded with the rate, so anyone can re-check the choice
    pending ──pass───► passed      by the owner's designated senior analyst or a deputy (never
            └─return─► returned    the owner), with a comment; a returned product is never
                                   released (the analyst makes a new one)
    download  the owner once ``not_sampled`` or ``passed``; the authorisers at any time (to
              QA it); other approvers once released; every download audited

The audit log is the register (as for exports): a product's state is folded from its
``product.*`` events. The manifest's and every file's SHA-256 are in ``product.registered``
and so kept as long as the audit log is; the manifest itself is also kept under
``DIR/products/`` — ``[products] manifest_retention_days`` (seven years; then disposed of by
:mod:`gateway.products.retention`) — even when the files under ``DIR/exports/`` are pruned after the exports'
``retention_days`` (which does not know products: a product left awaiting QA longer than that
loses its files, and must be made again).

Example:
    >>> round(qa_sample("p20260105T100000Z-0123456789abcdef"), 4)
    0.0506
    >>> needs_qa(1.0, "p-any"), needs_qa(0.0, "p-any")
    (True, False)
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from gateway.audit.chain import AuditEvent
from gateway.audit.facts import ProductAction, ProductRegistered
from gateway.audit.kinds import PRODUCT_DECISIONS, PRODUCT_KINDS, EventKind
from gateway.auth.permissions import Action, Permissions
from gateway.datadir import DataDir
from gateway.errors import Conflict, NotFound
from gateway.exports.release import decision_comment
from gateway.exports.writers import sha256_file
from gateway.principal import Principal
from gateway.products.bundle import ProductFiles
from gateway.service import QueryService

__all__ = [
    "NOT_SAMPLED",
    "PASSED",
    "PENDING",
    "RETURNED",
    "ProductRecord",
    "list_products",
    "needs_qa",
    "open_product",
    "pass_product",
    "product_archive",
    "product_record",
    "product_records",
    "qa_sample",
    "register_product",
    "return_product",
    "visible_product",
]

NOT_SAMPLED = "not_sampled"
PENDING = "pending"
PASSED = "passed"
RETURNED = "returned"


def qa_sample(product_id: str) -> float:
    """The product's sample value in [0, 1): the first 8 bytes of SHA-256 of its id."""
    digest = hashlib.sha256(product_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def needs_qa(rate: float, product_id: str) -> bool:
    """Whether the product is sampled for QA at ``rate`` (1.0: all; 0.0: none)."""
    return qa_sample(product_id) < rate


@dataclass(frozen=True)
class ProductRecord:
    """One product as the audit log records it.

    Attributes:
        product_id, owner, organisation, product_kind: what it is and who made it.
        files: ``(file_name, format, sha256, bytes)`` of each file, the manifest last (format
            ``manifest``).
        manifest_sha256: SHA-256 of its manifest.
        marking: its protective marking.
        qa: ``not_sampled``, ``pending``, ``passed`` or ``returned``.
        qa_sample, qa_sample_rate: the sampling, as recorded.
        authorisers: who may QA it (designated senior analyst, then deputies).
        registered_at: when it was registered.
        decided_by, decided_at, comment: the QA decision, if any.
    """

    product_id: str
    owner: str
    organisation: str
    product_kind: str
    files: tuple[tuple[str, str, str, int], ...]
    manifest_sha256: str
    marking: str
    qa: str
    qa_sample: float
    qa_sample_rate: float
    authorisers: tuple[str, ...]
    registered_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str = ""

    @property
    def released(self) -> bool:
        """The owner may download it."""
        return self.qa in (NOT_SAMPLED, PASSED)


def _registered(event: AuditEvent) -> ProductRecord:
    d = event.details
    files = tuple(
        (str(f.get("file_name", "")), str(f.get("format", "")), str(f.get("sha256", "")),
         int(f.get("bytes", 0)))
        for f in d.get("files", [])
        if isinstance(f, dict)
    )  # fmt: skip
    authorisers = d.get("authorisers")
    return ProductRecord(
        product_id=str(d.get("product_id", "")),
        owner=event.actor,
        organisation=event.organisation,
        product_kind=str(d.get("product_kind", "")),
        files=files,
        manifest_sha256=str(d.get("manifest_sha256", "")),
        marking=str(d.get("marking", "")),
        qa=str(d.get("qa", PENDING)),
        qa_sample=float(d.get("qa_sample", 0.0)),
        qa_sample_rate=float(d.get("qa_sample_rate", 1.0)),
        authorisers=tuple(str(a) for a in authorisers) if isinstance(authorisers, list) else (),
        registered_at=event.time,
    )


def product_records(events: Iterable[AuditEvent]) -> dict[str, ProductRecord]:
    """Fold ``product.*`` events into the current record of each product (by id); the first
    decision on a pending product stands, and a decision about another manifest is ignored."""
    records: dict[str, ProductRecord] = {}
    for event in events:
        product_id = str(event.details.get("product_id", ""))
        if event.kind == EventKind.PRODUCT_REGISTERED:
            records[product_id] = _registered(event)
            continue
        record = records.get(product_id)
        if (
            record is None
            or event.kind not in PRODUCT_DECISIONS
            or record.qa != PENDING
            or event.details.get("manifest_sha256") != record.manifest_sha256
        ):
            continue
        records[product_id] = replace(
            record,
            qa=PRODUCT_DECISIONS[event.kind],
            decided_by=event.actor,
            decided_at=event.time,
            comment=str(event.details.get("comment", "")),
        )
    return records


def _records(service: QueryService) -> dict[str, ProductRecord]:
    return product_records(service.audit.events(kinds=PRODUCT_KINDS))


def register_product(
    service: QueryService, principal: Principal, bundle: ProductFiles, data_dir: DataDir
) -> ProductRecord:
    """Register a written product with the QA it needs (audited ``product.registered``), and
    keep its manifest under ``DIR/products/`` for the manifest retention period.

    Raises:
        AuditUnavailable: not registered (the caller must not hand the files out).
    """
    product = bundle.product
    rate = service.policy.products.qa_sample_rate
    sample = qa_sample(product.product_id)
    manifest_sha256 = sha256_file(bundle.manifest)
    fact = ProductRegistered(
        product_id=product.product_id,
        user=principal.username,
        organisation=principal.organisation,
        product_kind=product.kind,
        files=(
            *((f.path.name, f.format, f.sha256, f.bytes) for f in bundle.files),
            (bundle.manifest.name, "manifest", manifest_sha256, bundle.manifest.stat().st_size),
        ),
        manifest_sha256=manifest_sha256,
        marking=product.marking,
        qa=PENDING if sample < rate else NOT_SAMPLED,
        qa_sample=sample,
        qa_sample_rate=rate,
        authorisers=principal.senior_analysts,
    )
    _keep_manifest(data_dir, product.product_id, bundle.manifest)
    event = service.audit.record(fact)
    return _registered(event)


def _keep_manifest(data_dir: DataDir, product_id: str, manifest: Path) -> None:
    folder = data_dir.products
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{product_id}.json"
    shutil.copyfile(manifest, target)
    os.chmod(target, 0o600)


def product_record(service: QueryService, product_id: str) -> ProductRecord:
    """The current record of one product.

    Raises:
        NotFound: no such product registered.
    """
    record = _records(service).get(product_id)
    if record is None:
        raise NotFound(f"no product {product_id!r}")
    return record


def visible_product(service: QueryService, principal: Principal, product_id: str) -> ProductRecord:
    """One product's record, if ``principal`` may see it (:data:`Action.SEE_PRODUCT`)."""
    record = product_record(service, product_id)
    Permissions.of(service.policy).require(principal, Action.SEE_PRODUCT, record)
    return record


def list_products(
    service: QueryService, principal: Principal, *, pending_only: bool = False
) -> list[ProductRecord]:
    """Products ``principal`` may see (their own; approvers: everyone's), newest first; with
    ``pending_only``, the QA queue."""
    permissions = Permissions.of(service.policy)
    out = [
        r
        for r in _records(service).values()
        if permissions.allows(principal, Action.SEE_PRODUCT, r)
        and (not pending_only or r.qa == PENDING)
    ]
    return sorted(out, key=lambda r: r.registered_at, reverse=True)


def _decide(
    service: QueryService, actor: Principal, product_id: str, action: str, comment: str
) -> ProductRecord:
    record = product_record(service, product_id)
    Permissions.of(service.policy).require(actor, Action.QA_PRODUCT, record)
    verb = "passing" if action == PASSED else "returning"
    comment = decision_comment(comment, f"{verb} product {product_id}")
    event = service.audit.record(
        ProductAction(
            action,
            product_id,
            actor.username,
            actor.organisation,
            owner=record.owner,
            manifest_sha256=record.manifest_sha256,
            comment=comment,
        )
    )
    return replace(
        record, qa=action, decided_by=actor.username, decided_at=event.time, comment=comment
    )


def pass_product(
    service: QueryService, actor: Principal, product_id: str, *, comment: str
) -> ProductRecord:
    """QA passed: the product is released to its owner (audited ``product.qa_passed``).

    Raises:
        NotFound, WrongRole, SelfApproval, StepOutOfOrder: see
        :data:`gateway.auth.permissions.Action.QA_PRODUCT`; CommentRequired: no comment.
    """
    return _decide(service, actor, product_id, PASSED, comment)


def return_product(
    service: QueryService, actor: Principal, product_id: str, *, comment: str
) -> ProductRecord:
    """QA returned it with comments (audited ``product.qa_returned``): never released."""
    return _decide(service, actor, product_id, RETURNED, comment)


def open_product(
    service: QueryService, data_dir: DataDir, principal: Principal, product_id: str
) -> tuple[ProductRecord, tuple[Path, ...]]:
    """The product's files (report, workbook, manifest) for ``principal``, once the rules
    allow it, each checked against its registered hash (audited ``product.downloaded``).

    Raises:
        NotFound: no such product, someone else's, or its files were pruned.
        ReleaseHeld: awaiting QA, or returned.
        Conflict: a file no longer matches its registered hash.
    """
    record = product_record(service, product_id)
    Permissions.of(service.policy).require(principal, Action.DOWNLOAD_PRODUCT, record)
    folder = data_dir.export_folder(product_id)
    paths = []
    for name, _, digest, _ in record.files:
        path = folder / name
        if not path.is_file():
            raise NotFound(
                f"the files of product {product_id} are no longer kept (its manifest and "
                "hashes are: see the audit log)"
            )
        if sha256_file(path) != digest:
            raise Conflict(f"product {product_id} no longer matches the files registered for it")
        paths.append(path)
    service.audit.record(
        ProductAction(
            "downloaded",
            product_id,
            principal.username,
            principal.organisation,
            owner=record.owner,
            manifest_sha256=record.manifest_sha256,
        )
    )
    return record, tuple(paths)


def product_archive(paths: Iterable[Path]) -> bytes:
    """A ZIP of the product's files (flat, by name)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, arcname=path.name)
    return buffer.getvalue()
