"""One graph, its known labels and its cached scores: what the API, the CLI and the signal share.

Scores are computed for the whole graph at once and cached; they are recomputed lazily when the
graph has grown (`graph.version` moved) and the models refitted only when the labels changed, so
an ingest costs an append and the next read pays one scoring pass.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotFoundError, ValidationError
from ..settings import GraphSettings
from .base import GraphDetector, GraphScores, Labels
from .combine import MaxDetector, StackedDetector
from .coordination import CoordinatedGroup, CoordinationDetector
from .events import iter_event_rows
from .gnn import GNNDetector
from .propagation import PageRankDetector, Rev2Detector
from .store import IngestResult, InteractionGraph


def read_labels(path: Path) -> dict[str, int]:
    """CSV `account_id,label` (header optional); labels as in `parse_label`."""
    out: dict[str, int] = {}
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if not row or (n == 1 and row[0].strip().lower() in ("account_id", "account", "node", "id")):
                continue  # blank line or header
            if len(row) != 2 or not _is_label(row[1]):
                raise ValidationError(
                    f"{path}:{n}: expected account_id,label with label in bad/good/1/0/-1/+1"
                )
            out[row[0].strip()] = parse_label(row[1])
    return out


def _is_label(text: str) -> bool:
    return text.strip().lower() in ("1", "+1", "-1", "0", "bad", "good")


def parse_label(text: str | int) -> int:
    """1 = bad. Accepts 'bad'/'good', 1/0, and the SNAP convention -1 (fraud) / +1 (benign)."""
    value = str(text).strip().lower()
    if value in ("bad", "-1", "1"):
        return 1
    if value in ("good", "+1", "0"):
        return 0
    raise ValidationError(f"label {text!r} is not one of bad, good, 1, 0, -1, +1")


class GraphService:
    def __init__(self, graph: InteractionGraph | None = None, settings: GraphSettings | None = None) -> None:
        self.settings = settings or GraphSettings()
        self.graph = graph or InteractionGraph()
        self.labels: dict[str, int] = {}
        self._lock = threading.RLock()
        self._detector: GraphDetector | None = None
        self._scores: GraphScores | None = None
        self._scored_version = -1
        self._groups: tuple[int, list[CoordinatedGroup], frozenset[int]] | None = None

    @classmethod
    def from_settings(cls, settings: GraphSettings | None = None) -> GraphService:
        settings = settings or GraphSettings()
        graph = None
        if settings.path is not None and Path(settings.path).exists():
            graph = InteractionGraph.load(settings.path)
        service = cls(graph, settings)
        if settings.labels_path is not None:
            service.set_labels(read_labels(settings.labels_path))
        return service

    # -- writes ----------------------------------------------------------------------------------

    def ingest(self, rows: Iterable[Mapping[str, Any] | str], start: int = 0) -> IngestResult:
        with self._lock:
            result = self.graph.add_rows(rows, start)
            if result.accepted and self.settings.path is not None:
                self.graph.save(self.settings.path)
            return result

    def ingest_file(self, path: Path, fmt: str = "auto", chunk: int = 50_000) -> IngestResult:
        """Stream a file in chunks; errors carry the file's line numbers as their index."""
        total = IngestResult()
        rows: list[Mapping[str, Any] | str] = []
        lines: list[int] = []

        def flush() -> None:
            result = self.graph.add_rows(rows)
            total.accepted += result.accepted
            for err in result.errors:
                total.errors.append(type(err)(lines[err.index], err.message, err.event_id))
            rows.clear()
            lines.clear()

        with self._lock:
            for line, row in iter_event_rows(path, fmt):
                rows.append(row)
                lines.append(line)
                if len(rows) >= chunk:
                    flush()
            flush()
            if total.accepted and self.settings.path is not None:
                self.graph.save(self.settings.path)
        return total

    def set_labels(self, labels: Mapping[str, int]) -> None:
        with self._lock:
            self.labels = dict(labels)
            self._detector = None  # refit on next read

    # -- reads -----------------------------------------------------------------------------------

    def _labels(self) -> Labels:
        pairs = [(self.graph.account_index(a), y) for a, y in self.labels.items()]
        known = [(i, y) for i, y in pairs if i is not None]
        if not known:
            return Labels.empty()
        nodes, y = zip(*known, strict=True)
        return Labels(np.array(nodes, np.int64), np.array(y, np.int64))

    def _coordination(self) -> CoordinationDetector:
        s = self.settings
        return CoordinationDetector(window_s=s.window_s, min_shared=s.min_shared, min_group=s.min_group)

    def _build(self, labels: Labels) -> GraphDetector:
        seed = self.settings.seed
        counts = np.bincount(labels.y, minlength=2) if len(labels) else np.zeros(2, int)
        if counts.min() < 3:
            # Not enough known accounts to learn from: label-free detectors only.
            return MaxDetector([Rev2Detector(), self._coordination()])
        detectors = [Rev2Detector(), PageRankDetector(), self._coordination(), GNNDetector(seed=seed)]
        return StackedDetector(detectors, inner_folds=3, seed=seed)

    def scores(self) -> GraphScores:
        with self._lock:
            if self._detector is None:
                labels = self._labels()
                self._detector = self._build(labels).fit(self.graph, labels)
                self._scored_version = -1
            if self._scores is None or self._scored_version != self.graph.version:
                self._scores = self._detector.score(self.graph)
                self._scored_version = self.graph.version
            return self._scores

    def _coordinated(self) -> tuple[list[CoordinatedGroup], frozenset[int]]:
        """Lockstep groups and their member nodes, computed once per graph version."""
        with self._lock:
            if self._groups is None or self._groups[0] != self.graph.version:
                groups, _ = self._coordination().groups(self.graph)
                members = frozenset(m for g in groups for m in g.members)
                self._groups = (self.graph.version, groups, members)
            return self._groups[1], self._groups[2]

    def coordinated_nodes(self) -> frozenset[int]:
        return self._coordinated()[1]

    def explain(self, index: int) -> dict[str, Any]:
        """Evidence for one node's score (under the lock: some explanations run the GNN)."""
        scores = self.scores()
        with self._lock:
            return scores.explain(index)

    def account(self, account_id: str, evidence: bool = True) -> dict[str, Any]:
        index = self.graph.account_index(account_id)
        if index is None:
            raise NotFoundError(f"account {account_id!r} is not in the graph")
        scores = self.scores()
        out: dict[str, Any] = {
            "account_id": account_id,
            "risk": round(float(scores.scores[index]), 6),
            "model": f"{scores.detector}@{scores.version}",
            "known_label": self.labels.get(account_id),
        }
        if evidence:
            out["evidence"] = self.explain(index)
        return out

    def top(self, limit: int = 20) -> list[tuple[str, float]]:
        scores = self.scores().scores
        accounts = self.graph.account_indices()
        order = accounts[np.argsort(-scores[accounts], kind="stable")][:limit]
        return [(self.graph.node_ids[i], float(scores[i])) for i in order]

    def clusters(self, limit: int = 50) -> list[dict[str, Any]]:
        groups, _ = self._coordinated()
        return [g.to_dict(self.graph) for g in groups[:limit]]
