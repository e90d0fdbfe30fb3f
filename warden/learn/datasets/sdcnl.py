"""sdcnl: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from .base import (
    TRAIN_CALIB,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _spec,
    _split_for,
)


def _load_sdcnl(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in (("training-set.csv", "train"), ("testing-set.csv", "test")):
        with open(root / "data" / fname, encoding="utf-8", newline="") as fh:
            # title, selftext and is_suicide only: the author and url columns are never read.
            rows = _columns(csv.reader(fh), ("title", "selftext", "is_suicide"), fname)
            for i, (title, body, label) in enumerate(rows):
                text = _clean(f"{title.strip()}\n\n{body.strip()}")
                if not text or label not in {"0", "1"}:
                    continue
                split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
                out.append(_item(spec, f"{official}:{i}", text, split, {"self_harm": int(label == "1")}))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("sdcnl", "sdcnl", ("en",), "none declared (research only)", False, ("self_harm",), _load_sdcnl,
          ("data/training-set.csv", "data/testing-set.csv")),
)  # fmt: skip

NOTES: dict[str, str] = {
    "sdcnl": (
        "Reddit posts, label = subreddit: r/SuicideWatch -> self_harm=1, r/depression -> self_harm=0 only "
        "(distress without stated intent; noisy weak labels). Text = title + selftext; the author and url "
        "columns are never read. training-set -> train/calib 70/30 by hash; testing-set -> test; "
        "combined-set (= both) ignored. No licence declared: research only."
    ),
}
