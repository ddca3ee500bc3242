"""While a query runs: the time it has taken on standard error, and Ctrl-C to withdraw it.

The server runs a query to the end before its first byte comes back, so a long query used to
show nothing until its answer or its timeout. :class:`Waiting` shows the elapsed time (a line
updated every second on a terminal; one line after a few seconds otherwise, so logs stay
short) until the answer starts. Ctrl-C closes the connection: the server sees the client go,
stops the query and records it in the audit log as ``cancelled``.

Example:
    >>> elapsed_text(75.4)
    '1 min 15 s'
    >>> elapsed_text(3.2)
    '3 s'
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

__all__ = ["CANCELLED_EXIT", "Waiting", "elapsed_text"]

CANCELLED_EXIT = 130
"""The exit status of a command withdrawn with Ctrl-C (as a shell reports SIGINT)."""


def elapsed_text(seconds: float) -> str:
    """Seconds as a person reads them: ``'42 s'``, ``'3 min 05 s'``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60:02d} s".replace(" 0", " ", 1)


class Waiting:
    """Show how long the query has run until :meth:`done` (or the ``with`` block ends).

    Args:
        stream: where to write (standard error).
        quiet_s: seconds before anything is shown (a quick query shows nothing).
    """

    def __init__(self, stream: TextIO | None = None, *, quiet_s: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.quiet_s = quiet_s
        self.began = time.monotonic()
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._run, name="gateway-waiting", daemon=True)

    def __enter__(self) -> Waiting:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.done()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.began

    def done(self) -> None:
        """Stop showing (idempotent); a terminal's progress line is cleared."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._shown and self._tty():
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def _run(self) -> None:
        if self._stop.wait(self.quiet_s):
            return
        tty = self._tty()
        while True:
            text = f"running for {elapsed_text(self.elapsed_s)} (Ctrl-C to cancel)"
            self.stream.write(f"\r\033[K{text}" if tty else f"{text}\n")
            self.stream.flush()
            self._shown = True
            if not tty or self._stop.wait(1.0):
                return
