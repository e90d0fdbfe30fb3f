"""Evaluate decisions against labels: overall, per category, and per slice.

Thresholds are not chosen here: each CategoryScore's `flagged` already reflects the
policy's threshold, so the numbers describe the system as it would run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..decision import Decision
from .io import LabelledItem
from .metrics import ECE_BINS, binary_metrics, pr_curve, reliability_bins
from .slices import IDENTITY_TERMS, MIN_SLICE_ITEMS, identity_masks, language_masks, slice_metrics

UNKNOWN_LANGUAGE = "unknown"


@dataclass
class EvalArrays:
    """Everything the metrics need, as arrays; n items × k categories.

    Overall task: y = item has any label ("any" included), scores = max category
    probability, flagged = any category flagged.
    """

    y: NDArray[np.bool_]
    scores: NDArray[np.float64]
    flagged: NDArray[np.bool_]
    category_ids: list[str] = field(default_factory=list)
    cat_known: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    cat_y: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    cat_scores: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    cat_flagged: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    cat_thresholds: dict[str, float | None] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    # Overall task membership: a violating item, or one known benign in every category. An item
    # labelled only "not hate" may still be profane, so it says nothing about "any violation".
    overall_known: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        n, k = len(self.y), len(self.category_ids)
        if self.overall_known is None:
            self.overall_known = np.ones(n, dtype=bool)
        self.overall_known = np.asarray(self.overall_known, dtype=bool)
        self.y = np.asarray(self.y, dtype=bool)
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.flagged = np.asarray(self.flagged, dtype=bool)
        if k == 0:
            shape: tuple[int, int] = (n, 0)
            self.cat_known = np.zeros(shape, dtype=bool)
            self.cat_y = np.zeros(shape, dtype=bool)
            self.cat_scores = np.zeros(shape)
            self.cat_flagged = np.zeros(shape, dtype=bool)
        for name in ("cat_known", "cat_y", "cat_scores", "cat_flagged"):
            if np.shape(getattr(self, name)) != (n, k):
                raise ValueError(f"{name} must have shape ({n}, {k}), got {np.shape(getattr(self, name))}")
        if len(self.scores) != n or len(self.flagged) != n:
            raise ValueError("y, scores and flagged must have the same length")
        for name in ("languages", "texts"):
            if getattr(self, name) and len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have one entry per item")


def arrays_from(
    items: Sequence[LabelledItem], decisions: Sequence[Decision], category_ids: Sequence[str]
) -> EvalArrays:
    """Align decisions to items by position; every id must match and every category be scored."""
    if len(items) != len(decisions):
        raise ValueError(f"{len(items)} items but {len(decisions)} decisions")
    cats = list(category_ids)
    n, k = len(items), len(cats)
    known = np.zeros((n, k), dtype=bool)
    cat_y = np.zeros((n, k), dtype=bool)
    cat_scores = np.zeros((n, k))
    cat_flagged = np.zeros((n, k), dtype=bool)
    thresholds: dict[str, set[float | None]] = {c: set() for c in cats}
    languages = []
    for i, (item, decision) in enumerate(zip(items, decisions, strict=True)):
        if decision.content_id != item.id:
            raise ValueError(
                f"item {i}: decision is for content id {decision.content_id!r}, expected {item.id!r}"
            )
        for j, cat in enumerate(cats):
            score = decision.categories.get(cat)
            if score is None:
                # A silent 0 would inflate precision and hide a pipeline bug, so refuse.
                raise ValueError(f"item {i} ({item.id!r}): decision has no score for category {cat!r}")
            known[i, j] = item.is_known(cat)
            cat_y[i, j] = cat in item.labels
            cat_scores[i, j] = score.probability
            cat_flagged[i, j] = score.flagged
            thresholds[cat].add(score.threshold)
        languages.append(item.language or decision.language or UNKNOWN_LANGUAGE)
    return EvalArrays(
        y=np.array([item.violating for item in items], dtype=bool),
        scores=cat_scores.max(axis=1) if k else np.zeros(n),
        flagged=np.asarray(cat_flagged.any(axis=1), dtype=bool),
        category_ids=cats,
        cat_known=known,
        cat_y=cat_y,
        cat_scores=cat_scores,
        cat_flagged=cat_flagged,
        # One threshold per category is the norm; None when absent or when it varies across items.
        cat_thresholds={c: next(iter(t)) if len(t) == 1 else None for c, t in thresholds.items()},
        languages=languages,
        texts=[item.text for item in items],
        overall_known=np.array(
            [item.violating or item.known is None or set(cats) <= item.known for item in items], dtype=bool
        ),
    )


def evaluate_arrays(arrays: EvalArrays, *, min_slice_items: int = MIN_SLICE_ITEMS) -> dict[str, Any]:
    """Compute overall, per-category and slice metrics (the metrics.json body minus meta)."""
    a = arrays
    assert a.overall_known is not None
    ok = a.overall_known
    overall = binary_metrics(a.y[ok], a.scores[ok], a.flagged[ok])
    overall["n_excluded"] = int((~ok).sum())
    categories: dict[str, Any] = {}
    for j, cat in enumerate(a.category_ids):
        mask = a.cat_known[:, j]
        m = binary_metrics(a.cat_y[mask, j], a.cat_scores[mask, j], a.cat_flagged[mask, j])
        m["n_excluded"] = int((~mask).sum())
        m["threshold"] = a.cat_thresholds.get(cat)
        categories[cat] = m
    slices: dict[str, Any] = {}
    if a.languages:
        slices["language"] = slice_metrics(
            a.y[ok],
            a.scores[ok],
            a.flagged[ok],
            language_masks([lang for lang, keep in zip(a.languages, ok, strict=True) if keep]),
            overall_fpr=overall["fpr"],
            min_items=min_slice_items,
        )
    if a.texts:
        identity = slice_metrics(
            a.y[ok],
            a.scores[ok],
            a.flagged[ok],
            identity_masks([text for text, keep in zip(a.texts, ok, strict=True) if keep]),
            overall_fpr=overall["fpr"],
            min_items=min_slice_items,
        )
        identity["terms"] = {g: list(t) for g, t in IDENTITY_TERMS.items()}
        slices["identity"] = identity
    return {"overall": overall, "categories": categories, "slices": slices}


def _curve(y: NDArray[np.bool_], scores: NDArray[np.float64], flagged: NDArray[np.bool_]) -> dict[str, Any]:
    precision, recall, thresholds = pr_curve(y, scores)
    m = binary_metrics(y, scores, flagged)
    return {
        "precision": precision,
        "recall": recall,
        "thresholds": thresholds,
        "operating_point": {"precision": m["precision"], "recall": m["recall"]},
        "reliability": reliability_bins(y, scores, ECE_BINS) if len(y) else [],
        "pr_auc": m["pr_auc"],
        "ece": m["ece"],
        "support_pos": m["support_pos"],
        "support_neg": m["support_neg"],
        "prevalence": m["support_pos"] / m["n"] if m["n"] else None,
    }


def compute_curves(arrays: EvalArrays) -> dict[str, Any]:
    """PR curve and reliability bins for the overall task and each category (for plots)."""
    a = arrays
    cats = {}
    for j, cat in enumerate(a.category_ids):
        mask = a.cat_known[:, j]
        cats[cat] = _curve(a.cat_y[mask, j], a.cat_scores[mask, j], a.cat_flagged[mask, j])
    ok = a.overall_known if a.overall_known is not None else np.ones(len(a.y), dtype=bool)
    return {"overall": _curve(a.y[ok], a.scores[ok], a.flagged[ok]), "categories": cats}


def _versions(decisions: Sequence[Decision]) -> dict[str, Any]:
    policies = sorted({d.versions.policy for d in decisions})
    pipelines = sorted({d.versions.pipeline for d in decisions})
    models: dict[str, set[str]] = {}
    for d in decisions:
        for name, version in d.versions.models.items():
            models.setdefault(name, set()).add(version)
    # A run that straddles a model or policy change is worth seeing, so list every version seen.
    return {
        "policy_version": policies[0] if len(policies) == 1 else policies,
        "pipeline_version": pipelines[0] if len(pipelines) == 1 else pipelines,
        "model_versions": {
            k: (sorted(v)[0] if len(v) == 1 else sorted(v)) for k, v in sorted(models.items())
        },
    }


def run_evaluation(
    items: list[LabelledItem],
    decisions: list[Decision],
    policy_category_ids: list[str],
    meta: dict[str, Any],
    out_dir: Path | None = None,
    *,
    min_slice_items: int = MIN_SLICE_ITEMS,
) -> dict[str, Any]:
    """Evaluate `decisions[i]` against `items[i]`; write metrics.json and report.html to out_dir.

    `meta` (e.g. data_file, policy_version) overrides what is derived from the decisions.
    """
    arrays = arrays_from(items, decisions, policy_category_ids)
    result = evaluate_arrays(arrays, min_slice_items=min_slice_items)
    result["meta"] = {
        "data_file": None,
        **_versions(decisions),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "category_ids": list(policy_category_ids),
        "overall_score": "max category probability",
        "ece_bins": ECE_BINS,
        **meta,
        "n_items": len(items),
    }
    if out_dir is not None:
        from .report import write_report  # matplotlib is only imported when a report is wanted

        write_report(result, Path(out_dir), compute_curves(arrays))
    return result
