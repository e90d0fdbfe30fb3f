"""TMK+PDQF: Meta's temporal match kernel over PDQ-float frame features, via `tmkpy`.

Value format: the base64 of the `.tmk` feature file the reference `tmk-hash-video` writes, so
files move between systems unchanged. Matching is two-level as in the reference: the cosine of
the videos' average frame features (level 1) shortlists, the temporal kernel score (level 2,
robust to trims and time shifts) decides.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MediaError, MissingExtraError
from ...settings import BankSettings
from .base import Fingerprint, IndexHit, SignalIndex, SignalType

# tmkpy builds a shell command from these strings; ours are fixed and shell-safe.
_FFMPEG_QUIET = " -hide_banner -loglevel error"
_MAGIC = b"TMK1FVECPDQF"  # project, file type (feature vectors), frame algorithm (PDQ float)
_HEADER = 32  # three 4-byte magics, then fps, periods, coefficients, dimension, frame count


def _tmk() -> Any:
    try:
        import tmkpy
    except ImportError as exc:
        raise MissingExtraError("TMK+PDQF video hashing", "video") from exc
    return tmkpy


def features_from_bytes(raw: bytes) -> Any:
    """Parse a reference `.tmk` file (little-endian int32/float32 arrays after a fixed header).

    tmkpy's own reader returns an unusable SWIG pointer, so the file is parsed here and the
    object rebuilt with `createTMKFeatureVectors`.
    """
    if len(raw) < _HEADER or raw[:12] != _MAGIC:
        raise ValueError("not a TMK+PDQF feature file (bad magic)")
    fps, periods_n, coeffs_n, dim, count = np.frombuffer(raw[12:_HEADER], dtype="<i4").tolist()
    if not (0 < periods_n <= 64 and 0 < coeffs_n <= 256 and dim == 256):
        raise ValueError("TMK+PDQF header has implausible sizes")
    expected = _HEADER + 4 * (periods_n + coeffs_n + dim + 2 * periods_n * coeffs_n * dim)
    if len(raw) != expected:
        raise ValueError(f"TMK+PDQF file has {len(raw)} bytes, its header implies {expected}")
    offset = _HEADER

    def take(n: int, dtype: str) -> np.ndarray:
        nonlocal offset
        out = np.frombuffer(raw[offset : offset + 4 * n], dtype=dtype)
        offset += 4 * n
        return out

    periods = take(periods_n, "<i4")
    coeffs = take(coeffs_n, "<f4")
    average = take(dim, "<f4")
    cos = take(periods_n * coeffs_n * dim, "<f4").reshape(periods_n, coeffs_n, dim)
    sin = take(periods_n * coeffs_n * dim, "<f4").reshape(periods_n, coeffs_n, dim)
    return _tmk().createTMKFeatureVectors(
        fps, count, periods.tolist(), coeffs.tolist(), average.tolist(), cos.tolist(), sin.tolist()
    )


def features_to_bytes(features: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="warden-tmk-") as tmp:
        path = Path(tmp) / "features.tmk"
        if not features.writeToOutputFile(str(path), "warden"):
            raise MediaError("could not serialise TMK features")
        return path.read_bytes()


def decode_value(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a TMK+PDQF value is the base64 of a .tmk file") from None


class TmkSignal(SignalType):
    name = "tmk_pdqf"
    description = "TMK+PDQF video fingerprint: base64 of the reference .tmk feature file."
    aliases = ("video_tmk_pdqf", "tmk_pdqf", "tmk")
    exchange_name = "video_tmk_pdqf"
    media = frozenset({"video"})
    distance_unit = "1 - level-2 score"
    invalid_examples = ("", "not base64!", "AAAA")

    def example_values(self) -> list[str]:
        # A small well-formed feature file (2 periods, 2 coefficients), as the reference writes them.
        rng = np.random.default_rng(0)
        periods_n, coeffs_n, dim = 2, 2, 256
        header = _MAGIC + np.array([15, periods_n, coeffs_n, dim, 30], dtype="<i4").tobytes()
        body = (
            np.array([53, 97], dtype="<i4").tobytes()
            + np.array([0.25, 0.5], dtype="<f4").tobytes()
            + rng.random(dim + 2 * periods_n * coeffs_n * dim, dtype=np.float32).astype("<f4").tobytes()
        )
        return [base64.b64encode(header + body).decode("ascii")]

    def validate(self, value: str) -> str:
        raw = decode_value(value)
        features_from_bytes(raw)
        return base64.b64encode(raw).decode("ascii")

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        if kind != "video":
            return []
        from ...media.video import video_file

        with video_file(data, self.limits) as path:
            return self.from_video_file(path, data)

    def from_video_file(self, path: Path, data: bytes) -> list[Fingerprint]:
        from ...media.video import ffmpeg_binary

        features = _tmk().hashVideo(str(path), ffmpeg_binary() + _FFMPEG_QUIET)
        if features.getFrameFeatureCount() == 0:
            raise MediaError("video has no decodable frames for TMK")
        return [Fingerprint(base64.b64encode(features_to_bytes(features)).decode("ascii"))]

    def new_index(self) -> SignalIndex:
        return TmkIndex(self.settings)


class TmkIndex(SignalIndex):
    """Brute-force level 1 over unit average features (video banks are small), then level 2."""

    def __init__(self, settings: BankSettings) -> None:
        self.settings = settings
        self._features: dict[int, Any] = {}
        self._ids: list[int] = []
        self._level1 = np.empty((0, 256), dtype=np.float32)
        self._lock = threading.Lock()

    @staticmethod
    def _unit_average(features: Any) -> np.ndarray:
        vec = np.asarray(features.getPureAverageFeature(), dtype=np.float32)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def _rebuild_level1(self) -> None:
        self._ids = list(self._features)
        rows = [self._unit_average(self._features[i]) for i in self._ids]
        self._level1 = np.stack(rows) if rows else np.empty((0, 256), dtype=np.float32)

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        loaded = [(entry_id, features_from_bytes(decode_value(v))) for entry_id, v in entries]
        with self._lock:
            for entry_id, features in loaded:
                self._features[entry_id] = features
            self._rebuild_level1()

    def remove(self, entry_ids: Sequence[int]) -> None:
        with self._lock:
            for entry_id in entry_ids:
                self._features.pop(entry_id, None)
            self._rebuild_level1()

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        tmk = _tmk().TMKFeatureVectors
        out: list[list[IndexHit]] = []
        for value in values:
            needle = features_from_bytes(decode_value(value))
            with self._lock:
                ids, level1 = list(self._ids), self._level1
                features = dict(self._features)
            row: list[IndexHit] = []
            if ids:
                scores = level1 @ self._unit_average(needle)
                for k in np.nonzero(scores >= self.settings.tmk_min_level1)[0]:
                    level2 = float(tmk.computeLevel2Score(needle, features[ids[k]]))
                    if level2 >= self.settings.tmk_min_level2:
                        detail = {"level1": round(float(scores[k]), 4), "level2": round(level2, 4)}
                        row.append(IndexHit(ids[k], round(1.0 - level2, 4), detail))
            row.sort(key=lambda h: (h.distance, h.entry_id))
            out.append(row)
        return out

    def __len__(self) -> int:
        return len(self._features)
