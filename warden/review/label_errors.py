"""Likely wrong review labels: confident learning (cleanlab) over human labels vs model probabilities.

Each policy category is its own binary problem (labelled violating or not, against the model's
P(violation)), so a flagged issue names the category that is probably wrong. The probabilities should
be out-of-sample for the labelled items (decision-time scores are, unless the model was since trained
on these labels: pass cross-validated probabilities then).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .models import LabelIssue

# cleanlab divides by probabilities; exact 0/1 from a saturated model would give inf/nan.
_EPS = 1e-6


@dataclass
class LabelledItem:
    """An item's settled human label (majority over its reviewers) and who gave it."""

    content_id: str
    categories: set[str]
    reviewers: list[str] = field(default_factory=list)
    label_ids: list[int] = field(default_factory=list)


def find_label_errors(
    items: Sequence[LabelledItem],
    probabilities: Mapping[str, Mapping[str, float]],
    categories: Sequence[str],
    min_per_class: int = 5,
) -> list[LabelIssue]:
    """Issues over every category with at least `min_per_class` labels on each side, worst first."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    issues: list[LabelIssue] = []
    for category in categories:
        rows = [it for it in items if category in probabilities.get(it.content_id, {})]
        labels = np.array([int(category in it.categories) for it in rows], dtype=np.int64)
        positives = int(labels.sum())
        if positives < min_per_class or len(rows) - positives < min_per_class:
            continue
        p = np.clip(
            np.array([float(probabilities[it.content_id][category]) for it in rows]), _EPS, 1.0 - _EPS
        )
        pred_probs = np.column_stack([1.0 - p, p])
        # n_jobs=1: the inputs are small and worker processes would cost more than they save.
        mask = find_label_issues(labels, pred_probs, filter_by="prune_by_noise_rate", n_jobs=1)
        quality = get_label_quality_scores(labels, pred_probs, method="self_confidence")
        for index in np.flatnonzero(mask):
            item = rows[int(index)]
            issues.append(
                LabelIssue(
                    content_id=item.content_id,
                    category=category,
                    labelled_violating=bool(labels[index]),
                    model_probability=float(p[index]),
                    label_quality=float(quality[index]),
                    reviewers=list(item.reviewers),
                    label_ids=list(item.label_ids),
                )
            )
    issues.sort(key=lambda issue: issue.label_quality)
    return issues
