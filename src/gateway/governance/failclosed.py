"""Fail closed on governance: is a data directory's access governed, and who would get
enhanced access without the governance process?

A directory is **governed** when ``DIR/governance.sqlite`` holds a register: every grant went
through requests, endorsements, vetting, declarations, training and origin checks. Otherwise
principals come straight from ``users.toml`` (**ungoverned**: a bootstrap, a test, a demo run
with ``--simple``) and none of those checks apply. ``gateway serve`` refuses to give enhanced
access from an ungoverned directory unless told to (``--allow-ungoverned``), and says at start
which kind it serves; ``GET /v1/me`` answers ``governance``.

Example:
    >>> from datetime import datetime, UTC
    >>> from gateway.principal import Principal
    >>> class Users:
    ...     def usernames(self): return ["a", "e"]
    ...     def principal(self, name, at):
    ...         return Principal(name, "Org", "enhanced" if name == "e" else "general")
    >>> governance_mode(Users()), ungoverned_enhanced(Users(), datetime.now(UTC))
    ('ungoverned', ['e'])
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from gateway.governance.directory import GovernanceDirectory
from gateway.principal import PrincipalDirectory

__all__ = ["GovernanceMode", "governance_mode", "ungoverned_enhanced"]

GovernanceMode = Literal["governed", "ungoverned"]


def governance_mode(directory: PrincipalDirectory) -> GovernanceMode:
    """``governed`` when principals come from the governance register, else ``ungoverned``."""
    return "governed" if isinstance(directory, GovernanceDirectory) else "ungoverned"


def ungoverned_enhanced(directory: PrincipalDirectory, at: datetime) -> list[str]:
    """Users an ungoverned directory gives enhanced access (the enhanced level or any grant),
    sorted; always empty for the governance register."""
    if governance_mode(directory) == "governed":
        return []
    found = []
    for name in directory.usernames():
        principal = directory.principal(name, at)
        if principal is not None and (principal.level == "enhanced" or principal.grants):
            found.append(name)
    return sorted(found)
