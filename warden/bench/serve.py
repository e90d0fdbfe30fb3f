"""Serve area: the stream worker's throughput, and the kill scenario's losses and duplicates.

The benchmark mix: 90 % benign / 10 % violating items from the data sets' test splits, every
language they have, hash-sampled (built-in sentences when the data sets are absent, and it says so).

Figures:
- worker_items_per_s_1worker, worker_items_per_s_2workers: `warden worker run` processes draining
  `WARDEN_BENCH_SERVE_ITEMS` (default 3,000) items pushed beforehand; decisions stored over the
  time from the first read to the last decision;
- worker_lost_items, worker_duplicate_decisions, worker_dead_letters, worker_kill_seconds: the kill
  scenario (`warden/stream/chaos.py`) at `WARDEN_BENCH_KILL_ITEMS` (default 10,000) items, 2
  workers, one SIGKILLed 5 times mid-batch, Redis restarted once.

The database is a throw-away PostgreSQL database (two workers write at once); without PostgreSQL
the figures are skipped and it says so.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rich.console import Console

from ..learn.datasets import load_datasets, sample_key
from ..settings import StreamSettings, get_settings
from ..store import Store
from ..store.testing import ServiceUnavailable, drop_test_database, make_test_database_url
from ..stream.chaos import PrivateRedis, consumers, decision_counts, run_kill_scenario, start_worker
from ..stream.worker import connect, push_items

console = Console()


def benchmark_mix(n: int, violating_share: float = 0.1) -> list[dict[str, str]]:
    """`n` items of the data sets' test splits, `violating_share` of them violating."""
    try:
        items = [i for i in load_datasets(get_settings().data_dir) if i.split == "test"]
    except Exception as exc:  # noqa: BLE001 - no data: still measure the machinery
        console.print(f"[yellow]data sets unavailable ({exc}): built-in sentences[/]")
        items = []
    bad = sorted((i for i in items if i.positives() or i.any_violation == 1), key=sample_key)
    good = sorted((i for i in items if i.any_violation == 0 and not i.positives()), key=sample_key)
    if not bad or not good:
        return [{"id": f"mix-{k}", "text": f"sample sentence {k} about the weather"} for k in range(n)]
    n_bad = int(round(n * violating_share))
    chosen = [bad[k % len(bad)] for k in range(n_bad)] + [good[k % len(good)] for k in range(n - n_bad)]
    return [{"id": f"mix-{k}", "text": item.text} for k, item in enumerate(sorted(chosen, key=sample_key))]


def _worker_rate(items: list[dict[str, str]], n_workers: int, workdir: Path) -> float:
    workdir.mkdir(parents=True, exist_ok=True)
    url = make_test_database_url("postgres")
    store = Store(url)
    store.migrate()
    store.close()
    server = PrivateRedis(workdir)
    server.start()
    settings = StreamSettings(redis_url=server.url)
    client = connect(server.url)
    env = {**os.environ, "WARDEN_DATABASE_URL": url, "WARDEN_STREAM__REDIS_URL": server.url}
    env["WARDEN_REVIEW__ENABLED"] = "false"
    names = [f"b{k}" for k in range(n_workers)]
    procs = []
    try:
        # Workers up and waiting first (model loading is not throughput), then the whole backlog.
        procs = [start_worker(name, env, workdir / f"{name}.log") for name in names]
        while set(consumers(client, settings)) != set(names):
            time.sleep(0.2)
        push_items(client, settings.input_stream, items)
        started = time.monotonic()
        while decision_counts(url)[0] < len(items):
            time.sleep(0.2)
        return len(items) / (time.monotonic() - started)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        client.close()
        server.stop()
        drop_test_database(url)


def run() -> dict[str, float]:
    n_rate = int(os.environ.get("WARDEN_BENCH_SERVE_ITEMS", "3000"))
    n_kill = int(os.environ.get("WARDEN_BENCH_KILL_ITEMS", "10000"))
    figures: dict[str, float] = {}
    try:
        drop_test_database(make_test_database_url("postgres"))  # reachability
    except ServiceUnavailable as exc:
        console.print(f"[yellow]{exc}: worker figures skipped[/]")
        return figures
    mix = benchmark_mix(max(n_rate, n_kill))
    with tempfile.TemporaryDirectory(prefix="warden-bench-serve-") as tmp:
        for n_workers in (1, 2):
            rate = _worker_rate(mix[:n_rate], n_workers, Path(tmp) / f"rate-{n_workers}")
            console.print(f"  {n_workers} worker(s): {rate:.1f} items/s")
            figures[f"worker_items_per_s_{n_workers}worker{'s' if n_workers > 1 else ''}"] = rate
        url = make_test_database_url("postgres")
        try:
            store = Store(url)
            store.migrate()
            store.close()
            # Pushed about as fast as two workers decide, for the whole time the kills take.
            report = run_kill_scenario(
                mix[:n_kill], url, Path(tmp) / "kill", kills=5, push_per_s=100.0, timeout_s=1800.0
            )
        finally:
            drop_test_database(url)
    if not report.drained:
        console.print(f"[yellow]the stream did not drain in time: {report.lag_left} entries never read[/]")
    console.print(
        f"  kill scenario: {report.items:,} items, {report.kills} kills, {report.lost_items} lost, "
        f"{report.duplicate_decisions} decided twice, exit codes {report.exit_codes}"
    )
    figures |= {
        # Undecided items once the stream drained (entries still unread are counted in lag_left).
        "worker_lost_items": float(report.lost_items - report.lag_left),
        "worker_duplicate_decisions": float(report.duplicate_decisions),
        "worker_dead_letters": float(report.dead_letters),
        "worker_pending_left": float(report.pending_left),
        "worker_lag_left": float(report.lag_left),
        "worker_kill_items": float(report.items),
        "worker_kill_seconds": report.seconds,
    }
    return figures
