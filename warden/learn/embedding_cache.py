"""Disk cache of sentence embeddings for training runs (keyed by embedder and text hash).

Training embeds ~100k texts; re-running with other hyper-parameters should not pay again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.progress import Progress

from ..runtime.embedders import Embedder


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


class CachedEmbedder(Embedder):
    """Wraps an embedder with an unbounded in-memory map persisted to one .npz file."""

    def __init__(self, inner: Embedder, cache_dir: Path) -> None:
        super().__init__(cache_size=0, batch_size=inner.batch_size)
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = Path(cache_dir) / f"{inner.name}.npz"
        self._map: dict[str, np.ndarray] = {}
        if self.path.exists():
            data = np.load(self.path, allow_pickle=False)
            for k, v in zip(data["keys"], data["vectors"], strict=True):
                self._map[str(k)] = v

    def _load(self) -> None:
        pass

    def _embed_batch(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - embed() is overridden
        return self.inner.embed(texts)

    def embed(self, texts: Sequence[str], progress=None, label: str | None = None) -> np.ndarray:  # type: ignore[override]
        keys = [_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._map}.items())
        if missing:
            with Progress(transient=False) as bar:
                task = bar.add_task(label or f"embedding with {self.name}", total=len(missing))
                chunk = 512
                for start in range(0, len(missing), chunk):
                    part = missing[start : start + chunk]
                    vecs = self.inner.embed([t for _, t in part])
                    for (k, _), v in zip(part, vecs, strict=True):
                        self._map[k] = v
                    bar.advance(task, len(part))
                    if (start // chunk) % 10 == 9:
                        self.save()
            self.save()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._map[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._map.keys()))
        vectors = np.vstack(list(self._map.values())) if self._map else np.zeros((0, self.dim), np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        tmp.replace(self.path)
