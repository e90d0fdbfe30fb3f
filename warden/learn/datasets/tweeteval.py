"""tweeteval_hate, tweeteval_offensive: loader, spec and label mapping."""

from __future__ import annotations

from pathlib import Path

from ...errors import MissingDataError
from .base import (
    _HATEVAL,
    BENIGN,
    DatasetSpec,
    LabeledText,
    Loader,
    _clean,
    _item,
    _read_text,
    _spec,
)


def _tweeteval(task: str) -> Loader:
    def load(spec: DatasetSpec, root: Path) -> list[LabeledText]:
        out = []
        for src, split in (("train", "train"), ("val", "calib"), ("test", "test")):
            texts = _read_text(root / f"{task}_{src}_text.txt").split("\n")
            labels = _read_text(root / f"{task}_{src}_labels.txt").split()
            texts = texts[: len(labels)]  # trailing newline
            if len(texts) != len(labels):
                raise MissingDataError(f"{root}/{task}_{src}: {len(texts)} texts but {len(labels)} labels")
            for i, (raw, lab) in enumerate(zip(texts, labels, strict=True)):
                text = _clean(raw, unescape=True)
                if not text:
                    continue
                if task == "hate":
                    # not-hate tweets can still be offensive: only hate is known.
                    lab_map = {"hate": int(lab == "1")}
                else:
                    lab_map = {"harassment": 1} if lab == "1" else dict(BENIGN)
                out.append(_item(spec, f"{src}:{i}", text, split, lab_map))
        return out

    return load


_TE_FILES = tuple(f"{{t}}_{s}_{k}.txt" for s in ("train", "val", "test") for k in ("text", "labels"))


SPECS: tuple[DatasetSpec, ...] = (
    _spec("tweeteval_hate", "tweeteval-hate-offensive", ("en",), "Twitter terms (HatEval)", False,
          ("hate",), _tweeteval("hate"), tuple(f.format(t="hate") for f in _TE_FILES), family=_HATEVAL),
    _spec("tweeteval_offensive", "tweeteval-hate-offensive", ("en",), "Twitter terms (OLID)", False,
          ("harassment",), _tweeteval("offensive"), tuple(f.format(t="offensive") for f in _TE_FILES),
          family=_HATEVAL),
)  # fmt: skip

NOTES: dict[str, str] = {
    "tweeteval_hate": (
        "TweetEval hate (SemEval-2019 HatEval, English): 1 -> hate=1, 0 -> hate=0 only (not-hate tweets "
        "can still be offensive). Official train/val/test -> train/calib/test."
    ),
    "tweeteval_offensive": (
        "TweetEval offensive (OffensEval-2019 / OLID): 1 -> harassment=1, 0 -> all categories 0. OLID "
        "'offensive' is mostly targeted insults but also includes untargeted profanity, so harassment "
        "positives are noisy. Official train/val/test -> train/calib/test."
    ),
}
