"""Partnership Analytics Gateway: safe, read-only, audited access to a police analytical
warehouse for Community Safety Partnership analysts."""

from gateway.errors import GatewayError

__version__ = "0.1.0"

__all__ = ["GatewayError", "__version__"]
