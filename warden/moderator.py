"""Moderator: the Python entry point that turns Content into Decisions (no storage).

Example::

    from warden import Moderator, Content
    moderator = Moderator.from_settings().load()
    decision = moderator.moderate([Content(id="1", text="...")])[0]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .content import TEXT_KINDS, Content, check_limits
from .decider import ENFORCEMENT, Decider
from .decision import CategoryScore, Decision, Reason, StageTrace, Versions
from .detectors.embedding_head import E5HeadDetector, MiniLMHeadDetector
from .detectors.fewshot import E5FewShotDetector, MiniLMFewShotDetector
from .detectors.linear import LinearNgramDetector
from .errors import ValidationError
from .fusion import ROUTES, FusionModel, route_of
from .pipeline import ItemResult, Pipeline, Stage
from .policy.model import ActionName, Policy, load_policy
from .settings import Settings, get_settings
from .signals import Evidence
from .text.langid import detect_language

if TYPE_CHECKING:
    from .banks.matcher import BankMatcher
    from .banks.model import BankMatch
    from .banks.signal_types import Fingerprint
    from .detectors.llm_judge import LLMJudgeDetector
    from .graph.signal import AccountRiskScorer

BANK_STAGE_COST = 0.01  # a hash lookup; same units as Detector.cost (n-gram tier 0.02, MiniLM head 1)


def build_pipeline(policy: Policy, models_dir: Path, settings: Settings) -> Pipeline:
    """The default cascade: fast n-gram tier, then the encoder tier for the item's language."""
    encoder_stage: list = []
    if settings.enable_encoder:
        encoder_stage += [MiniLMHeadDetector(models_dir), MiniLMFewShotDetector(policy)]
    if settings.enable_multilingual:
        encoder_stage += [E5HeadDetector(models_dir), E5FewShotDetector(policy)]
    from .cascade import CascadePlan

    plan = CascadePlan.load(models_dir) if settings.cascade_exits else None
    exits = plan.exit_below if plan else {}
    fast = Stage(
        "fast",
        [LinearNgramDetector(models_dir)],
        exit_at=settings.fast_exit_probability,
        exit_below=exits.get("fast"),
    )
    stages = [fast]
    if encoder_stage:
        stages.append(Stage("encoder", encoder_stage, exit_below=exits.get("encoder")))
    fusion = FusionModel.load(models_dir)
    return Pipeline(stages, fusion, policy.category_ids)


class Moderator:
    """Banks first (a match short-circuits to the bank's action), then the detector cascade."""

    def __init__(
        self,
        policy: Policy,
        pipeline: Pipeline,
        settings: Settings,
        banks: BankMatcher | None = None,
        account_risk: AccountRiskScorer | None = None,
        judge: LLMJudgeDetector | None = None,
    ) -> None:
        self.settings = settings
        self.judge = judge
        self.policy = policy
        self.pipeline = pipeline
        self.decider = Decider(policy, pipeline.fusion)
        self.banks = banks
        self.account_risk = account_risk
        # Benign exits are relative to each category's flag threshold, which the Decider resolves.
        pipeline.flag_thresholds = {
            route: np.array([self.decider.flag_threshold(c, route) for c in pipeline.categories])
            for route in ROUTES
        }

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
        )

    def load(self) -> Moderator:
        self.pipeline.load()
        if self.judge is not None:
            self.judge.load()
        return self

    @property
    def versions(self) -> Versions:
        models = self.pipeline.model_versions()
        if self.banks is not None:
            models["bank_match"] = f"{self.banks.name}@{self.banks.version}"
        if self.judge is not None:
            models["llm_judge"] = self.judge.identity
        return Versions(policy=self.policy.full_version, pipeline=self.pipeline.version, models=models)

    def _fingerprints(self, item: Content) -> dict[str, list[Fingerprint]]:
        """The item's text fingerprints plus the hashes the caller sent (422 if one is malformed)."""
        assert self.banks is not None
        try:
            return self.banks.fingerprints(item.text, item.hashes)
        except ValueError as exc:
            raise ValidationError(f"{item.id}: {exc}") from None

    def match_banks(self, items: Sequence[Content]) -> tuple[list[list[BankMatch]], float]:
        """Bank matches per item and the per-item latency in ms (no matches when banks are off)."""
        if self.banks is None or not self.settings.banks.enabled:
            return [[] for _ in items], 0.0
        started = time.perf_counter()
        matches = self.banks.match([self._fingerprints(item) for item in items])
        return matches, (time.perf_counter() - started) * 1000.0 / max(len(items), 1)

    def moderate(self, items: Sequence[Content]) -> list[Decision]:
        items = list(items)
        check_limits(items, self.settings.limits)
        if not items:
            return []
        languages = [item.language or (detect_language(item.text) if item.text else "und") for item in items]
        matches, bank_ms = self.match_banks(items)
        versions = self.versions
        # Without banks there is no bank stage to record.
        traces: list[list[StageTrace]] = [
            [
                StageTrace(
                    name="banks",
                    detectors=["bank_match"],
                    latency_ms=round(bank_ms, 4),
                    cost=BANK_STAGE_COST,
                    exited=bool(m),
                )
            ]
            if self.banks is not None
            else []
            for m in matches
        ]
        decisions: list[Decision | None] = [None] * len(items)
        for i, item in enumerate(items):
            if matches[i]:
                decisions[i] = self._bank_decision(item, languages[i], matches[i], traces[i], versions)
            elif item.kind not in TEXT_KINDS:
                decisions[i] = self._unscored_decision(item, languages[i], traces[i], versions)
        rest = [i for i, d in enumerate(decisions) if d is None]
        if rest:
            texts = self._moderate_text([items[i] for i in rest], [languages[i] for i in rest], versions)
            if self.account_risk is not None:
                self._apply_account_risk([items[i] for i in rest], texts)
            for i, decision in zip(rest, texts, strict=True):
                decision.stages[:0] = traces[i]
                decisions[i] = decision
        return [d for d in decisions if d is not None]

    @staticmethod
    def _review_if_judge_unsure(decision: Decision, judged: dict[str, Any]) -> None:
        """The last automated stage could not settle it: a person should (human review)."""
        if decision.action != "allow":
            return
        unsure = [c for c, v in judged.get("verdicts", {}).items() if v.get("verdict") != "not_violating"]
        if unsure:
            decision.action = "review"
            for cat in unsure:
                if cat in decision.categories:
                    decision.categories[cat].action = "review"

    def _apply_account_risk(self, items: list[Content], decisions: list[Decision]) -> None:
        """A borderline item from a risky author (in a coordinated group, or graph risk >= review_at) goes
        to review instead of being allowed; the graph stage is recorded either way.

        An explicit rule rather than a fused feature: fusion was trained without account signals,
        and a reviewer, not the model, should settle "borderline text from a suspicious account"."""
        assert self.account_risk is not None
        started = time.perf_counter()
        signals = self.account_risk.score([item.author_id for item in items])
        per_item_ms = (time.perf_counter() - started) * 1000.0 / max(len(items), 1)
        review_at = self.settings.account_risk_review_at
        share = self.settings.account_risk_borderline
        for decision, signal in zip(decisions, signals, strict=True):
            if not signal.applicable:
                continue
            risk = signal.scores.get("account_risk", 0.0)
            coordinated = signal.scores.get("coordinated", 0.0) >= 1.0
            decision.stages.append(
                StageTrace(
                    name="graph", detectors=[signal.detector], latency_ms=round(per_item_ms, 4), cost=0.0
                )
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

    def _bank_decision(
        self, item: Content, lang: str, matches: list[BankMatch], stages: list[StageTrace], versions: Versions
    ) -> Decision:
        """A bank match decides: the bank's action for its category, the match as evidence."""
        by_category: dict[str, list[BankMatch]] = {}
        for m in matches:
            by_category.setdefault(m.category, []).append(m)
        scores: dict[str, CategoryScore] = {}
        reasons: list[Reason] = []
        for cat in self.pipeline.categories:
            hits = by_category.get(cat)
            if not hits:
                scores[cat] = CategoryScore(probability=0.0, evaluated=False)
                continue
            action = cast(
                ActionName,
                min((m.action for m in hits), key=lambda a: self.decider.rank[cast(ActionName, a)]),
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
        return self._decision(item, lang, scores, reasons, stages, versions)

    def _unscored_decision(
        self, item: Content, lang: str, stages: list[StageTrace], versions: Versions
    ) -> Decision:
        """Media with hashes but no bank match: no media detector scores it in this version."""
        scores = {c: CategoryScore(probability=0.0, evaluated=False) for c in self.pipeline.categories}
        return self._decision(item, lang, scores, [], stages, versions)

    def _decision(
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

    def _judge_uncertain(self, items: list[Content], languages: list[str], results: list[ItemResult]) -> None:
        """The judge stage: items still uncertain after the encoders, for their uncertain categories.

        In band = some category at >= judge_band_low of its flag threshold and none at >=
        judge_band_high. The judge's score is blended into the fused probability (fusion was
        fitted without it) and its rationale kept for the decision."""
        if self.judge is None:
            return
        low, high = self.settings.judge_band_low, self.settings.judge_band_high
        picks: list[int] = []
        asked: list[list[str]] = []
        for i, (lang, result) in enumerate(zip(languages, results, strict=True)):
            if any(t.exited for t in result.stages):
                continue  # left the cascade confidently
            assert result.probabilities is not None
            ratio = result.probabilities / self.pipeline.flag_thresholds[route_of(lang)]
            if ratio.max() >= high:
                continue
            in_band = [c for k, c in enumerate(self.pipeline.categories) if ratio[k] >= low]
            if in_band:
                picks.append(i)
                asked.append(in_band)
        if not picks:
            return
        started = time.perf_counter()
        signals = self.judge.detect_categories(
            [items[i] for i in picks], asked, [languages[i] for i in picks]
        )
        per_item_ms = (time.perf_counter() - started) * 1000.0 / len(picks)
        weight = self.settings.judge_weight
        index = {c: k for k, c in enumerate(self.pipeline.categories)}
        for i, cats, signal in zip(picks, asked, signals, strict=True):
            result = results[i]
            result.signals.append(signal)
            result.stages.append(
                StageTrace(
                    name="judge",
                    detectors=[self.judge.name],
                    latency_ms=round(per_item_ms, 4),
                    cost=self.judge.cost,
                )
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

    def _moderate_text(
        self, items: list[Content], languages: list[str], versions: Versions
    ) -> list[Decision]:
        results = self.pipeline.run(items, languages)
        self._judge_uncertain(items, languages, results)
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
            reasons = self.decider.reasons(scores, evidence)
            decision = self._decision(item, lang, scores, reasons, result.stages, versions)
            if result.judge is not None:
                decision.judge = result.judge
                self._review_if_judge_unsure(decision, result.judge)
            decisions.append(decision)
        return decisions

    def probabilities(self, items: Sequence[Content]) -> np.ndarray:
        """Calibrated probabilities only (n_items × n_categories), for evaluation and benchmarks."""
        decisions = self.moderate(items)
        return np.array([[d.categories[c].probability for c in self.pipeline.categories] for d in decisions])
