"""Governance settings: origin checks, review and inactivity periods, precondition rules.

Kept in the governance database (changed with ``gateway access settings …``, audited) so every
process of a deployment sees the same values. :meth:`GovernanceSettings.demo` is the one
setting a demo needs: loopback connections allowed.

Example:
    >>> s = GovernanceSettings.demo()
    >>> s.origin.allow_loopback, s.review_interval_months
    (True, 6)
    >>> GovernanceSettings.from_json(s.to_json()) == s
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from gateway.errors import ConfigurationError, InputError
from gateway.governance.origin import OriginRules
from gateway.governance.preconditions import (
    DECLARATION_KINDS,
    VETTING_LEVELS,
    PreconditionRules,
)

__all__ = ["GovernanceSettings"]


@dataclass(frozen=True)
class GovernanceSettings:
    """Deployment-wide governance settings.

    Attributes:
        origin: network origin checks.
        preconditions: vetting levels, SyOPs period, partner documents.
        review_interval_months: how often each organisation's access is reviewed.
        review_days: how long a SPOC has to confirm users before the unconfirmed are suspended.
        inactivity_months: no query for this long flags a user.
        coc_valid_days: how long a code-of-connection declaration lasts.
        coc_warn_days: how long before it lapses the scheduled run reminds the SPOC.
        enhanced_max_days: the longest enhanced grant.
    """

    origin: OriginRules = field(default_factory=OriginRules)
    preconditions: PreconditionRules = field(default_factory=PreconditionRules)
    review_interval_months: int = 6
    review_days: int = 28
    inactivity_months: int = 6
    coc_valid_days: int = 365
    coc_warn_days: int = 30
    enhanced_max_days: int = 366

    def __post_init__(self) -> None:
        for name in (
            "review_interval_months",
            "review_days",
            "inactivity_months",
            "coc_valid_days",
            "coc_warn_days",
            "enhanced_max_days",
        ):
            if getattr(self, name) < 1:
                raise InputError(f"governance setting {name} must be at least 1")
        for level, vetting in self.preconditions.vetting_required.items():
            if vetting not in VETTING_LEVELS:
                raise InputError(f"vetting for {level} must be one of {list(VETTING_LEVELS)}")
        for kind in self.preconditions.declarations:
            if kind not in DECLARATION_KINDS:
                raise InputError(f"declaration {kind!r} must be one of {list(DECLARATION_KINDS)}")

    @classmethod
    def demo(cls) -> GovernanceSettings:
        """Defaults, with loopback connections allowed (gateway and users on one machine)."""
        return cls(origin=OriginRules(enforce=True, allow_loopback=True))

    def to_json(self) -> str:
        return json.dumps(
            {
                "origin_enforce": self.origin.enforce,
                "allow_loopback": self.origin.allow_loopback,
                "vetting_required": dict(self.preconditions.vetting_required),
                "syops_valid_days": self.preconditions.syops_valid_days,
                "partner_documents": self.preconditions.partner_documents,
                "designated_senior_analyst": self.preconditions.designated_senior_analyst,
                "declarations": list(self.preconditions.declarations),
                "review_interval_months": self.review_interval_months,
                "review_days": self.review_days,
                "inactivity_months": self.inactivity_months,
                "coc_valid_days": self.coc_valid_days,
                "coc_warn_days": self.coc_warn_days,
                "enhanced_max_days": self.enhanced_max_days,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> GovernanceSettings:
        """Read settings written by :meth:`to_json` (missing keys take their defaults)."""
        try:
            raw: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"governance settings are not valid JSON: {exc}") from exc
        base = cls()
        return cls(
            origin=OriginRules(
                enforce=bool(raw.get("origin_enforce", base.origin.enforce)),
                allow_loopback=bool(raw.get("allow_loopback", base.origin.allow_loopback)),
            ),
            preconditions=PreconditionRules(
                vetting_required=MappingProxyType(
                    dict(raw.get("vetting_required", base.preconditions.vetting_required))
                ),
                syops_valid_days=int(
                    raw.get("syops_valid_days", base.preconditions.syops_valid_days)
                ),
                partner_documents=bool(
                    raw.get("partner_documents", base.preconditions.partner_documents)
                ),
                designated_senior_analyst=bool(
                    raw.get(
                        "designated_senior_analyst", base.preconditions.designated_senior_analyst
                    )
                ),
                declarations=tuple(
                    str(k) for k in raw.get("declarations", base.preconditions.declarations)
                ),
            ),
            review_interval_months=int(
                raw.get("review_interval_months", base.review_interval_months)
            ),
            review_days=int(raw.get("review_days", base.review_days)),
            inactivity_months=int(raw.get("inactivity_months", base.inactivity_months)),
            coc_valid_days=int(raw.get("coc_valid_days", base.coc_valid_days)),
            coc_warn_days=int(raw.get("coc_warn_days", base.coc_warn_days)),
            enhanced_max_days=int(raw.get("enhanced_max_days", base.enhanced_max_days)),
        )

    def with_origin(
        self, *, enforce: bool | None = None, allow_loopback: bool | None = None
    ) -> GovernanceSettings:
        """These settings with the origin rules changed."""
        origin = OriginRules(
            enforce=self.origin.enforce if enforce is None else enforce,
            allow_loopback=self.origin.allow_loopback if allow_loopback is None else allow_loopback,
        )
        return replace(self, origin=origin)
