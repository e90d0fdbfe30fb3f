"""The web review console at /console: server-rendered pages over `ReviewService`.

`install(app)` adds the routes and the two exception handlers that turn sign-in redirects and
errors into HTML pages (the rest of the app answers JSON). Sessions: `session.py`.
"""

from .routes import install, router

__all__ = ["install", "router"]
