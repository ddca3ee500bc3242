"""Break-glass host mode: the host administrator acting on the data directory, without a login.

Everything the gateway's people do — governance, approvals, publication, administration — is
done by an authenticated person through the server (``gateway login --server URL``; the server
takes the actor from the token, never from a flag). Two moments have no such person yet, or no
longer: **bootstrap** (the register has no administrator) and **recovery** (every administrator
is locked out, a token is compromised, the origin checks lock everyone out, the audit log must
be acknowledged after a restore). For those, whoever can open the data directory on the host
acts as a :class:`HostOperator`: recorded as ``host:<operating-system user>`` with the numeric
uid and a required reason, every action audited as break-glass (the event's ``break_glass``
field).

What a host operator may do is decided by the permission point
(:data:`gateway.auth.permissions.BREAK_GLASS_ACTIONS`): bootstrap, add an administrator,
unlock or issue a token for an administrator-only account, revoke a token, maintenance,
change the origin settings. Never approve, endorse, review, authorise, publish or decide a
release — those are refused with :class:`~gateway.errors.BreakGlassRefused`.

Example:
    >>> host = HostOperator("ops", 1000, "INC-42: all administrators locked out")
    >>> host.username, host.roles == frozenset({BREAK_GLASS_ROLE})
    ('host:ops', True)
    >>> host.record()["reason"]
    'INC-42: all administrators locked out'
    >>> HostOperator.current("  ")
    Traceback (most recent call last):
    ...
    gateway.errors.InputError: break-glass host mode needs --reason: say why (an incident or change reference)
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field

from gateway.auth.permissions import BREAK_GLASS_ROLE
from gateway.errors import InputError

__all__ = ["HostOperator"]

#: The longest reason kept (a paragraph, not a document).
MAX_REASON = 2000


@dataclass(frozen=True)
class HostOperator:
    """The operating-system user acting on the data directory in break-glass mode.

    Attributes:
        os_user: their login name on the host.
        uid: their numeric user id.
        reason: why break-glass was needed (required; recorded with every action).
    """

    os_user: str
    uid: int
    reason: str
    organisation: str = field(default="host", init=False)
    roles: frozenset[str] = field(default=frozenset({BREAK_GLASS_ROLE}), init=False)
    areas: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        reason = " ".join(self.reason.split())
        if not reason:
            raise InputError(
                "break-glass host mode needs --reason: say why (an incident or change reference)"
            )
        if len(reason) > MAX_REASON:
            raise InputError(f"--reason is at most {MAX_REASON} characters")
        object.__setattr__(self, "reason", reason)

    @property
    def username(self) -> str:
        """How the audit log names them: ``host:<operating-system user>``."""
        return f"host:{self.os_user}"

    @classmethod
    def current(cls, reason: str) -> HostOperator:
        """The operating-system user running this process, with ``reason``.

        Raises:
            InputError: no reason given.
        """
        uid = os.getuid()
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container without a passwd entry)
            user = f"uid{uid}"
        return cls(user, uid, reason)

    def record(self) -> dict[str, object]:
        """What the audit event carries as its ``break_glass`` field."""
        return {"os_user": self.os_user, "os_uid": self.uid, "reason": self.reason}
