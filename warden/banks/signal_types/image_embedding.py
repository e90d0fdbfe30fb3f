"""Near-duplicate and visually similar images: Open-NSFW pooled embeddings in a FAISS index.

Complements PDQ: the embedding survives edits that flip many PDQ bits (heavy blur, thumbnails,
re-framing). The value is the image's 1024-d unit embedding as base64 of little-endian float16
(2,048 bytes), so values can be exchanged without the image itself; `from_bytes` computes it
with the same network as the `image_nsfw` detector.

Threshold: on the PDQ test photos, edited copies of the bridge photo (blur, contrast, sharpen,
resize, a 128x128 thumbnail) have cosine 0.90-1.00 with the original, its rotations and flips
0.87-0.96, and unrelated street scenes 0.32-0.79 with each other (the features are post-ReLU,
so unrelated images are not near 0). A bank match acts at once, so the default is a conservative
0.9 (`BankSettings.image_embedding_min_similarity`).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...settings import BankSettings
from .base import Fingerprint, SignalIndex, SignalType
from .text_embedding import TextEmbeddingIndex

if TYPE_CHECKING:
    from ...media.nsfw import OpenNsfwModel

DIM = 1024
_VALUE_BYTES = DIM * 2  # float16

_model: OpenNsfwModel | None = None
_model_lock = threading.Lock()


def image_model() -> OpenNsfwModel:
    """The process-wide Open-NSFW model, loaded on first use (the module imports no ONNX). It runs
    the ONNX session the `image_nsfw` detector already loaded, if any (`threads=None`)."""
    global _model
    with _model_lock:
        if _model is None:
            from ...media.nsfw import OpenNsfwModel

            _model = OpenNsfwModel().load()
        return _model


def encode_vector(vector: np.ndarray) -> str:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vector.shape != (DIM,):
        raise ValueError(f"an image embedding has {DIM} dimensions, got {vector.size}")
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("an image embedding must be finite and non-zero")
    return base64.b64encode((vector / norm).astype("<f2").tobytes()).decode("ascii")


def decode_vectors(values: Sequence[str]) -> np.ndarray:
    """(n, DIM) float32 unit rows; ValueError saying what is wrong with a malformed value."""
    out = np.empty((len(values), DIM), dtype=np.float32)
    for i, value in enumerate(values):
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("an image embedding must be base64 (of 1024 little-endian float16)") from None
        if len(raw) != _VALUE_BYTES:
            raise ValueError(f"an image embedding decodes to {_VALUE_BYTES} bytes, got {len(raw)}")
        out[i] = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    norms = np.linalg.norm(out, axis=1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("an image embedding must be finite and non-zero")
    return out / norms[:, None]


class ImageEmbeddingSignal(SignalType):
    name = "image_embedding"
    description = "Near-duplicate / visually similar images (Open-NSFW pooled features, cosine >= 0.9)."
    aliases = ("image_embedding",)
    exchange_name = "image_embedding"
    media = frozenset({"image"})
    distance_unit = "1 - cosine"
    invalid_examples = ("", "not base64!", "AAAA")

    def example_values(self) -> list[str]:
        rng = np.random.default_rng(0)
        return [encode_vector(rng.random(DIM, dtype=np.float32)) for _ in range(2)]

    def validate(self, value: str) -> str:
        return encode_vector(decode_vectors([value])[0])

    def from_nsfw_embedding(self, embedding: np.ndarray) -> list[Fingerprint]:
        """The value for an image whose NSFW pass already ran (media intake reuses that pass)."""
        return [Fingerprint(encode_vector(embedding))]

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        if kind != "image":
            return []
        from ...media.images import open_image

        image = open_image(data, self.limits)
        return [Fingerprint(encode_vector(image_model().predict([image]).embeddings[0]))]

    def new_index(self) -> SignalIndex:
        return ImageEmbeddingIndex(self.settings)


class ImageEmbeddingIndex(TextEmbeddingIndex):
    """The text-embedding FAISS index (tombstones, HNSW past 100k) over decoded image vectors."""

    dim = DIM

    def __init__(self, settings: BankSettings) -> None:
        super().__init__(settings, settings.image_embedding_min_similarity)

    @staticmethod
    def embed(values: Sequence[str]) -> np.ndarray:
        return np.ascontiguousarray(decode_vectors(values))
