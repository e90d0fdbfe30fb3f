"""Encoder tier: logistic heads on frozen sentence embeddings.

`MiniLMHeadDetector` serves English (and undetermined) text through all-MiniLM-L6-v2 in
ONNX Runtime; `E5HeadDetector` serves every other language through multilingual-e5-small.
Heads are trained by `warden train` and saved with the embedder they expect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..content import Content
from ..runtime.embedders import Embedder, get_embedder
from ..signals import Signal
from ..text.windows import max_per_owner, windows
from .base import BuildContext, Detector, registry, sigmoid


class EmbeddingHeadDetector(Detector):
    embedder_name: ClassVar[str]
    artifact: ClassVar[str]
    # Models are trained on tweet-length text; longer texts are scored in overlapping windows.
    window_chars: ClassVar[int] = 300
    window_stride: ClassVar[int] = 150

    def __init__(self, model_dir: Path, embedder: Embedder | None = None) -> None:
        self.model_dir = Path(model_dir)
        self._embedder = embedder

    @classmethod
    def build(cls, context: BuildContext) -> EmbeddingHeadDetector:
        return cls(context.models_dir, embedder=context.embedders.get(cls.embedder_name))

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.embedder_name)
        return self._embedder

    def load(self) -> None:
        if self._loaded:
            return
        path = self.model_dir / self.artifact
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `warden train` or reinstall the package")
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
        if meta["embedder"] != self.embedder.name:
            raise ValueError(f"{path} was trained on {meta['embedder']}, not {self.embedder.name}")
        self.categories: list[str] = meta["categories"]
        self.model_version = meta.get("model_version", "unknown")
        self.coef = data["coef"].astype(np.float32)
        self.intercept = data["intercept"].astype(np.float32)
        self.embedder.load()
        self._loaded = True

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{getattr(self, 'model_version', '?')}"

    def predict_embeddings(self, vectors: np.ndarray) -> np.ndarray:
        self.load()
        return sigmoid(vectors @ self.coef.T + self.intercept)

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        self.load()
        signals, idx = self.split_applicable(items, languages)
        if not idx:
            return signals
        texts = [items[i].text for i in idx]
        window_texts, owners = windows(texts, size=self.window_chars, stride=self.window_stride)
        probs = max_per_owner(self.predict_embeddings(self.embedder.embed(window_texts)), owners, len(texts))
        for row, i in enumerate(idx):
            signals[i] = Signal(
                self.name,
                self.version,
                scores={c: float(probs[row, k]) for k, c in enumerate(self.categories)},
            )
        return signals


@registry.register
class MiniLMHeadDetector(EmbeddingHeadDetector):
    name = "encoder_minilm"
    version = "1"
    cost = 1.0
    languages = frozenset({"en", "und"})
    embedder_name = "minilm"
    artifact = "encoder_minilm.npz"


@registry.register
class E5HeadDetector(EmbeddingHeadDetector):
    name = "multilingual_e5"
    version = "1"
    cost = 3.0
    excluded_languages = frozenset({"en", "und"})
    embedder_name = "e5"
    artifact = "multilingual_e5.npz"
