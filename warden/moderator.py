"""Moderator: the Python entry point that turns Content into Decisions (no storage).

Example::

    from warden import Moderator, Content
    moderator = Moderator.from_settings().load()
    decision = moderator.moderate([Content(id="1", text="...")])[0]
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .content import TEXT_KINDS, Content, check_limits
from .decider import ENFORCEMENT, Decider
from .decision import CategoryScore, Decision, MediaResult, MediaSegment, Reason, StageTrace, Versions
from .detectors.embedding_head import E5HeadDetector, MiniLMHeadDetector
from .detectors.fewshot import E5FewShotDetector, MiniLMFewShotDetector
from .detectors.linear import LinearNgramDetector
from .errors import ValidationError
from .fusion import ROUTES, FusionModel, route_of
from .media.analyze import Attachment, FrameResult, MediaTier, ocr_evidence
from .media.fusion import NSFW_CATEGORY, PostChannels
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

MEDIA_STAGE_COST = 5.0  # per analysed frame: an Open-NSFW forward pass (OCR on a few frames on top)
BANK_STAGE_COST = 0.01  # a hash lookup; same units as Detector.cost (n-gram tier 0.02, MiniLM head 1)


@dataclass
class _TextScore:
    """One caption or OCR text after the text cascade."""

    probabilities: dict[str, float]  # evaluated categories only
    evidence: dict[str, list[dict[str, Any]]]


def _signal_evidence(result: ItemResult) -> dict[str, list[dict[str, Any]]]:
    """Every detector's evidence for one item, per category, strongest first."""
    evidence: dict[str, list[dict[str, Any]]] = {}
    for sig in result.signals:
        for ev in sig.evidence:
            evidence.setdefault(ev.category, []).append(ev.to_dict())
    for cat in evidence:
        evidence[cat].sort(key=lambda e: -e["weight"])
    return evidence


def _max_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        for cat, p in row.items():
            out[cat] = max(out.get(cat, 0.0), p)
    return out


def build_pipeline(policy: Policy, models_dir: Path, settings: Settings) -> Pipeline:
    """The default cascade: fast n-gram tier, then the encoder tier for the item's language."""
    encoder_stage: list = []
    if settings.pipeline.enable_encoder:
        encoder_stage += [MiniLMHeadDetector(models_dir), MiniLMFewShotDetector(policy)]
    if settings.pipeline.enable_multilingual:
        encoder_stage += [E5HeadDetector(models_dir), E5FewShotDetector(policy)]
    from .cascade import CascadePlan

    plan = CascadePlan.load(models_dir) if settings.pipeline.cascade_exits else None
    exits = plan.exit_below if plan else {}
    fast = Stage(
        "fast",
        [LinearNgramDetector(models_dir)],
        exit_at=settings.pipeline.fast_exit_probability,
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
        media: MediaTier | None = None,
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
            media=self.media,
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

    def match_banks(
        self, items: Sequence[Content], media: Sequence[list[Attachment] | None] | None = None
    ) -> tuple[list[list[BankMatch]], float]:
        """Bank matches per item and the per-item latency in ms (no matches when banks are off).

        `media` holds each item's decoded attachments, whose fingerprints were taken while decoding."""
        if self.banks is None or not self.settings.banks.enabled:
            return [[] for _ in items], 0.0
        started = time.perf_counter()
        queries = []
        for i, item in enumerate(items):
            query = self._fingerprints(item)
            for attachment in (media[i] if media is not None else None) or []:
                for name, fps in attachment.fingerprints.items():
                    query.setdefault(name, []).extend(fps)
            queries.append(query)
        matches = self.banks.match(queries)
        return matches, (time.perf_counter() - started) * 1000.0 / max(len(items), 1)

    def prepare_media(self, items: Sequence[Content]) -> tuple[list[Content], list[list[Attachment] | None]]:
        """Take in and decode every attachment before any detector runs (MediaBatchError naming each
        item that fails, so a caller can drop those and moderate the rest). Items come back with their
        media in `data` form, so content hashes name the bytes."""
        return self.media.prepare(items, self.banks if self.settings.banks.enabled else None)

    def moderate(self, items: Sequence[Content]) -> list[Decision]:
        """Decisions in item order. Items with media are decoded first: if any cannot be, nothing is
        decided and MediaBatchError names them (the API and CLI then decide the rest)."""
        items = list(items)
        check_limits(items, self.settings.limits)
        if not items:
            return []
        items, media = self.prepare_media(items)
        languages = [item.language or (detect_language(item.text) if item.text else "und") for item in items]
        matches, bank_ms = self.match_banks(items, media)
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
        with_media: list[int] = []
        with_text: list[int] = []
        for i, item in enumerate(items):
            if matches[i]:
                matched = self._bank_decision(item, languages[i], matches[i], traces[i], versions)
                matched.media = [a.summary() for a in media[i] or []]
                decisions[i] = matched
            elif media[i]:
                with_media.append(i)
            elif item.kind not in TEXT_KINDS:
                decisions[i] = self._unscored_decision(item, languages[i], traces[i], versions)
            else:
                with_text.append(i)
        for indices, is_media in ((with_media, True), (with_text, False)):
            if not indices:
                continue
            group, langs = [items[i] for i in indices], [languages[i] for i in indices]
            decided = (
                self._moderate_media(group, langs, [media[i] or [] for i in indices], versions)
                if is_media
                else self._moderate_text(group, langs, versions)
            )
            if self.account_risk is not None:
                self._apply_account_risk(group, decided)
            for i, decision in zip(indices, decided, strict=True):
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
        review_at = self.settings.graph.account_risk_review_at
        share = self.settings.graph.account_risk_borderline
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

        In band = some category at >= judge.band_low of its flag threshold and none at >=
        judge.band_high. The judge's score is blended into the fused probability (fusion was
        fitted without it) and its rationale kept for the decision."""
        if self.judge is None:
            return
        low, high = self.settings.judge.band_low, self.settings.judge.band_high
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
        weight = self.settings.judge.weight
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
            reasons = self.decider.reasons(scores, _signal_evidence(result))
            decision = self._decision(item, lang, scores, reasons, result.stages, versions)
            if result.judge is not None:
                decision.judge = result.judge
                self._review_if_judge_unsure(decision, result.judge)
            decisions.append(decision)
        return decisions

    # -- media: images, animations, video and multimodal posts ------------------------------------

    def _score_texts(self, contents: list[Content], languages: list[str]) -> list[_TextScore]:
        """Caption and OCR texts through the text cascade: calibrated P per evaluated category, and
        the text-span evidence of every detector (not only of categories that reached an action)."""
        if not contents:
            return []
        out = []
        for result in self.pipeline.run(contents, languages):
            assert result.probabilities is not None and result.evaluated is not None
            probs = {
                cat: float(result.probabilities[k])
                for k, cat in enumerate(self.pipeline.categories)
                if result.evaluated[k]
            }
            out.append(_TextScore(probs, _signal_evidence(result)))
        return out

    def _moderate_media(
        self,
        items: list[Content],
        languages: list[str],
        media: list[list[Attachment]],
        versions: Versions,
    ) -> list[Decision]:
        """One decision per post from its caption, OCR text and image scores (learned fusion)."""
        started = time.perf_counter()
        flat = [a for atts in media for a in atts]
        analyzed: list[list[FrameResult]]
        if self.settings.media.enabled:
            self.media.load()
            analyzed = self.media.analyzer.analyze([a.decoded.frames for a in flat])
        else:
            analyzed = [[] for _ in flat]
        analyze_ms = (time.perf_counter() - started) * 1000.0
        per_item: list[list[tuple[Attachment, list[FrameResult]]]] = []
        k = 0
        for atts in media:
            per_item.append([(a, analyzed[k + j]) for j, a in enumerate(atts)])
            k += len(atts)
        # Texts to score: each caption, and each distinct OCR text of each item.
        texts: list[Content] = []
        text_langs: list[str] = []
        caption_at: list[int | None] = []
        ocr_at: list[dict[str, int]] = []  # raw OCR text -> index in texts, per item
        for item, lang, groups in zip(items, languages, per_item, strict=True):
            if item.text.strip():
                caption_at.append(len(texts))
                # Internal ids: the caller's id may already be at the 256-character limit.
                texts.append(Content(id=f"media-text-{len(texts)}", text=item.text, language=item.language))
                text_langs.append(lang)
            else:
                caption_at.append(None)
            seen: dict[str, int] = {}
            for _, frames in groups:
                for fr in frames:
                    if fr.ocr is None or not fr.ocr_text or fr.ocr.text in seen:
                        continue
                    seen[fr.ocr.text] = len(texts)
                    texts.append(Content(id=f"media-text-{len(texts)}", text=fr.ocr.text))
                    text_langs.append(detect_language(fr.ocr_text) or "und")
            ocr_at.append(seen)
        started = time.perf_counter()
        scored = self._score_texts(texts, text_langs)
        text_ms = (time.perf_counter() - started) * 1000.0
        media_versions = Versions(
            policy=versions.policy,
            pipeline=versions.pipeline,
            models={**versions.models, **self.media.versions()},
        )
        n = max(len(items), 1)
        text_detectors = [d.name for stage in self.pipeline.stages for d in stage.detectors]
        image_detectors = list(self.media.analyzer.versions()) if self.settings.media.enabled else []
        decisions = []
        for i, item in enumerate(items):
            lang = languages[i]
            route = route_of(lang)
            at = caption_at[i]
            caption = scored[at] if at is not None else None
            ocr_scores = {raw: scored[t] for raw, t in ocr_at[i].items()}
            results = [self._attachment_result(att, frames, ocr_scores, route) for att, frames in per_item[i]]
            nsfw_values = [r[1] for r in results if r[1] is not None]
            channels = PostChannels(
                caption=caption.probabilities if caption is not None else None,
                ocr=_max_scores([s.probabilities for s in ocr_scores.values()]) if ocr_scores else None,
                nsfw=max(nsfw_values) if nsfw_values else None,
            )
            scores: dict[str, CategoryScore] = {}
            evidence: dict[str, list[dict[str, Any]]] = {}
            frames_all = [fr for _, frames in per_item[i] for fr in frames]
            for cat in self.pipeline.categories:
                p, evaluated = self.media.fusion.fuse_one(channels, cat)
                score = self.media_decider.decide_category(cat, p, route)
                score.evaluated = evaluated
                scores[cat] = score
                if score.action != "allow":
                    evidence[cat] = self._media_evidence(cat, caption, ocr_scores, frames_all)
            reasons = self.media_decider.reasons(scores, evidence)
            stages = [
                StageTrace(
                    name="media",
                    detectors=["decode", *image_detectors],
                    latency_ms=round(sum(a.decode_ms for a, _ in per_item[i]) + analyze_ms / n, 4),
                    cost=MEDIA_STAGE_COST * sum(len(frames) for _, frames in per_item[i]),
                ),
                StageTrace(
                    name="text",
                    detectors=text_detectors,
                    latency_ms=round(text_ms / n, 4),
                    cost=sum(stage.cost for stage in self.pipeline.stages)
                    * (len(ocr_at[i]) + (caption is not None)),
                ),
                StageTrace(name="media_fusion", detectors=["media_fusion"], latency_ms=0.0, cost=0.0),
            ]
            decision = self._decision(item, lang, scores, reasons, stages, media_versions)
            decision.media = [r[0] for r in results]
            decisions.append(decision)
        return decisions

    def _attachment_result(
        self,
        attachment: Attachment,
        frames: list[FrameResult],
        ocr_scores: dict[str, _TextScore],
        route: str,
    ) -> tuple[MediaResult, float | None]:
        """The attachment on its own (no caption): fused P, action, and for animations and video
        per-segment decisions. Also returns its NSFW channel value (None when no frame was analysed)."""
        from .media.segments import aggregate

        cats = self.pipeline.categories
        fusion = self.media.fusion
        read = [fr for fr in frames if fr.ocr is not None and fr.ocr.text in ocr_scores]
        ocr = _max_scores([ocr_scores[fr.ocr.text].probabilities for fr in read if fr.ocr]) if read else None
        nsfw: float | None = None
        segments: list[MediaSegment] = []
        if len(frames) > 1:
            # Per frame: that frame's NSFW score and, where OCR read it, its text; NaN = not scored.
            matrix = np.full((len(frames), len(cats)), np.nan)
            for f, fr in enumerate(frames):
                text = ocr_scores.get(fr.ocr.text) if fr.ocr is not None else None
                frame_channels = PostChannels(ocr=text.probabilities if text else None, nsfw=fr.nsfw)
                for c, cat in enumerate(cats):
                    p, evaluated = fusion.fuse_one(frame_channels, cat)
                    if evaluated:
                        matrix[f, c] = p
            thresholds = {cat: self.media_decider.flag_threshold(cat, route) for cat in cats}
            summary = aggregate(
                [fr.time_s or 0.0 for fr in frames], matrix, cats, thresholds, attachment.decoded.duration_s
            )
            # A video's NSFW channel is the mean of its top frames: one noisy frame does not decide.
            nsfw = summary.categories[NSFW_CATEGORY].score if NSFW_CATEGORY in summary.categories else None
            for seg in summary.segments:
                seg_scores = {
                    cat: self.media_decider.decide_category(cat, p, route)
                    for cat, p in seg.categories.items()
                }
                segments.append(
                    MediaSegment(
                        start_s=round(seg.start_s, 3),
                        end_s=round(seg.end_s, 3),
                        action=self.media_decider.overall_action(seg_scores),
                        flagged=list(seg.flagged),
                        probabilities={c: round(p, 4) for c, p in seg.categories.items() if p >= 0.01},
                        frames=len(seg.frame_indices),
                    )
                )
        elif frames:
            nsfw = frames[0].nsfw
        channels = PostChannels(ocr=ocr, nsfw=nsfw)
        probabilities: dict[str, float] = {}
        decided: dict[str, CategoryScore] = {}
        for cat in cats:
            p, evaluated = fusion.fuse_one(channels, cat)
            if evaluated:
                probabilities[cat] = round(p, 6)
                decided[cat] = self.media_decider.decide_category(cat, p, route)
        ocr_text = " | ".join(dict.fromkeys(fr.ocr_text for fr in read if fr.ocr_text))
        result = attachment.summary()
        result.frames_analysed = len(frames)
        result.ocr_text = ocr_text[:2000] or None
        result.action = self.media_decider.overall_action(decided) if decided else "allow"
        result.probabilities = probabilities
        result.segments = segments
        return result, nsfw

    def _word_spans(self, text: str, category: str) -> list[dict[str, Any]]:
        """The n-gram tier's strongest words for a category in a text, even when that tier alone
        stayed below its own evidence threshold (the encoders carried the score): boxes need words."""
        detectors = [d for stage in self.pipeline.stages for d in stage.detectors]
        linear = next((d for d in detectors if isinstance(d, LinearNgramDetector)), None)
        if linear is None:
            return []
        probe = copy.copy(linear)  # shares the loaded weights
        probe.evidence_min_score = 0.0
        [signal] = probe.detect([Content(id="media-evidence", text=text)], ["en"])
        return [ev.to_dict() for ev in signal.evidence if ev.category == category and ev.start is not None]

    def _media_evidence(
        self,
        category: str,
        caption: _TextScore | None,
        ocr_scores: dict[str, _TextScore],
        frames: list[FrameResult],
        limit: int = 8,
    ) -> list[dict[str, Any]]:
        """Evidence for one category: caption spans, OCR spans as word boxes, image regions."""
        out: list[dict[str, Any]] = []
        if caption is not None:
            out += [{**ev, "source": "caption"} for ev in caption.evidence.get(category, [])[:limit]]
        if ocr_scores:
            raw, best = max(ocr_scores.items(), key=lambda kv: kv[1].probabilities.get(category, 0.0))
            # Frames OCR actually read come first: their boxes are measured, not borrowed.
            holders = sorted(
                (fr for fr in frames if fr.ocr is not None and fr.ocr.text == raw),
                key=lambda fr: fr.ocr_shared,
            )[:3]
            spans = [ev for ev in best.evidence.get(category, []) if "start" in ev and "end" in ev]
            if not spans and holders:
                spans = self._word_spans(raw, category)
            for fr in holders:
                words: list[dict[str, Any]] = []
                for ev in spans[:limit]:
                    words += ocr_evidence(fr, ev["start"], ev["end"], category, ev["detector"], ev["weight"])
                if not words and fr.ocr is not None and best.probabilities.get(category, 0.0) > 0:
                    # Nothing to single out (a category only the encoders score): every word read.
                    weight = best.probabilities.get(category, 0.0)
                    words += ocr_evidence(fr, 0, len(fr.ocr.text), category, "ocr_text", weight)
                out += words
        if category == NSFW_CATEGORY:
            top = sorted(frames, key=lambda fr: -fr.nsfw)[:3]
            out += [ev.to_dict() for fr in top for ev in fr.evidence]
        return out

    def probabilities(self, items: Sequence[Content]) -> np.ndarray:
        """Calibrated probabilities only (n_items × n_categories), for evaluation and benchmarks."""
        decisions = self.moderate(items)
        return np.array([[d.categories[c].probability for c in self.pipeline.categories] for d in decisions])
