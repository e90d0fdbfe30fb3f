"""`warden` command line: thin commands over the library (no logic lives only here).

One module per command group; importing them registers their commands on `app`."""

from __future__ import annotations

from . import admin, audit, evaluation, moderate, ray_jobs, serving, shadow, stream, training  # noqa: F401  (registers the commands)
from .common import app

__all__ = ["app"]
