"""Warden's HTTP API (FastAPI + uvicorn).

Example::

    from warden.serve import create_app, run
    run(settings)  # what `warden serve` does
    app = create_app(settings)  # for embedding or an ASGI server of your choice

The app is imported on first use, so `warden.serve.schemas` (the wire models the client shares)
loads without the server and its models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app, run

__all__ = ["create_app", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
