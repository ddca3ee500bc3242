"""The policy's ``[audit]`` section: the audit plan, local auditors and incident reporting.

Policy 198 and the connection agreement make auditing a duty, not an option: the use of the
warehouse is audited to a plan (what is sampled, how often, by whom), each partner organisation
may audit its own users through a local auditor, and security incidents (data loss included)
are reported within 24 hours of discovery. Every key is optional::

    [audit]
    local_auditor_roles = ["local_auditor"]   # audit roles scoped to the holder's organisation
    incident_report_hours = 24                 # an incident reported later than this after its
                                               # discovery is recorded as late, and flagged

    [[audit.plan]]
    name = "person-lookups"                    # how the audits done name this duty
    sample = "every query pinning a person to a literal (person-lookups report)"
    every_days = 30                            # due this long after the last audit done
    by = "senior_analyst"                      # the role that carries it out

Example:
    >>> s = parse_audit_duties({"plan": [{"name": "monthly", "sample": "denied queries",
    ...                                   "every_days": 30, "by": "senior_analyst"}]})
    >>> s.plan[0].name, s.incident_report_hours, sorted(s.local_auditor_roles)
    ('monthly', 24, ['local_auditor'])
    >>> parse_audit_duties({"plan": [{"name": "x", "sample": "y", "every_days": 0, "by": "z"}]})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: audit.plan[0].every_days: must be a whole number of days from 1 to 3660
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ConfigurationError

__all__ = ["DEFAULT_LOCAL_AUDITOR_ROLES", "AuditDuties", "AuditPlanItem", "parse_audit_duties"]

DEFAULT_LOCAL_AUDITOR_ROLES = frozenset({"local_auditor"})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MAX_EVERY = 3660
_MAX_TEXT = 500
_SECTION = "audit"


@dataclass(frozen=True)
class AuditPlanItem:
    """One duty of the audit plan.

    Attributes:
        name: its name (lower case, digits, ``-_.``), as audits done refer to it.
        sample: what is sampled, in words.
        every_days: how often: due this many days after the last audit done.
        by: the role that carries it out.
    """

    name: str
    sample: str
    every_days: int
    by: str


@dataclass(frozen=True)
class AuditDuties:
    """``[audit]``: the plan, who audits one organisation only, the incident reporting rule."""

    plan: tuple[AuditPlanItem, ...] = ()
    local_auditor_roles: frozenset[str] = field(default=DEFAULT_LOCAL_AUDITOR_ROLES)
    incident_report_hours: int = 24

    def item(self, name: str) -> AuditPlanItem | None:
        """The plan's duty ``name`` (None: the plan has none)."""
        return next((i for i in self.plan if i.name == name), None)


def _text(value: Any, where: str, source: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
        raise ConfigurationError(f"{source}: {where}: must be text of 1 to {_MAX_TEXT} characters")
    if pattern is not None and not pattern.match(value):
        raise ConfigurationError(
            f"{source}: {where}: must be lower case letters, digits, '-', '_' or '.'"
        )
    return value.strip()


def _item(raw: Any, n: int, source: str) -> AuditPlanItem:
    where = f"{_SECTION}.plan[{n}]"
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: {where}: must be a table")
    known = ("name", "sample", "every_days", "by")
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: {where}.{key}: unknown key (expected one of {', '.join(known)})"
            )
    every = raw.get("every_days")
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= _MAX_EVERY:
        raise ConfigurationError(
            f"{source}: {where}.every_days: must be a whole number of days from 1 to {_MAX_EVERY}"
        )
    return AuditPlanItem(
        name=_text(raw.get("name"), f"{where}.name", source, pattern=_NAME),
        sample=_text(raw.get("sample"), f"{where}.sample", source),
        every_days=every,
        by=_text(raw.get("by"), f"{where}.by", source, pattern=_NAME),
    )


def parse_audit_duties(raw: Any, *, source: str = "policy.toml") -> AuditDuties:
    """Validate a raw ``[audit]`` table (``None`` = the defaults: no plan).

    Raises:
        ConfigurationError: ``<source>: audit.<key>: <problem>``.
    """
    if raw is None:
        return AuditDuties()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: audit: must be a table")
    known = ("plan", "local_auditor_roles", "incident_report_hours")
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: audit.{key}: unknown key (expected one of {', '.join(known)})"
            )
    plan_raw = raw.get("plan", [])
    if not isinstance(plan_raw, list):
        raise ConfigurationError(f"{source}: audit.plan: must be an array of tables")
    plan = tuple(_item(item, n, source) for n, item in enumerate(plan_raw))
    names = [i.name for i in plan]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{source}: audit.plan: each duty needs its own name")
    roles = raw.get("local_auditor_roles", sorted(DEFAULT_LOCAL_AUDITOR_ROLES))
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise ConfigurationError(f"{source}: audit.local_auditor_roles: must be a list of roles")
    hours = raw.get("incident_report_hours", 24)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 720:
        raise ConfigurationError(
            f"{source}: audit.incident_report_hours: must be a whole number of hours from 1 to 720"
        )
    return AuditDuties(plan=plan, local_auditor_roles=frozenset(roles), incident_report_hours=hours)
