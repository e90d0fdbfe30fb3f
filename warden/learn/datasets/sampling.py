"""Labelled samples of one data set for one category (the judge's agreement run, `warden judge eval`)."""

from __future__ import annotations

import random
from pathlib import Path

from .base import LabeledText
from .registry import load_raw


def sample_items(
    data_dir: Path,
    dataset: str,
    category: str,
    n: int = 200,
    split: str = "test",
    balanced: bool = True,
    seed: int = 0,
) -> list[LabeledText]:
    """`n` items of `dataset`'s `split` whose label for `category` is known.

    `balanced` draws half positives (as far as there are enough), so kappa and F1 are
    informative for rare categories; otherwise a uniform sample at the data's prevalence.
    """
    items, _ = load_raw(Path(data_dir), [dataset])
    pool = [it for it in items if it.split == split and category in it.labels and it.text.strip()]
    rng = random.Random(seed)
    if not balanced:
        return rng.sample(pool, min(n, len(pool)))
    pos = [it for it in pool if it.labels[category] == 1]
    neg = [it for it in pool if it.labels[category] == 0]
    k_pos = min(len(pos), n // 2)
    chosen = rng.sample(pos, k_pos) + rng.sample(neg, min(len(neg), n - k_pos))
    rng.shuffle(chosen)
    return chosen
