"""Running the ``gateway`` command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys


def run_gateway(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` with captured text output; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
