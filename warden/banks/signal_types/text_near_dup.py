"""Near-duplicate text: normalised character 5-grams, MinHash LSH for candidates, exact Jaccard to decide."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from datasketch import MinHash, MinHashLSH

from ...settings import BankSettings
from ..textnorm import normalize_text, shingles
from .base import Fingerprint, IndexHit, SignalIndex, SignalType

NUM_PERM = 128
MIN_NORMALIZED_CHARS = 8  # shorter texts ("ok", "lol") would near-match far too much


class TextNearDupSignal(SignalType):
    name = "text_near_dup"
    description = "Near-duplicate text: the text itself, matched after normalisation by 5-gram Jaccard."
    aliases = ("raw_text", "text", "text_near_dup")
    exchange_name = "raw_text"
    media = frozenset({"text"})
    distance_unit = "1 - Jaccard"
    examples = ("Send 0.1 BTC to this wallet and receive 1 BTC back within the hour, guaranteed!",)
    invalid_examples = ("", "hi", "!!!")

    def validate(self, value: str) -> str:
        if len(normalize_text(value)) < MIN_NORMALIZED_CHARS:
            raise ValueError(
                f"text has fewer than {MIN_NORMALIZED_CHARS} letters or digits after normalisation: "
                "too short to match as a near-duplicate (use md5/sha256 for exact short strings)"
            )
        return value.strip()

    def from_text(self, text: str) -> list[Fingerprint]:
        return [Fingerprint(text)] if len(normalize_text(text)) >= MIN_NORMALIZED_CHARS else []

    def new_index(self) -> SignalIndex:
        return TextNearDupIndex(self.settings)


def _minhash(grams: set[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=7)
    m.update_batch([g.encode("utf-8") for g in grams])
    return m


class TextNearDupIndex(SignalIndex):
    def __init__(self, settings: BankSettings) -> None:
        self.threshold = settings.text_min_jaccard
        # LSH only proposes candidates; a lower band threshold trades speed for recall before the
        # exact Jaccard check.
        self._lsh = MinHashLSH(threshold=max(0.1, 0.8 * self.threshold), num_perm=NUM_PERM)
        self._grams: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        prepared = []
        for entry_id, value in entries:
            grams = shingles(normalize_text(value))
            if grams:
                prepared.append((entry_id, grams, _minhash(grams)))
        with self._lock:
            for entry_id, grams, mh in prepared:
                if entry_id in self._grams:
                    self._lsh.remove(entry_id)
                self._lsh.insert(entry_id, mh)
                self._grams[entry_id] = grams

    def remove(self, entry_ids: Sequence[int]) -> None:
        with self._lock:
            for entry_id in entry_ids:
                if self._grams.pop(entry_id, None) is not None:
                    self._lsh.remove(entry_id)

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        out: list[list[IndexHit]] = []
        for value in values:
            grams = shingles(normalize_text(value))
            row: list[IndexHit] = []
            if grams:
                mh = _minhash(grams)
                with self._lock:
                    candidates = [(c, self._grams.get(c)) for c in self._lsh.query(mh)]
                for entry_id, entry_grams in candidates:
                    if not entry_grams:
                        continue
                    jaccard = len(grams & entry_grams) / len(grams | entry_grams)
                    if jaccard >= self.threshold:
                        row.append(
                            IndexHit(int(entry_id), round(1.0 - jaccard, 4), {"jaccard": round(jaccard, 4)})
                        )
            row.sort(key=lambda h: (h.distance, h.entry_id))
            out.append(row)
        return out

    def __len__(self) -> int:
        return len(self._grams)
