"""sms-spam-collection: loader, spec and label mapping."""

from __future__ import annotations

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


def _load_sms(spec: DatasetSpec, root: Path) -> list[LabeledText]:
    out = []
    with zipfile.ZipFile(root / "smsspamcollection.zip") as zf:
        member = next((n for n in zf.namelist() if n.endswith("/SMSSpamCollection")), None)
        if member is None:
            raise MissingDataError(f"{root / 'smsspamcollection.zip'} has no SMSSpamCollection")
        for i, line in enumerate(_decode(zf.read(member)).splitlines()):
            label, _, raw = line.partition("\t")
            text = _clean(raw)
            if not text or label not in {"ham", "spam"}:
                continue
            labels = _covered(spec, ["spam_scam"]) if label == "spam" else dict(BENIGN)
            out.append(_item(spec, str(i), text, _split_for(text, TRAIN_CALIB_TEST), labels))
    return out


SPECS: tuple[DatasetSpec, ...] = (
    _spec("sms-spam-collection", "sms-spam-collection", ("en",), "CC BY 4.0", True,
          ("spam_scam",), _load_sms, ("smsspamcollection.zip",)),
)  # fmt: skip

NOTES: dict[str, str] = {
    "sms-spam-collection": ("spam -> spam_scam=1; ham -> all 0. Hash 70/15/15."),
}
