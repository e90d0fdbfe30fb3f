"""Moderator: the Python entry point that turns Content into Decisions (no storage).

Items pass the stages `pipeline.stages` declares (`warden/stages/`: banks, text, judge, media,
graph); this class decodes media, detects languages, runs the stages' two hooks in order and
assembles the decisions in between.

Example::

    from warden import Moderator, Content
    moderator = Moderator.from_settings().load()
    decision = moderator.moderate([Content(id="1", text="...")])[0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .content import Content, check_limits
from .decider import Decider
from .decision import Decision, Versions
from .media.analyze import Attachment, MediaTier
from .observability import span
from .pipeline import Pipeline
from .policy.model import Policy, load_policy
from .settings import Settings, get_settings
from .stages import DecisionAssembler, ItemState, Parts, stage_registry
from .stages.text import build_pipeline
from .text.langid import detect_language

if TYPE_CHECKING:
    from .banks.matcher import BankMatcher
    from .detectors.llm_judge import LLMJudgeDetector
    from .graph.signal import AccountRiskScorer

__all__ = ["Moderator", "build_pipeline"]


class Moderator:
    """The declared stages over one policy: banks first (a match settles the item), then the text
    cascade or the media path, the judge for uncertain items, and the graph rule."""

    def __init__(
        self,
        policy: Policy,
        pipeline: Pipeline,
        settings: Settings,
        banks: BankMatcher | None = None,
        account_risk: AccountRiskScorer | None = None,
        judge: LLMJudgeDetector | None = None,
        media: MediaTier | None = None,
        shared: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.judge = judge
        # The image tier (NSFW, OCR, multimodal fusion); shared by moderators of other policies.
        self.media = media if media is not None else MediaTier(settings)
        self.media_decider = Decider(policy, self.media.fusion.threshold_model(pipeline.fusion))
        self.policy = policy
        self.pipeline = pipeline
        self.decider = Decider(policy, pipeline.fusion)
        self.banks = banks
        self.account_risk = account_risk
        self.parts = Parts(
            settings=settings,
            policy=policy,
            pipeline=pipeline,
            assembler=DecisionAssembler(policy, self.decider, pipeline.categories),
            media=self.media,
            media_assembler=DecisionAssembler(policy, self.media_decider, pipeline.categories),
            banks=banks,
            account_risk=account_risk,
            judge=judge,
            shared={} if shared is None else shared,
        )
        self.stages = stage_registry.build(settings.pipeline.stages, self.parts)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        policy: Policy | None = None,
        banks: BankMatcher | None = None,
        account_risk: AccountRiskScorer | None = None,
    ) -> Moderator:
        settings = settings or get_settings()
        policy = policy or load_policy(settings.policy_path)
        pipeline = build_pipeline(policy, settings.models_dir, settings)
        judge = None
        if settings.judge.enabled:
            from .detectors.llm_judge import LLMJudgeDetector

            judge = LLMJudgeDetector(policy, settings=settings.judge)
        return cls(policy, pipeline, settings, banks=banks, account_risk=account_risk, judge=judge)

    def with_policy(self, policy: Policy) -> Moderator:
        """A moderator for another policy that shares this one's loaded models, banks, graph and judge
        backend (policy hot reload, backtests): only what reads the policy is rebuilt."""
        judge = self.judge.for_policy(policy) if self.judge is not None else None
        return Moderator(
            policy,
            self.pipeline.with_policy(policy),
            self.settings,
            banks=self.banks,
            account_risk=self.account_risk,
            judge=judge,
            media=self.media,
            shared=self.parts.shared,  # stage state (e.g. the copy-burst memory) survives a reload
        )

    def attach(
        self, banks: BankMatcher | None = None, account_risk: AccountRiskScorer | None = None
    ) -> Moderator:
        """A moderator that shares this one's loaded models, policy and judge, with the given bank
        matcher and graph scorer (the composition root wires them; an injected moderator may be
        shared by other apps, so it is never changed in place)."""
        return Moderator(
            self.policy,
            self.pipeline,
            self.settings,
            banks=banks,
            account_risk=account_risk,
            judge=self.judge,
            media=self.media,
        )

    def load(self) -> Moderator:
        self.pipeline.load()
        if self.judge is not None:
            self.judge.load()
        return self

    def load_media(self) -> Moderator:
        """Load the image tier now (servers) instead of on the first item with media."""
        if self.settings.media.enabled:
            self.media.load()
        return self

    @property
    def versions(self) -> Versions:
        models = self.pipeline.model_versions()
        for stage in self.stages:
            models.update(stage.models())
        return Versions(policy=self.policy.full_version, pipeline=self.pipeline.version, models=models)

    def prepare_media(
        self, items: Sequence[Content], *, allow_path: bool = True
    ) -> tuple[list[Content], list[list[Attachment] | None]]:
        """Take in and decode every attachment before any detector runs (MediaBatchError naming each
        item that fails, so a caller can drop those and moderate the rest; the others stay decoded).
        Items come back with their media in `data` form, so content hashes name the bytes.
        `allow_path=False` for requests from outside (no server-side file paths)."""
        banks = self.banks if self.settings.banks.enabled else None
        return self.media.prepare(items, banks, allow_path=allow_path)

    def moderate(self, items: Sequence[Content]) -> list[Decision]:
        """Decisions in item order. Items with media are decoded first: if any cannot be, nothing is
        decided and MediaBatchError names them (the API and CLI then decide the rest)."""
        given = list(items)
        check_limits(given, self.settings.limits)
        if not given:
            return []
        with span("warden.moderate", **{"warden.items": len(given)}):
            return self._moderate(given)

    def _moderate(self, given: list[Content]) -> list[Decision]:
        with span("warden.media.prepare"):
            items, media = self.prepare_media(given)
        states = [
            ItemState(
                content=item,
                language=item.language or (detect_language(item.text) if item.text else "und"),
                media=media[i] or [],
            )
            for i, item in enumerate(items)
        ]
        versions = self.versions
        for stage in self.stages:
            with span(f"warden.stage.{stage.name}", **{"warden.items": len(states)}):
                stage.score(states, versions)
        assembler = self.parts.assembler
        for state in states:
            if state.decision is None:
                state.decision = (
                    assembler.from_result(state.content, state.language, state.result, state.traces, versions)
                    if state.result is not None
                    else assembler.unscored(state.content, state.language, state.traces, versions)
                )
        for stage in self.stages:
            stage.decide(states)
        # Decided: the decoded frames are not needed for a retry any more, so callers that keep
        # their items (a benchmark's item set, a CLI chunk) do not keep every picture in memory.
        for item in (*given, *items):
            item._decoded = None
        return [s.decision for s in states if s.decision is not None]

    def probabilities(self, items: Sequence[Content]) -> np.ndarray:
        """Calibrated probabilities only (n_items × n_categories), for evaluation and benchmarks."""
        decisions = self.moderate(items)
        return np.array([[d.categories[c].probability for c in self.pipeline.categories] for d in decisions])
