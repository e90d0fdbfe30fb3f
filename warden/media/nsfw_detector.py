"""Sexual content in images and video frames: Yahoo Open-NSFW, one Signal per frame.

The same forward pass also yields each frame's image embedding (`analyse`), so semantic image
matching costs no second model run.

Score and operating points. The score is the model's own P(nsfw) for pornographic content; it is
not fitted to any platform's policy. Yahoo's published guidance for open_nsfw: scores < 0.2 are
very likely safe, scores > 0.8 very likely NSFW, the band between needs a human or another model.
No NSFW-labelled images exist on the machine this was built on, so no calibration ships: a platform
with labelled images runs `fit_calibration(scores, labels, model.version).save(model_dir)` (no CLI
wraps it); `load()` then applies the file if present (the raw score stays in the evidence).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..detectors.base import sigmoid
from ..settings import DEFAULT_MEDIA_MODELS_DIR
from ..signals import Evidence, Signal
from .nsfw import OpenNsfwModel
from .nudenet_regions import NudeNetRegions
from .types import Frame

CATEGORY = "sexual"
CALIBRATION_FILE = "image_nsfw_calibration.json"
DEFAULT_MODEL_DIR = DEFAULT_MEDIA_MODELS_DIR  # beside the media fusion (setting media.models_dir)
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class PlattCalibration:
    """P(violation) = sigmoid(a * logit(score) + b), fitted on a platform's labelled images."""

    a: float
    b: float
    n: int
    positives: int
    model_version: str = ""  # the Open-NSFW file hash it was fitted on

    def apply(self, scores: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * logit(scores) + self.b).astype(np.float32)

    def save(self, model_dir: Path) -> Path:
        path = Path(model_dir) / CALIBRATION_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"detector": NsfwFrameDetector.name, **asdict(self)}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, model_dir: Path) -> PlattCalibration | None:
        """The calibration saved in `model_dir`, or None if there is none."""
        path = Path(model_dir) / CALIBRATION_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data.get("detector") != NsfwFrameDetector.name:
            raise ValueError(f"{path} is not an {NsfwFrameDetector.name} calibration")
        return cls(
            a=float(data["a"]),
            b=float(data["b"]),
            n=int(data["n"]),
            positives=int(data["positives"]),
            model_version=str(data.get("model_version", "")),
        )


def fit_calibration(
    scores: Sequence[float], labels: Sequence[int], model_version: str = ""
) -> PlattCalibration:
    """Platt scaling on logit(score): a logistic regression with one feature, nearly unregularised."""
    from sklearn.linear_model import LogisticRegression  # import only when fitting

    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    if not np.all(np.isfinite(s)) or s.min(initial=0.0) < 0.0 or s.max(initial=0.0) > 1.0:
        raise ValueError("scores must be finite probabilities in [0, 1]")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (benign) or 1 (violating)")
    positives = int(y.sum())
    if positives < 2 or len(y) - positives < 2:
        raise ValueError(
            f"need at least 2 labelled images of each class, got {positives} of {len(y)} positive"
        )
    model = LogisticRegression(C=1e4, max_iter=1000).fit(logit(s).reshape(-1, 1), y.astype(int))
    return PlattCalibration(
        a=float(model.coef_[0, 0]),
        b=float(model.intercept_[0]),
        n=len(y),
        positives=positives,
        model_version=model_version,
    )


class NsfwFrameDetector:
    """Per-frame `sexual` score from Open-NSFW, with a region as evidence, and frame embeddings."""

    name = "image_nsfw"
    version = "1"
    kinds = frozenset({"image", "video"})
    cost = 5.0  # a ResNet-50-thin forward pass per frame: more than a text encoder call

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int | None = None,
        batch_size: int = 16,
        regions: bool = False,
        model: OpenNsfwModel | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.regions = regions
        self.model = model or OpenNsfwModel(threads=threads, batch_size=batch_size)
        self.calibration: PlattCalibration | None = None
        self._regions: NudeNetRegions | None = None
        self._loaded = False

    def load(self) -> NsfwFrameDetector:
        if self._loaded:
            return self
        self.model.load()
        calibration = PlattCalibration.load(self.model_dir)
        if calibration is not None and calibration.model_version not in ("", self.model.version):
            raise ValueError(
                f"{self.model_dir / CALIBRATION_FILE} was fitted on Open-NSFW {calibration.model_version}, "
                f"this model is {self.model.version}: refit it"
            )
        self.calibration = calibration
        if self.regions:
            self._regions = NudeNetRegions().load()  # MissingExtraError without the extra
        self._loaded = True
        return self

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{self.model.version}{'+platt' if self.calibration else ''}"

    def analyse(self, frames: Sequence[Frame]) -> tuple[list[Signal], np.ndarray]:
        """One Signal per frame and the (n, 1024) unit embeddings, from a single forward pass."""
        frames = _check_frames(frames)
        self.load()
        output = self.model.predict([f.image for f in frames])
        raw = output.scores
        scores = self.calibration.apply(raw) if self.calibration else raw
        regions = self._regions.detect(frames) if self._regions is not None and frames else None
        signals = []
        for i, frame in enumerate(frames):
            score = float(scores[i])
            evidence = (
                regions[i]
                if regions is not None and regions[i]
                else [self._whole_frame(frame, score, raw[i])]
            )
            detail: dict[str, Any] = {
                "model_version": self.model.version,
                "raw_score": round(float(raw[i]), 6),
            }
            if self.calibration is not None:
                detail["calibrated"] = True
            signals.append(
                Signal(self.name, self.version, scores={CATEGORY: score}, evidence=evidence, detail=detail)
            )
        return signals, output.embeddings

    def detect_frames(self, frames: Sequence[Frame]) -> list[Signal]:
        return self.analyse(frames)[0]

    def embed_frames(self, frames: Sequence[Frame]) -> np.ndarray:
        return self.analyse(frames)[1]

    def _whole_frame(self, frame: Frame, score: float, raw_score: float) -> Evidence:
        width, height = frame.image.size
        return Evidence(
            category=CATEGORY,
            detector=self.name,
            kind="image_region",
            weight=score,
            detail={
                "media_index": frame.media_index,
                "frame_index": frame.frame_index,
                "time_s": frame.time_s,
                "box": [0, 0, width, height],
                "raw_score": round(float(raw_score), 6),
            },
        )


def _check_frames(frames: Sequence[Frame]) -> list[Frame]:
    if isinstance(frames, Frame):
        raise TypeError("expected a sequence of Frame, got a single Frame; wrap it in a list")
    out = list(frames)
    for i, frame in enumerate(out):
        if not isinstance(frame, Frame):
            raise TypeError(f"frames[{i}] is {type(frame).__name__}, expected warden.media.types.Frame")
    return out
