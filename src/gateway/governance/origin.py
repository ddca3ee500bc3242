"""Where access may come from: registered network ranges and designated workstations. Pure.

Each organisation registers the network ranges (CIDR) its analysts connect from; a person may
further be tied to designated workstations (addresses or ranges). A connection is allowed when
its address lies in one of the organisation's ranges *and*, if the person has designated
workstations, in one of those. :class:`OriginRules` switches the check off entirely (never in
production) or lets loopback through — the demo setting, for a gateway and its users on one
machine.

Example:
    >>> from gateway.governance.model import NetworkRange
    >>> ranges = (NetworkRange("MBC", "192.0.2.0/28"),)
    >>> origin_refusal("192.0.2.9", ranges, (), OriginRules()) is None
    True
    >>> origin_refusal("198.51.100.7", ranges, (), OriginRules())
    'address 198.51.100.7 is not in a network range registered for the organisation'
    >>> origin_refusal("127.0.0.1", ranges, (), OriginRules(allow_loopback=True)) is None
    True
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.governance.model import NetworkRange, parse_network

__all__ = ["OriginRules", "origin_refusal"]


@dataclass(frozen=True)
class OriginRules:
    """How strictly connection origins are checked.

    Attributes:
        enforce: check origins at all (True in every real deployment).
        allow_loopback: let 127.0.0.0/8 and ::1 through (demo deployments on one machine).
    """

    enforce: bool = True
    allow_loopback: bool = False


def origin_refusal(
    address: str,
    ranges: Sequence[NetworkRange],
    workstations: Sequence[str],
    rules: OriginRules,
) -> str | None:
    """Why a connection from ``address`` is not allowed, or None if it is.

    Args:
        address: the client's IP address as the server saw it.
        ranges: the organisation's registered ranges.
        workstations: the person's designated workstation addresses/ranges (may be empty).
        rules: enforcement settings.
    """
    if not rules.enforce:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return f"the client address {address!r} is not an IP address"
    if rules.allow_loopback and ip.is_loopback:
        return None
    if not any(r.contains(str(ip)) for r in ranges):
        return f"address {ip} is not in a network range registered for the organisation"
    if workstations and not any(
        ip.version == (net := parse_network(w)).version and ip in net for w in workstations
    ):
        return f"address {ip} is not one of the user's designated workstations"
    return None
