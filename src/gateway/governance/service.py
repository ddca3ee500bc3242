"""The governance service: every governance action, checked, stored and audited as one operation.

:class:`GovernanceService` brings together the groups of operations, each in its own
module with its own table of who may do what:

- :mod:`~gateway.governance.register` — organisations, networks, people, roles, vetting,
  declarations, training, memoranda, code of connection, settings;
- :mod:`~gateway.governance.approvals` — access requests through their workflow, the grants
  they become, pending lists, standing;
- :mod:`~gateway.governance.oversight` — suspension, reinstatement, revocation, access reviews,
  inactivity, and the scheduled lifecycle run;
- :mod:`~gateway.governance.partners` — partner organisations as a whole: information sharing
  agreements, sponsorship, system-owner authorisation, the published list, suspension and
  termination;
- :mod:`~gateway.governance.breakglass` — bootstrap and recovery by the host operator
  (break-glass, audited as such; never an approval).

Every other operation is taken by a person in the register: their username is the caller's
authenticated principal (the API routes pass ``principal.username``; nothing takes it from a
flag).

Every operation writes in one ``BEGIN IMMEDIATE`` transaction whose last step appends its
:class:`~gateway.audit.facts.AccessEvent`; if that fails, nothing changes (fail closed).

Example:
    >>> service = Deployment.open(DataDir(Path("demo-data"))).governance  # doctest: +SKIP
    >>> request = service.submit("a.khan", form)                                   # doctest: +SKIP
    >>> service.endorse("m.jones", request.request_id, "supports the SA")         # doctest: +SKIP
"""

from __future__ import annotations

from gateway.governance.approvals import ApprovalOperations
from gateway.governance.breakglass import BreakGlassOperations
from gateway.governance.oversight import OversightOperations
from gateway.governance.partners import PartnershipOperations
from gateway.governance.register import RegisterOperations

__all__ = ["GovernanceService"]


class GovernanceService(
    RegisterOperations,
    ApprovalOperations,
    OversightOperations,
    PartnershipOperations,
    BreakGlassOperations,
):
    """Runs the access-governance process for one deployment (see the module docstring)."""
