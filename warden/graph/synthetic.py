"""Synthetic graphs: a power-law interaction graph for benchmarks and planted lockstep campaigns.

Everything is seeded, so a benchmark or an injection test gives the same graph every run.
"""

from __future__ import annotations

import numpy as np

from .store import InteractionGraph

YEAR_S = 365.25 * 86400.0


def powerlaw_graph(
    n_edges: int, n_nodes: int | None = None, exponent: float = 0.8, seed: int = 0, years: float = 3.0
) -> InteractionGraph:
    """Ratings between accounts with Zipf-like activity and popularity, uniform times over `years`."""
    rng = np.random.default_rng(seed)
    n_nodes = n_nodes or max(10, n_edges // 10)
    weights = (np.arange(1, n_nodes + 1, dtype=np.float64)) ** -exponent
    weights /= weights.sum()
    src = rng.choice(n_nodes, size=n_edges, p=weights)
    dst = rng.permutation(n_nodes)[rng.choice(n_nodes, size=n_edges, p=weights)]  # popular != active
    dst = np.where(dst == src, (dst + 1) % n_nodes, dst)
    # Mostly positive ratings, some negative: the shape of real trust networks.
    rating = np.where(rng.random(n_edges) < 0.9, rng.integers(1, 11, n_edges), rng.integers(-10, 0, n_edges))
    time = 1.4e9 + rng.random(n_edges) * years * YEAR_S
    graph = InteractionGraph()
    graph.add_arrays(src.astype(str), dst.astype(str), rating.astype(np.float64), time)
    return graph


def plant_lockstep(
    graph: InteractionGraph,
    n_fake: int = 50,
    n_targets: int = 20,
    window_s: float = 3600.0,
    camouflage: int = 5,
    coverage: float = 1.0,
    rating: float | None = None,
    seed: int = 0,
) -> tuple[list[str], list[str]]:
    """Add `n_fake` new accounts that each rate the same `n_targets` real accounts within one window.

    Each fake rates each target with probability `coverage` (1.0 = all of them), at a uniform
    time inside the window, and also rates `camouflage` random real accounts at random times to
    look ordinary. Returns (fake account ids, target ids).
    """
    rng = np.random.default_rng(seed)
    accounts = graph.account_indices()
    e = graph.edges()
    t_lo, t_hi = float(e.time.min()), float(e.time.max())
    scale = graph.rating_scale()
    value = scale if rating is None else rating  # boosting: top ratings
    targets = rng.choice(accounts, size=n_targets, replace=False)
    start = rng.uniform(t_lo, t_hi - window_s)
    fakes = [f"planted-{seed}-{i}" for i in range(n_fake)]
    src: list[str] = []
    dst: list[str] = []
    times: list[float] = []
    weights: list[float] = []
    for fake in fakes:
        for target in targets[rng.random(n_targets) < coverage]:
            src.append(fake)
            dst.append(graph.node_ids[int(target)])
            times.append(start + rng.random() * window_s)
            weights.append(value)
        for other in rng.choice(accounts, size=camouflage, replace=False):
            src.append(fake)
            dst.append(graph.node_ids[int(other)])
            times.append(rng.uniform(t_lo, t_hi))
            weights.append(float(rng.integers(1, int(scale) + 1)))
    graph.add_arrays(np.array(src), np.array(dst), np.array(weights), np.array(times))
    return fakes, [graph.node_ids[int(t)] for t in targets]
