"""Warden's HTTP API (FastAPI + uvicorn).

Example::

    from warden.serve import create_app, run
    run(settings)  # what `warden serve` does
    app = create_app(settings)  # for embedding or an ASGI server of your choice
"""

from .app import create_app, run

__all__ = ["create_app", "run"]
