"""Hashed character and word n-gram features, vectorised with NumPy.

scikit-learn's HashingVectorizer builds char n-grams in Python (~7k texts/s); the fast tier
needs ≥50k texts/s per core, so the whole batch is hashed at once on its UTF-8 bytes:
one polynomial rolling hash per n-gram order over the concatenated batch, and word tokens
hashed with a segmented sum. Bytes (not code points) keep it language-agnostic; a 3-byte
window is one CJK character.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_P = np.uint64(0x100000001B3)  # FNV prime as the polynomial base
_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier for the final index
_SEP = 0  # byte separating texts in the concatenated batch


def normalize(text: str) -> str:
    """Case-fold and NFKC-fold (full-width and styled letters become plain ones)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


@dataclass(frozen=True)
class HashedNgrams:
    """Configuration of the featurizer; it has no learned state."""

    n_bits: int = 18
    char_orders: tuple[int, ...] = (3, 5)
    word_orders: tuple[int, ...] = (1, 2)

    @property
    def n_features(self) -> int:
        return 1 << self.n_bits

    def to_dict(self) -> dict[str, object]:
        return {
            "n_bits": self.n_bits,
            "char_orders": list(self.char_orders),
            "word_orders": list(self.word_orders),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> HashedNgrams:
        return cls(
            n_bits=int(data["n_bits"]),  # type: ignore[call-overload]
            char_orders=tuple(data["char_orders"]),  # type: ignore[arg-type]
            word_orders=tuple(data["word_orders"]),  # type: ignore[arg-type]
        )

    def _index(self, h: np.ndarray, salt: int) -> np.ndarray:
        mixed = (h ^ np.uint64(salt * 0x5851F42D4C957F2D & 0xFFFFFFFFFFFFFFFF)) * _MIX
        return (mixed >> np.uint64(64 - self.n_bits)).astype(np.int32)

    def hash_positions(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (rows, cols, byte_start) for every n-gram in the batch.

        `byte_start` is the offset of the n-gram in its own text's normalised UTF-8 bytes
        (including the leading pad space), used to map weights back to spans for evidence.
        """
        encoded = [b" " + normalize(t).encode("utf-8", "replace") + b" " for t in texts]
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        joined = bytes([_SEP]).join(encoded)
        a = np.frombuffer(joined, dtype=np.uint8).astype(np.uint64)
        text_starts = np.zeros(len(encoded), dtype=np.int64)
        if len(encoded) > 1:
            text_starts[1:] = np.cumsum(lengths[:-1] + 1)
        is_sep = a == _SEP
        sep_cum = np.concatenate(([0], np.cumsum(is_sep)))
        # Text index of every byte (a separator counts with the text before it): a gather is
        # cheaper than a binary search per n-gram.
        text_of_byte = np.repeat(np.arange(len(encoded)), lengths + 1)[: a.shape[0]]

        rows_parts, cols_parts = [], []
        total = a.shape[0]
        max_order = max(self.char_orders) if self.char_orders else 0
        h = a.copy()
        power = np.uint64(1)
        for n in range(1, max_order + 1):
            if n > 1:
                with np.errstate(over="ignore"):  # wrap-around is the hash, not an error
                    power = power * _P
                h = h[:-1] + a[n - 1 :] * power
            if n in self.char_orders:
                starts = np.arange(total - n + 1, dtype=np.int64)
                valid = (sep_cum[starts + n] - sep_cum[starts]) == 0
                idx = starts[valid]
                rows_parts.append(idx)
                cols_parts.append(self._index(h[valid], n))

        if self.word_orders:
            # Word bytes: ASCII letters/digits/apostrophe and every non-ASCII byte.
            is_word = ((a >= 97) & (a <= 122)) | ((a >= 48) & (a <= 57)) | (a >= 128) | (a == 39)
            word_idx = np.flatnonzero(is_word)
            if word_idx.size:
                prev_word = np.concatenate(([False], is_word[:-1]))
                tok_start_mask = is_word & ~prev_word
                tok_id = np.cumsum(tok_start_mask)[word_idx] - 1
                tok_starts = np.flatnonzero(tok_start_mask)
                pos_in_tok = word_idx - tok_starts[tok_id]
                pow_table = np.cumprod(np.full(int(pos_in_tok.max()) + 1, _P, dtype=np.uint64)) // _P
                contrib = a[word_idx] * pow_table[pos_in_tok]
                seg = np.flatnonzero(np.concatenate(([True], np.diff(tok_id) != 0)))
                tok_hash = np.add.reduceat(contrib, seg)
                if 1 in self.word_orders:
                    rows_parts.append(tok_starts)
                    cols_parts.append(self._index(tok_hash, 101))
                if 2 in self.word_orders and tok_hash.size > 1:
                    same_text = (sep_cum[tok_starts[1:]] - sep_cum[tok_starts[:-1]]) == 0
                    big = tok_hash[:-1] * _P + tok_hash[1:]
                    rows_parts.append(tok_starts[:-1][same_text])
                    cols_parts.append(self._index(big[same_text], 102))

        if not rows_parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.astype(np.int32), empty
        byte_pos = np.concatenate(rows_parts)
        rows = text_of_byte[byte_pos]
        cols = np.concatenate(cols_parts)
        local = byte_pos - text_starts[rows]
        return rows, cols, local

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """CSR matrix of n-gram counts, each row scaled by 1/sqrt(number of n-grams).

        Duplicate column entries are left unmerged: products with it are exact and
        merging would cost a per-row sort.
        """
        n = len(texts)
        rows, cols, _ = self.hash_positions(texts)
        # Rows arrive as a few sorted runs (one per n-gram order): a stable sort merges them cheaply.
        order = np.argsort(rows, kind="stable")
        counts = np.bincount(rows, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        scale = (1.0 / np.sqrt(np.maximum(counts, 1))).astype(np.float32)
        data = scale[rows[order]]
        return sp.csr_matrix((data, cols[order], indptr), shape=(n, self.n_features))

    def score(self, texts: Sequence[str], weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Linear scores (n_texts × n_outputs)."""
        return np.asarray(self.transform(texts) @ weights, dtype=np.float32) + bias[None, :]
