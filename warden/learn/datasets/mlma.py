"""mlma-hate-speech: loader, spec and label mapping."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ...errors import MissingDataError
from .base import (
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _covered,
    _decode,
    _item,
    _spec,
    _split_for,
)

_MLMA_FILES = (("en", "en_dataset_with_stop_words.csv"), ("fr", "fr_dataset.csv"), ("ar", "ar_dataset.csv"))


def _load_mlma(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with zipfile.ZipFile(root / "hate_speech_mlma.zip") as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        for lang, fname in _MLMA_FILES:
            if fname not in names:
                raise MissingDataError(f"{root / 'hate_speech_mlma.zip'} has no {fname}")
            reader = csv.DictReader(io.StringIO(_decode(zf.read(names[fname]))))
            for row in reader:
                text = _clean(row["tweet"])
                if not text:
                    continue
                tags = set(row["sentiment"].split("_"))
                positives = []
                if "hateful" in tags:
                    positives.append("hate")
                if tags & {"offensive", "abusive", "disrespectful"}:
                    positives.append("harassment")
                if positives:
                    labels: dict[str, int] = _covered(spec, positives)
                    anyv: int | None = 1
                elif tags == {"normal"}:
                    labels, anyv = dict(BENIGN), 0
                else:
                    labels, anyv = {}, 1  # 'fearful' (maybe with 'normal'): hostile, kind unknown
                split = _split_for(text, TRAIN_CALIB_TEST)
                out.append(_item(spec, f"{lang}:{row['HITId']}", text, split, labels, anyv, lang))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("mlma-hate-speech", "mlma-hate-speech", ("en", "fr", "ar"), "MIT", True,
          ("hate", "harassment"), _load_mlma, ("hate_speech_mlma.zip",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "mlma-hate-speech": (
        "sentiment is a '_'-joined multi-label: contains hateful -> hate=1; contains offensive, abusive or "
        "disrespectful -> harassment=1; exactly 'normal' -> all 0; only fearful (possibly with normal) -> "
        "any_violation=1, categories unknown. English from en_dataset_with_stop_words.csv, plus fr and ar; "
        "language per file. Hash 70/15/15."
    ),
}
