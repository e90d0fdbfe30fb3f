"""The Stage seam: what every step an item passes through (banks, text tiers, judge, media, graph)
looks like to the Moderator, and the registry that turns `pipeline.stages` names into stages.

A stage has two hooks. `score` runs before decisions exist: it may settle an item outright (a
bank match sets `state.decision`) or add to its evidence (the text cascade sets `state.result`,
the judge blends into it). The Moderator then assembles a decision for every item still without
one, and `decide` runs on those decisions (rules such as "borderline from a risky account goes to
review"). Each stage appends its own `StageTrace`, so the decision shows what ran and what it cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..content import Content
from ..decision import Decision, StageTrace, Versions
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..banks.matcher import BankMatcher
    from ..banks.model import BankMatch
    from ..detectors.llm_judge import LLMJudgeDetector
    from ..graph.signal import AccountRiskScorer
    from ..media.analyze import Attachment, MediaTier
    from ..pipeline import ItemResult, Pipeline
    from ..policy.model import Policy
    from ..settings import Settings
    from .decisions import DecisionAssembler


@dataclass
class ItemState:
    """One item on its way through the stages."""

    content: Content
    language: str
    media: list[Attachment] = field(default_factory=list)  # decoded attachments
    traces: list[StageTrace] = field(default_factory=list)
    matches: list[BankMatch] = field(default_factory=list)
    result: ItemResult | None = None  # the text cascade's fused scores
    decision: Decision | None = None
    scored: bool = False  # a model scored it (text cascade or media), as opposed to a bank or nothing

    @property
    def open(self) -> bool:
        return self.decision is None


@dataclass
class Parts:
    """What stages are built from: the loaded models and services one Moderator holds."""

    settings: Settings
    policy: Policy
    pipeline: Pipeline
    assembler: DecisionAssembler
    media: MediaTier
    media_assembler: DecisionAssembler
    banks: BankMatcher | None = None
    account_risk: AccountRiskScorer | None = None
    judge: LLMJudgeDetector | None = None
    # State stages keep across the moderators of one app (policy reloads rebuild the stages).
    shared: dict[str, Any] = field(default_factory=dict)


class Stage:
    """Base of every stage: both hooks are optional, a stage overrides one or both."""

    name: ClassVar[str]
    # What of an item the stage reads: "text", "hashes", "media", "author", "decision".
    reads: ClassVar[frozenset[str]]

    @classmethod
    def build(cls, parts: Parts) -> Stage | None:
        """The stage over `parts`, or None when it is not configured (no banks, judge off)."""
        raise NotImplementedError

    @property
    def cost(self) -> float:
        """Relative cost per item, in `Detector.cost` units (the n-gram tier is 0.02)."""
        return 0.0

    def models(self) -> dict[str, str]:
        """Entries this stage adds to `Versions.models` (name -> identity)."""
        return {}

    def score(self, states: Sequence[ItemState], versions: Versions) -> None:
        """Before decisions: settle items or add evidence. Default: nothing."""

    def decide(self, states: Sequence[ItemState]) -> None:
        """After decisions are assembled: rules over them. Default: nothing."""


class StageRegistry:
    """Stage names as `pipeline.stages` declares them -> stage classes."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Stage]] = {}

    def register(self, cls: type[Stage]) -> type[Stage]:
        name = getattr(cls, "name", None)
        if not name:
            raise TypeError(f"{cls.__qualname__} must define the class attribute 'name'")
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(
                f"stage name {name!r} is already registered by {self._classes[name].__qualname__}"
            )
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> type[Stage]:
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ConfigError(f"unknown stage {name!r} in pipeline.stages; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._classes)

    def build(self, names: Sequence[str], parts: Parts) -> list[Stage]:
        dupes = sorted({n for n in names if list(names).count(n) > 1})
        if dupes:
            raise ConfigError(f"stage(s) declared twice in pipeline.stages: {', '.join(dupes)}")
        built = [self.get(n).build(parts) for n in names]
        return [s for s in built if s is not None]


stage_registry = StageRegistry()
register: Callable[[type[Stage]], type[Stage]] = stage_registry.register


def per_item_ms(started: float, now: float, n: int) -> float:
    return round((now - started) * 1000.0 / max(n, 1), 4)
