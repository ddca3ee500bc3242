"""The policy's ``[products]`` section: quality assurance and retention of products.

Policy 198 (3.2) has the senior analyst QA a selection of the products analysts make from the
warehouse; the connection agreement keeps records for seven years. Every key is optional::

    [products]
    qa_sample_rate = 1.0          # share of products held for QA before release (0.0 – 1.0);
                                  # chosen by the product id's hash, so the choice is fixed,
                                  # recorded and reproducible
    manifest_retention_days = 2557  # each product's manifest and hashes are kept at least this
                                    # long (7 years), even when its files are pruned earlier
                                    # (then `gateway audit dispose` disposes of them)

Example:
    >>> parse_product_settings({"qa_sample_rate": 0.25}).qa_sample_rate
    0.25
    >>> parse_product_settings(None) == ProductSettings()
    True
    >>> parse_product_settings({"qa_sample_rate": 2})
    Traceback (most recent call last):
        ...
    gateway.errors.ConfigurationError: policy.toml: products.qa_sample_rate: must be a number from 0.0 to 1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigurationError

__all__ = ["ProductSettings", "parse_product_settings"]

#: Seven years (the connection agreement's retention of records), in days.
SEVEN_YEARS_DAYS = 2557
_MAX_DAYS = 36_500


@dataclass(frozen=True)
class ProductSettings:
    """``[products]``: which products are QA'd before release, and how long manifests stay."""

    qa_sample_rate: float = 1.0
    manifest_retention_days: int = SEVEN_YEARS_DAYS


def parse_product_settings(raw: Any, *, source: str = "policy.toml") -> ProductSettings:
    """Validate a raw ``[products]`` table (``None`` = the defaults).

    Raises:
        ConfigurationError: ``<source>: products.<key>: <problem>``.
    """
    if raw is None:
        return ProductSettings()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{source}: products: must be a table")
    known = sorted(ProductSettings.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise ConfigurationError(
                f"{source}: products.{key}: unknown key (expected one of {', '.join(known)})"
            )
    defaults = ProductSettings()
    rate = raw.get("qa_sample_rate", defaults.qa_sample_rate)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ConfigurationError(
            f"{source}: products.qa_sample_rate: must be a number from 0.0 to 1.0"
        )
    days = raw.get("manifest_retention_days", defaults.manifest_retention_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_DAYS:
        raise ConfigurationError(
            f"{source}: products.manifest_retention_days: must be a whole number of days from "
            f"1 to {_MAX_DAYS}"
        )
    return ProductSettings(qa_sample_rate=float(rate), manifest_retention_days=days)
