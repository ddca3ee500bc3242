"""The ``[exports]`` section of ``policy.toml``, validated.

The keys (marking, approval rules, force name and extent, publication marking,
``retention_days``) and their checks are defined in :mod:`gateway.policy.sections`, so the
policy loader refuses a bad section when the policy is loaded without importing this package;
they are re-exported here, where the export code looks for them. :func:`export_settings`
reads them from a loaded policy.

Example:
    >>> s = parse_export_settings({"marking": "OFFICIAL", "retention_days": 7})
    >>> s.marking, s.retention_days, s.approver_role
    ('OFFICIAL', 7, 'senior_analyst')
"""

from __future__ import annotations

from gateway.policy import Policy
from gateway.policy.sections import DEFAULT_FORCE_EXTENT, ExportSettings, parse_export_settings

__all__ = ["DEFAULT_FORCE_EXTENT", "ExportSettings", "export_settings", "parse_export_settings"]


def export_settings(policy: Policy) -> ExportSettings:
    """The validated ``[exports]`` settings of a loaded policy."""
    return parse_export_settings(
        policy.settings.get("exports"), source=policy.source, levels=tuple(policy.levels)
    )
