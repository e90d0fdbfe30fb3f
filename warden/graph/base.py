"""Graph detector base: per-account scores in [0, 1] for every node, with evidence on demand.

Unlike item detectors (`warden.detectors`), a graph detector scores the whole graph at once:
`fit(graph, labels)` learns from known accounts (unsupervised detectors ignore them) and
`score(graph)` returns one score per node plus an `explain(node)` callable, because evidence such
as paths from known-bad seeds is only worth computing for the accounts someone looks at.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .store import InteractionGraph


@dataclass(frozen=True)
class Labels:
    """Known accounts: node indices and 1 = bad (fraud, abuse), 0 = good."""

    nodes: np.ndarray
    y: np.ndarray

    @classmethod
    def empty(cls) -> Labels:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))

    def subset(self, rows: np.ndarray) -> Labels:
        return Labels(self.nodes[rows], self.y[rows])

    @property
    def bad(self) -> np.ndarray:
        return self.nodes[self.y == 1]

    @property
    def good(self) -> np.ndarray:
        return self.nodes[self.y == 0]

    def __len__(self) -> int:
        return int(self.nodes.shape[0])


@dataclass
class GraphScores:
    detector: str
    version: str
    scores: np.ndarray  # float per node, in [0, 1]; higher = riskier
    explain: Callable[[int], dict[str, Any]]


class GraphDetector(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    uses_labels: ClassVar[bool] = False

    def fit(self, graph: InteractionGraph, labels: Labels) -> GraphDetector:
        """Learn from known accounts; the default (unsupervised) does nothing."""
        return self

    @abstractmethod
    def score(self, graph: InteractionGraph) -> GraphScores:
        """Score every node of `graph` (which may have grown since `fit`)."""


def no_evidence(node: int) -> dict[str, Any]:
    return {}
