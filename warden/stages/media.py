"""Media stage: one decision per post with images, animations or video, from its caption, the text
OCR reads in its frames and the frame detectors' scores (learned media fusion); animations and
videos also get per-segment decisions. Attachments arrive decoded (`Moderator.prepare_media`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..content import Content
from ..decision import CategoryScore, MediaResult, MediaSegment, StageTrace, Versions
from ..fusion import route_of
from ..media.analyze import ocr_evidence
from ..media.fusion import NSFW_CATEGORY, PostChannels
from ..text.langid import detect_language
from .base import ItemState, Parts, Stage, register
from .decisions import DecisionAssembler, signal_evidence

if TYPE_CHECKING:
    from ..media.analyze import Attachment, FrameResult, MediaTier
    from ..pipeline import Pipeline
    from ..settings import Settings

MEDIA_STAGE_COST = 5.0  # per analysed frame: an Open-NSFW forward pass (OCR on a few frames on top)


@dataclass
class TextScore:
    """One caption or OCR text after the text cascade."""

    probabilities: dict[str, float]  # evaluated categories only
    evidence: dict[str, list[dict[str, Any]]]


def _max_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        for cat, p in row.items():
            out[cat] = max(out.get(cat, 0.0), p)
    return out


@register
class MediaStage(Stage):
    name = "media"
    reads = frozenset({"text", "media"})

    def __init__(
        self, media: MediaTier, pipeline: Pipeline, settings: Settings, assembler: DecisionAssembler
    ) -> None:
        self.media = media
        self.pipeline = pipeline
        self.settings = settings
        self.assembler = assembler
        self.decider = assembler.decider
        self.categories = pipeline.categories

    @classmethod
    def build(cls, parts: Parts) -> MediaStage:
        return cls(parts.media, parts.pipeline, parts.settings, parts.media_assembler)

    def score(self, states: Sequence[ItemState], versions: Versions) -> None:
        todo = [s for s in states if s.open and s.media]
        if not todo:
            return
        for state, decision in zip(todo, self._decide(todo, versions), strict=True):
            state.decision = decision
            state.scored = True

    def _score_texts(self, contents: list[Content], languages: list[str]) -> list[TextScore]:
        """Caption and OCR texts through the text cascade: calibrated P per evaluated category, and
        the text-span evidence of every detector (not only of categories that reached an action)."""
        if not contents:
            return []
        out = []
        # Every tier, no benign exit: the multimodal fusion is fitted on full-cascade text scores (a
        # caption that left after the fast tier would carry its stand-in scores, e.g. sexual_minors),
        # and next to decoding and OCR the encoder tier's cost is small.
        for result in self.pipeline.run(contents, languages, early_exit=False):
            assert result.probabilities is not None and result.evaluated is not None
            probs = {
                cat: float(result.probabilities[k])
                for k, cat in enumerate(self.categories)
                if result.evaluated[k]
            }
            out.append(TextScore(probs, signal_evidence(result)))
        return out

    def _decide(self, states: list[ItemState], versions: Versions) -> list:
        started = time.perf_counter()
        flat = [a for s in states for a in s.media]
        analyzed: list[list[FrameResult]]
        if self.settings.media.enabled:
            self.media.load()
            analyzed = self.media.analyzer.analyze([a.decoded.frames for a in flat], [a.nsfw for a in flat])
        else:
            analyzed = [[] for _ in flat]
        analyze_ms = (time.perf_counter() - started) * 1000.0
        per_item: list[list[tuple[Attachment, list[FrameResult]]]] = []
        k = 0
        for s in states:
            per_item.append([(a, analyzed[k + j]) for j, a in enumerate(s.media)])
            k += len(s.media)
        # Texts to score: each caption, and each distinct OCR text of each item.
        texts: list[Content] = []
        text_langs: list[str] = []
        caption_at: list[int | None] = []
        ocr_at: list[dict[str, int]] = []  # raw OCR text -> index in texts, per item
        for state, groups in zip(states, per_item, strict=True):
            item = state.content
            if item.text.strip():
                caption_at.append(len(texts))
                # Internal ids: the caller's id may already be at the 256-character limit.
                texts.append(Content(id=f"media-text-{len(texts)}", text=item.text, language=item.language))
                text_langs.append(state.language)
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
        n = max(len(states), 1)
        text_detectors = [d.name for stage in self.pipeline.stages for d in stage.detectors]
        image_detectors = list(self.media.analyzer.versions()) if self.settings.media.enabled else []
        decisions = []
        for i, state in enumerate(states):
            route = route_of(state.language)
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
            for cat in self.categories:
                p, evaluated = self.media.fusion.fuse_one(channels, cat)
                score = self.decider.decide_category(cat, p, route)
                score.evaluated = evaluated
                scores[cat] = score
                if score.action != "allow":
                    evidence[cat] = self._evidence(cat, caption, ocr_scores, frames_all)
            reasons = self.decider.reasons(scores, evidence)
            state.traces.extend(
                [
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
            )
            decision = self.assembler.decision(
                state.content, state.language, scores, reasons, state.traces, media_versions
            )
            decision.media = [r[0] for r in results]
            decisions.append(decision)
        return decisions

    def _attachment_result(
        self,
        attachment: Attachment,
        frames: list[FrameResult],
        ocr_scores: dict[str, TextScore],
        route: str,
    ) -> tuple[MediaResult, float | None]:
        """The attachment on its own (no caption): fused P, action, and for animations and video
        per-segment decisions. Also returns its NSFW channel value (None when no frame was analysed)."""
        from ..media.segments import aggregate

        cats = self.categories
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
            thresholds = {cat: self.decider.flag_threshold(cat, route) for cat in cats}
            summary = aggregate(
                [fr.time_s or 0.0 for fr in frames], matrix, cats, thresholds, attachment.decoded.duration_s
            )
            # A video's NSFW channel is the mean of its top frames: one noisy frame does not decide.
            nsfw = summary.categories[NSFW_CATEGORY].score if NSFW_CATEGORY in summary.categories else None
            for seg in summary.segments:
                seg_scores = {
                    cat: self.decider.decide_category(cat, p, route) for cat, p in seg.categories.items()
                }
                segments.append(
                    MediaSegment(
                        start_s=round(seg.start_s, 3),
                        end_s=round(seg.end_s, 3),
                        action=self.decider.overall_action(seg_scores),
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
                decided[cat] = self.decider.decide_category(cat, p, route)
        ocr_text = " | ".join(dict.fromkeys(fr.ocr_text for fr in read if fr.ocr_text))
        result = attachment.summary()
        result.frames_analysed = len(frames)
        result.ocr_text = ocr_text[:2000] or None
        result.action = self.decider.overall_action(decided) if decided else "allow"
        result.probabilities = probabilities
        result.segments = segments
        return result, nsfw

    def _word_spans(self, text: str, category: str) -> list[dict[str, Any]]:
        """The first text detector's spans for a category that has any (the n-gram tier's words),
        even when its own score stayed below its evidence threshold: boxes need words."""
        for stage in self.pipeline.stages:
            for detector in stage.detectors:
                spans = detector.evidence_spans(text, category)
                if spans:
                    return spans
        return []

    def _evidence(
        self,
        category: str,
        caption: TextScore | None,
        ocr_scores: dict[str, TextScore],
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
