"""The governance service: every governance action, checked, stored and audited as one operation.

:class:`GovernanceService` brings together the three groups of operations, each in its own
module with its own table of who may do what:

- :mod:`~gateway.governance.register` — organisations, networks, people, roles, vetting,
  declarations, training, memoranda, code of connection, settings;
- :mod:`~gateway.governance.approvals` — access requests through their workflow, the grants
  they become, pending lists, standing;
- :mod:`~gateway.governance.oversight` — suspension, reinstatement, revocation, access reviews,
  inactivity.

Every operation writes in one ``BEGIN IMMEDIATE`` transaction whose last step appends its
:class:`~gateway.audit.records.AccessEvent`; if that fails, nothing changes (fail closed).

Example:
    >>> service = open_governance(DataDir(Path("demo-data")), audit)      # doctest: +SKIP
    >>> request = service.submit("a.khan", form)                                   # doctest: +SKIP
    >>> service.endorse("m.jones", request.request_id, "supports the SA")         # doctest: +SKIP
"""

from __future__ import annotations

from gateway.audit.log import AuditLog
from gateway.clock import Clock, utc_now
from gateway.datadir import DataDir
from gateway.governance.approvals import ApprovalOperations
from gateway.governance.oversight import OversightOperations
from gateway.governance.register import RegisterOperations
from gateway.governance.store import GovernanceStore
from gateway.policy import Policy

__all__ = ["GovernanceService"]


class GovernanceService(RegisterOperations, ApprovalOperations, OversightOperations):
    """Runs the access-governance process for one deployment (see the module docstring)."""

    @classmethod
    def open(
        cls,
        data_dir: DataDir,
        *,
        audit: AuditLog,
        policy: Policy,
        clock: Clock | None = None,
    ) -> GovernanceService:
        """The service over ``DIR/governance.sqlite`` with the deployment's policy
        (:func:`gateway.deployment.open_governance` opens it for a data directory)."""
        return cls(GovernanceStore(data_dir.governance), audit, policy, clock or utc_now)
