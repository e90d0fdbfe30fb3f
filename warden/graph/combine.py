"""Logistic stacking of graph detectors, fitted on out-of-fold scores only.

A seeded detector scores its own seeds perfectly (they are clamped), so fitting the stacker on the
same labels the detectors were fitted on would teach it to trust them blindly. `fit` therefore runs
an inner stratified k-fold on the labels it is given: fresh copies of the detectors are fitted on
k-1 parts and score the held-out part; the logistic model is fitted on those out-of-fold scores,
then every detector is refitted on all the labels.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from .base import GraphDetector, GraphScores, Labels
from .store import InteractionGraph


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class StackedDetector(GraphDetector):
    name = "combined"
    version = "1"
    uses_labels = True

    def __init__(self, detectors: Sequence[GraphDetector], inner_folds: int = 3, seed: int = 0) -> None:
        self.detectors = list(detectors)
        self.inner_folds, self.seed = inner_folds, seed
        self.model: LogisticRegression | None = None

    def fit(self, graph: InteractionGraph, labels: Labels) -> StackedDetector:
        counts = np.bincount(labels.y, minlength=2) if len(labels) else np.zeros(2, int)
        if counts.min() < self.inner_folds:
            self.model = None  # too few labels to stack: score() falls back to the mean
        else:
            oof = np.zeros((len(labels), len(self.detectors)))
            folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.seed)
            splits = list(folds.split(labels.nodes, labels.y))
            for i, det in enumerate(self.detectors):
                if not det.uses_labels:  # label-free: one run serves every fold
                    oof[:, i] = copy.deepcopy(det).fit(graph, labels).score(graph).scores[labels.nodes]
                    continue
                for train, held in splits:
                    scores = copy.deepcopy(det).fit(graph, labels.subset(train)).score(graph).scores
                    oof[held, i] = scores[labels.nodes[held]]
            self.model = LogisticRegression(C=1.0, max_iter=1000).fit(logit(oof), labels.y)
        for det in self.detectors:
            det.fit(graph, labels)
        return self

    def score(self, graph: InteractionGraph) -> GraphScores:
        return self.score_parts(graph)[0]

    def score_parts(self, graph: InteractionGraph) -> tuple[GraphScores, dict[str, GraphScores]]:
        """The combined scores and each detector's own (one pass; used by evaluation)."""
        parts = [det.score(graph) for det in self.detectors]
        matrix = np.column_stack([p.scores for p in parts])
        if self.model is None:
            combined = matrix.mean(axis=1)
            coef = np.full(len(parts), 1.0 / len(parts))
        else:
            combined = self.model.predict_proba(logit(matrix))[:, 1]
            coef = self.model.coef_[0]

        def explain(node: int) -> dict[str, Any]:
            return {
                "detectors": {
                    p.detector: {
                        "score": round(float(p.scores[node]), 4),
                        "weight": round(float(c), 4),
                        "evidence": p.explain(node),
                    }
                    for p, c in zip(parts, coef, strict=True)
                }
            }

        combined_scores = GraphScores(self.name, self.version, combined, explain)
        return combined_scores, {p.detector: p for p in parts}


class MaxDetector(GraphDetector):
    """Label-free fallback: the highest of a few unsupervised detectors' scores."""

    name = "max"
    version = "1"

    def __init__(self, detectors: Sequence[GraphDetector]) -> None:
        self.detectors = list(detectors)

    def score(self, graph: InteractionGraph) -> GraphScores:
        parts = [det.score(graph) for det in self.detectors]
        combined = np.max(np.column_stack([p.scores for p in parts]), axis=1)

        def explain(node: int) -> dict[str, Any]:
            return {
                "detectors": {
                    p.detector: {"score": round(float(p.scores[node]), 4), "evidence": p.explain(node)}
                    for p in parts
                }
            }

        return GraphScores(self.name, self.version, combined, explain)
