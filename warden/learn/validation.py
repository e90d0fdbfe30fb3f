"""Labelled validation samples for fitting and benchmarking the cascade (`warden cascade fit`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..content import Content


def validation_sample(
    data_dir: Path, size: int, seed: int = 0, split: str = "calib"
) -> tuple[list[Content], np.ndarray]:
    """A seeded sample of a split (default the calibration split, never trained on), with
    any-violation truth. Benchmarks use split="test", which no threshold was chosen on."""
    from .datasets import load_datasets

    pool = [it for it in load_datasets(data_dir) if it.split == split]
    pool = [it for it in pool if it.positives() or it.any_violation is not None or it.labels]
    rng = np.random.default_rng(seed)
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), min(size, len(pool)), replace=False))]
    items = [Content(id=it.id, text=it.text, language=it.language) for it in chosen]
    truth = np.array([bool(it.positives()) or it.any_violation == 1 for it in chosen])
    return items, truth
