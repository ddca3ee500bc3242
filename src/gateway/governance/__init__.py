"""Access governance: who may use the gateway, at which level, for what purpose, until when.

The force's process for partnership analysts' access, run by the gateway, with its decisions
driving enforcement directly. Modules, one job each:

    model          organisations, network ranges, people and roles, grants, suspensions
    requests       access request forms (business case, purposes, enhanced scope) + validation
    workflow       the request state machine and separation of duties (pure)
    preconditions  vetting, declarations, training, MoU, SyOPs, code of connection,
                   designated senior analyst, local supervisor (pure)
    partnership    an organisation's ISA, sponsorship, system-owner authorisation, stops (pure)
    shortfall      one thing missing before access goes live
    standing       grants + suspensions + preconditions → Principal, and why not (pure)
    status         "what is missing before I can start": a user's checklist (pure)
    lifecycle      access reviews, code-of-connection status, inactivity (pure)
    origin         registered networks and designated workstations (pure)
    settings       deployment-wide governance settings
    schema, codec, store    DIR/governance.sqlite (WAL, BEGIN IMMEDIATE, versioned requests)
    operations     what every operation shares: audit append as the last step (fail closed)
    register, approvals, oversight, partners   the operations, by concern; service brings
                   them together
    directory      GovernanceDirectory: the PrincipalDirectory over the register + origin checks

Example:
    >>> from datetime import date
    >>> from gateway.governance import next_step
    >>> next_step("endorsed_superintendent").role
    'analysis_manager'
"""

from gateway.governance.directory import GovernanceDirectory, has_register
from gateway.governance.lifecycle import AccessReview, InactiveUser, ReviewEntry
from gateway.governance.model import (
    ROLES,
    Grant,
    NetworkRange,
    Organisation,
    Person,
    Suspension,
)
from gateway.governance.origin import OriginRules, origin_refusal
from gateway.governance.preconditions import (
    CodeOfConnection,
    Declaration,
    Memorandum,
    PreconditionRecords,
    PreconditionRules,
    Shortfall,
    Training,
    Vetting,
    shortfalls,
)
from gateway.governance.requests import (
    AccessRequest,
    Applicant,
    BusinessCase,
    EnhancedScope,
    Purpose,
    RequestForm,
    Transition,
    validate_form,
)
from gateway.governance.service import GovernanceService
from gateway.governance.settings import GovernanceSettings
from gateway.governance.standing import Standing, standing
from gateway.governance.status import AccessStatus, StatusItem, access_status
from gateway.governance.store import GovernanceStore
from gateway.governance.workflow import STEPS, Step, decide, next_step

__all__ = [
    "ROLES",
    "STEPS",
    "AccessRequest",
    "AccessReview",
    "AccessStatus",
    "Applicant",
    "BusinessCase",
    "CodeOfConnection",
    "Declaration",
    "EnhancedScope",
    "GovernanceDirectory",
    "GovernanceService",
    "GovernanceSettings",
    "GovernanceStore",
    "Grant",
    "InactiveUser",
    "Memorandum",
    "NetworkRange",
    "Organisation",
    "OriginRules",
    "Person",
    "PreconditionRecords",
    "PreconditionRules",
    "Purpose",
    "RequestForm",
    "ReviewEntry",
    "Shortfall",
    "Standing",
    "StatusItem",
    "Step",
    "Suspension",
    "Training",
    "Transition",
    "Vetting",
    "access_status",
    "decide",
    "has_register",
    "next_step",
    "origin_refusal",
    "shortfalls",
    "standing",
    "validate_form",
]
