"""Warden: a self-hostable Trust & Safety platform.

Python API::

    from warden import Content, Moderator
    moderator = Moderator.from_settings().load()
    [decision] = moderator.moderate([Content(id="post-1", text="...")])
    decision.action, decision.categories["hate"].probability, decision.reasons
"""

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
    "get_settings",
    "load_policy",
    "registry",
]
__version__ = "0.1.0"
