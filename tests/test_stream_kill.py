"""The kill test: `warden worker` processes SIGKILLed mid-batch and restarted, and Redis itself
restarted once, lose no item and decide none twice (`warden/stream/chaos.py`, which `make bench
AREA=serve` runs at 10,000 items for `worker_lost_items` and `worker_duplicate_decisions`).

Real processes (`warden worker run`), a private `redis-server` on a free port of 127.0.0.1, and a
PostgreSQL test database (two processes write at once)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import require_service

from warden.store import Store
from warden.store.testing import ServiceUnavailable, drop_test_database, make_test_database_url
from warden.stream.chaos import run_kill_scenario

N_ITEMS = 2000  # pushed at 25/s: about 80 s of traffic, enough for 5 kills and restarts


@pytest.fixture
def pg_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        require_service("redis-server is not installed (apt-get install redis-server)")
    try:
        url = make_test_database_url("postgres")
    except ServiceUnavailable as exc:
        require_service(str(exc))
        raise
    store = Store(url)
    store.migrate()
    store.close()
    yield url
    drop_test_database(url)


def test_kill_workers_and_redis_lose_nothing_and_decide_nothing_twice(pg_url: str, tmp_path: Path) -> None:
    texts = [
        "Have a lovely weekend!",
        "you are a worthless idiot",
        "Buy cheap followers now",
        "Lunch at noon?",
    ]
    items = [{"id": f"k-{i}", "text": f"{texts[i % 4]} ({i})"} for i in range(N_ITEMS)]
    report = run_kill_scenario(items, pg_url, tmp_path, kills=5, push_per_s=25.0, restart_redis_after=3)
    context = "\n".join(f"--- {n}\n{log[-3000:]}" for n, log in report.logs.items())
    assert report.kills == 5 and report.drained, context
    assert report.lost_items == 0 and report.duplicate_decisions == 0, context
    assert report.pending_left == 0 and report.dead_letters == 0, context
    # The output stream may repeat an entry (a kill between storing and acknowledging, a producer
    # retry), never with another decision.
    assert report.output_decision_conflicts == 0
    assert report.exit_codes == [0, 0], context  # SIGTERM: a clean drain
    logs = report.logs["w1"] + report.logs["w2"]
    assert "redis unavailable" in report.logs["w2"], context  # it saw Redis go, and carried on
    # What w1 held when it died was taken over: by w2 (idle entries) or by w1 once restarted.
    assert "claimed" in logs, context
