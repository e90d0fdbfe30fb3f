"""Helpers shared by test modules: a real uvicorn server on 127.0.0.1, and the data root."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WARDEN_DATA_DIR") or REPO.parent / "shared" / "data")


def require_data(name: str = "") -> Path:
    """The data root (or one data set in it); skips when missing unless WARDEN_REQUIRE_DATA=1."""
    path = DATA_DIR / name if name else DATA_DIR
    if path.exists():
        return path
    reason = f"data {path} not found (set WARDEN_DATA_DIR)"
    if os.environ.get("WARDEN_REQUIRE_DATA") == "1":
        pytest.fail(f"WARDEN_REQUIRE_DATA=1 but {reason}")
    pytest.skip(reason)


def require_service(reason: str) -> None:
    """Skip for a missing service or extra, or fail when CI demands it (WARDEN_REQUIRE_SERVICES=1)."""
    if os.environ.get("WARDEN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"WARDEN_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def serve_app(app: FastAPI, lifespan: str = "on") -> Iterator[str]:
    """Run `app` with uvicorn in a thread on a socket bound here (no free-port race); yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the API server failed to start; see the log above")
        if time.monotonic() > deadline:
            raise TimeoutError("the API server did not start within 300 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def strict_harassment_policy(directory: Path) -> Path:
    """The default policy removing every item for harassment: a candidate that surely flips."""
    import yaml

    from warden.settings import DEFAULT_POLICY_PATH

    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["version"] = str(data["version"]) + "-strict"
    for category in data["categories"]:
        if category["id"] == "harassment":
            category["actions"] = [{"action": "remove", "min_probability": 0.0}]
    path = directory / "strict.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
