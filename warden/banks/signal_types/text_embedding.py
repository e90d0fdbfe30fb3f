"""Semantic near-duplicate text: MiniLM sentence embeddings in a FAISS inner-product index.

Catches rewordings that share few characters with the banked text ("send me your bank
password" / "give me the password of your bank account"). The value is the text; its
embedding is computed when the entry is indexed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import faiss
import numpy as np

from ...runtime.embedders import get_embedder
from ...settings import BankSettings
from .base import Fingerprint, IndexHit, SignalIndex, SignalType

DIM = 384
# Flat search is exact and fast to ~100k entries; above, HNSW keeps lookups sub-millisecond.
HNSW_FROM = 100_000
MAX_NEIGHBOURS = 10


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    faiss.normalize_L2(vectors)
    return vectors


class TextEmbeddingSignal(SignalType):
    name = "text_embedding"
    description = "Semantic near-duplicate text (MiniLM cosine >= embedding_min_similarity)."
    aliases = ("text_embedding",)
    exchange_name = "text_embedding"
    media = frozenset({"text"})
    distance_unit = "1 - cosine"
    examples = ("Send crypto to this wallet and receive double back within the hour",)
    invalid_examples = ("", "two words")

    def validate(self, value: str) -> str:
        value = value.strip()
        if len(value.split()) < 3:
            raise ValueError("semantic matching needs a text of at least three words")
        return value

    def from_text(self, text: str) -> list[Fingerprint]:
        return [Fingerprint(text)] if len(text.split()) >= 3 else []

    def new_index(self) -> SignalIndex:
        return TextEmbeddingIndex(self.settings)


class TextEmbeddingIndex(SignalIndex):
    """FAISS index over unit vectors; removals are tombstones, compacted when they pile up.

    Other embedding signal types subclass it with their own `dim`, `embed` and `min_similarity`."""

    dim = DIM

    def __init__(self, settings: BankSettings, min_similarity: float | None = None) -> None:
        self.min_similarity = settings.embedding_min_similarity if min_similarity is None else min_similarity
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self._alive: set[int] = set()
        self._lock = threading.Lock()

    @staticmethod
    def embed(values: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit rows for the indexed values."""
        return _unit(get_embedder("minilm").embed(list(values)))

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        if not entries:
            return
        vectors = self.embed([v for _, v in entries])
        ids = np.array([e for e, _ in entries], dtype=np.int64)
        with self._lock:
            self._index.remove_ids(ids)  # type: ignore[arg-type]  # the SWIG wrapper takes arrays
            if len(self._alive) + len(ids) >= HNSW_FROM and isinstance(self._index.index, faiss.IndexFlat):
                self._to_hnsw()
            self._index.add_with_ids(vectors, ids)
            self._alive.update(ids.tolist())

    def _to_hnsw(self) -> None:
        flat = self._index
        ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
        vectors = flat.index.reconstruct_n(0, flat.ntotal)
        hnsw = faiss.IndexIDMap2(faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT))
        hnsw.add_with_ids(vectors, ids)
        self._index = hnsw

    def remove(self, entry_ids: Sequence[int]) -> None:
        with self._lock:
            ids = np.array(list(entry_ids), dtype=np.int64)
            if isinstance(self._index.index, faiss.IndexFlat):
                self._index.remove_ids(ids)  # type: ignore[arg-type]  # the SWIG wrapper takes arrays
            self._alive.difference_update(ids.tolist())  # HNSW: filtered at query time

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        if not values:
            return []
        vectors = self.embed(values)
        with self._lock:
            if not self._alive:
                return [[] for _ in values]
            k = min(MAX_NEIGHBOURS, self._index.ntotal)
            sims, ids = self._index.search(vectors, k)
            alive = set(self._alive)
        out: list[list[IndexHit]] = []
        for row_sims, row_ids in zip(sims, ids, strict=True):
            row = [
                IndexHit(int(i), round(1.0 - float(s), 4), {"cosine": round(float(s), 4)})
                for s, i in zip(row_sims, row_ids, strict=True)
                if i >= 0 and int(i) in alive and s >= self.min_similarity
            ]
            out.append(row)
        return out

    def __len__(self) -> int:
        return len(self._alive)
