"""stormfront-hate: loader, spec and label mapping."""

from __future__ import annotations

import csv
from pathlib import Path

from ...errors import MissingDataError
from .base import (
    _CAP,
    TRAIN_CALIB,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _read_text,
    _spec,
    _split_for,
)


def _load_stormfront(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    test_ids = {p.stem for p in (root / "sampled_test").glob("*.txt")}
    out = []
    with open(root / "annotations_metadata.csv", encoding="utf-8", newline="") as fh:
        # file_id and label only (not user_id / subforum_id).
        for file_id, label in _columns(csv.reader(fh), ("file_id", "label"), "annotations_metadata.csv"):
            if label not in {"hate", "noHate"}:
                continue  # 'relation' (hateful only with its neighbours) and 'idk/skip'
            path = root / "all_files" / f"{file_id}.txt"
            if not path.is_file():
                raise MissingDataError(f"data set '{spec.name}' is incomplete: {path} is missing")
            text = _clean(_read_text(path))
            if not text:
                continue
            split = "test" if file_id in test_ids else _split_for(text, TRAIN_CALIB)
            out.append(_item(spec, file_id, text, split, {"hate": int(label == "hate")}))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("stormfront-hate", "stormfront-hate", ("en",), "CC BY-SA 3.0 ES", False, ("hate",),
          _load_stormfront, ("annotations_metadata.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "stormfront-hate": (
        "Sentences from a white-supremacist forum: hate -> hate=1; noHate -> hate=0 only (in-domain "
        "extremist-forum negatives; extremism is not annotated); relation (hateful only with its "
        "neighbours) and idk/skip skipped. Only file_id and label are read from the metadata. "
        "sampled_test -> test; the rest -> train/calib 70/30 by hash; capped at 6,000 items. CC BY-SA "
        "3.0 ES: share-alike, so not commercial_ok (same rule as korean-hate-speech: a bundled model "
        "could be argued to be an adaptation that must carry the licence)."
    ),
}
