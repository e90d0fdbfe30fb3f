"""The kill scenario, shared by the test suite and `make bench AREA=serve`.

Two `warden worker run` processes consume one stream fed at a steady rate; one of them is SIGKILLed
while it holds entries it has read and not acknowledged (mid-batch), `kills` times, and restarted
under the same consumer name; Redis (a private `redis-server` with an append-only file, as a
production Redis keeps its data) is restarted once in the middle. Afterwards every item must have
exactly one decision, nothing may be pending, and both workers must leave cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ..settings import StreamSettings
from ..store.engine import normalize_url
from .worker import connect, push_items, stream_status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A throw-away `redis-server` on a free port of 127.0.0.1, its data in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = Path(directory)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        # fsync on every write: a restart keeps every acknowledged XADD and XACK.
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = subprocess.Popen(["redis-server", *args], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                connect(self.url).ping()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Producer(threading.Thread):
    """Pushes items at a steady rate; a chunk that fails while Redis is away is pushed again (the
    repeats are the same items, which the workers must answer with the same decision)."""

    def __init__(self, url: str, stream: str, items: list[dict[str, str]], per_second: float) -> None:
        super().__init__(daemon=True)
        self.url, self.stream, self.items, self.per_second = url, stream, items, per_second
        self.retried_chunks = 0

    def run(self) -> None:
        client = connect(self.url)
        chunk = 20
        for start in range(0, len(self.items), chunk):
            while True:
                try:
                    push_items(client, self.stream, self.items[start : start + chunk])
                    break
                except Exception:  # noqa: BLE001 - Redis restarting: try again
                    self.retried_chunks += 1
                    time.sleep(0.2)
            time.sleep(chunk / self.per_second)


def start_worker(
    name: str, env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "warden.cli", "worker", "run", "--consumer", name],
        env=env,
        cwd=cwd,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def consumers(client: Any, settings: StreamSettings) -> dict[str, int]:
    """Consumer name -> entries it holds unacknowledged (empty while there is no group or Redis)."""
    try:
        return {
            c["name"]: int(c["pending"])
            for c in client.xinfo_consumers(settings.input_stream, settings.group)
        }
    except Exception:  # noqa: BLE001 - no group yet, or Redis restarting
        return {}


def decision_counts(database_url: str) -> tuple[int, int]:
    """(decided content ids, content ids with more than one decision version)."""
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        decided = conn.execute(text("SELECT count(*) FROM decisions")).scalar_one()
        twice = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT content_id FROM decision_history"
                " GROUP BY content_id HAVING count(*) > 1) t"
            )
        ).scalar_one()
    engine.dispose()
    return int(decided), int(twice)


@dataclass
class KillReport:
    items: int
    kills: int
    lost_items: int
    duplicate_decisions: int
    output_decision_conflicts: int  # content ids whose output entries name two decision ids
    dead_letters: int
    pending_left: int
    lag_left: int  # entries never read when the scenario ended: not lost, not done (timed out)
    drained: bool
    exit_codes: list[int]
    seconds: float
    producer_retried_chunks: int
    logs: dict[str, str] = field(default_factory=dict)


def run_kill_scenario(
    items: list[dict[str, str]],
    database_url: str,
    workdir: Path,
    kills: int = 5,
    push_per_s: float = 25.0,
    restart_redis_after: int | None = 3,
    claim_idle_ms: int = 2000,
    seed: int = 7,
    env: dict[str, str] | None = None,
    timeout_s: float = 600.0,
) -> KillReport:
    """Run the scenario over `items` with a migrated, empty database at `database_url`."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    redis_dir = workdir / "redis"
    redis_dir.mkdir(exist_ok=True)
    server = PrivateRedis(redis_dir)
    server.start()
    settings = StreamSettings(redis_url=server.url, claim_idle_ms=claim_idle_ms)
    worker_env = {
        **(env if env is not None else os.environ),
        "WARDEN_DATABASE_URL": database_url,
        "WARDEN_STREAM__REDIS_URL": server.url,
        "WARDEN_STREAM__CLAIM_IDLE_MS": str(claim_idle_ms),
        "WARDEN_STREAM__READ_COUNT": "32",
        "WARDEN_REVIEW__ENABLED": "false",
    }
    rng = random.Random(seed)
    logs = {name: workdir / f"{name}.log" for name in ("w1", "w2")}
    workers = {name: start_worker(name, worker_env, logs[name]) for name in logs}
    client: Any = connect(server.url)  # Any: see StreamWorker.redis
    started = time.monotonic()
    done_kills = 0
    producer = Producer(server.url, settings.input_stream, items, push_per_s)
    codes: list[int] = []
    try:
        deadline = time.monotonic() + timeout_s
        while set(consumers(client, settings)) != set(workers):  # both loaded and reading
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start: " + _tails(logs))
            time.sleep(0.2)
        started = time.monotonic()
        producer.start()
        while done_kills < kills:
            # SIGKILL while w1 holds entries it has read and not acknowledged: mid-batch.
            while consumers(client, settings).get("w1", 0) == 0:
                if time.monotonic() > deadline or not producer.is_alive() and _drained(client, settings):
                    raise RuntimeError(f"w1 took no work after kill {done_kills}: " + _tails(logs))
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
            workers["w1"].send_signal(signal.SIGKILL)
            workers["w1"].wait(10)
            done_kills += 1
            if restart_redis_after is not None and done_kills == restart_redis_after:
                server.stop()  # Redis goes away while w2 is working, and comes back
                time.sleep(1.0)
                server.start()
            workers["w1"] = start_worker("w1", worker_env, logs["w1"])
        producer.join(timeout_s)
        n_unique = len({i["id"] for i in items})
        # The backlog may take a while on a loaded machine: the drain gets its own time budget.
        drain_deadline = time.monotonic() + timeout_s
        drained = False
        while time.monotonic() < drain_deadline:
            if decision_counts(database_url)[0] >= n_unique and _drained(client, settings):
                drained = True
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        time.sleep(1.0)
        for proc in workers.values():  # graceful drain: SIGTERM ends them cleanly
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(60) for proc in workers.values()]
        decided, twice = decision_counts(database_url)
        status = stream_status(client, settings)
        decision_ids: dict[str, set[str]] = {}
        for _, fields in client.xrange(settings.output_stream):
            decision_ids.setdefault(fields["content_id"], set()).add(fields["decision_id"])
        return KillReport(
            items=n_unique,
            kills=done_kills,
            lost_items=n_unique - decided,
            duplicate_decisions=twice,
            output_decision_conflicts=sum(len(v) > 1 for v in decision_ids.values()),
            dead_letters=int(status["dead_letters"]),
            pending_left=int((status["group"] or {}).get("pending") or 0),
            lag_left=int((status["group"] or {}).get("lag") or 0),
            drained=drained,
            exit_codes=codes,
            seconds=round(seconds, 1),
            producer_retried_chunks=producer.retried_chunks,
            logs={n: p.read_text(errors="replace") for n, p in logs.items()},
        )
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
        client.close()
        server.stop()


def _drained(client: Any, settings: StreamSettings) -> bool:
    group = stream_status(client, settings)["group"] or {}
    return group.get("pending") == 0 and group.get("lag") == 0


def _tails(logs: dict[str, Path]) -> str:
    return "\n".join(
        f"--- {n}\n{p.read_text(errors='replace')[-2000:]}" for n, p in logs.items() if p.exists()
    )
