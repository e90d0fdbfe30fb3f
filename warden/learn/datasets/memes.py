"""fine-grained-hateful-memes-text: loader, spec and label mapping."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..splits import near_duplicate_key
from .base import (
    TRAIN_CALIB,
    DatasetSpec,
    LabeledText,
    _clean,
    _item,
    _read_text,
    _spec,
    _split_for,
)


def _load_memes(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    rows: list[tuple[dict[str, Any], str]] = []
    seen_ids: set[tuple[str, Any]] = set()
    for fname, official in (("train.json", "train"), ("dev_seen.json", "test"), ("dev_unseen.json", "test")):
        for line in _read_text(root / fname).splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            # dev_unseen repeats most of dev_seen.
            if (official, rec["id"]) in seen_ids:
                continue
            seen_ids.add((official, rec["id"]))
            rows.append((rec, official))
    # Hateful Memes has "benign confounders": one caption, two images, opposite labels.
    # The image decides, so a caption seen with both labels has no text-only label.
    verdicts: dict[str, set[str]] = defaultdict(set)
    for rec, _ in rows:
        verdicts[near_duplicate_key(rec["text"])].add(rec["gold_hate"][0])
    out = []
    for rec, official in rows:
        text = _clean(rec["text"])
        if not text or len(verdicts[near_duplicate_key(rec["text"])]) > 1:
            continue
        if rec["gold_hate"][0] == "hateful":
            labels = {"hate": 1, "violence": int("inciting_violence" in rec["gold_attack"])}
        else:
            labels = {"hate": 0}  # not hateful, but may still be vulgar or insulting
        split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
        out.append(_item(spec, str(rec["id"]), text, split, labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("fine-grained-hateful-memes-text", "fine-grained-hateful-memes-text", ("en",),
          "research only (Hateful Memes)", False, ("hate",), _load_memes,
          ("train.json", "dev_seen.json", "dev_unseen.json")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "fine-grained-hateful-memes-text": (
        "Meme captions only (no images): gold_hate hateful -> hate=1 with violence = inciting_violence in "
        "gold_attack; not_hateful -> hate=0 only. Captions that occur with both labels (benign "
        "confounders: the image decides) are dropped. Caption-only labels remain noisy because many "
        "hateful memes need the image. train.json -> train/calib 70/30 by hash; dev_seen + dev_unseen -> "
        "test (deduped by id); test.jsonl has no labels and is ignored."
    ),
}
