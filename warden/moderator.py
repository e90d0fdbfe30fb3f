"""Moderator: the Python entry point that turns Content into Decisions (no storage).

Example::

    from warden import Moderator, Content
    moderator = Moderator.from_settings().load()
    decision = moderator.moderate([Content(id="1", text="...")])[0]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .content import Content, check_limits
from .decider import Decider
from .decision import Decision, Versions
from .detectors.embedding_head import E5HeadDetector, MiniLMHeadDetector
from .detectors.fewshot import E5FewShotDetector, MiniLMFewShotDetector
from .detectors.linear import LinearNgramDetector
from .fusion import FusionModel, route_of
from .pipeline import Pipeline, Stage
from .policy.model import Policy, load_policy
from .settings import Settings, get_settings
from .text.langid import detect_language


def build_pipeline(policy: Policy, models_dir: Path, settings: Settings) -> Pipeline:
    """The default cascade: fast n-gram tier, then the encoder tier for the item's language."""
    encoder_stage: list = []
    if settings.enable_encoder:
        encoder_stage += [MiniLMHeadDetector(models_dir), MiniLMFewShotDetector(policy)]
    if settings.enable_multilingual:
        encoder_stage += [E5HeadDetector(models_dir), E5FewShotDetector(policy)]
    stages = [Stage("fast", [LinearNgramDetector(models_dir)], exit_at=settings.fast_exit_probability)]
    if encoder_stage:
        stages.append(Stage("encoder", encoder_stage))
    fusion = FusionModel.load(models_dir)
    return Pipeline(stages, fusion, policy.category_ids)


class Moderator:
    def __init__(self, policy: Policy, pipeline: Pipeline, settings: Settings) -> None:
        self.settings = settings
        self.policy = policy
        self.pipeline = pipeline
        self.decider = Decider(policy, pipeline.fusion)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, policy: Policy | None = None) -> Moderator:
        settings = settings or get_settings()
        policy = policy or load_policy(settings.policy_path)
        return cls(policy, build_pipeline(policy, settings.models_dir, settings), settings)

    def load(self) -> Moderator:
        self.pipeline.load()
        return self

    @property
    def versions(self) -> Versions:
        return Versions(
            policy=self.policy.full_version,
            pipeline=self.pipeline.version,
            models=self.pipeline.model_versions(),
        )

    def moderate(self, items: Sequence[Content]) -> list[Decision]:
        items = list(items)
        check_limits(items, self.settings.limits)
        if not items:
            return []
        languages = [item.language or detect_language(item.text) for item in items]
        results = self.pipeline.run(items, languages)
        versions = self.versions
        decisions = []
        for item, lang, result in zip(items, languages, results, strict=True):
            assert result.probabilities is not None and result.evaluated is not None
            scores = {}
            route = route_of(lang)
            for k, cat in enumerate(self.pipeline.categories):
                score = self.decider.decide_category(cat, float(result.probabilities[k]), route)
                score.evaluated = bool(result.evaluated[k])
                scores[cat] = score
            evidence: dict[str, list[dict]] = {}
            for sig in result.signals:
                for ev in sig.evidence:
                    evidence.setdefault(ev.category, []).append(ev.to_dict())
            for cat in evidence:
                evidence[cat].sort(key=lambda e: -e["weight"])
            decisions.append(
                Decision(
                    content_id=item.id,
                    content_hash=item.content_hash(),
                    action=self.decider.overall_action(scores),
                    flagged=any(s.flagged for s in scores.values()),
                    language=lang,
                    categories=scores,
                    reasons=self.decider.reasons(scores, evidence),
                    versions=versions,
                    stages=result.stages,
                )
            )
        return decisions

    def probabilities(self, items: Sequence[Content]) -> np.ndarray:
        """Calibrated probabilities only (n_items × n_categories), for evaluation and benchmarks."""
        decisions = self.moderate(items)
        return np.array([[d.categories[c].probability for c in self.pipeline.categories] for d in decisions])
