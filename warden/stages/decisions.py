"""Decision assembly: from a stage's findings (bank matches, fused text scores, media scores) to a
Decision with per-category actions, the policy clauses as reasons, evidence and the stage trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from ..content import Content
from ..decider import ENFORCEMENT, Decider
from ..decision import CategoryScore, Decision, Reason, StageTrace, Versions
from ..fusion import route_of
from ..signals import Evidence

if TYPE_CHECKING:
    from ..banks.model import BankMatch
    from ..pipeline import ItemResult
    from ..policy.model import ActionName, Policy


def signal_evidence(result: ItemResult) -> dict[str, list[dict[str, Any]]]:
    """Every detector's evidence for one item, per category, strongest first."""
    evidence: dict[str, list[dict[str, Any]]] = {}
    for sig in result.signals:
        for ev in sig.evidence:
            evidence.setdefault(ev.category, []).append(ev.to_dict())
    for cat in evidence:
        evidence[cat].sort(key=lambda e: -e["weight"])
    return evidence


class DecisionAssembler:
    """Builds Decisions for one policy through one Decider (text and media each have their own:
    their probabilities come from different fusion models)."""

    def __init__(self, policy: Policy, decider: Decider, categories: Sequence[str]) -> None:
        self.policy = policy
        self.decider = decider
        self.categories = list(categories)

    def decision(
        self,
        item: Content,
        lang: str,
        scores: dict[str, CategoryScore],
        reasons: list[Reason],
        stages: list[StageTrace],
        versions: Versions,
    ) -> Decision:
        return Decision(
            content_id=item.id,
            content_hash=item.content_hash(),
            action=self.decider.overall_action(scores),
            flagged=any(s.flagged for s in scores.values()),
            language=lang,
            categories=scores,
            reasons=reasons,
            versions=versions,
            stages=stages,
        )

    def from_result(
        self, item: Content, lang: str, result: ItemResult, stages: list[StageTrace], versions: Versions
    ) -> Decision:
        """The text cascade's fused probabilities through the policy thresholds of the item's route."""
        assert result.probabilities is not None and result.evaluated is not None
        scores = {}
        route = route_of(lang)
        for k, cat in enumerate(self.categories):
            score = self.decider.decide_category(cat, float(result.probabilities[k]), route)
            score.evaluated = bool(result.evaluated[k])
            scores[cat] = score
        reasons = self.decider.reasons(scores, signal_evidence(result))
        return self.decision(item, lang, scores, reasons, stages, versions)

    def unscored(self, item: Content, lang: str, stages: list[StageTrace], versions: Versions) -> Decision:
        """Nothing scored the item (media with hashes but no bank match, or no stage for its kind)."""
        scores = {c: CategoryScore(probability=0.0, evaluated=False) for c in self.categories}
        return self.decision(item, lang, scores, [], stages, versions)

    def from_matches(
        self, item: Content, lang: str, matches: list[BankMatch], stages: list[StageTrace], versions: Versions
    ) -> Decision:
        """A bank match decides: the bank's action for its category, the match as evidence."""
        by_category: dict[str, list[BankMatch]] = {}
        for m in matches:
            by_category.setdefault(m.category, []).append(m)
        scores: dict[str, CategoryScore] = {}
        reasons: list[Reason] = []
        for cat in self.categories:
            hits = by_category.get(cat)
            if not hits:
                scores[cat] = CategoryScore(probability=0.0, evaluated=False)
                continue
            action = cast(
                "ActionName",
                min((m.action for m in hits), key=lambda a: self.decider.rank[cast("ActionName", a)]),
            )
            scores[cat] = CategoryScore(
                probability=1.0, action=action, threshold=1.0, flagged=action in ENFORCEMENT
            )
            evidence = [
                Evidence(
                    category=cat,
                    detector="bank_match",
                    kind="bank_match",
                    weight=1.0,
                    detail={
                        "bank": m.bank,
                        "entry_id": m.entry_id,
                        "signal_type": m.signal_type,
                        "distance": m.distance,
                        "distance_unit": m.distance_unit,
                        **m.detail,
                    },
                ).to_dict()
                for m in hits
            ]
            reasons.append(
                Reason(
                    category=cat,
                    action=action,
                    probability=1.0,
                    threshold=1.0,
                    clause=self.policy.category(cat).definition.strip(),
                    evidence=evidence,
                )
            )
        reasons.sort(key=lambda r: self.decider.rank[r.action])
        return self.decision(item, lang, scores, reasons, stages, versions)
