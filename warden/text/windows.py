"""Split long texts into overlapping windows so a short violation in a long text still counts.

Models are trained on short posts: scoring a 5,000-character text at once dilutes a single
insult (and, for the n-gram tier, inflates scores with length). Each window is scored and the
item takes the maximum per category.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def windows(texts: Sequence[str], size: int = 280, stride: int = 140) -> tuple[list[str], np.ndarray]:
    """(window texts, owner index per window); short texts are one window each."""
    out: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        if len(text) <= size:
            out.append(text)
            owners.append(i)
            continue
        start = 0
        while True:
            end = min(start + size, len(text))
            # Cut at whitespace where possible so words are not split.
            if end < len(text):
                cut = text.rfind(" ", start + stride // 2, end)
                end = cut if cut > start else end
            out.append(text[start:end])
            owners.append(i)
            if end >= len(text):
                break
            nxt = text.find(" ", start + stride, end) if start + stride < end else -1
            start = nxt + 1 if nxt > start else start + stride
    return out, np.asarray(owners, dtype=np.int64)


def max_per_owner(values: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """Row-wise maximum over each owner's windows (owners are contiguous and ascending)."""
    if values.shape[0] == n:
        return values
    starts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
    return np.maximum.reduceat(values, starts, axis=0)
