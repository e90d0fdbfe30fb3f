"""Label-free node features: structure, opinions given and received, REV2 scores and timing.

Used by the GNN and the supervised stacker; none depends on labels, so computing them on the whole
graph cannot leak a held-out label into training.
"""

from __future__ import annotations

import numpy as np

from .rev2 import rev2
from .store import InteractionGraph

FEATURE_NAMES: tuple[str, ...] = (
    "log_in_degree",
    "log_out_degree",
    "log_in_opinions",
    "log_out_opinions",
    "in_opinion_mean",
    "in_opinion_std",
    "out_opinion_mean",
    "out_opinion_std",
    "in_negative_share",
    "out_negative_share",
    "reciprocity",
    "fairness",
    "goodness",
    "log_active_days",
    "age_years",
    "out_burst_share",
)
BURST_GAP_S = 3600.0  # two actions by one account closer than this count as a burst


def _mean_std(index: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = np.bincount(index, minlength=n).astype(float)
    safe = np.maximum(count, 1.0)
    mean = np.bincount(index, values, minlength=n) / safe
    var = np.bincount(index, values * values, minlength=n) / safe - mean * mean
    return count, mean, np.sqrt(np.maximum(var, 0.0))


def node_features(graph: InteractionGraph) -> np.ndarray:
    """(n_nodes, len(FEATURE_NAMES)) float32 matrix, cached per graph version."""

    def build() -> np.ndarray:
        n = graph.n_nodes
        e = graph.edges()
        o = graph.opinions()
        in_deg = np.bincount(e.dst, minlength=n)
        out_deg = np.bincount(e.src, minlength=n)
        in_cnt, in_mean, in_std = _mean_std(o.dst, o.weight, n)
        out_cnt, out_mean, out_std = _mean_std(o.src, o.weight, n)
        neg = (o.weight < 0).astype(float)
        in_neg = np.bincount(o.dst, neg, minlength=n) / np.maximum(in_cnt, 1)
        out_neg = np.bincount(o.src, neg, minlength=n) / np.maximum(out_cnt, 1)
        adj = graph.adjacency(signed=False)
        binary = (adj > 0).astype(np.float64)
        mutual = np.asarray(binary.multiply(binary.T).sum(axis=1)).ravel()
        reciprocity = mutual / np.maximum(np.asarray(binary.sum(axis=1)).ravel(), 1)
        scores = rev2(o.src, o.dst, o.weight, n)
        first = np.full(n, np.inf)
        last = np.full(n, -np.inf)
        for idx in (e.src, e.dst):
            np.minimum.at(first, idx, e.time)
            np.maximum.at(last, idx, e.time)
        seen = np.isfinite(first)
        now = float(e.time.max()) if len(e) else 0.0
        active_days = np.where(seen, (last - first) / 86400.0, 0.0)
        age_years = np.where(seen, (now - first) / (365.25 * 86400.0), 0.0)
        # Share of an account's actions that follow its previous action within BURST_GAP_S.
        order = np.lexsort((e.time, e.src))
        s_sorted, t_sorted = e.src[order], e.time[order]
        burst = np.zeros(len(e))
        same = s_sorted[1:] == s_sorted[:-1]
        burst[1:] = same & (np.diff(t_sorted) < BURST_GAP_S)
        out_burst = np.bincount(s_sorted, burst, minlength=n) / np.maximum(out_deg, 1)
        columns = [
            np.log1p(in_deg),
            np.log1p(out_deg),
            np.log1p(in_cnt),
            np.log1p(out_cnt),
            in_mean,
            in_std,
            out_mean,
            out_std,
            in_neg,
            out_neg,
            reciprocity,
            scores.fairness,
            scores.goodness,
            np.log1p(active_days),
            age_years,
            out_burst,
        ]
        return np.column_stack(columns).astype(np.float32)

    features: np.ndarray = graph.cached("features", build)
    return features
