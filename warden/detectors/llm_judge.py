"""LLM policy judge as a detector: an instruction-following model reads the policy.

Scores are per-category probabilities from the judge's verdict and confidence (violating
0.5..1, not_violating 0.5..0, uncertain 0.5; fusion calibrates them); evidence is the
verified quotes as text spans with the clause and rationale; `Signal.detail["judge"]` holds
the full structured rationale (verdict, confidence, clause, quotes kept and dropped,
downgrades) so the decision can store and show it. Any category of the policy is judged,
including one added to the YAML today with only a definition and examples.

The judge is slow (a model call per item and group of categories): run it late in the
cascade, for the uncertain band only (see `PolicyJudge.judge_many` for per-item categories).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..content import Content
from ..llm.backends import JudgeBackend
from ..llm.cache import JudgeCache
from ..llm.config import JudgeSettings
from ..llm.judge import Judgement, PolicyJudge
from ..llm.prompt import clause_text
from ..policy.model import Policy
from ..signals import Evidence, Signal
from .base import Detector, registry


@registry.register
class LLMJudgeDetector(Detector):
    name = "llm_judge"
    version = "1"
    cost = 200.0  # a generative model call per item: orders of magnitude above the encoders

    def __init__(
        self,
        policy: Policy,
        backend: JudgeBackend | None = None,
        settings: JudgeSettings | None = None,
        cache: JudgeCache | None = None,
    ) -> None:
        self.policy = policy
        self.judge = PolicyJudge(policy, backend, settings, cache)

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{self.policy.full_version}/{self.judge.model_id}"

    def for_policy(self, policy: Policy) -> LLMJudgeDetector:
        # Prompts come from the policy; the backend (a loaded model or a server) is shared.
        return LLMJudgeDetector(policy, self.judge.backend, self.judge.settings, self.judge.cache)

    def load(self) -> None:
        if self._loaded:
            return
        self.judge.load()
        self._loaded = True

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        return self.detect_categories(items, None, languages)

    def detect_categories(
        self,
        items: Sequence[Content],
        categories: Sequence[Sequence[str]] | None,
        languages: Sequence[str | None] | None = None,
    ) -> list[Signal]:
        """Like `detect`, judging only `categories[i]` for item i (None = the configured
        categories): the cascade asks about the uncertain categories of each item only. An item
        with an empty list gets a not-applicable signal and costs no model call."""
        self.load()
        if categories is not None and len(categories) != len(items):
            raise ValueError(f"{len(categories)} category lists for {len(items)} items")
        signals, applicable = self.split_applicable(items, languages)
        idx: list[int] = []
        for i in applicable:
            if not items[i].text.strip():
                signals[i] = Signal.not_applicable(self.name, self.version, "no text to judge")
            elif categories is not None and not categories[i]:
                signals[i] = Signal.not_applicable(self.name, self.version, "no category in question")
            else:
                idx.append(i)
        if not idx:
            return signals
        per_item = None if categories is None else [list(categories[i]) for i in idx]
        judgements = self.judge.judge_many([items[i] for i in idx], per_item)
        for i, judgement in zip(idx, judgements, strict=True):
            signals[i] = self._signal(judgement)
        return signals

    def _signal(self, judgement: Judgement) -> Signal:
        detail = {"judge": judgement.to_dict(self.policy)}
        if not judgement.verdicts:
            reason = "; ".join(sorted(set(judgement.errors.values()))) or "no verdict"
            signal = Signal.not_applicable(self.name, self.version, f"judge failed: {reason}")
            signal.detail.update(detail)
            return signal
        scores = judgement.scores()
        evidence: list[Evidence] = []
        for cat, verdict in judgement.verdicts.items():
            if verdict.verdict == "not_violating":
                continue  # a quote behind "does not violate" is no evidence of a violation
            for span in verdict.spans:
                evidence.append(
                    Evidence(
                        category=cat,
                        detector=self.name,
                        kind="text_span",
                        start=span.start,
                        end=span.end,
                        snippet=span.snippet,
                        weight=scores[cat],
                        detail={
                            "clause": verdict.clause,
                            "clause_text": clause_text(self.policy, verdict.clause),
                            "rationale": verdict.rationale,
                            "verdict": verdict.verdict,
                            "confidence": round(verdict.confidence, 4),
                        },
                    )
                )
        return Signal(self.name, self.version, scores=scores, evidence=evidence, detail=detail)
