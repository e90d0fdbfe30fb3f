"""Graph area: quality on the real trust graphs and speed on a synthetic million-edge graph.

Figures: otc_auc / otc_ap (combined, 5-fold CV mean) and otc_auc_<detector> / otc_ap_<detector>,
injection_precision / injection_recall (50 planted lockstep accounts in Bitcoin Alpha, plus the
`_partial` variant), score_1m_edges_s (score every account of a 1M-edge power-law graph with all
four detectors and the stacker), fit_1m_edges_s, events_per_s_ingested (validated rows) and
events_per_s_ingested_bulk (trusted columns). Quality figures are skipped, with a message, when
the data sets are absent.
"""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console

from ..errors import MissingDataError
from ..graph.base import Labels
from ..graph.combine import StackedDetector
from ..graph.evaluate import default_detectors, run_evaluation
from ..graph.gnn import GNNDetector
from ..graph.store import InteractionGraph
from ..graph.synthetic import powerlaw_graph

console = Console()


def _quality() -> dict[str, float]:
    report = run_evaluation(folds=5, seed=0, progress=console.print)
    figures: dict[str, float] = {}
    for name, m in report["otc"]["summary"].items():
        suffix = "" if name == "combined" else f"_{name}"
        figures[f"otc_auc{suffix}"] = m["auc_mean"]
        figures[f"otc_ap{suffix}"] = m["ap_mean"]
        figures[f"otc_auc_std{suffix}"] = m["auc_std"]
    figures["otc_auc_rev2_unsupervised"] = report["otc"]["rev2_unsupervised"]["auc"]
    for variant, r in report["injection"].items():
        suffix = "" if variant == "full" else f"_{variant}"
        figures[f"injection_precision{suffix}"] = r["precision"]
        figures[f"injection_recall{suffix}"] = r["recall"]
        figures[f"injection_innocent_flagged{suffix}"] = float(r["innocent_flagged"])
    return figures


def _ingest_rate(n: int = 200_000) -> dict[str, float]:
    rng = np.random.default_rng(1)
    kinds = ["like", "rate", "share", "reply", "report", "follow"]
    rows = [
        {
            "event_id": f"e{i}",
            "actor": f"u{int(a)}",
            "target": f"u{int(b)}",
            "kind": kinds[i % len(kinds)],
            "weight": float(w),
            "timestamp": 1.6e9 + i,
        }
        for i, (a, b, w) in enumerate(
            zip(
                rng.integers(0, n // 10, n),
                rng.integers(0, n // 10, n),
                rng.integers(-10, 11, n),
                strict=True,
            )
        )
    ]
    graph = InteractionGraph()
    started = time.perf_counter()
    for start in range(0, n, 10_000):  # API-sized batches
        graph.add_rows(rows[start : start + 10_000])
    validated = n / (time.perf_counter() - started)
    src, dst = rng.integers(0, n // 10, n).astype(str), rng.integers(0, n // 10, n).astype(str)
    started = time.perf_counter()
    InteractionGraph().add_arrays(src, dst, rng.integers(-10, 11, n).astype(float), 1.6e9 + np.arange(n))
    bulk = n / (time.perf_counter() - started)
    return {"events_per_s_ingested": validated, "events_per_s_ingested_bulk": bulk}


def _scale(n_edges: int = 1_000_000) -> dict[str, float]:
    graph = powerlaw_graph(n_edges, seed=0)
    accounts = graph.account_indices()
    rng = np.random.default_rng(0)
    # Timing only: 400 random "known" accounts stand in for labels (their quality is meaningless).
    nodes = rng.choice(accounts, 400, replace=False)
    labels = Labels(nodes, (rng.random(400) < 0.5).astype(np.int64))
    detectors = default_detectors(seed=0)
    detectors[-1] = GNNDetector(epochs=30)  # fewer epochs: fitting is not what this figure measures
    stacked = StackedDetector(detectors, inner_folds=2)
    started = time.perf_counter()
    stacked.fit(graph, labels)
    fit_s = time.perf_counter() - started
    graph.add_arrays(["new-a"], ["new-b"], np.array([1.0]), np.array([1.7e9]))  # invalidate caches
    started = time.perf_counter()
    scores = stacked.score(graph)
    score_s = time.perf_counter() - started
    assert scores.scores.shape[0] == graph.n_nodes
    return {
        "score_1m_edges_s": score_s,
        "fit_1m_edges_s": fit_s,
        "synthetic_nodes": float(graph.n_nodes),
        "synthetic_edges": float(graph.n_edges),
    }


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    try:
        figures.update(_quality())
    except MissingDataError as exc:
        console.print(f"[yellow]{exc}: quality figures skipped[/]")
    figures.update(_ingest_rate())
    figures.update(_scale())
    return {k: round(float(v), 4) for k, v in figures.items()}
