"""Exact radius search over 256-bit PDQ hashes by multi-index hashing (MIH), in compact NumPy arrays.

Why not FAISS's `IndexBinaryMultiHash`: it keeps one `unordered_map<int64, vector<int64>>` per
substring table, several GB at 10M hashes. This index keeps the same idea (split each hash into
substrings, probe every bucket within a small radius of the query's substring, verify candidates
with the full Hamming distance) in flat sorted arrays: 4 bytes per hash per table plus one
offsets array per table.

Guarantee (generalised pigeonhole, Qin et al. 2018): split 256 bits into m substrings with
per-substring radii t_i. If sum(t_i + 1) > r, any hash within distance r of the query is within
t_i of it on at least one substring i, so probing all buckets within t_i on every substring finds
every match: recall is exactly 1.0 for distance <= r. The layout splits each 64-bit word into
22 + 22 + 20 bits probed at radii 2, 2, 1: sum(t_i + 1) = 4 * (3 + 3 + 2) = 32 > 31.

Updates: new hashes go to a small delta buffer searched by brute force, so an add is matchable at
once; the delta is merged into the tables when it grows (a rebuild of the sorted arrays, done off
the query path). Removed or replaced ids are hidden at match time and dropped at the next merge.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

PDQ_BITS = 256
WORDS = PDQ_BITS // 64

# (word, shift, bits, radius): each 64-bit word is split 22/22/20 and probed at radii 2/2/1.
_SUBSTRINGS: tuple[tuple[int, int, int, int], ...] = tuple(
    (word, shift, bits, radius)
    for word in range(WORDS)
    for shift, bits, radius in ((42, 22, 2), (20, 22, 2), (0, 20, 1))
)
# The largest radius the layout answers exactly: sum(t_i + 1) - 1.
MAX_EXACT_RADIUS = sum(radius + 1 for *_, radius in _SUBSTRINGS) - 1


def hex_to_words(hexes: Sequence[str]) -> np.ndarray:
    """PDQ hex strings (64 hex digits) -> (n, 4) uint64. Raises ValueError naming the bad value."""
    out = np.empty((len(hexes), WORDS), dtype=np.uint64)
    for i, value in enumerate(hexes):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise ValueError(f"not a hex string: {value[:80]!r}") from None
        if len(raw) != PDQ_BITS // 8:
            raise ValueError(f"a PDQ hash has 64 hex digits, got {len(value)}: {value[:80]!r}")
        out[i] = np.frombuffer(raw, dtype=">u8")
    return out


def words_to_hex(words: np.ndarray) -> list[str]:
    return [row.astype(">u8").tobytes().hex() for row in np.atleast_2d(words)]


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance between (n, 4) uint64 arrays (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int32)


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        for positions in combinations(range(bits), r):
            masks.append(sum(1 << p for p in positions))
    return np.array(masks, dtype=np.uint32)


_MASKS = {(bits, radius): _flip_masks(bits, radius) for _, _, bits, radius in _SUBSTRINGS}


def _substring_keys(words: np.ndarray, word: int, shift: int, bits: int) -> np.ndarray:
    return ((words[:, word] >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.uint32)


_T_WORDS = np.array([w for w, *_ in _SUBSTRINGS], dtype=np.int64)
_T_SHIFTS = np.array([s for _, s, *_ in _SUBSTRINGS], dtype=np.uint64)
_T_KEYMASKS = np.array([(1 << b) - 1 for _, _, b, _ in _SUBSTRINGS], dtype=np.uint64)
_T_OFF_BASE = np.cumsum([0] + [(1 << b) + 1 for _, _, b, _ in _SUBSTRINGS[:-1]]).astype(np.int64)
_T_FLIPS = np.concatenate([_MASKS[(b, r)] for _, _, b, r in _SUBSTRINGS])
_T_FLIP_HI = np.cumsum([len(_MASKS[(b, r)]) for _, _, b, r in _SUBSTRINGS]).astype(np.int64)
_T_FLIP_LO = np.concatenate([[0], _T_FLIP_HI[:-1]]).astype(np.int64)


class _Tables:
    """Immutable sorted snapshot: main codes, their ids and one bucket table per substring.

    `orders[t]` lists main positions grouped by substring key t; bucket b of table t is
    `orders[t, offsets[base_t + b] : offsets[base_t + b + 1]]`. `ids` is None when ids are
    positions (saves 8 bytes per hash in bulk-loaded indexes).
    """

    def __init__(self, ids: np.ndarray | None, codes: np.ndarray) -> None:
        self.ids = ids
        self.codes = codes
        n = len(codes)
        self.orders = np.empty((len(_SUBSTRINGS), n), dtype=np.uint32)
        self.offsets = np.empty(int(_T_OFF_BASE[-1]) + (1 << _SUBSTRINGS[-1][2]) + 1, dtype=np.uint32)
        for t, (word, shift, bits, _) in enumerate(_SUBSTRINGS):
            keys = _substring_keys(codes, word, shift, bits)
            self.orders[t] = np.argsort(keys, kind="stable")
            base = int(_T_OFF_BASE[t])
            self.offsets[base] = 0
            np.cumsum(
                np.bincount(keys, minlength=1 << bits), out=self.offsets[base + 1 : base + (1 << bits) + 1]
            )
            del keys

    def __len__(self) -> int:
        return len(self.codes)

    def id_of(self, positions: np.ndarray) -> np.ndarray:
        return positions if self.ids is None else self.ids[positions]

    def nbytes(self) -> int:
        ids = 0 if self.ids is None else self.ids.nbytes
        return int(ids + self.codes.nbytes + self.orders.nbytes + self.offsets.nbytes)

    def search(
        self, queries: np.ndarray, radius: int, capacity: int = 64
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (positions, distances) of every main hash within `radius` (may repeat)."""
        from ._mih_kernel import mih_search

        args = (
            self.codes,
            self.orders,
            self.offsets,
            _T_OFF_BASE,
            _T_WORDS,
            _T_SHIFTS,
            _T_KEYMASKS,
            _T_FLIPS,
            _T_FLIP_LO,
            _T_FLIP_HI,
            radius,
        )
        pos, dist, counts = mih_search(queries, *args, capacity)
        out = [(pos[i, : counts[i]], dist[i, : counts[i]]) for i in range(len(queries))]
        for i in np.nonzero(counts > capacity)[0]:  # rare: more hits than the buffer; redo alone
            p, d, c = mih_search(queries[i : i + 1], *args, int(counts[i]))
            out[i] = (p[0, : c[0]], d[0, : c[0]])
        return out


@dataclass(frozen=True)
class PdqHit:
    id: int
    distance: int


class PdqIndex:
    """Radius search over PDQ hashes with ids; thread-safe adds, removes and searches."""

    def __init__(self, max_distance: int = 31, merge_at: int = 50_000) -> None:
        if not 0 <= max_distance <= MAX_EXACT_RADIUS:
            raise ValueError(f"max_distance must be within 0..{MAX_EXACT_RADIUS} for exact recall")
        self.max_distance = max_distance
        self.merge_at = merge_at
        self._main = _Tables(np.empty(0, np.int64), np.empty((0, WORDS), np.uint64))
        self._main_ids = np.empty(0, np.int64)  # sorted, for membership tests
        # Entries added since the last merge, by id (re-adding an id replaces its code), and the
        # ids whose row in the main tables no longer counts (removed, or replaced by a delta entry).
        self._delta: dict[int, np.ndarray] = {}
        self._hidden: set[int] = set()
        self._lock = threading.RLock()

    # -- updates -----------------------------------------------------------------------------
    def _set_main(self, tables: _Tables) -> None:
        ids = tables.id_of(np.arange(len(tables)))
        self._main = tables
        self._main_ids = np.sort(np.asarray(ids, dtype=np.int64))

    def _in_main(self, entry_id: int) -> bool:
        k = int(np.searchsorted(self._main_ids, entry_id))
        return k < len(self._main_ids) and int(self._main_ids[k]) == entry_id

    def build(self, ids: np.ndarray | None, codes: np.ndarray) -> None:
        """Replace the whole content (start-up, merges). `ids=None` means ids are row numbers."""
        codes = np.ascontiguousarray(codes, dtype=np.uint64)
        if codes.ndim != 2 or codes.shape[1] != WORDS:
            raise ValueError("codes must be (n, 4) uint64")
        if ids is not None:
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            if len(ids) != len(codes):
                raise ValueError("one id per code")
        tables = _Tables(ids, codes)
        with self._lock:
            self._set_main(tables)
            self._delta, self._hidden = {}, set()

    def add(self, ids: Iterable[int], codes: np.ndarray) -> None:
        """Index codes under ids; an id already indexed gets the new code (its old one stops matching)."""
        ids_arr = np.fromiter(ids, dtype=np.int64)
        codes = np.ascontiguousarray(np.atleast_2d(codes), dtype=np.uint64)
        if len(ids_arr) != len(codes):
            raise ValueError("one id per code")
        with self._lock:
            for entry_id, code in zip(ids_arr.tolist(), codes, strict=True):
                self._delta[entry_id] = code
                if self._in_main(entry_id):
                    self._hidden.add(entry_id)
            pending = len(self._delta)
        if pending >= self.merge_at:
            self.merge()

    def remove(self, ids: Iterable[int]) -> None:
        """Stop matching these ids (unknown ids are ignored)."""
        with self._lock:
            for entry_id in (int(i) for i in ids):
                self._delta.pop(entry_id, None)
                if self._in_main(entry_id):
                    self._hidden.add(entry_id)

    def merge(self) -> None:
        """Fold the delta into the sorted tables and drop hidden rows. The tables are built outside
        the lock; changes made meanwhile are carried over."""
        with self._lock:
            main, hidden, delta = self._main, set(self._hidden), dict(self._delta)
        ids = main.id_of(np.arange(len(main)))
        codes = main.codes
        if hidden:
            keep = ~np.isin(ids, np.fromiter(hidden, dtype=np.int64))
            ids, codes = ids[keep], codes[keep]
        if delta:
            ids = np.concatenate([ids, np.fromiter(delta, dtype=np.int64)])
            codes = np.concatenate([codes, np.stack(list(delta.values()))])
        tables = _Tables(np.asarray(ids, dtype=np.int64), codes)
        with self._lock:
            later_hidden = self._hidden - hidden
            self._set_main(tables)
            stale: set[int] = set()
            for entry_id, code in delta.items():
                if self._delta.get(entry_id) is code:
                    del self._delta[entry_id]  # now in the tables
                else:
                    stale.add(entry_id)  # replaced or removed while merging: its merged row is old
            self._hidden = stale | {i for i in later_hidden if self._in_main(i)}

    def __len__(self) -> int:
        with self._lock:
            return len(self._main) - len(self._hidden) + len(self._delta)

    def nbytes(self) -> int:
        return self._main.nbytes()

    # -- queries -----------------------------------------------------------------------------
    def search(self, queries: np.ndarray, max_distance: int | None = None) -> list[list[PdqHit]]:
        """Every indexed hash within `max_distance` of each query, nearest first."""
        radius = self.max_distance if max_distance is None else max_distance
        if not 0 <= radius <= MAX_EXACT_RADIUS:
            raise ValueError(f"max_distance must be within 0..{MAX_EXACT_RADIUS}")
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.uint64)
        with self._lock:
            main = self._main
            delta_ids = np.fromiter(self._delta, dtype=np.int64) if self._delta else None
            delta_codes = np.stack(list(self._delta.values())) if self._delta else None
            hidden = frozenset(self._hidden)
        results: list[list[PdqHit]] = [[] for _ in range(len(queries))]
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if len(main):
            for qi, (pos, dist) in enumerate(main.search(queries, radius)):
                if len(pos):
                    ids = main.id_of(pos)
                    if hidden:
                        live = ~np.isin(ids, np.fromiter(hidden, dtype=np.int64))
                        ids, dist = ids[live], dist[live]
                    found.append((np.full(len(ids), qi), ids, dist))
        if delta_ids is not None and delta_codes is not None:
            # Brute force over the delta, in query chunks that keep the temporary under ~64 MB.
            step = max(1, 2_000_000 // len(delta_ids))
            for lo in range(0, len(queries), step):
                dist = hamming(delta_codes[None, :, :], queries[lo : lo + step, None, :])
                q, pos = np.nonzero(dist <= radius)
                found.append((q + lo, delta_ids[pos], dist[q, pos]))
        for q_arr, id_arr, d_arr in found:
            for qi, hid, d in zip(q_arr.tolist(), id_arr.tolist(), d_arr.tolist(), strict=True):
                results[qi].append(PdqHit(hid, d))
        for i, hits in enumerate(results):
            if len(hits) > 1:
                best: dict[int, PdqHit] = {}
                for hit in hits:  # a hash can surface through several tables: keep one per id
                    if hit.id not in best or hit.distance < best[hit.id].distance:
                        best[hit.id] = hit
                results[i] = sorted(best.values(), key=lambda h: (h.distance, h.id))
        return results
