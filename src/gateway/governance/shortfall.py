"""One thing missing or expired before access goes live. Pure data.

Shared by the person's preconditions (:mod:`gateway.governance.preconditions`) and their
organisation's partnership records (:mod:`gateway.governance.partnership`).

Example:
    >>> Shortfall("isa_missing", "sharing_agreement", "no information sharing agreement").code
    'isa_missing'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["Shortfall"]


@dataclass(frozen=True)
class Shortfall:
    """One thing missing or expired, with a plain explanation.

    Attributes:
        code: ``vetting_missing``, ``vetting_expired``, ``vetting_insufficient``,
            ``declaration_missing``, ``syops_missing``, ``syops_expired``, ``training_missing``,
            ``mou_missing``, ``mou_expired``, ``coc_missing``, ``coc_expired``,
            ``senior_analyst_missing``, ``local_supervisor_missing``, ``isa_missing``,
            ``isa_expired``, ``sponsorship_missing`` or ``system_owner_authorisation_missing``.
        item: what it is about (``confidentiality``, ``NPPV3`` …).
        message: what to do, for the applicant.
        expired_on: the day it lapsed, where it lapsed.
    """

    code: str
    item: str
    message: str
    expired_on: date | None = None
