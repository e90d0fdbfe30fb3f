"""Compiled inner loop of the PDQ multi-index hashing search (Numba).

The search is bound by random reads of candidate codes; a compiled loop over the probe buckets
keeps those reads free of NumPy temporaries and runs queries in parallel threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

_M1 = uint64(0x5555555555555555)
_M2 = uint64(0x3333333333333333)
_M4 = uint64(0x0F0F0F0F0F0F0F0F)
_H01 = uint64(0x0101010101010101)


@njit(inline="always", cache=True)
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> uint64(1)) & _M1)
    x = (x & _M2) + ((x >> uint64(2)) & _M2)
    x = (x + (x >> uint64(4))) & _M4
    return int((x * _H01) >> uint64(56))


@njit(parallel=True, cache=True, nogil=True)
def mih_search(
    queries: np.ndarray,  # (Q, 4) uint64
    codes: np.ndarray,  # (N, 4) uint64
    orders: np.ndarray,  # (T, N) uint32
    offsets: np.ndarray,  # flat uint32, table t's buckets start at off_base[t]
    off_base: np.ndarray,  # (T,) int64
    words: np.ndarray,  # (T,) int64
    shifts: np.ndarray,  # (T,) uint64
    keymasks: np.ndarray,  # (T,) uint64
    flips: np.ndarray,  # flat uint32 flip masks, table t uses flips[flip_lo[t]:flip_hi[t]]
    flip_lo: np.ndarray,
    flip_hi: np.ndarray,
    radius: int,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: up to `capacity` (position, distance) hits and the true hit count (with repeats)."""
    n_queries = queries.shape[0]
    hit_pos = np.full((n_queries, capacity), -1, dtype=np.int64)
    hit_dist = np.zeros((n_queries, capacity), dtype=np.int32)
    counts = np.zeros(n_queries, dtype=np.int64)
    for qi in prange(n_queries):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        found = 0
        for t in range(orders.shape[0]):
            key = np.uint32((queries[qi, words[t]] >> shifts[t]) & keymasks[t])
            base = off_base[t]
            for f in range(flip_lo[t], flip_hi[t]):
                bucket = base + np.int64(key ^ flips[f])
                lo = np.int64(offsets[bucket])
                hi = np.int64(offsets[bucket + 1])
                for k in range(lo, hi):
                    p = np.int64(orders[t, k])
                    d = _popcount(codes[p, 0] ^ q0)
                    if d > radius:
                        continue
                    d += _popcount(codes[p, 1] ^ q1)
                    if d > radius:
                        continue
                    d += _popcount(codes[p, 2] ^ q2) + _popcount(codes[p, 3] ^ q3)
                    if d <= radius:
                        if found < capacity:
                            hit_pos[qi, found] = p
                            hit_dist[qi, found] = d
                        found += 1
        counts[qi] = found
    return hit_pos, hit_dist, counts
