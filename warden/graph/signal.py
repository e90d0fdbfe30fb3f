"""Account risk as a Signal for item decisions: the author's graph risk beside the text detectors.

The score is category-free (key `account_risk`): it says how risky the author is, not which
policy an item breaks, so fusion can learn how much it should raise each category's probability.
Authors unknown to the graph (or items without an author) get a not-applicable signal, which
fusion treats as absent rather than as "safe".
"""

from __future__ import annotations

from collections.abc import Sequence

from ..signals import Evidence, Signal
from .service import GraphService

SCORE_KEY = "account_risk"
# 1.0 when the author belongs to a lockstep group found by the coordination detector.
COORDINATED_KEY = "coordinated"
DETECTOR_NAME = "graph_account_risk"
VERSION = "1"


class AccountRiskScorer:
    """Account signals for item decisions. Cheap per item: scores are computed once per graph
    version; the (costly) explanation is attached only where it will be read: authors in a
    coordinated group or with risk >= `evidence_at`."""

    def __init__(self, service: GraphService, evidence_at: float = 0.0) -> None:
        self.service = service
        self.evidence_at = evidence_at

    def score(self, author_ids: Sequence[str | None]) -> list[Signal]:
        """One Signal per author id, in order (batch-first, like a detector)."""
        graph = self.service.graph
        if not any(a is not None and graph.account_index(a) is not None for a in author_ids):
            return [self._absent(a) for a in author_ids]
        scores = self.service.scores()  # one whole-graph pass, cached until the graph grows
        grouped = self.service.coordinated_nodes()
        version = f"{VERSION}:{scores.detector}@{scores.version}"
        out: list[Signal] = []
        for author in author_ids:
            index = graph.account_index(author) if author is not None else None
            if index is None:
                out.append(self._absent(author))
                continue
            risk = float(scores.scores[index])
            in_group = index in grouped
            evidence = []
            if in_group or risk >= self.evidence_at:
                detail = {"account_id": author, **self.service.explain(index)}
                evidence.append(
                    Evidence(
                        category=SCORE_KEY, detector=DETECTOR_NAME, kind="account", weight=risk, detail=detail
                    )
                )
            values = {SCORE_KEY: risk, COORDINATED_KEY: 1.0 if in_group else 0.0}
            out.append(Signal(detector=DETECTOR_NAME, version=version, scores=values, evidence=evidence))
        return out

    @staticmethod
    def _absent(author: str | None) -> Signal:
        reason = "item has no author" if author is None else "author not in the interaction graph"
        return Signal.not_applicable(DETECTOR_NAME, VERSION, reason)
