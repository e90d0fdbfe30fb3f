"""Training data for the fine-tuned encoders: tokenised items, partial labels, length-bucketed batches.

Labels are partial: a data set labels the categories it annotates and leaves the rest unknown
(-1), and the loss is masked there. Batches group items of similar token length (most texts are
far shorter than the cap), which is what makes CPU fine-tuning affordable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..datasets import LabeledText, labels_matrix


@dataclass
class EncodedSet:
    """Token ids per item (unpadded), labels n × C in {1, 0, -1 unknown}, a weight per item."""

    ids: list[list[int]]
    labels: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(i) for i in self.ids])


def load_tokenizer(path: Path, max_tokens: int):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()
    return tokenizer


def encode(
    items: Sequence[LabeledText],
    categories: Sequence[str],
    tokenizer,  # tokenizers.Tokenizer
    weights: np.ndarray | None = None,
    prefix: str = "",
) -> EncodedSet:
    """`prefix` is what the encoder expects before a text (E5 wants "query: ")."""
    encodings = tokenizer.encode_batch([prefix + (i.text if i.text.strip() else " ") for i in items])
    return EncodedSet(
        ids=[e.ids for e in encodings],
        labels=labels_matrix(items, categories),
        weights=np.ones(len(items), dtype=np.float32) if weights is None else weights.astype(np.float32),
    )


def positive_weights(labels: np.ndarray, weights: np.ndarray, cap: float) -> np.ndarray:
    """Per category: positives weigh sqrt(known negatives / positives), clipped to [1, cap], so that
    a category with a few hundred positives among 100k negatives still learns to rank them."""
    out = np.ones(labels.shape[1], dtype=np.float32)
    for k in range(labels.shape[1]):
        pos = float(weights[labels[:, k] == 1].sum())
        neg = float(weights[labels[:, k] == 0].sum())
        if pos > 0:
            out[k] = float(np.clip(np.sqrt(neg / pos), 1.0, cap))
    return out


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, bucket_batches: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, cut into chunks of `bucket_batches` batches,
    sort each chunk by length, slice, then shuffle the batch order (random but little padding)."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * bucket_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def collate(data: EncodedSet, index: np.ndarray) -> dict[str, torch.Tensor]:
    rows = [data.ids[i] for i in index]
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = torch.tensor(r)
        mask[j, : len(r)] = 1
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "labels": torch.from_numpy(data.labels[index].astype(np.float32)),
        "weights": torch.from_numpy(data.weights[index]),
    }


def balanced_sample(
    items: Sequence[LabeledText], cap: int | None, key, positives_share: float = 0.5
) -> list[LabeledText]:
    """At most `cap` items per data set in `key` order, violating ones first up to `positives_share`
    of the cap (a large single-source set must not decide what the encoder learns)."""
    if cap is None:
        return list(items)
    groups: dict[str, list[LabeledText]] = {}
    for item in items:
        groups.setdefault(item.dataset, []).append(item)
    out: list[LabeledText] = []
    for group in groups.values():
        group = sorted(group, key=key)
        if len(group) > cap:
            positives = [i for i in group if i.positives()][: int(cap * positives_share)]
            chosen = {i.id for i in positives}
            group = (positives + [i for i in group if i.id not in chosen])[:cap]
        out.extend(group)
    return out
