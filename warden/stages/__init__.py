"""The stages every item passes through, in the order `pipeline.stages` declares (default:
banks, text, judge, media, graph). A new stage is one module with a `@register`ed `Stage` subclass,
imported here, plus its name in `pipeline.stages`."""

from . import banks, burst, graph, judge, media, text  # noqa: F401  (registers the built-in stages)
from .base import ItemState, Parts, Stage, StageRegistry, stage_registry
from .decisions import DecisionAssembler

__all__ = ["DecisionAssembler", "ItemState", "Parts", "Stage", "StageRegistry", "stage_registry"]
