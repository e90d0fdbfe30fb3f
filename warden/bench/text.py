"""Text area: throughput and latency per tier and end to end through the HTTP API.

Figures: fast_texts_per_s_per_core, encoder_texts_per_s (frozen MiniLM + heads),
finetuned_encoder_texts_per_s (the fine-tuned MiniLM's ONNX graph; absent when the models folder
has none), multilingual_texts_per_s, pipeline_texts_per_s, api_items_per_s, api_p50_ms, api_p99_ms,
peak_rss_mb.
Texts are real tweets from the TweetEval test split (falls back to built-in sentences when
the data sets are absent, and says so).
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console

from ..content import Content
from ..detectors.embedding_head import E5HeadDetector, MiniLMHeadDetector
from ..detectors.finetuned import FineTunedMiniLMDetector
from ..detectors.linear import LinearNgramDetector
from ..moderator import Moderator
from ..settings import get_settings

console = Console()


def _texts(n: int) -> list[str]:
    path = Path(get_settings().data_dir) / "tweeteval-hate-offensive" / "hate_test_text.txt"
    if path.exists():
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        console.print(f"[yellow]{path} missing: using built-in sentences[/]")
        lines = [f"sample sentence number {i} about the weather and the game" for i in range(1000)]
    return [lines[i % len(lines)] for i in range(n)]


def _rate(fn, items: list, repeat: int = 1) -> float:
    """Items per second, best of `repeat` passes (like timeit: the host's noise only slows runs)."""
    fn(items[: min(32, len(items))])  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(items)
        best = min(best, time.perf_counter() - started)
    return len(items) / best


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _api_load(texts: list[str], concurrency: int = 16, requests_total: int = 800) -> dict[str, float]:
    """Start `warden serve` in a subprocess and hit it from `concurrency` client threads."""
    tmp = tempfile.mkdtemp(prefix="warden-bench-")
    port = _free_port()
    env = dict(os.environ, WARDEN_DATABASE_URL=f"sqlite:///{tmp}/bench.db", WARDEN_AUTH_ENABLED="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "warden.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start in 120 s")
        latencies: list[float] = []
        lock = threading.Lock()
        counter = iter(range(requests_total))

        def worker() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                for n in counter:
                    body = {"id": f"bench-{n}", "text": texts[n % len(texts)]}
                    t0 = time.perf_counter()
                    r = client.post("/v1/moderate", json=body)
                    dt = (time.perf_counter() - t0) * 1000
                    r.raise_for_status()
                    with lock:
                        latencies.append(dt)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        latencies.sort()
        return {
            "api_items_per_s": len(latencies) / elapsed,
            "api_p50_ms": statistics.median(latencies),
            "api_p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "api_concurrency": float(concurrency),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run() -> dict[str, float]:
    settings = get_settings()
    texts = _texts(20_000)
    figures: dict[str, float] = {}

    # The fast tier is single-threaded NumPy: its rate is per core by construction.
    linear = LinearNgramDetector(settings.models_dir)
    linear.load()
    figures["fast_texts_per_s_per_core"] = _rate(linear.predict_proba, texts, repeat=7)
    items = [Content(id=str(i), text=t) for i, t in enumerate(texts)]
    figures["fast_detector_texts_per_s"] = _rate(lambda b: linear.detect(b, ["en"] * len(b)), items[:5000], 3)

    # Encoder tiers: distinct texts so the embedding cache never answers.
    encoder = MiniLMHeadDetector(settings.models_dir)
    encoder.load()
    uniq = [Content(id=f"u{i}", text=f"{t} #{i}") for i, t in enumerate(texts[:1024])]
    figures["encoder_texts_per_s"] = _rate(lambda b: encoder.detect(b, ["en"] * len(b)), uniq)
    if FineTunedMiniLMDetector.available(settings.models_dir):
        tuned = FineTunedMiniLMDetector(settings.models_dir)
        tuned.load()
        figures["finetuned_encoder_texts_per_s"] = _rate(lambda b: tuned.detect(b, ["en"] * len(b)), uniq)
    multi = E5HeadDetector(settings.models_dir)
    multi.load()
    uniq_de = [Content(id=f"d{i}", text=f"{t} Nummer {i}") for i, t in enumerate(texts[1024:1280])]
    figures["multilingual_texts_per_s"] = _rate(lambda b: multi.detect(b, ["de"] * len(b)), uniq_de)

    moderator = Moderator.from_settings(settings).load()
    batch = [Content(id=f"p{i}", text=f"{t} ({i})") for i, t in enumerate(texts[2000:3000])]
    figures["pipeline_texts_per_s"] = _rate(moderator.moderate, batch)
    single: list[float] = []
    for i, t in enumerate(texts[4000:4200]):
        t0 = time.perf_counter()
        moderator.moderate([Content(id=f"s{i}", text=f"{t} [{i}]")])
        single.append((time.perf_counter() - t0) * 1000)
    single.sort()
    figures["pipeline_single_p50_ms"] = statistics.median(single)
    figures["pipeline_single_p99_ms"] = single[int(0.99 * (len(single) - 1))]

    figures.update(_api_load(texts))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {k: round(float(v), 3) for k, v in figures.items()}
