"""Heavy map libraries, imported only when a map export runs (polars ``dependencies.py`` style).

The light client never imports them; a server without the ``server`` extra gets a clear
:class:`~gateway.errors.ConfigurationError` instead of an ``ImportError`` traceback.

Example:
    >>> require("pyogrio").__name__
    'pyogrio'
    >>> require("no_such_library")
    Traceback (most recent call last):
    ...
    gateway.errors.ConfigurationError: map and spreadsheet exports need no_such_library: pip install 'partnership-gateway[server]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gateway.errors import ConfigurationError

__all__ = ["require"]

_EXTRA = "pip install 'partnership-gateway[server]'"


def require(module: str) -> ModuleType:
    """Import ``module`` (``pyogrio``, ``shapely``, ``pyproj``, ``openpyxl`` …) or explain.

    Raises:
        ConfigurationError: it is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"map and spreadsheet exports need {module.split('.')[0]}: {_EXTRA}"
        ) from exc
