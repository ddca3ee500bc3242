"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl under a temp dir.

PostgreSQL's server binaries are on the machine image (``/usr/lib/postgresql/N/bin``, or
``pg_ctl`` on the PATH); nothing is installed. The cluster listens on a free loopback port and
a private socket directory, trusts local connections (it lives for one test session in a
directory only this user can read) and is stopped and deleted at the end. PostgreSQL refuses to
run as root, so when the tests run as root the server runs as the ``postgres`` account (or
``nobody``) and owns only its temp dir.

Example:
    >>> with PostgresCluster.start() as cluster:  # doctest: +SKIP
    ...     dsn = cluster.create_database("audit")
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["DSN_VARIABLE", "PostgresCluster", "find_binaries", "shared_dsn"]

#: Set to a server's connection string to use it instead of starting a cluster; set by
#: :func:`shared_dsn` for the processes a test starts, so they reach the same cluster.
DSN_VARIABLE = "GATEWAY_TEST_POSTGRES_DSN"
_shared: list[PostgresCluster] = []

_ACCOUNTS = ("postgres", "nobody")


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest version first), or None."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists() and (root / "pg_ctl").exists():
            return root
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in _ACCOUNTS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL")


@dataclass
class PostgresCluster:
    """A running throwaway cluster; :meth:`stop` (or leaving the ``with``) removes it."""

    root: Path
    port: int
    binaries: Path
    account: pwd.struct_passwd | None

    @classmethod
    def start(cls) -> PostgresCluster:
        binaries = find_binaries()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        account = _run_as()
        root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        root.chmod(0o700)
        if account is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        cluster = cls(root, _free_port(), binaries, account)
        try:
            cluster._command(
                "initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8"
            )
            (root / "sock").mkdir()
            if account is not None:
                os.chown(root / "sock", account.pw_uid, account.pw_gid)
            cluster.resume()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return cluster

    def _command(self, name: str, *args: str) -> None:
        command = [str(self.binaries / name), *args]
        if self.account is not None:
            uid, gid = self.account.pw_uid, self.account.pw_gid

            def demote() -> None:
                os.setgid(gid)
                os.setuid(uid)

            env = {**os.environ, "HOME": str(self.root)}
            subprocess.run(command, check=True, capture_output=True, preexec_fn=demote, env=env)
        else:
            subprocess.run(command, check=True, capture_output=True)

    def resume(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c max_connections=100"
        )
        self._command(
            "pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def pause(self) -> None:
        """Stop the server at once, as a crash would (``immediate``: no shutdown checkpoint)."""
        self._command("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for ``database`` as the superuser, over TCP loopback."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a fresh database; return its connection string."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete everything it wrote."""
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._command("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    shutil.rmtree(self.root)
                    break
                except OSError:
                    time.sleep(0.1)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def shared_dsn() -> str:
    """The connection string of the session's cluster (started on first use, stopped at exit).

    Raises:
        FileNotFoundError: no PostgreSQL server binaries on this machine.
    """
    dsn = os.environ.get(DSN_VARIABLE)
    if dsn:
        return dsn
    cluster = PostgresCluster.start()
    _shared.append(cluster)
    atexit.register(cluster.stop)
    os.environ[DSN_VARIABLE] = cluster.dsn()
    return cluster.dsn()
