"""Fairness and goodness on signed opinion edges, in the spirit of REV2 (Kumar et al., WSDM 2018).

Each account is a rater with a *fairness* F in [0, 1] and a ratee with a *goodness* G in [-1, 1]:

    G(v)    = sum over ratings r(u, v) of R(u, v) * r(u, v), shrunk toward 0 for few ratings
    R(u, v) = (F(u) + (1 - |r(u, v) - G(v)| / 2)) / 2        reliability of one rating
    F(u)    = mean over u's ratings of R(u, v), shrunk toward a prior for few ratings

iterated to a fixed point. Known accounts (seeds) are clamped: a known-bad account's ratings count
for nothing (F = 0) and its goodness is -1; a known-good account has F = 1 and G = +1. Unseeded,
this is the unsupervised REV2 score; seeded, it propagates trust and distrust from the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Rev2Result:
    fairness: np.ndarray  # per node, [0, 1]
    goodness: np.ndarray  # per node, [-1, 1]
    reliability: np.ndarray  # per opinion edge, [0, 1]
    iterations: int


def rev2(
    src: np.ndarray,
    dst: np.ndarray,
    rating: np.ndarray,
    n_nodes: int,
    good: np.ndarray | None = None,
    bad: np.ndarray | None = None,
    alpha: float = 1.0,
    beta: float = 1.0,
    fairness_prior: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-5,
) -> Rev2Result:
    """`rating` must already lie in [-1, 1]. `alpha`/`beta` are the cold-start pseudo-counts."""
    fairness = np.ones(n_nodes)
    goodness = np.zeros(n_nodes)
    reliability = np.ones(src.shape[0])
    in_count = np.bincount(dst, minlength=n_nodes).astype(float)
    out_count = np.bincount(src, minlength=n_nodes).astype(float)
    good = np.zeros(0, np.int64) if good is None else np.asarray(good, np.int64)
    bad = np.zeros(0, np.int64) if bad is None else np.asarray(bad, np.int64)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        fairness[good], fairness[bad] = 1.0, 0.0
        reliability = (fairness[src] + 1.0 - np.abs(rating - goodness[dst]) / 2.0) / 2.0
        goodness = np.bincount(dst, reliability * rating, minlength=n_nodes) / (in_count + beta)
        goodness[good], goodness[bad] = 1.0, -1.0
        reliability = (fairness[src] + 1.0 - np.abs(rating - goodness[dst]) / 2.0) / 2.0
        updated = (np.bincount(src, reliability, minlength=n_nodes) + alpha * fairness_prior) / (
            out_count + alpha
        )
        updated[good], updated[bad] = 1.0, 0.0
        delta = float(np.abs(updated - fairness).max()) if n_nodes else 0.0
        fairness = updated
        if delta < tol:
            break
    return Rev2Result(np.clip(fairness, 0, 1), np.clip(goodness, -1, 1), reliability, iterations)
