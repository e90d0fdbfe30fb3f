"""Multimodal fusion: one calibrated P(violation) per category for a post, from all of its channels.

Channels of a post:
- `caption`: the text tier's calibrated probabilities for the post's own text;
- `ocr`: per category, the highest text-tier probability over the texts OCR read on its frames;
- `nsfw`: the highest NSFW score over its frames (speaks to `sexual` only).
Bank matches decide before fusion (a match is the bank's action, as for text), and account signals
enter afterwards through the graph stage's review rule, so neither is a fusion input.

Per category the model is one of two kinds, and the artifact says which:
- **learned**: a logistic model over [logit(caption), caption present, logit(ocr), ocr present],
  fitted on synthetic posts (rendered memes with captions from the text data sets) that neither the
  text tier nor this model's thresholds were tuned on. The logistic output is the calibrated
  probability (Platt scaling and stacking at once); its precision curve gives the policy's
  `target_precision` thresholds, as in the text tier.
- **prior**: no labelled posts exist for the category (e.g. `sexual`: no NSFW-labelled images here),
  so the present channels' calibrated probabilities are combined by a fixed noisy-OR,
  1 - Π(1 - p_channel). This is a documented prior, not a fit: it treats the channels as independent
  evidence and so over-counts when they repeat each other (caption and overlay text saying the same).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..fusion import FusionModel, PrecisionCurve

ARTIFACT = "media_fusion.json"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "models" / "media"
LEARNED_FEATURES = ("caption_logit", "caption_present", "ocr_logit", "ocr_present")
PRIOR_CHANNELS = ("caption", "ocr", "nsfw")
NSFW_CATEGORY = "sexual"


def _logit(p: float) -> float:
    q = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(q / (1 - q)))


@dataclass
class PostChannels:
    """What each channel said about one post (None: the channel is absent for this post)."""

    caption: dict[str, float] | None = None  # category -> calibrated text-tier P
    ocr: dict[str, float] | None = None  # category -> max over OCR texts of the text-tier P
    nsfw: float | None = None  # max NSFW score over frames

    def channel(self, name: str, category: str) -> float | None:
        if name == "nsfw":
            return self.nsfw if category == NSFW_CATEGORY else None
        scores = self.caption if name == "caption" else self.ocr
        return None if scores is None else scores.get(category)


def learned_features(channels: PostChannels, category: str) -> np.ndarray:
    row = np.zeros(len(LEARNED_FEATURES))
    for j, name in enumerate(("caption", "ocr")):
        p = channels.channel(name, category)
        if p is not None:
            row[2 * j] = _logit(p)
            row[2 * j + 1] = 1.0
    return row


def noisy_or(values: Sequence[float]) -> float:
    return float(1.0 - np.prod([1.0 - min(max(v, 0.0), 1.0) for v in values])) if values else 0.0


@dataclass
class LearnedCategory:
    coef: list[float]
    intercept: float
    features: list[str] = field(default_factory=lambda: list(LEARNED_FEATURES))

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = x @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))


@dataclass
class MediaFusion:
    version: str
    learned: dict[str, LearnedCategory] = field(default_factory=dict)
    # Held-out precision curves and review-budget tables of the learned categories.
    curves: dict[str, PrecisionCurve] = field(default_factory=dict)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def kind(self, category: str) -> str:
        return "learned" if category in self.learned else "prior"

    def fuse_one(self, channels: PostChannels, category: str) -> tuple[float, bool]:
        """(P(violation), evaluated) for one post and category; evaluated = some channel speaks to it."""
        model = self.learned.get(category)
        present = [p for p in (channels.channel(name, category) for name in PRIOR_CHANNELS) if p is not None]
        if not present:
            return 0.0, False
        if model is not None:
            text_present = any(channels.channel(n, category) is not None for n in ("caption", "ocr"))
            if text_present:
                p = float(model.predict(learned_features(channels, category)[None, :])[0])
                # A learned category may still hear from NSFW in future; today only `sexual` does.
                extra = channels.channel("nsfw", category)
                return (noisy_or([p, extra]) if extra is not None else p), True
        return noisy_or(present), True

    def fuse(self, posts: Sequence[PostChannels], categories: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        probs = np.zeros((len(posts), len(categories)))
        evaluated = np.zeros((len(posts), len(categories)), dtype=bool)
        for i, post in enumerate(posts):
            for k, cat in enumerate(categories):
                probs[i, k], evaluated[i, k] = self.fuse_one(post, cat)
        return probs, evaluated

    def threshold_model(self, text: FusionModel) -> FusionModel:
        """A FusionModel for the Decider: the text tier's curves and budgets, replaced by this model's
        own for the learned categories (prior categories stay on the text tier's probability scale)."""
        curves = {k: v for k, v in text.curves.items() if k.split("@")[0] not in self.learned}
        shares = {k: v for k, v in text.shares.items() if k.split("@")[0] not in self.learned}
        curves.update(self.curves)
        shares.update(self.shares)
        return FusionModel(version=self.version, prefixes={}, curves=curves, shares=shares)

    def save(self, model_dir: Path) -> Path:
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": self.version,
            "features": list(LEARNED_FEATURES),
            "prior": {
                "combine": "noisy_or",
                "channels": list(PRIOR_CHANNELS),
                "nsfw_category": NSFW_CATEGORY,
            },
            "learned": {cat: vars(m) for cat, m in self.learned.items()},
            "curves": {cat: vars(c) for cat, c in self.curves.items()},
            "shares": self.shares,
            "metrics": self.metrics,
        }
        path = model_dir / ARTIFACT
        path.write_text(json.dumps(payload, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, model_dir: Path | None = None) -> MediaFusion:
        """The shipped (or given) fusion; with no artifact, an all-prior model (and it says so)."""
        path = Path(model_dir or DEFAULT_DIR) / ARTIFACT
        if not path.exists():
            return cls(version="media-fusion-prior-only")
        payload = json.loads(path.read_text())
        return cls(
            version=payload["version"],
            learned={cat: LearnedCategory(**m) for cat, m in payload.get("learned", {}).items()},
            curves={cat: PrecisionCurve(**c) for cat, c in payload.get("curves", {}).items()},
            shares=payload.get("shares", {}),
            metrics=payload.get("metrics", {}),
        )
