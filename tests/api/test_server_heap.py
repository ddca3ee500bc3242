"""The server takes what it holds from startup out of the garbage collector's reach.

A full collection on a running gateway walked every object of the runtime (catalog, policy,
imported modules) and stalled the request that triggered it for ~0.1 s. After the lifespan has
started, :class:`~gateway.api.server.GracefulServer` freezes the heap
(:func:`~gateway.api.server.settle_startup_heap`), so collections walk only what requests make.
Checked on a real server process on loopback: its app reports the collector's frozen count.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx

SERVER = textwrap.dedent(
    """
    import gc, sys
    import uvicorn
    from fastapi import FastAPI
    from gateway.api.server import GracefulServer

    app = FastAPI()
    kept = [[i] for i in range(50_000)]  # what a runtime holds for the process's life

    @app.get("/heap")
    def heap() -> dict[str, int]:
        return {"frozen": gc.get_freeze_count(), "kept": len(kept)}

    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    GracefulServer(config, on_stop=lambda: None).run()
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_started_server_has_frozen_what_it_holds_for_its_life() -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/heap", timeout=2).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert answer["kept"] == 50_000
        assert answer["frozen"] >= 50_000  # the app's long-lived objects are among them
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # still a clean stop
