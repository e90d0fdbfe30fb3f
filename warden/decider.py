"""Turn calibrated probabilities into actions using the policy's rules."""

from __future__ import annotations

from dataclasses import dataclass

from .decision import CategoryScore, Reason
from .fusion import ROUTES, FusionModel
from .policy.model import ActionName, Category, Policy

ENFORCEMENT = {"remove", "age_restrict", "limit", "label"}


@dataclass(frozen=True)
class ResolvedRule:
    action: ActionName
    threshold: float
    source: str  # min_probability | target_precision | max_share, "(no calibration data)" on fallback


class Decider:
    """Holds the policy's rules resolved to probability thresholds for one model version."""

    def __init__(self, policy: Policy, fusion: FusionModel) -> None:
        self.policy = policy
        # Thresholds per calibration route: a target precision on German text needs its own cut.
        self.route_rules: dict[str, dict[str, list[ResolvedRule]]] = {
            route: {c.id: self._resolve(c, fusion, route) for c in policy.categories} for route in ROUTES
        }
        self.rules = self.route_rules["en"]
        # Derived once: decide_category runs for every item and category.
        self._flag_at = {
            route: {cid: self._flag_threshold(rules) for cid, rules in by_cat.items()}
            for route, by_cat in self.route_rules.items()
        }
        self.rank = {a: i for i, a in enumerate(policy.action_precedence)}

    @staticmethod
    def _resolve(category: Category, fusion: FusionModel, route: str) -> list[ResolvedRule]:
        curve = fusion.curve(category.id, route)
        out = []
        for rule in category.actions:
            if rule.min_probability is not None:
                out.append(ResolvedRule(rule.action, rule.min_probability, "min_probability"))
                continue
            if rule.max_share is not None:
                share_threshold = fusion.threshold_for_share(category.id, rule.max_share, route)
                if share_threshold is None:
                    # Models trained before budgets existed: flag nothing rather than everything.
                    out.append(ResolvedRule(rule.action, 1.0, "max_share (no calibration traffic)"))
                else:
                    out.append(ResolvedRule(rule.action, share_threshold, "max_share"))
                continue
            assert rule.target_precision is not None
            threshold = (
                curve.threshold_for_precision(rule.target_precision, category.prevalence) if curve else None
            )
            if threshold is None:
                # No data (or the model never reaches that precision): a calibrated probability
                # of p means precision ≈ p among items at p, so p is the conservative stand-in.
                out.append(
                    ResolvedRule(rule.action, rule.target_precision, "target_precision (no calibration data)")
                )
            else:
                out.append(ResolvedRule(rule.action, threshold, "target_precision"))
        return out

    @staticmethod
    def _flag_threshold(rules: list[ResolvedRule]) -> float:
        enforcing = [r.threshold for r in rules if r.action in ENFORCEMENT]
        return min(enforcing) if enforcing else min(r.threshold for r in rules)

    def flag_threshold(self, category_id: str, route: str = "en") -> float:
        """Probability at which a category counts as flagged (first enforcement rule, else review)."""
        return self._flag_at[route][category_id]

    def decide_category(self, category_id: str, probability: float, route: str = "en") -> CategoryScore:
        # Rules are read top-down like a firewall: the first one reached wins (the policy lists
        # them strongest first; a resolved threshold can make a later rule lower than an earlier one).
        for rule in self.route_rules[route][category_id]:
            if probability >= rule.threshold:
                return CategoryScore(
                    probability=round(probability, 6),
                    action=rule.action,
                    threshold=round(rule.threshold, 6),
                    flagged=probability >= self.flag_threshold(category_id, route),
                )
        return CategoryScore(probability=round(probability, 6), action="allow", threshold=None, flagged=False)

    def overall_action(self, scores: dict[str, CategoryScore]) -> ActionName:
        actions = [s.action for s in scores.values()] or ["allow"]
        return min(actions, key=lambda a: self.rank[a])

    def reasons(self, scores: dict[str, CategoryScore], evidence: dict[str, list[dict]]) -> list[Reason]:
        out = []
        for cat_id, score in scores.items():
            if score.action == "allow" or score.threshold is None:
                continue
            out.append(
                Reason(
                    category=cat_id,
                    action=score.action,
                    probability=score.probability,
                    threshold=score.threshold,
                    clause=self.policy.category(cat_id).definition.strip(),
                    evidence=evidence.get(cat_id, []),
                )
            )
        out.sort(key=lambda r: (self.rank[r.action], -r.probability))
        return out
