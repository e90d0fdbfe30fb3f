"""Optional body-part regions from NudeNet as evidence for `sexual` (boxes a reviewer can look at).

NudeNet is AGPL-3.0, so it is an extra (`pip install 'warden[nudenet]'`) that the default install
never imports: the import happens in `NudeNetRegions.load()` only. Written against nudenet 3.4.2:
`NudeDetector().detect(image)` takes a path or a BGR uint8 array (what `cv2.imread` returns) and
returns `[{"class": "FEMALE_BREAST_EXPOSED", "score": 0.79, "box": [x, y, w, h]}, ...]` with boxes
in the pixels of the image passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import MissingExtraError
from ..signals import Evidence
from .types import Frame

CATEGORY = "sexual"
DETECTOR = "nudenet"
# Every label NudeNet 3.x predicts; the covered and face classes are not evidence of exposure.
ALL_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_COVERED",
        "FACE_FEMALE",
        "BUTTOCKS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_BREAST_EXPOSED",
        "ANUS_EXPOSED",
        "FEET_EXPOSED",
        "BELLY_COVERED",
        "FEET_COVERED",
        "ARMPITS_COVERED",
        "ARMPITS_EXPOSED",
        "FACE_MALE",
        "BELLY_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_COVERED",
        "FEMALE_BREAST_COVERED",
        "BUTTOCKS_COVERED",
    }
)
# Exposed parts that bear on a sexual-content policy; exposed feet, armpits, belly or a male chest
# are ordinary in beach or sports photos and would only distract a reviewer.
SEXUAL_EXPOSED = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)


def regions_to_evidence(
    detections: Sequence[Mapping[str, Any]],
    frame: Frame,
    classes: frozenset[str] = SEXUAL_EXPOSED,
    min_score: float = 0.5,
) -> list[Evidence]:
    """NudeNet detections of one frame -> image-region evidence, boxes clipped to the frame."""
    width, height = frame.image.size
    out: list[Evidence] = []
    for det in detections:
        label, score, box = det["class"], float(det["score"]), det["box"]
        if label not in classes or score < min_score:
            continue
        x, y, w, h = (int(round(float(v))) for v in box)
        x0, y0 = min(max(x, 0), width), min(max(y, 0), height)
        x1, y1 = min(max(x + w, 0), width), min(max(y + h, 0), height)
        if x1 <= x0 or y1 <= y0:
            continue
        out.append(
            Evidence(
                category=CATEGORY,
                detector=DETECTOR,
                kind="image_region",
                weight=score,
                detail={
                    "media_index": frame.media_index,
                    "frame_index": frame.frame_index,
                    "time_s": frame.time_s,
                    "box": [x0, y0, x1 - x0, y1 - y0],
                    "raw_score": round(score, 6),
                    "label": label,
                },
            )
        )
    out.sort(key=lambda e: -e.weight)
    return out


class NudeNetRegions:
    """Exposed-body-part boxes per frame (optional; needs the AGPL `nudenet` extra)."""

    name = DETECTOR

    def __init__(self, classes: Iterable[str] = SEXUAL_EXPOSED, min_score: float = 0.5) -> None:
        chosen = frozenset(classes)
        unknown = chosen - ALL_LABELS
        if unknown:
            raise ValueError(f"unknown NudeNet classes {sorted(unknown)}; known: {sorted(ALL_LABELS)}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.classes = chosen
        self.min_score = min_score
        self._detector: Any = None

    def load(self) -> NudeNetRegions:
        if self._detector is not None:
            return self
        try:
            from nudenet import NudeDetector  # lazy: AGPL, never imported by the default install
        except ImportError as exc:
            raise MissingExtraError("NudeNet body-part regions (AGPL-3.0)", "nudenet") from exc
        self._detector = NudeDetector()
        return self

    def detect(self, frames: Sequence[Frame]) -> list[list[Evidence]]:
        """For each frame, its exposed-part regions (strongest first); [] where none is found."""
        frames = list(frames)
        for i, frame in enumerate(frames):
            if not isinstance(frame, Frame):
                raise TypeError(f"frames[{i}] is {type(frame).__name__}, expected warden.media.types.Frame")
        self.load()
        out = []
        for frame in frames:
            # NudeNet reads arrays as OpenCV does: BGR channel order, uint8, contiguous.
            bgr = np.ascontiguousarray(np.asarray(frame.image.convert("RGB"))[:, :, ::-1])
            out.append(regions_to_evidence(self._detector.detect(bgr), frame, self.classes, self.min_score))
        return out
