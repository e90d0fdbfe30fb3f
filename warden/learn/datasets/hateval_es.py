"""hateval2019-es: loader, spec and label mapping."""

from __future__ import annotations

from pathlib import Path

from .base import (
    _HATEVAL,
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

_HATEVAL_ES = (
    ("Data Files__Data Files__#2 Development-Spanish-A__train_es.tsv", "train"),
    ("Data Files__Data Files__#2 Development-Spanish-B__dev_es.tsv", "test"),
)


def _load_hateval_es(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    for fname, official in _HATEVAL_ES:
        lines = (line.split("\t") for line in _read_text(root / fname).splitlines())
        for sid, raw, hs, target, _aggressive in _columns(lines, ("id", "text", "HS", "TR", "AG"), fname):
            text = _clean(raw, unescape=True)
            if not text or hs not in {"0", "1"}:
                continue
            labels = {"hate": int(hs == "1")}
            if hs == "1" and target == "1":
                labels["harassment"] = 1  # hateful and aimed at an individual
            split = "test" if official == "test" else _split_for(text, TRAIN_CALIB)
            out.append(_item(spec, sid, text, split, labels))
    return _drop_contradictions(out)


_HATEVAL_ES_FILES = tuple(f for f, _ in _HATEVAL_ES)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("hateval2019-es", "hateval2019-es", ("es",), "CC BY-NC 4.0", False, ("hate",), _load_hateval_es,
          _HATEVAL_ES_FILES, family=_HATEVAL),
)  # fmt: skip

NOTES: dict[str, str] = {
    "hateval2019-es": (
        "HatEval 2019 Spanish: HS=1 -> hate=1 (and harassment=1 when TR=1, aimed at an individual); HS=0 "
        "-> hate=0 only (includes profane non-hateful tweets). AG (aggressive) is not mapped. Spanish-A "
        "train -> train/calib 70/30 by hash (Spanish-B train is the same rows, ignored); dev -> test. Same "
        "task as tweeteval_hate (English HatEval): one family."
    ),
}
