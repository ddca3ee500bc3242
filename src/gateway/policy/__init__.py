"""The access policy: model, loading/validation, masks, and the per-principal view."""

from gateway.policy.load import load_default_policy, load_policy, parse_policy
from gateway.policy.model import (
    LevelLimits,
    LevelPolicy,
    MaskSpec,
    Policy,
    SchemaAccess,
    TablePolicy,
)

__all__ = [
    "LevelLimits",
    "LevelPolicy",
    "MaskSpec",
    "Policy",
    "SchemaAccess",
    "TablePolicy",
    "load_default_policy",
    "load_policy",
    "parse_policy",
]
