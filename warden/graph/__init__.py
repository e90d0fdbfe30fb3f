"""Graph models: accounts, content and interactions as a graph; coordinated behaviour and account risk.

    graph = InteractionGraph(); graph.add_rows(events)          # validated, incremental
    service = GraphService(graph); service.set_labels({...})    # known bad/good accounts
    AccountRiskScorer(service).score(["author-1", None])        # Signals for item decisions

Detectors (each a `GraphDetector`: per-node score in [0, 1] plus evidence): `CoordinationDetector`
(lockstep), `Rev2Detector` and `PageRankDetector` (risk propagation), `GNNDetector` (GraphSAGE),
`StackedDetector` (logistic stacking). See docs/graph.md.
"""

from .base import GraphDetector, GraphScores, Labels
from .combine import MaxDetector, StackedDetector
from .coordination import CoordinatedGroup, CoordinationDetector
from .events import Event, RowError, parse_event
from .propagation import PageRankDetector, Rev2Detector
from .service import GraphService
from .signal import AccountRiskScorer
from .store import IngestResult, InteractionGraph

__all__ = [
    "AccountRiskScorer",
    "CoordinatedGroup",
    "CoordinationDetector",
    "Event",
    "GraphDetector",
    "GraphScores",
    "GraphService",
    "IngestResult",
    "InteractionGraph",
    "Labels",
    "MaxDetector",
    "PageRankDetector",
    "Rev2Detector",
    "RowError",
    "StackedDetector",
    "parse_event",
]
