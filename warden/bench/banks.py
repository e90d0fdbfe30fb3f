"""Bank benchmarks: PDQ lookups/s, memory and recall at 100k / 1M / 10M hashes, time from adding an
entry to its first match, and text / embedding match throughput.

Each PDQ size runs in its own process so its resident memory is measured alone. The bank is random
256-bit hashes; queries are copies of banked hashes with 0-31 bits flipped (planted near-matches,
recall must be 1.0) plus as many random hashes (which should match nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
QUERIES = 4_000
BATCH = 256


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _flip(codes: np.ndarray, distances: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = codes.copy()
    for i, d in enumerate(distances):
        for bit in rng.choice(256, int(d), replace=False):
            out[i, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def pdq_size(n: int, seed: int = 0) -> dict[str, float]:
    """Build an index of n random hashes and measure it (run in a fresh process)."""
    from ..banks.pdq_index import PdqIndex

    rng = np.random.default_rng(seed)
    baseline = _rss_mb()
    codes = rng.integers(0, np.iinfo(np.uint64).max, size=(n, 4), dtype=np.uint64, endpoint=True)
    planted = rng.integers(0, n, QUERIES // 2)
    distances = rng.integers(0, 32, QUERIES // 2)
    queries = np.concatenate(
        [
            _flip(codes[planted], distances, rng),
            rng.integers(0, np.iinfo(np.uint64).max, size=(QUERIES // 2, 4), dtype=np.uint64, endpoint=True),
        ]
    )
    index = PdqIndex(max_distance=31)
    started = time.perf_counter()
    index.build(None, codes)  # ids are row numbers: no id array
    build_s = time.perf_counter() - started
    del codes
    index.search(queries[:8])  # compile / load the kernel before timing
    started = time.perf_counter()
    results = []
    for lo in range(0, len(queries), BATCH):
        results += index.search(queries[lo : lo + BATCH])
    elapsed = time.perf_counter() - started
    found = sum(int(planted[i]) in {h.id for h in results[i]} for i in range(len(planted)))
    false = sum(len(r) for r in results[len(planted) :])
    return {
        "lookups_per_s": len(queries) / elapsed,
        "recall_at_31": found / len(planted),
        "random_query_hits": float(false),
        "rss_mb": _rss_mb(),
        "peak_rss_mb": _peak_mb(),
        "index_mb": index.nbytes() / 1e6,
        "process_baseline_mb": baseline,
        "build_s": build_s,
    }


def _pdq_in_subprocess(n: int) -> dict[str, float]:
    code = f"import json; from warden.bench.banks import pdq_size; print(json.dumps(pdq_size({n})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=1800
    )
    if out.returncode != 0:
        raise RuntimeError(f"PDQ benchmark at {n:,} hashes failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _add_to_match() -> dict[str, float]:
    """Seconds from `BankService.add_entries` (store write + index update) to the first match."""
    from ..banks.exchange import RawEntry
    from ..banks.matcher import BankMatcher
    from ..banks.service import BankService
    from ..banks.signal_types import Fingerprint
    from ..policy.model import load_policy
    from ..settings import DEFAULT_POLICY_PATH
    from ..store import Store

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        matcher = BankMatcher()
        service = BankService(store.banks, matcher, load_policy(DEFAULT_POLICY_PATH))
        service.create_bank("bench", "spam_scam", "remove", actor="bench")
        # A bank that already holds 100k hashes, so the add lands in a realistic index.
        bulk = [RawEntry(i + 1, "pdq", rng.bytes(32).hex()) for i in range(100_000)]
        service.add_entries("bench", bulk, actor="bench")
        matcher.load(store.banks)
        timings = []
        for _ in range(20):
            value = rng.bytes(32).hex()
            started = time.perf_counter()
            service.add_entries("bench", [RawEntry(1, "pdq", value)], actor="bench")
            hit = matcher.match([{"pdq": [Fingerprint(value)]}])[0]
            timings.append(time.perf_counter() - started)
            assert hit, "a freshly added hash must match"
        store.close()
    return {"add_to_match_s": float(np.median(timings)), "add_to_match_max_s": float(np.max(timings))}


def _text_matching() -> dict[str, float]:
    from ..banks.signal_types.text_embedding import TextEmbeddingIndex
    from ..banks.signal_types.text_near_dup import TextNearDupIndex
    from ..settings import BankSettings

    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(5_000)]

    def sentence() -> str:
        return " ".join(rng.choice(words, 14))

    bank = [sentence() for _ in range(10_000)]
    queries = [bank[i] if i % 2 else sentence() for i in range(2_000)]
    near = TextNearDupIndex(BankSettings())
    started = time.perf_counter()
    near.add(list(enumerate(bank)))
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    hits = near.query(queries)
    near_qps = len(queries) / (time.perf_counter() - started)
    assert sum(bool(h) for h in hits) >= len(queries) // 2
    emb = TextEmbeddingIndex(BankSettings())
    emb.add(list(enumerate(bank[:2_000])))
    started = time.perf_counter()
    emb.query(queries[:500])
    emb_qps = 500 / (time.perf_counter() - started)
    return {
        "text_near_dup_10k_queries_per_s": near_qps,
        "text_near_dup_index_texts_per_s": len(bank) / add_s,
        "text_embedding_queries_per_s": emb_qps,
    }


def run() -> dict[str, float]:
    from rich.console import Console

    console = Console(stderr=True)
    figures: dict[str, float] = {}
    for label, n in SIZES.items():
        console.print(f"PDQ index with {n:,} hashes ...")
        for key, value in _pdq_in_subprocess(n).items():
            figures[f"pdq_{label}_{key}"] = round(value, 4)
    console.print("add-to-match and text matching ...")
    figures.update({k: round(v, 6) for k, v in _add_to_match().items()})
    figures.update({k: round(v, 2) for k, v in _text_matching().items()})
    return figures
