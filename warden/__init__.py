"""Warden: a self-hostable Trust & Safety platform.

Python API (the same composition root as the API and the CLI: banks, graph, review)::

    import warden
    with warden.open() as app:                 # settings from env / warden.toml; store=False: none
        [decision] = app.moderate([warden.Content(id="post-1", text="...")])
    decision.action, decision.categories["hate"].probability, decision.reasons

`Moderator.from_settings().load()` is the models alone (no banks, no graph, nothing stored).
"""

from typing import Any

from .content import Content
from .decision import CategoryScore, Decision, Reason
from .detectors.base import Detector, registry
from .moderator import Moderator
from .policy.model import Policy, load_policy
from .settings import Settings, get_settings
from .signals import Evidence, Signal

__all__ = [
    "CategoryScore",
    "Content",
    "Decision",
    "Detector",
    "Evidence",
    "Moderator",
    "Policy",
    "Reason",
    "Settings",
    "Signal",
    "Warden",
    "build",
    "get_settings",
    "load_policy",
    "open",
    "registry",
]
from ._version import __version__ as __version__


def __getattr__(name: str) -> Any:
    # The composition root pulls in the store (SQLAlchemy): imported on first use only.
    if name in {"open", "build", "Warden"}:
        from . import bootstrap

        return getattr(bootstrap, name)
    raise AttributeError(f"module 'warden' has no attribute {name!r}")
