"""Temporal aggregation: per-frame category probabilities of a video or animation -> segments and a summary.

Each sampled frame stands for the time until the next sampled frame (the last one until the end
of the video). Consecutive frames flagging the same set of categories form one segment, so a
reviewer sees "0:12-0:31 violence" instead of twenty frames.

The summary gives, per category:
- `max`: the highest frame probability (and when it occurs): sensitive, but a single noisy frame
  decides it;
- `flagged_share`: the share of the covered time inside flagged frames' spans;
- `score`: the mean of the top `top_k` scored frames' probabilities (default 3; fewer when fewer
  frames were scored). One spurious frame at 0.99 among frames near 0 scores about 0.33, while
  content that persists over three sampled frames (about two seconds at one frame per second)
  scores as high as its frames. It is the robust number to threshold; `max` is kept as evidence.

NaN marks a frame a detector did not score: it never flags and is ignored by max and score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_TOP_K = 3


@dataclass(frozen=True)
class Segment:
    """Consecutive frames flagging the same categories, from the first one's time to the next
    segment's start (or the end of the video)."""

    start_s: float
    end_s: float
    categories: dict[str, float]  # the highest probability per category among the segment's frames
    flagged: list[str]  # categories at or over their threshold in every frame of the segment
    frame_indices: list[int]  # positions of the segment's frames in the input arrays


@dataclass(frozen=True)
class CategorySummary:
    max: float
    max_time_s: float | None  # when the highest probability occurs
    flagged_share: float  # 0-1, share of the covered time inside flagged frames' spans
    score: float  # mean of the top-k frame probabilities


@dataclass(frozen=True)
class TemporalSummary:
    segments: list[Segment]
    categories: dict[str, CategorySummary]
    start_s: float
    end_s: float

    @property
    def flagged(self) -> list[Segment]:
        return [s for s in self.segments if s.flagged]


def _thresholds(
    thresholds: Mapping[str, float] | Sequence[float] | np.ndarray, categories: Sequence[str]
) -> np.ndarray:
    if isinstance(thresholds, Mapping):
        # A category without a threshold is never flagged (it is still summarised).
        return np.array([thresholds.get(c, np.inf) for c in categories], dtype=np.float64)
    out = np.asarray(thresholds, dtype=np.float64)
    if out.shape != (len(categories),):
        raise ValueError(
            f"thresholds has shape {out.shape}, expected ({len(categories)},) (one per category)"
        )
    return out


def aggregate(
    times_s: Sequence[float] | np.ndarray,
    probabilities: np.ndarray | Sequence[Sequence[float]],
    categories: Sequence[str],
    thresholds: Mapping[str, float] | Sequence[float] | np.ndarray,
    duration_s: float | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> TemporalSummary:
    """Segments and per-category summary of `probabilities` (n_frames x n_categories) at `times_s`.

    Frames are taken in time order. The last frame's span ends at `duration_s`; when it is None
    the last span is as long as the median spacing of the frames (0 for a single frame). A frame
    flags a category when its probability is >= the category's threshold."""
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    times = np.asarray(times_s, dtype=np.float64)
    probs = np.asarray(probabilities, dtype=np.float64)
    n, c = len(times), len(categories)
    if probs.size == 0 and n == 0:
        probs = probs.reshape(0, c)
    if times.ndim != 1 or probs.shape != (n, c):
        raise ValueError(f"probabilities has shape {probs.shape}, expected ({n}, {c}) (frames x categories)")
    if not np.all(np.isfinite(times)):
        raise ValueError("frame times must be finite numbers")
    limits = _thresholds(thresholds, categories)
    if n == 0:
        empty = CategorySummary(max=0.0, max_time_s=None, flagged_share=0.0, score=0.0)
        end = float(duration_s or 0.0)
        return TemporalSummary([], {cat: empty for cat in categories}, 0.0, end)

    order = np.argsort(times, kind="stable")
    times, probs = times[order], probs[order]
    if duration_s is not None:
        end = max(float(duration_s), float(times[-1]))
    else:
        end = float(times[-1] + (np.median(np.diff(times)) if n > 1 else 0.0))
    spans = np.diff(np.append(times, end))  # how long each frame is on screen
    total = float(spans.sum())

    flags = probs >= limits  # NaN compares False: an unscored frame never flags
    starts = np.flatnonzero(np.r_[True, np.any(flags[1:] != flags[:-1], axis=1)])
    bounds = np.append(starts, n)
    filled = np.where(np.isnan(probs), -np.inf, probs)
    seg_max = np.maximum.reduceat(filled, starts, axis=0)
    segments: list[Segment] = []
    for s, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        segments.append(
            Segment(
                start_s=float(times[lo]),
                end_s=float(times[hi]) if hi < n else end,
                categories={cat: _finite(seg_max[s, j]) for j, cat in enumerate(categories)},
                flagged=[cat for j, cat in enumerate(categories) if flags[lo, j]],
                frame_indices=[int(i) for i in order[lo:hi]],
            )
        )

    top = -np.sort(-filled, axis=0)[: min(top_k, n)]  # highest k per category, unscored frames last
    summary: dict[str, CategorySummary] = {}
    for j, cat in enumerate(categories):
        scored = top[:, j][np.isfinite(top[:, j])]
        best = int(np.argmax(filled[:, j]))
        has_score = bool(np.isfinite(filled[best, j]))
        share = float(spans[flags[:, j]].sum() / total) if total > 0 else float(flags[:, j].mean())
        summary[cat] = CategorySummary(
            max=_finite(filled[best, j]),
            max_time_s=float(times[best]) if has_score else None,
            flagged_share=share,
            score=float(scored.mean()) if scored.size else 0.0,
        )
    return TemporalSummary(segments, summary, float(times[0]), end)


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0
