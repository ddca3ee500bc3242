"""External witnesses: copies of every checkpoint kept where the data directory's writer cannot
reach, so rolling back the database *and* its checkpoint file together is still found.

A checkpoint is first appended to ``DIR/audit.checkpoints.jsonl``, then handed to each
configured witness. Witnesses are configured by the environment of every process that writes
the log (the service unit, not the data directory — someone who can write the data directory
must not be able to switch the witness off):

    GATEWAY_AUDIT_WITNESS_FILE          a second checkpoint file outside the data directory
                                        (another file system or owner, ``chattr +a``, a WORM
                                        mount); read back by ``gateway audit verify`` and by the
                                        startup check
    GATEWAY_AUDIT_WITNESS_SYSLOG        ``facility[@address]``: each checkpoint as one syslog
                                        message (``local0``, ``auth@/dev/log``,
                                        ``local0@logs.example.org:514`` for UDP); write-only
    GATEWAY_AUDIT_WITNESS_COMMAND       a command run for each checkpoint with its JSON line on
                                        stdin (``logger -t gateway-audit``, a script that ships
                                        it to object storage); non-zero exit = not delivered;
                                        write-only
    GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S seconds between time-based checkpoints (default 2)

Write-only witnesses (syslog, command) cannot be read back here: compare them with
``gateway audit verify`` by hand or in the SIEM. A witness that fails is retried with the newest
checkpoint and reported by :meth:`gateway.audit.log.AuditLog.health` as ``degraded``.

Example:
    >>> from pathlib import Path
    >>> [w.name for w in witnesses_from_env({"GATEWAY_AUDIT_WITNESS_FILE": "/mnt/w/cp.jsonl",
    ...                                      "GATEWAY_AUDIT_WITNESS_COMMAND": "logger -t gw"})]
    ['witness file /mnt/w/cp.jsonl', 'witness command logger']
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import Protocol

from gateway.audit.checkpoints import Checkpoint, CheckpointFile
from gateway.errors import AuditUnavailable, ConfigurationError

__all__ = [
    "DEFAULT_CHECKPOINT_INTERVAL_S",
    "CommandWitness",
    "FileWitness",
    "SyslogWitness",
    "Witness",
    "checkpoint_interval_from_env",
    "readable_files",
    "witnesses_from_env",
]

#: Seconds between time-based checkpoints unless configured otherwise.
DEFAULT_CHECKPOINT_INTERVAL_S = 2.0
_FILE = "GATEWAY_AUDIT_WITNESS_FILE"
_SYSLOG = "GATEWAY_AUDIT_WITNESS_SYSLOG"
_COMMAND = "GATEWAY_AUDIT_WITNESS_COMMAND"
_INTERVAL = "GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S"


class Witness(Protocol):
    """Somewhere checkpoints are copied to."""

    @property
    def name(self) -> str:
        """How reports and health name it."""
        ...

    @property
    def file(self) -> CheckpointFile | None:
        """The checkpoint file to read it back from, or None for a write-only witness."""
        ...

    def record(self, cp: Checkpoint) -> None:
        """Hand over one checkpoint durably.

        Raises:
            AuditUnavailable: it was not delivered.
        """
        ...


@dataclass(frozen=True)
class FileWitness:
    """A second checkpoint file (same format, read back by verify and the startup check)."""

    path: Path

    @property
    def name(self) -> str:
        return f"witness file {self.path}"

    @property
    def file(self) -> CheckpointFile:
        return CheckpointFile(self.path)

    def record(self, cp: Checkpoint) -> None:
        self.file.append(cp)


def _default_syslog_address() -> str:
    return "/var/run/syslog" if sys.platform == "darwin" else "/dev/log"


@dataclass(frozen=True)
class SyslogWitness:
    """Each checkpoint as one syslog message (``gateway-audit: {json}``, severity notice).

    Attributes:
        facility: a syslog facility name (``user``, ``auth``, ``local0`` … ``local7``).
        address: a Unix socket path, or ``host:port`` for UDP.
    """

    facility: str = "user"
    address: str = ""

    def __post_init__(self) -> None:
        if self.facility not in SysLogHandler.facility_names:
            raise ConfigurationError(
                f"{_SYSLOG}: unknown syslog facility {self.facility!r} (e.g. user, auth, local0)"
            )

    @property
    def name(self) -> str:
        return f"witness syslog {self.facility}@{self.address or _default_syslog_address()}"

    @property
    def file(self) -> None:
        return None

    def record(self, cp: Checkpoint) -> None:
        priority = SysLogHandler.facility_names[self.facility] * 8 + SysLogHandler.LOG_NOTICE
        message = f"<{priority}>gateway-audit: {cp.to_json()}".encode()
        address = self.address or _default_syslog_address()
        host, colon, port = address.rpartition(":")
        try:
            if colon and port.isdigit() and not address.startswith("/"):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(message, (host, int(port)))
            else:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                    sock.connect(address)
                    sock.send(message)
        except OSError as exc:
            raise AuditUnavailable(f"{self.name} cannot be written: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class CommandWitness:
    """A command run for each checkpoint, with the checkpoint's JSON line on its stdin.

    Attributes:
        argv: the command and its arguments (no shell).
        timeout_s: how long it may take; longer counts as not delivered.
    """

    argv: tuple[str, ...]
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.argv:
            raise ConfigurationError(f"{_COMMAND} is empty")

    @property
    def name(self) -> str:
        return f"witness command {Path(self.argv[0]).name}"

    @property
    def file(self) -> None:
        return None

    def record(self, cp: Checkpoint) -> None:
        try:
            run = subprocess.run(  # noqa: S603 (the operator's configured command, no shell)
                list(self.argv),
                input=(cp.to_json() + "\n").encode("utf-8"),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AuditUnavailable(f"{self.name} failed: {exc}") from exc
        if run.returncode != 0:
            said = run.stderr.decode("utf-8", "replace").strip().splitlines()
            raise AuditUnavailable(
                f"{self.name} exited with status {run.returncode}"
                + (f": {said[-1][:200]}" if said else "")
            )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def witnesses_from_env(
    environ: Mapping[str, str], *, data_dir: Path | None = None
) -> tuple[Witness, ...]:
    """The witnesses ``GATEWAY_AUDIT_WITNESS_*`` configure (none when unset).

    Raises:
        ConfigurationError: a witness file inside the data directory (it would be rolled back
            with it), an unknown syslog facility or an empty command.
    """
    found: list[Witness] = []
    if path := environ.get(_FILE, "").strip():
        witness_path = Path(path).expanduser()
        if data_dir is not None and _inside(witness_path, data_dir):
            raise ConfigurationError(
                f"{_FILE}={path} is inside the data directory {data_dir}: a witness must live "
                "where the data directory's writer cannot roll it back"
            )
        found.append(FileWitness(witness_path))
    if spec := environ.get(_SYSLOG, "").strip():
        facility, _, address = spec.partition("@")
        facility = "user" if facility.lower() in {"1", "yes", "true", "on"} else facility.lower()
        found.append(SyslogWitness(facility, address))
    if command := environ.get(_COMMAND, "").strip():
        found.append(CommandWitness(tuple(shlex.split(command))))
    return tuple(found)


def checkpoint_interval_from_env(environ: Mapping[str, str]) -> float:
    """Seconds between time-based checkpoints (``GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S``).

    Raises:
        ConfigurationError: not a positive number.
    """
    raw = environ.get(_INTERVAL, "").strip()
    if not raw:
        return DEFAULT_CHECKPOINT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{_INTERVAL}={raw!r} is not a number of seconds") from exc
    if not value > 0:
        raise ConfigurationError(f"{_INTERVAL} must be positive, got {raw}")
    return value


def readable_files(witnesses: Sequence[Witness]) -> list[tuple[str, CheckpointFile]]:
    """``(name, file)`` of the witnesses that can be read back."""
    return [(w.name, w.file) for w in witnesses if w.file is not None]
