"""The hardened DuckDB connection every worker holds (the engine half of the second wall).

Order matters, because the last step freezes everything before it:

1. connect to an in-memory database with extension autoload/autoinstall, community and
   unsigned extensions, persistent secrets and Python replacement scans off, and with the
   memory limit, thread count and spill directory set;
2. attach the warehouse file ``READ_ONLY`` under its file stem and make it the default
   catalog (an in-memory primary database is what lets extra read-only schemas such as
   ``audit`` sit beside the warehouse);
3. attach one in-memory catalog per extra schema;
4. switch external access off (no file or network table functions, COPY, ATTACH of files,
   INSTALL/LOAD) and, unless spilling is allowed, disable the local file system outright;
5. ``SET VARIABLE`` the session variables, with values bound as parameters so they never
   appear in SQL text;
6. ``SET lock_configuration = true`` and read the settings back, failing closed if any did
   not hold. Only ``memory_limit`` stays changeable (``allowed_configs``), by the worker
   itself before each query, so DuckDB gets its share of every query's own memory limit
   (:mod:`gateway.engines.memory`).

The worker additionally refuses anything but a single SELECT statement, so ``SET``,
``RESET``, ``PRAGMA``, ``ATTACH``, ``CHECKPOINT``, ``SET VARIABLE`` … never reach DuckDB.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "warehouse.duckdb"
    >>> with duckdb.connect(str(path)) as w:
    ...     _ = w.execute("CREATE TABLE crime AS SELECT range AS crime_id FROM range(3)")
    >>> con = open_hardened(WorkerConfig(warehouse=str(path), catalog="warehouse",
    ...                                  memory_limit_mb=512))
    >>> con.sql("SELECT count(*) FROM crime").fetchall()
    [(3,)]
    >>> con.sql("SELECT * FROM read_csv('/etc/passwd')")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    _duckdb.PermissionException: Permission Error: File system LocalFileSystem has been disabled by configuration
    >>> con.execute("SET enable_external_access = true")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    _duckdb.InvalidInputException: Invalid Input Error: Cannot change configuration option "enable_external_access" - the configuration has been locked
    >>> con.close()
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from gateway.engines.messages import WorkerConfig
from gateway.errors import ConfigurationError, EngineUnavailable

__all__ = [
    "EXPECTED_SETTINGS",
    "file_identity",
    "open_hardened",
    "quote_identifier",
    "verify_hardening",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Set when the connection opens (step 1) and read back after the lock.
_OFF_AT_CONNECT: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "allow_unredacted_secrets": False,
    "allow_extension_repositories": "forbidden",
    "python_enable_replacements": False,
    "python_scan_all_frames": False,
}

# Settings read back after the lock; a mismatch means the wall is not there.
EXPECTED_SETTINGS: dict[str, object] = {
    "enable_external_access": False,
    **_OFF_AT_CONNECT,
    "lock_configuration": True,
    "allowed_configs": ["max_memory"],  # DuckDB's canonical name for memory_limit
    "allowed_directories": [],
}


def quote_identifier(name: str) -> str:
    """Double-quote a plain identifier, refusing anything that is not one.

    Example:
        >>> quote_identifier("warehouse")
        '"warehouse"'
    """
    if not _IDENTIFIER.match(name):
        raise ConfigurationError(f"{name!r} is not a plain identifier (letters, digits, _)")
    return f'"{name}"'


def open_hardened(config: WorkerConfig) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only in a locked-down DuckDB connection.

    Args:
        config: where the warehouse is and the limits to apply.

    Returns:
        A connection whose configuration can no longer be changed by SQL.

    Raises:
        gateway.errors.ConfigurationError: the warehouse cannot be opened, a name is not a
            plain identifier, or a setting did not hold after locking.
    """
    _require_identity(config)
    con = duckdb.connect(":memory:", config=_connect_config(config))
    try:
        _attach(con, config)
        _require_identity(config)  # and still the same once attached
        con.execute("SET enable_progress_bar = false")  # a worker's output is no terminal
        con.execute("SET enable_external_access = false")
        if config.temp_directory is None:
            con.execute("SET disabled_filesystems = 'LocalFileSystem'")
        for name, value in config.session_variables:
            con.execute(f"SET VARIABLE {quote_identifier(name)} = $value", {"value": value})
        for macro in config.session_macros:
            if not macro.lstrip().upper().startswith("CREATE TEMP MACRO "):
                raise ConfigurationError("session macros must be CREATE TEMP MACRO statements")
            con.execute(macro)
        con.execute("SET lock_configuration = true")
        verify_hardening(con, config)
    except duckdb.Error as exc:
        con.close()
        raise ConfigurationError(
            f"cannot open the warehouse {config.warehouse} read-only ({type(exc).__name__})"
        ) from None
    except ConfigurationError:
        con.close()
        raise
    return con


def file_identity(path: Path) -> tuple[int, int, int, int]:
    """``(device, inode, size, mtime_ns)`` of ``path``: changes when the file is replaced or
    written.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     file_identity(Path(f.name)) == file_identity(Path(f.name))
        True
    """
    stat = path.stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _require_identity(config: WorkerConfig) -> None:
    if config.warehouse_identity is None:
        return
    try:
        found = file_identity(Path(config.warehouse))
    except OSError:
        found = None
    if found != config.warehouse_identity:
        raise EngineUnavailable(
            "the warehouse was replaced after the files derived from it (pseudonym vault, "
            "masked projections) were built: queries resume once the gateway has rebuilt them "
            "for the new version"
        )


def verify_hardening(con: duckdb.DuckDBPyConnection, config: WorkerConfig) -> None:
    """Read the security settings back and fail closed if any is not as expected.

    Raises:
        gateway.errors.ConfigurationError: naming the first setting that did not hold.
    """
    names = list(EXPECTED_SETTINGS)
    rows = con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE list_contains($names, name)",
        {"names": names},
    ).fetchall()
    actual = {name: value for name, value in rows}
    expected_settings = dict(EXPECTED_SETTINGS)
    if config.temp_directory is not None:  # DuckDB lets itself into its spill folder only
        expected_settings["allowed_directories"] = [config.temp_directory.rstrip("/") + "/"]
    for name, expected in expected_settings.items():
        if _normalise(actual.get(name)) != _normalise(expected):
            raise ConfigurationError(f"DuckDB setting {name} did not hold after locking")
    databases = con.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = $name",
        {"name": config.catalog},
    ).fetchall()
    if databases != [(True,)]:
        raise ConfigurationError("the warehouse is not attached read-only")


def _normalise(value: object) -> str:
    if isinstance(value, list | tuple):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    return str(value).strip().lower()


def _connect_config(config: WorkerConfig) -> dict[str, str | bool | int | float | list[str]]:
    settings: dict[str, str | bool | int | float | list[str]] = {
        **_OFF_AT_CONNECT,
        "memory_limit": f"{config.memory_limit_mb}MB",
        "threads": config.threads,
        "temp_directory": config.temp_directory or "",
        # The worker itself sets each query's memory limit; SQL can only ever be one SELECT.
        "allowed_configs": ["memory_limit"],
    }
    if config.temp_directory is not None:
        settings["max_temp_directory_size"] = f"{config.max_temp_directory_mb}MB"
    return settings


def _attach(con: duckdb.DuckDBPyConnection, config: WorkerConfig) -> None:
    catalog = quote_identifier(config.catalog)
    con.execute(f"ATTACH $path AS {catalog} (READ_ONLY)", {"path": config.warehouse})
    for name, path in config.attachments:
        if name.lower() in {config.catalog.lower(), *(e.lower() for e in config.extra_schemas)}:
            raise ConfigurationError(f"attachment {name!r} clashes with another catalog")
        con.execute(f"ATTACH $path AS {quote_identifier(name)} (READ_ONLY)", {"path": path})
    con.execute(f"USE {catalog}")
    for schema in config.extra_schemas:
        if schema.lower() == config.catalog.lower():
            raise ConfigurationError(f"extra schema {schema!r} clashes with the warehouse")
        con.execute(f"ATTACH ':memory:' AS {quote_identifier(schema)}")
