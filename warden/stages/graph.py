"""Graph stage: a borderline item from a risky author (in a coordinated group, or graph risk >=
graph.account_risk_review_at) goes to review instead of being allowed; the stage is recorded on
every model-scored item whose author the graph knows.

An explicit rule over the decision rather than a fused feature: fusion was trained without account
signals, and a reviewer, not the model, should settle "borderline text from a suspicious account"."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..decision import Reason, StageTrace
from ..fusion import route_of
from .base import ItemState, Parts, Stage, per_item_ms, register

if TYPE_CHECKING:
    from ..decider import Decider
    from ..graph.signal import AccountRiskScorer
    from ..settings import GraphSettings


@register
class AccountRiskStage(Stage):
    name = "graph"
    reads = frozenset({"author", "decision"})

    def __init__(self, scorer: AccountRiskScorer, settings: GraphSettings, decider: Decider) -> None:
        self.scorer = scorer
        self.settings = settings
        self.decider = decider

    @classmethod
    def build(cls, parts: Parts) -> AccountRiskStage | None:
        if parts.account_risk is None:
            return None
        return cls(parts.account_risk, parts.settings.graph, parts.assembler.decider)

    def decide(self, states: Sequence[ItemState]) -> None:
        # Bank matches and unscored items keep their decision: the rule is about borderline scores.
        scored = [s for s in states if s.scored and s.decision is not None]
        if not scored:
            return
        started = time.perf_counter()
        signals = self.scorer.score([s.content.author_id for s in scored])
        latency = per_item_ms(started, time.perf_counter(), len(scored))
        review_at = self.settings.account_risk_review_at
        share = self.settings.account_risk_borderline
        for state, signal in zip(scored, signals, strict=True):
            decision = state.decision
            assert decision is not None
            if not signal.applicable:
                continue
            risk = signal.scores.get("account_risk", 0.0)
            coordinated = signal.scores.get("coordinated", 0.0) >= 1.0
            decision.stages.append(
                StageTrace(name=self.name, detectors=[signal.detector], latency_ms=latency, cost=self.cost)
            )
            if (risk < review_at and not coordinated) or decision.action != "allow":
                continue
            route = route_of(decision.language)
            borderline = [
                (cat, score.probability, self.decider.flag_threshold(cat, route) * share)
                for cat, score in decision.categories.items()
            ]
            hits = [b for b in borderline if b[1] >= b[2]]
            if not hits:
                continue
            cat, probability, threshold = max(hits, key=lambda b: b[1] / max(b[2], 1e-9))
            decision.action = "review"
            decision.categories[cat].action = "review"
            decision.reasons.append(
                Reason(
                    category=cat,
                    action="review",
                    probability=probability,
                    threshold=round(threshold, 6),
                    clause=(
                        f"borderline {cat} from an account in a coordinated group"
                        if coordinated
                        else f"borderline {cat} from an account with graph risk {risk:.2f} >= {review_at:g}"
                    ),
                    evidence=[ev.to_dict() for ev in signal.evidence],
                )
            )
