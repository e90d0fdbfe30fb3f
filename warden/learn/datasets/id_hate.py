"""id-multilabel-hate: loader, spec and label mapping."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .base import (
    _CAP,
    BENIGN,
    TRAIN_CALIB_TEST,
    DatasetSpec,
    LabeledText,
    _clean,
    _columns,
    _drop_contradictions,
    _item,
    _spec,
    _split_for,
)

_ID_HEX = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


_ID_UNI = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")


_ID_CUT = re.compile(r"\\(?:x[0-9a-fA-F]?|u[0-9a-fA-F]{0,3})?$")


_ID_ESC = {"\\n": "\n", "\\t": " ", "\\/": "/", "\\'": "'", '\\"': '"', "\\\\": "\\"}


def _id_text(raw: str) -> str:
    """Undo the Indonesian set's encoding damage: raw bytes read as Latin-1, bytes-repr escapes."""
    # Real UTF-8 where it is valid; the lost bytes of broken emoji become U+FFFD, then go.
    text = raw.encode("latin-1").decode("utf-8", errors="replace").replace("\ufffd", "").rstrip()
    if text.endswith("'") and not text.endswith("\\'"):
        text = text[:-1]  # closing quote of the bytes repr the tweets were stored as
    text = _ID_CUT.sub("", text)  # an escape cut off by the tweet's truncation
    text = _ID_HEX.sub(lambda m: bytes.fromhex(m.group(0).replace("\\x", "")).decode("utf-8", "ignore"), text)
    text = _ID_UNI.sub(
        lambda m: (
            m.group(0)
            .encode("ascii")
            .decode("unicode_escape")
            .encode("utf-16", "surrogatepass")
            .decode("utf-16", "ignore")
        ),
        text,
    )
    return re.sub(r"\\[nt/'\"\\]", lambda m: _ID_ESC[m.group(0)], text)


_ID_PROTECTED = ("HS_Religion", "HS_Race", "HS_Gender")


def _load_id_hate(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    cols = ("Tweet", "HS", "Abusive", "HS_Individual", *_ID_PROTECTED)
    # Not valid UTF-8 (raw emoji bytes): read as Latin-1 and repaired per text.
    with open(root / "re_dataset.csv", encoding="latin-1", newline="") as fh:
        for i, (raw, hs, abusive, individual, *protected) in enumerate(
            _columns(csv.reader(fh), cols, "re_dataset.csv")
        ):
            text = _clean(_id_text(raw), unescape=True)
            if not text:
                continue
            if hs == "0" and abusive == "0":
                labels = dict(BENIGN)
            else:
                labels = {"profanity": int(abusive == "1")}
                if hs == "0":
                    labels["hate"] = 0
                else:
                    if "1" in protected:
                        labels["hate"] = 1  # religion, race/ethnicity or gender
                    if individual == "1" and abusive == "1":
                        labels["harassment"] = 1  # abusive and aimed at a person
                    # Group hate over physical traits or 'other' (mostly political camps): hate unknown;
                    # non-abusive 'hate' at an individual ("X failed to run"): harassment unknown.
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return _drop_contradictions(out)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("id-multilabel-hate", "id-multilabel-hate", ("id",), "CC BY-NC-SA 4.0", False,
          ("hate", "harassment", "profanity"), _load_id_hate, ("re_dataset.csv",), cap=_CAP),
)  # fmt: skip

NOTES: dict[str, str] = {
    "id-multilabel-hate": (
        "Indonesian tweets: HS=0 and Abusive=0 -> all categories 0; otherwise Abusive -> profanity (1/0); "
        "HS=0 -> hate=0; HS=1 with a religion, race or gender target -> hate=1 (physical/'other' targets, "
        "mostly political camps: hate unknown); HS=1 aimed at an individual -> harassment=1. The file is "
        "not UTF-8: read as Latin-1, then valid UTF-8 sequences, \\x.. / \\u.... escapes and \\n from the "
        "bytes repr are decoded and broken emoji dropped. Hash 70/15/15; capped at 6,000 items."
    ),
}
