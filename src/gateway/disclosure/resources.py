"""What disclosure control keeps for a deployment beyond one query: the differencing budget's
ledger and the processes that protect large tables.

The composition root (:mod:`gateway.deployment`) opens them with the query service, which only
carries them (``QueryService.disclosure``) to the controls it is given and closes them with
itself; :func:`resources_of` finds them there.

Example:
    >>> import tempfile, pathlib
    >>> with DisclosureResources.open(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite", spares=0) as r:
    ...     type(r.ledger).__name__, type(r.processes).__name__
    ('ReleaseLedger', 'ProtectionProcesses')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.disclosure.isolation import ProtectionProcesses
from gateway.disclosure.ledger import ReleaseLedger
from gateway.lifetime import ClosesOnExit

if TYPE_CHECKING:
    from gateway.service import QueryService

__all__ = ["DisclosureResources", "resources_of"]


@dataclass
class DisclosureResources(ClosesOnExit):
    """The ledger (None: no differencing budget) and the protection processes (None: every
    table protected in the calling process)."""

    ledger: ReleaseLedger | None = None
    processes: ProtectionProcesses | None = None

    @classmethod
    def open(cls, ledger: Path, *, spares: int = 1) -> DisclosureResources:
        """Open the ledger file and start ``spares`` protection processes (in the background).

        Raises:
            AuditUnavailable: the ledger cannot be opened.
        """
        opened = ReleaseLedger.open(ledger)
        return cls(opened, ProtectionProcesses(spares=spares))

    def close(self) -> None:
        if self.processes is not None:
            self.processes.close()
        if self.ledger is not None:
            self.ledger.close()


def resources_of(service: QueryService) -> DisclosureResources:
    """What ``service`` carries for disclosure control (nothing: no budget, no processes)."""
    found = service.disclosure
    return found if isinstance(found, DisclosureResources) else DisclosureResources()
