"""Fixtures for the governance tests: a register with every role, on real SQLite files.

The register (organisations, people, records) is built through :class:`GovernanceService`
itself, so every fixture step is also an audited operation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.auth.breakglass import HostOperator
from gateway.catalog import Catalog
from gateway.datadir import DataDir
from gateway.governance.model import NetworkRange, Organisation, Person
from gateway.governance.partnership import SharingAgreement
from gateway.governance.preconditions import (
    Declaration,
    DeclarationKind,
    Memorandum,
    Training,
    TrainingKind,
    Vetting,
)
from gateway.governance.requests import BusinessCase, EnhancedScope, Purpose, RequestForm
from gateway.governance.service import GovernanceService
from gateway.governance.store import GovernanceStore
from gateway.governance.workflow import Action
from gateway.policy import Policy, load_default_policy
from tests.conftest import REGISTER_IN_POSTGRESQL

MBRO = "E06000002"
HPOOL = "E06000001"
START = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
#: A Middlesbrough analyst's relations: line manager and local supervisor m.jones, designated
#: senior analyst s.patel (``person(…, **MBC_ANALYST)``).
MBC_ANALYST = {
    "line_manager": "m.jones",
    "local_supervisor": "m.jones",
    "senior_analyst": "s.patel",
}
MBC_NETWORK = "192.0.2.0/28"
#: The host operator who bootstraps the test registers (break-glass, audited as such).
HOST = HostOperator("ops", 1000, "CHG-1: bootstrap of the test register")


class Clock:
    """A settable clock (the service asks it for the time; tests move it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def policy(catalog: Catalog) -> Policy:
    return load_default_policy(catalog)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def data_dir(tmp_path: Path, request: pytest.FixtureRequest) -> DataDir:
    """An empty data directory — or, for tests using ``world``, a copy of the world's files
    (register, audit log, checkpoints, keys) built once per session."""
    root = tmp_path / "gw"
    if "world" in request.fixturenames and not REGISTER_IN_POSTGRESQL:
        shutil.copytree(request.getfixturevalue("world_files"), root)
    else:
        root.mkdir()
    return DataDir(root)


@pytest.fixture
def audit(data_dir: DataDir) -> Iterator[AuditLog]:
    log = AuditLog.open(data_dir)
    yield log
    log.close()


@pytest.fixture
def service(data_dir: DataDir, audit: AuditLog, policy: Policy, clock: Clock) -> GovernanceService:
    return GovernanceService(GovernanceStore(data_dir.governance), audit, policy, clock)


def person(
    username: str,
    org: str,
    *roles: str,
    line_manager: str | None = None,
    areas: tuple[str, ...] = (),
    workstations: tuple[str, ...] = (),
    role_title: str = "Officer",
    senior_analyst: str | None = None,
    local_supervisor: str | None = None,
    phone: str = "01642 300000",
) -> Person:
    return Person(
        username=username,
        full_name=username.replace(".", " ").title(),
        organisation=org,
        role_title=role_title,
        email=f"{username}@example.org",
        roles=frozenset(roles),
        line_manager=line_manager,
        areas=areas,
        workstations=workstations,
        senior_analyst=senior_analyst,
        local_supervisor=local_supervisor,
        phone=phone,
    )


def make_ready(service: GovernanceService, username: str, *, vetting: str = "NPPV3") -> None:
    """Record everything ``username`` needs before access goes live (their own memorandum of
    understanding when they are of a partner organisation)."""
    day = service.clock().date()
    service.record_vetting(
        "i.sec", Vetting(username, vetting, day - timedelta(days=30), day + timedelta(days=3 * 365))
    )
    declarations: tuple[DeclarationKind, ...] = (
        "confidentiality",
        "data_protection",
        "official_secrets_act",
        "security_operating_procedures",
    )
    for kind in declarations:
        service.record_declaration(username, Declaration(username, kind, day))
    trainings: tuple[TrainingKind, ...] = ("gateway_training", "information_security_induction")
    for training in trainings:
        service.record_training("i.sec", Training(username, training, day))
    with service.store.reading() as r:
        organisation = r.require_person(username).organisation
    if organisation != "CLE":
        memorandum = Memorandum(organisation, f"MOU-{username}", day, username=username)
        service.record_memorandum("root", memorandum)


def build_world(service: GovernanceService, clock: Clock) -> None:
    """The force (CLE), Middlesbrough Council (MBC) and Hartlepool (HBC), with every role.

    People: root (admin), a.khan (MBC analyst, line manager and local supervisor m.jones,
    designated senior analyst s.patel), b.lee (the same), m.jones (MBC line manager and local
    supervisor), p.spoc (MBC SPOC), s.super and s.super2 (superintendents for Middlesbrough),
    s.hpool (superintendent for Hartlepool only), a.man (analysis manager), i.sec (information
    security officer), h.intel (head of intelligence), s.patel (senior analyst), o.wner (system
    owner). a.khan and b.lee have every precondition in place; MBC has its memorandum, code of
    connection, information sharing agreement (copy with root) and the system owner's
    authorisation.
    """
    force = Organisation(
        "CLE", "Cleveland Police", "force", (HPOOL, MBRO, "E06000003", "E06000004")
    )
    service.bootstrap(person("root", "CLE", "admin"), force, by=HOST)
    service.add_organisation(
        "root", Organisation("MBC", "Middlesbrough Council", "local_authority", (MBRO,))
    )
    service.add_organisation(
        "root", Organisation("HBC", "Hartlepool Borough Council", "local_authority", (HPOOL,))
    )
    service.add_network("root", NetworkRange("MBC", MBC_NETWORK, "Civic Centre analysts' VLAN"))
    analyst = MBC_ANALYST
    for who in (
        person("m.jones", "MBC", "line_manager", "local_supervisor"),
        person("p.spoc", "MBC", "spoc"),
        person("s.patel", "CLE", "senior_analyst"),
        person("o.wner", "CLE", "system_owner"),
        person("a.khan", "MBC", "analyst", role_title="Community Safety Analyst", **analyst),
        person("b.lee", "MBC", "analyst", **analyst),
        person("s.super", "CLE", "superintendent", areas=(MBRO,)),
        person("s.super2", "CLE", "superintendent", areas=(MBRO,)),
        person("s.hpool", "CLE", "superintendent", areas=(HPOOL,)),
        person("a.man", "CLE", "analysis_manager"),
        person("i.sec", "CLE", "information_security_officer"),
        person("h.intel", "CLE", "head_of_intelligence"),
    ):
        service.add_person("root", who)
    day = clock().date()
    service.record_memorandum("root", Memorandum("MBC", "MOU-MBC-2026", day - timedelta(days=60)))
    service.declare_code_of_connection("p.spoc", "MBC")
    service.record_sharing_agreement(
        "root", SharingAgreement("MBC", "ISA-MBC-2026", day - timedelta(days=60), None, "root")
    )
    service.authorise_organisation("o.wner", "MBC", "ISA and memorandum in place")
    make_ready(service, "a.khan")
    make_ready(service, "b.lee")


@pytest.fixture(scope="session")
def world_files(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Path:
    """The world's data directory, built once through the service (every step audited)."""
    root = tmp_path_factory.mktemp("world") / "gw"
    root.mkdir()
    data_dir = DataDir(root)
    with AuditLog.open(data_dir) as log:
        service = GovernanceService(GovernanceStore(data_dir.governance), log, policy, Clock(START))
        build_world(service, Clock(START))
    return root


@dataclass
class World:
    service: GovernanceService
    clock: Clock


@pytest.fixture
def world(service: GovernanceService, clock: Clock) -> World:
    """The register of :func:`build_world` (a fresh copy per test), at ``START``; built for
    the test itself when the register is in PostgreSQL (its schema is the test's own)."""
    if REGISTER_IN_POSTGRESQL:
        build_world(service, clock)
    return World(service, clock)


def general_form(
    applicant: str = "a.khan", purposes: tuple[str, ...] = ("SA-2026-MBRO",)
) -> RequestForm:
    return RequestForm(
        applicant=applicant,
        level="general",
        purposes=tuple(Purpose(code, f"{code} analysis") for code in purposes),
        business_case=BusinessCase(
            "Produce the CSP strategic assessment and JAG problem profiles",
            ("Strategic assessment 2026",),
            ("Middlesbrough CSP board",),
        ),
    )


def enhanced_form(
    applicant: str = "a.khan",
    *,
    purpose: str = "JAG-2026-07",
    unmask: tuple[str, ...] = ("crime.modus_operandi",),
    tables: tuple[str, ...] = (),
    ends: date = date(2026, 12, 31),
) -> RequestForm:
    return RequestForm(
        applicant=applicant,
        level="enhanced",
        purposes=(Purpose(purpose, "Linthorpe Road burglary JAG problem profile"),),
        business_case=BusinessCase("JAG analyst", ("Problem profile",), ("JAG members",)),
        enhanced=EnhancedScope(
            tables=tables,
            unmask=unmask,
            justification="MO themes for the burglary series",
            method="no force product reports MO themes; aggregates cannot show them",
        ),
        ends=ends,
    )


#: The approval chain for a Middlesbrough applicant: (actor, action).
CHAIN: tuple[tuple[str, Action], ...] = (
    ("m.jones", "endorse"),
    ("s.super", "endorse"),
    ("a.man", "review"),
    ("i.sec", "review"),
    ("h.intel", "authorise"),
)


def approve(service: GovernanceService, request_id: str) -> None:
    for actor, action in CHAIN:
        service.act(actor, request_id, action, f"{action} by {actor}")
