"""Fusion and calibration: detector signals -> one calibrated P(violation) per category.

Per category, a logistic model over each detector's logit and a presence flag (a detector
that did not run, e.g. the English encoder on German text, contributes 0 and flips its flag).
Fitted on a calibration split the detectors never trained on, it is Platt scaling and
stacking at once. One model is kept per stage prefix so that early exit after a cheap stage
still yields calibrated numbers.

Each category also keeps its out-of-fold precision/recall curve from the calibration split,
so a policy's `target_precision` becomes a probability threshold for this model version.
Categories with no labelled data fall back to the policy few-shot score, whose own
calibration comes from the policy examples (documented as weaker).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .signals import Signal

ARTIFACT = "fusion.json"
ROUTES = ("en", "multi")


def route_of(language: str | None) -> str:
    """Calibration route: English/undetermined text and every other language are calibrated apart."""
    return "en" if (language or "und") in ("en", "und") else "multi"


# Where fusion has no model for a category (no calibration labels: `sexual_minors` with the default
# policy), the raw score of one of these stands in, best first: the policy few-shot, else the fast
# tier distilled from it (which is what lets an item leave after the fast tier, see `cascade.py`).
FALLBACK_DETECTORS = ("fewshot_minilm", "fewshot_e5", "linear_ngram")


def _fallback_score(signals: Sequence[Signal], category: str) -> float | None:
    best: tuple[int, float] | None = None
    for sig in signals:
        if sig.detector in FALLBACK_DETECTORS and sig.applicable and category in sig.scores:
            rank = FALLBACK_DETECTORS.index(sig.detector)
            if best is None or rank < best[0]:
                best = (rank, sig.scores[category])
    return None if best is None else best[1]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def signal_features(signals: Sequence[Signal], detectors: Sequence[str], category: str) -> np.ndarray:
    """Feature row for one item: [logit_d, present_d] per detector, in a fixed order."""
    by_name = {s.detector: s for s in signals}
    row = np.zeros(2 * len(detectors), dtype=np.float64)
    for j, name in enumerate(detectors):
        sig = by_name.get(name)
        if sig is not None and sig.applicable and category in sig.scores:
            row[2 * j] = _logit(np.array(sig.scores[category]))
            row[2 * j + 1] = 1.0
    return row


@dataclass
class CategoryFusion:
    """Logistic stacking for one category and one set of detectors."""

    detectors: list[str]
    coef: list[float]
    intercept: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


@dataclass
class PrecisionCurve:
    """Out-of-fold precision by threshold on the calibration split (thresholds ascending)."""

    thresholds: list[float]
    precision: list[float]
    recall: list[float]
    prevalence: float | None = None  # share of positives in the calibration data

    def precision_at(self, prevalence: float | None = None) -> np.ndarray:
        """Precision per threshold, re-weighted to another prevalence when one is given.

        Calibration data is far richer in violations than a live platform; the same threshold
        has much lower precision when violations are rare. With recall (TPR) and the
        calibration prevalence b, FPR = recall·b/(1-b)·(1-p)/p, and precision at prevalence π
        is π·TPR / (π·TPR + (1-π)·FPR).
        """
        prec = np.asarray(self.precision, dtype=float)
        if prevalence is None or self.prevalence is None or not 0 < self.prevalence < 1:
            return prec
        tpr = np.asarray(self.recall, dtype=float)
        b = self.prevalence
        fpr = tpr * b / (1 - b) * (1 - prec) / np.maximum(prec, 1e-9)
        return prevalence * tpr / np.maximum(prevalence * tpr + (1 - prevalence) * fpr, 1e-12)

    def threshold_for_precision(self, target: float, prevalence: float | None = None) -> float | None:
        """Lowest threshold whose precision (and every higher one's) reaches the target."""
        prec = self.precision_at(prevalence)
        # The last few points (under 2% of positives above them) are too noisy to veto a threshold.
        ok = (prec >= target) | (np.asarray(self.recall) < 0.02)
        # Precision is noisy at high thresholds; require it to hold from here upwards.
        holds = np.flip(np.cumprod(np.flip(ok)).astype(bool))
        hits = np.flatnonzero(holds)
        return float(self.thresholds[hits[0]]) if hits.size else None


@dataclass
class FusionModel:
    version: str
    # stage prefix key ("linear_ngram" or "linear_ngram+encoder_minilm+...") -> category -> model
    prefixes: dict[str, dict[str, CategoryFusion]] = field(default_factory=dict)
    # "category" (all languages) and "category@route" when the route had enough calibration data.
    curves: dict[str, PrecisionCurve] = field(default_factory=dict)
    # "category" / "category@route" -> fused probabilities of the calibration traffic at fixed
    # upper quantiles, for `max_share` (review budget) rules. Keys of the inner map are shares.
    shares: dict[str, dict[str, float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def curve(self, category: str, route: str | None = None) -> PrecisionCurve | None:
        if route is not None and f"{category}@{route}" in self.curves:
            return self.curves[f"{category}@{route}"]
        return self.curves.get(category)

    def threshold_for_share(self, category: str, share: float, route: str | None = None) -> float | None:
        """Probability above which about `share` of the calibration traffic falls."""
        table = self.shares.get(f"{category}@{route}") if route else None
        table = table or self.shares.get(category)
        if not table:
            return None
        points = sorted((float(k), v) for k, v in table.items())
        shares = np.array([p[0] for p in points])
        values = np.array([p[1] for p in points])
        # Interpolate in log-share: budgets span orders of magnitude.
        return float(np.interp(np.log(share), np.log(shares), values))

    @staticmethod
    def prefix_key(detectors: Sequence[str]) -> str:
        return "+".join(sorted(detectors))

    def categories_for(self, detectors: Sequence[str]) -> dict[str, CategoryFusion]:
        """Fusion models for the detectors that ran; with a tier switched off, the largest
        stored detector set contained in what ran (at worst the fast tier alone)."""
        exact = self.prefixes.get(self.prefix_key(detectors))
        if exact is not None:
            return exact
        ran = set(detectors)
        subsets = [k for k in self.prefixes if set(k.split("+")) <= ran]
        return self.prefixes[max(subsets, key=lambda k: len(k.split("+")))] if subsets else {}

    def fuse(
        self,
        signals_per_item: Sequence[Sequence[Signal]],
        detectors_run: Sequence[str],
        categories: Sequence[str],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (probabilities, evaluated) arrays of shape (n_items, n_categories).

        `evaluated` is False where no detector that ran speaks to a category for that item.
        """
        n = len(signals_per_item)
        probs = np.zeros((n, len(categories)))
        evaluated = np.zeros((n, len(categories)), dtype=bool)
        models = self.categories_for(detectors_run)
        for k, cat in enumerate(categories):
            model = models.get(cat)
            if model is not None:
                feats = np.vstack([signal_features(s, model.detectors, cat) for s in signals_per_item])
                probs[:, k] = model.predict(feats)
                evaluated[:, k] = feats[:, 1::2].any(axis=1)
                # Items where no detector of the model applied get the fallback path below.
                missing = ~evaluated[:, k]
            else:
                missing = np.ones(n, dtype=bool)
            for i in np.flatnonzero(missing).tolist():
                fallback = _fallback_score(signals_per_item[i], cat)
                if fallback is not None:
                    probs[i, k] = fallback
                    evaluated[i, k] = True
        return probs, evaluated

    def save(self, model_dir: Path) -> None:
        payload = {
            "version": self.version,
            "prefixes": {
                key: {cat: vars(m) for cat, m in cats.items()} for key, cats in self.prefixes.items()
            },
            "curves": {cat: vars(c) for cat, c in self.curves.items()},
            "shares": self.shares,
            "metrics": self.metrics,
        }
        (model_dir / ARTIFACT).write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, model_dir: Path) -> FusionModel:
        path = Path(model_dir) / ARTIFACT
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `warden train` or reinstall the package")
        payload = json.loads(path.read_text())
        return cls(
            version=payload["version"],
            prefixes={
                key: {cat: CategoryFusion(**m) for cat, m in cats.items()}
                for key, cats in payload["prefixes"].items()
            },
            curves={cat: PrecisionCurve(**c) for cat, c in payload["curves"].items()},
            shares=payload.get("shares", {}),
            metrics=payload.get("metrics", {}),
        )
