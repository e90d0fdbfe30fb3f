"""youtube-spam-collection: loader, spec and label mapping."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

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


def _load_youtube(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    seen: set[str] = set()
    with zipfile.ZipFile(root / "YouTube-Spam-Collection-v1.zip") as zf:
        members = sorted(
            n for n in zf.namelist() if n.endswith(".csv") and "__MACOSX" not in n and "/._" not in n
        )
        for member in members:
            # Psy and Eminem files have only CONTENT,CLASS (Psy with a BOM); the others add ids.
            data = _decode(zf.read(member)).lstrip("\ufeff")
            for i, row in enumerate(csv.DictReader(io.StringIO(data, newline=""))):
                text = _clean(row.get("CONTENT") or "", unescape=True)
                cls = (row.get("CLASS") or "").strip()
                if not text or cls not in {"0", "1"}:
                    continue
                labels = _covered(spec, ["spam_scam"]) if cls == "1" else dict(BENIGN)
                sid = row.get("COMMENT_ID") or f"{Path(member).stem}:{i}"
                if sid in seen:
                    continue  # one comment is listed twice upstream
                seen.add(sid)
                out.append(_item(spec, sid, text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("youtube-spam-collection", "youtube-spam-collection", ("en",), "CC BY 4.0", True,
          ("spam_scam",), _load_youtube, ("YouTube-Spam-Collection-v1.zip",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "youtube-spam-collection": (
        "CLASS 1 -> spam_scam=1; 0 -> all 0 (five music-video comment files, cp1252 where not UTF-8). "
        "Hash 70/15/15."
    ),
}
