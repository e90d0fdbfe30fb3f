"""Run an app with uvicorn in a thread of this process, on a socket bound here (no free-port race).

For tests and benchmarks that need a real HTTP server on 127.0.0.1 beside the code driving it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Literal

import uvicorn
from fastapi import FastAPI


@contextlib.contextmanager
def serve_in_thread(
    app: FastAPI, lifespan: Literal["auto", "on", "off"] = "on", start_timeout_s: float = 300
) -> Iterator[str]:
    """Yield the server's base URL once it accepts requests; stop it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API server failed to start; see the log above")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API server did not start within {start_timeout_s:.0f} s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
