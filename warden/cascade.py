"""Cascade plan: where each stage lets confident items leave, fitted on validation data.

`fit_cascade` runs the whole cascade on a labelled validation sample (no early exit), then for each
stage but the last picks the largest `exit_below` (the share of each category's flag threshold under
which an item counts as confidently benign) such that items leaving there would have lost at most
`max_missed` of the full cascade's flags. Only items whose every category the stage scored may leave:
with the default policy six categories are scored by the encoder stage's policy few-shot alone, so
nothing leaves after the fast tier as benign. It also reports the trade-off curve: for each candidate
threshold, the share of items escalated past the first stage, the agreement with the full cascade,
F1 against the labels, and the cost per 1,000 items. The plan is saved as `cascade.json` beside the
models and read by `build_pipeline`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .content import Content
from .fusion import route_of

PLAN_FILE = "cascade.json"
CANDIDATES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass
class CascadePlan:
    exit_below: dict[str, float] = field(default_factory=dict)  # stage name -> benign exit ratio
    max_missed: float = 0.01
    fitted_on: int = 0
    tradeoff: list[dict[str, float]] = field(default_factory=list)

    def save(self, models_dir: Path) -> Path:
        path = Path(models_dir) / PLAN_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, models_dir: Path) -> CascadePlan | None:
        path = Path(models_dir) / PLAN_FILE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def f1_score(pred: Sequence[bool] | np.ndarray, truth: Sequence[bool] | np.ndarray) -> float:
    """F1 of the positive class (0 when there is nothing to find and nothing flagged)."""
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    tp = float((pred & truth).sum())
    denom = float(pred.sum() + truth.sum())
    return 2 * tp / denom if denom else 0.0


def fit_cascade(
    moderator: Any, items: Sequence[Content], truth: np.ndarray, max_missed: float = 0.01
) -> CascadePlan:
    """Fit benign-exit ratios for every stage but the last; `truth` marks violating items."""
    pipeline = moderator.pipeline
    languages = [item.language or "en" for item in items]
    results = pipeline.run(items, languages, early_exit=False)
    final = np.array([r.probabilities for r in results])
    flags = np.array(
        [
            [moderator.decider.flag_threshold(c, route_of(lang)) for c in pipeline.categories]
            for lang in languages
        ]
    )
    flagged = np.asarray((final >= flags).any(axis=1), dtype=bool)
    plan = CascadePlan(max_missed=max_missed, fitted_on=len(items))
    costs = [stage.cost for stage in pipeline.stages]
    for s_index, stage in enumerate(pipeline.stages[:-1]):
        ratio = (np.array([r.stage_probabilities[s_index] for r in results]) / flags).max(axis=1)
        # Only items whose every category this stage scored may leave (see Pipeline.run).
        complete = np.array([r.stage_complete[s_index] for r in results], dtype=bool)
        allowed = max_missed * max(int(flagged.sum()), 1)
        best = 0.0
        for t in CANDIDATES:
            leave = (ratio < t) & complete
            if leave.any() and (leave & flagged).sum() <= allowed:
                best = max(best, t)
            if s_index == 0:
                pred = flagged & ~leave  # items that leave early are allowed
                later_cost = sum(costs[1:]) * float((~leave).mean())
                plan.tradeoff.append(
                    {
                        "exit_below": t,
                        "escalated_share": round(float((~leave).mean()), 4),
                        "agreement_with_full_cascade": round(float((pred == flagged).mean()), 4),
                        "f1": round(f1_score(pred, truth), 4),
                        "cost_per_1000": round(1000 * (costs[0] + later_cost), 1),
                    }
                )
        if best > 0:
            plan.exit_below[stage.name] = best
    plan.tradeoff.append(
        {
            "exit_below": 0.0,
            "escalated_share": 1.0,
            "agreement_with_full_cascade": 1.0,
            "f1": round(f1_score(flagged, truth), 4),
            "cost_per_1000": round(1000 * sum(costs), 1),
        }
    )
    return plan
