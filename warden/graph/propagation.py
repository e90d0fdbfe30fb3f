"""Risk propagation from known accounts: seeded REV2 on signed opinions, and personalised PageRank.

* `Rev2Detector`: fairness/goodness with known-bad accounts clamped to F=0, G=-1 and known-good ones
  to F=1, G=+1, so a negative rating from a trusted rater weighs and a fraudster's praise does not.
  Risk = (1 - goodness) / 2. Evidence: the ratings that drove the goodness, with the raters' fairness.
* `PageRankDetector`: random walks with restart on the positive-interaction graph (undirected: rings
  of bad accounts praise each other both ways), restarting at known-bad seeds versus known-good seeds.
  Risk = share of the bad walk's mass. Evidence: the shortest chain from the nearest known-bad seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .base import GraphDetector, GraphScores, Labels
from .rev2 import rev2
from .store import OPINION_CODES, InteractionGraph

TOP_EVIDENCE = 5


class Rev2Detector(GraphDetector):
    name = "rev2"
    version = "1"
    uses_labels = True

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, max_iter: int = 100) -> None:
        self.alpha, self.beta, self.max_iter = alpha, beta, max_iter
        self.labels = Labels.empty()

    def fit(self, graph: InteractionGraph, labels: Labels) -> Rev2Detector:
        self.labels = labels
        return self

    def score(self, graph: InteractionGraph) -> GraphScores:
        o = graph.opinions()
        result = rev2(
            o.src,
            o.dst,
            o.weight,
            graph.n_nodes,
            self.labels.good,
            self.labels.bad,
            alpha=self.alpha,
            beta=self.beta,
            max_iter=self.max_iter,
        )
        risk = (1.0 - result.goodness) / 2.0
        by_dst = np.argsort(o.dst, kind="stable")
        starts = np.searchsorted(o.dst[by_dst], np.arange(graph.n_nodes + 1))
        seeds = dict(zip(self.labels.nodes.tolist(), self.labels.y.tolist(), strict=True))

        def explain(node: int) -> dict[str, Any]:
            rows = by_dst[starts[node] : starts[node + 1]]
            # The ratings that moved goodness most: |reliability x rating|.
            top = rows[np.argsort(-np.abs(result.reliability[rows] * o.weight[rows]))[:TOP_EVIDENCE]]
            return {
                "goodness": round(float(result.goodness[node]), 4),
                "fairness": round(float(result.fairness[node]), 4),
                "ratings_received": int(rows.shape[0]),
                "known_label": seeds.get(node),
                "top_ratings": [
                    {
                        "rater": graph.node_ids[int(o.src[r])],
                        "rating": round(float(o.weight[r]), 3),
                        "rater_fairness": round(float(result.fairness[o.src[r]]), 3),
                        "time": float(o.time[r]),
                    }
                    for r in top
                ],
            }

        return GraphScores(self.name, self.version, risk, explain)


def _walk_matrix(graph: InteractionGraph) -> sp.csr_matrix:
    """Symmetric, row-normalised matrix of positive interactions (opinions > 0 and all other kinds)."""
    e = graph.edges()
    o = graph.opinions()
    # Non-opinion kinds (follow, share, reply, post) are endorsements or links: positive.
    pos = o.weight > 0
    other = ~np.isin(e.kind, OPINION_CODES)
    src = np.concatenate([o.src[pos], e.src[other]])
    dst = np.concatenate([o.dst[pos], e.dst[other]])
    n = graph.n_nodes
    a = sp.csr_matrix((np.ones(src.shape[0]), (src, dst)), shape=(n, n))
    a = ((a + a.T) > 0).astype(np.float64)
    deg = np.asarray(a.sum(axis=1)).ravel()
    return sp.diags(1.0 / np.maximum(deg, 1.0)) @ a


def personalised_pagerank(
    walk: sp.csr_matrix, seeds: np.ndarray, restart: float = 0.15, iterations: int = 40
) -> np.ndarray:
    """Stationary visit probabilities of a walk restarting uniformly at `seeds` (power iteration)."""
    n = walk.shape[0]
    start = np.zeros(n)
    if seeds.size == 0:
        return start
    start[seeds] = 1.0 / seeds.size
    p = start.copy()
    transposed = walk.T.tocsr()
    for _ in range(iterations):
        p = restart * start + (1.0 - restart) * (transposed @ p)
    return p


class PageRankDetector(GraphDetector):
    name = "pagerank"
    version = "1"
    uses_labels = True

    def __init__(self, restart: float = 0.15, iterations: int = 40, max_path_hops: int = 6) -> None:
        self.restart, self.iterations, self.max_path_hops = restart, iterations, max_path_hops
        self.labels = Labels.empty()

    def fit(self, graph: InteractionGraph, labels: Labels) -> PageRankDetector:
        self.labels = labels
        return self

    def score(self, graph: InteractionGraph) -> GraphScores:
        walk = _walk_matrix(graph)
        bad, good = self.labels.bad, self.labels.good
        # Per-seed normalisation: each class spreads the same total mass however many seeds it has.
        p_bad = personalised_pagerank(walk, bad, self.restart, self.iterations)
        p_good = personalised_pagerank(walk, good, self.restart, self.iterations)
        total = p_bad + p_good
        risk = np.where(total > 1e-12, p_bad / np.maximum(total, 1e-300), 0.5)
        cache: dict[str, Any] = {}

        def explain(node: int) -> dict[str, Any]:
            out: dict[str, Any] = {"bad_walk_mass": float(p_bad[node]), "good_walk_mass": float(p_good[node])}
            if bad.size == 0:
                return out
            if "paths" not in cache:
                # One multi-source shortest-path run from all bad seeds, reused for every node.
                dist, pred, source = dijkstra(
                    (walk > 0).astype(np.float64),
                    directed=False,
                    indices=bad,
                    return_predecessors=True,
                    min_only=True,
                    limit=self.max_path_hops,
                )
                cache["paths"] = (dist, pred, source)
            dist, pred, source = cache["paths"]
            if not np.isfinite(dist[node]):
                out["path_from_known_bad"] = None
                return out
            path = [node]
            while path[-1] != source[node] and pred[path[-1]] >= 0:
                path.append(int(pred[path[-1]]))
            out["path_from_known_bad"] = [graph.node_ids[i] for i in reversed(path)]
            return out

        return GraphScores(self.name, self.version, risk, explain)
