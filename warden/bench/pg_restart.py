"""The database-restart scenario, shared by the test suite and `make bench AREA=reliability`.

A real `warden serve` process on a private PostgreSQL cluster takes steady moderation traffic from
keep-alive clients while the database is stopped (fast shutdown: every connection dropped), kept
down for a while and started again. What must hold: no 500 and no reset connection at any point
(the outage answers 503 with Retry-After), `/readyz` reports the outage and the recovery, traffic
recovers without restarting the server, and every decision acknowledged with a 200 is stored.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from ..settings import AuditSettings
from ..store import Store
from ..store.engine import normalize_url
from ..store.private_postgres import PrivatePostgres, free_port

TEXTS = (
    "Thanks for the detailed write-up, it helped a lot.",
    "You are a worthless idiot and everyone hates you.",
    "The meeting moved to Thursday at 3 pm.",
    "I will find where you live and hurt you.",
)


@dataclass
class RestartReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    resets: int = 0  # connection reset, closed or refused by the server
    missing_retry_after: int = 0  # 503/429 answers without Retry-After
    readyz: Counter[int] = field(default_factory=Counter)
    recovery_s: float = float("nan")  # database back up -> first 200
    acknowledged: int = 0
    lost_acknowledged: int = 0  # answered 200 but not in the database afterwards
    audit_chain_ok: bool = False  # transactions cut by the outage left no broken link
    errors: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        """What a client cannot handle by retrying politely: 5xx other than 503, and resets."""
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503) + self.resets

    def figures(self) -> dict[str, float]:
        return {
            "pg_restart_requests": float(self.requests),
            "pg_restart_server_errors": float(self.server_errors),
            "pg_restart_unavailable_503": float(self.statuses.get(503, 0)),
            "pg_restart_missing_retry_after": float(self.missing_retry_after),
            "pg_restart_readyz_503": float(self.readyz.get(503, 0)),
            "pg_restart_recovery_s": self.recovery_s,
            "pg_restart_lost_acknowledged": float(self.lost_acknowledged),
            "pg_restart_audit_chain_ok": float(self.audit_chain_ok),
        }


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"warden serve exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"warden serve was not ready within {timeout_s:.0f} s")


def run_restart_scenario(
    workdir: Path | None = None,
    clients: int = 6,
    before_s: float = 4.0,
    down_s: float = 3.0,
    after_s: float = 8.0,
) -> RestartReport:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="warden-pg-restart-"))
    report = RestartReport()
    with PrivatePostgres(workdir) as pg:
        # The server and this setup write audit rows to one chain: one key for both.
        audit = AuditSettings(key_file=workdir / "audit.key")
        store = Store(pg.url, audit_key=audit.resolve_key())
        store.migrate()
        key = store.create_api_key("pg-restart-client", "client", actor="bench")
        store.close()
        port = free_port()
        env = dict(
            os.environ,
            WARDEN_DATABASE_URL=pg.url,
            WARDEN_AUTH_ENABLED="true",
            WARDEN_AUDIT__KEY_FILE=str(audit.key_file),
        )
        log = (workdir / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "warden.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        lock = threading.Lock()
        stop = threading.Event()
        acked: list[str] = []
        back_up_at: list[float] = []
        first_ok_after: list[float] = []
        try:
            _wait_ready(base, proc, 300)

            def client(n: int) -> None:
                headers = {"Authorization": f"Bearer {key}"}
                sequence = 0
                with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                    while not stop.is_set():
                        sequence += 1
                        content_id = f"pgr-{n}-{sequence}"
                        body = {"id": content_id, "text": TEXTS[sequence % len(TEXTS)]}
                        try:
                            r = http.post("/v1/moderate", json=body)
                        except httpx.TransportError as exc:
                            with lock:
                                report.requests += 1
                                report.resets += 1
                                report.errors.append(f"{type(exc).__name__}: {exc}")
                            continue
                        with lock:
                            report.requests += 1
                            report.statuses[r.status_code] += 1
                            if r.status_code in (429, 503) and "retry-after" not in r.headers:
                                report.missing_retry_after += 1
                            if r.status_code == 200:
                                acked.append(content_id)
                                if back_up_at and not first_ok_after:
                                    first_ok_after.append(time.monotonic())
                            elif r.status_code >= 500 and r.status_code != 503:
                                report.errors.append(f"{r.status_code}: {r.text[:200]}")
                        if r.status_code in (429, 503):
                            time.sleep(min(float(r.headers.get("retry-after", "1")), 1.0) / 4)

            def probe() -> None:
                with httpx.Client(base_url=base, timeout=10) as http:
                    while not stop.is_set():
                        try:
                            status = http.get("/readyz").status_code
                        except httpx.TransportError:
                            status = -1
                        with lock:
                            report.readyz[status] += 1
                        time.sleep(0.25)

            threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
            threads.append(threading.Thread(target=probe, daemon=True))
            for thread in threads:
                thread.start()
            time.sleep(before_s)
            pg.restart(down_s=down_s)
            back_up_at.append(time.monotonic())
            time.sleep(after_s)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            if first_ok_after:
                report.recovery_s = first_ok_after[0] - back_up_at[0]
            report.acknowledged = len(acked)
            report.lost_acknowledged = _missing(pg.url, acked)
            with Store(pg.url, audit_key=audit.resolve_key()) as check:
                verification = check.verify_audit()
            report.audit_chain_ok = verification.ok
            if not verification.ok:
                report.errors.append(verification.describe())
        finally:
            stop.set()
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    return report


def _missing(url: str, content_ids: list[str]) -> int:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT content_id FROM decisions"))}
    finally:
        engine.dispose()
    return len(set(content_ids) - stored)
