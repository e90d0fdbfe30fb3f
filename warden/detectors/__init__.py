"""Detectors: the one extension point for every model or matcher."""

from .base import Detector, DetectorRegistry, registry

__all__ = ["Detector", "DetectorRegistry", "registry"]
