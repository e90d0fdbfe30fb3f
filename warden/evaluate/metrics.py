"""Binary classification metrics as pure functions over NumPy arrays.

Undefined ratios (0/0, e.g. precision when nothing is flagged, ROC-AUC with one class) are
returned as None rather than 0 or NaN: a silent 0 reads like a measured failure, and NaN is
not valid JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

ECE_BINS = 15


def _as_bool(name: str, values: ArrayLike) -> NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.size and not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must hold only 0/1 or booleans")
        arr = arr.astype(bool)
    return arr


def _as_scores(values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("scores must be finite (no NaN or infinity)")
    return arr


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _check_lengths(**arrays: NDArray[Any]) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays differ in length: {lengths}")


def pr_curve(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Precision and recall at every distinct score threshold, highest threshold first.

    Returns (precision, recall, thresholds). Tied scores form one point, as with
    sklearn.metrics.precision_recall_curve. Empty arrays when there are no positives.
    """
    y = _as_bool("y_true", y_true)
    s = _as_scores(scores)
    _check_lengths(y_true=y, scores=s)
    n_pos = int(y.sum())
    if n_pos == 0:
        empty = np.empty(0, dtype=np.float64)
        return empty, empty, empty
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    # Last index of each run of equal scores: a threshold includes every tied item.
    ends = np.flatnonzero(np.diff(s_sorted) != 0)
    ends = np.append(ends, len(s_sorted) - 1)
    tps = np.cumsum(y_sorted)[ends].astype(np.float64)
    fps = (ends + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / n_pos
    return precision, recall, s_sorted[ends]


def average_precision(y_true: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under the step-wise PR curve: sum over thresholds of (ΔRecall × Precision).

    Same definition as sklearn.metrics.average_precision_score (no interpolation).
    """
    precision, recall, _ = pr_curve(y_true, scores)
    if len(recall) == 0:
        return None
    delta = np.diff(recall, prepend=0.0)
    return float(np.sum(delta * precision))


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float | None:
    """ROC-AUC via the Mann-Whitney U statistic (ties count one half); None with one class."""
    y = _as_bool("y_true", y_true)
    s = _as_scores(scores)
    _check_lengths(y_true=y, scores=s)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)  # average ranks handle ties
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def reliability_bins(
    y_true: ArrayLike, probabilities: ArrayLike, n_bins: int = ECE_BINS
) -> list[dict[str, Any]]:
    """Equal-width bins over [0, 1]: [lo, hi) except the last, which includes 1.0.

    Each bin: lo, hi, count, mean_predicted, fraction_positive (None for empty bins).
    """
    y = _as_bool("y_true", y_true)
    p = _as_scores(probabilities)
    _check_lengths(y_true=y, probabilities=p)
    if len(p) and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(p * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    bins = []
    for b in range(n_bins):
        c = int(counts[b])
        bins.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": c,
                "mean_predicted": float(sum_p[b] / c) if c else None,
                "fraction_positive": float(sum_y[b] / c) if c else None,
            }
        )
    return bins


def expected_calibration_error(
    y_true: ArrayLike, probabilities: ArrayLike, n_bins: int = ECE_BINS
) -> float | None:
    """ECE = Σ_b (n_b / N) · |mean(y_b) − mean(p_b)| over equal-width bins; None when empty."""
    bins = reliability_bins(y_true, probabilities, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return None
    return float(
        sum(
            b["count"] / total * abs(b["fraction_positive"] - b["mean_predicted"]) for b in bins if b["count"]
        )
    )


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion; honest at small counts and near 0 or 1."""
    if trials <= 0:
        return None
    phat = successes / trials
    denom = 1.0 + z * z / trials
    centre = (phat + z * z / (2 * trials)) / denom
    half = z * math.sqrt(phat * (1 - phat) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binary_metrics(
    y_true: ArrayLike,
    scores: ArrayLike,
    flagged: ArrayLike,
    *,
    probabilities: bool | None = None,
    n_bins: int = ECE_BINS,
) -> dict[str, Any]:
    """Threshold metrics from `flagged`, ranking metrics from `scores`.

    Keys: n, support_pos, support_neg, tp, fp, fn, tn, precision, recall, f1, fpr, flag_rate,
    pr_auc (average precision; None without positives), roc_auc (None with one class),
    ece and brier (None unless scores are probabilities). `probabilities=None` means
    "probabilities if every score lies in [0, 1]".
    """
    y = _as_bool("y_true", y_true)
    s = _as_scores(scores)
    f = _as_bool("flagged", flagged)
    _check_lengths(y_true=y, scores=s, flagged=f)
    n = len(y)
    tp = int(np.sum(y & f))
    fp = int(np.sum(~y & f))
    fn = int(np.sum(y & ~f))
    tn = int(np.sum(~y & ~f))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if probabilities is None:
        probabilities = bool(n) and float(s.min()) >= 0.0 and float(s.max()) <= 1.0
    ece = brier = None
    if probabilities and n:
        ece = expected_calibration_error(y, s, n_bins)
        brier = float(np.mean((s - y) ** 2))
    return {
        "n": n,
        "support_pos": tp + fn,
        "support_neg": fp + tn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": _ratio(fp, fp + tn),
        "flag_rate": _ratio(tp + fp, n),
        "pr_auc": average_precision(y, s),
        "roc_auc": roc_auc(y, s),
        "ece": ece,
        "brier": brier,
    }
