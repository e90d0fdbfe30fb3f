"""Helpers shared by test modules: a real uvicorn server on 127.0.0.1, and the data root."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Literal

import pytest
from fastapi import FastAPI

from warden.serve.local import serve_in_thread

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


def serve_app(
    app: FastAPI, lifespan: Literal["auto", "on", "off"] = "on"
) -> contextlib.AbstractContextManager[str]:
    """Run `app` with uvicorn in a thread on a socket bound here; yield its URL."""
    return serve_in_thread(app, lifespan)


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
