"""Judge stage: the LLM judge for items the encoders left uncertain, on their uncertain categories.

In band = some category at >= judge.band_low of its flag threshold and none at >= judge.band_high.
The judge's score is blended into the fused probability (fusion was fitted without it) and its
rationale kept for the decision; where it stays unsure, a person decides (review)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..decision import StageTrace, Versions
from ..fusion import route_of
from .base import ItemState, Parts, Stage, per_item_ms, register

if TYPE_CHECKING:
    from ..detectors.llm_judge import LLMJudgeDetector
    from ..pipeline import Pipeline
    from ..settings import JudgeSettings


@register
class JudgeStage(Stage):
    name = "judge"
    reads = frozenset({"text"})

    def __init__(self, judge: LLMJudgeDetector, pipeline: Pipeline, settings: JudgeSettings) -> None:
        self.judge = judge
        self.pipeline = pipeline
        self.settings = settings

    @classmethod
    def build(cls, parts: Parts) -> JudgeStage | None:
        if parts.judge is None:
            return None
        return cls(parts.judge, parts.pipeline, parts.settings.judge)

    @property
    def cost(self) -> float:
        return self.judge.cost

    def models(self) -> dict[str, str]:
        return {"llm_judge": self.judge.identity}

    def score(self, states: Sequence[ItemState], versions: Versions) -> None:
        low, high = self.settings.band_low, self.settings.band_high
        categories = self.pipeline.categories
        picks: list[ItemState] = []
        asked: list[list[str]] = []
        for state in states:
            result = state.result
            if not state.open or result is None or any(t.exited for t in result.stages):
                continue  # decided already, or left the cascade confidently
            assert result.probabilities is not None
            ratio = result.probabilities / self.pipeline.flag_thresholds[route_of(state.language)]
            if ratio.max() >= high:
                continue
            in_band = [c for k, c in enumerate(categories) if ratio[k] >= low]
            if in_band:
                picks.append(state)
                asked.append(in_band)
        if not picks:
            return
        started = time.perf_counter()
        signals = self.judge.detect_categories([s.content for s in picks], asked, [s.language for s in picks])
        latency = per_item_ms(started, time.perf_counter(), len(picks))
        weight = self.settings.weight
        index = {c: k for k, c in enumerate(categories)}
        for state, cats, signal in zip(picks, asked, signals, strict=True):
            result = state.result
            assert result is not None
            result.signals.append(signal)
            state.traces.append(
                StageTrace(name=self.name, detectors=[self.judge.name], latency_ms=latency, cost=self.cost)
            )
            result.judge = {"categories": cats, **signal.detail.get("judge", {})}
            verdicts = result.judge.get("verdicts", {})
            if signal.applicable and result.probabilities is not None:
                for cat, p in signal.scores.items():
                    # "uncertain" carries no information: it goes to human review, not into the score.
                    if cat in index and verdicts.get(cat, {}).get("verdict") in (
                        "violating",
                        "not_violating",
                    ):
                        k = index[cat]
                        result.probabilities[k] = (1 - weight) * result.probabilities[k] + weight * p

    def decide(self, states: Sequence[ItemState]) -> None:
        """The last automated stage could not settle it: a person should (human review)."""
        for state in states:
            judged = state.result.judge if state.result is not None else None
            decision = state.decision
            if judged is None or decision is None:
                continue
            decision.judge = judged
            if decision.action != "allow":
                continue
            verdicts = judged.get("verdicts", {})
            unsure = [c for c, v in verdicts.items() if v.get("verdict") != "not_violating"]
            if unsure:
                decision.action = "review"
                for cat in unsure:
                    if cat in decision.categories:
                        decision.categories[cat].action = "review"
