"""`make bench AREA=reliability`: what issue 17 promised, measured against real servers.

- `fuzz_requests`, `fuzz_server_errors`: a long Schemathesis run (every operation, stateful phase);
- `bad_input_cases`, `bad_input_server_errors`: the bad-input corpus (`warden.bench.bad_input`);
- `metrics_growth_ratio_after_3000_unknown_methods`: /metrics size after 3,000 requests with random
  methods and paths over its size before (bounded label sets keep it at 1.0);
- `pg_restart_*`: a PostgreSQL restart under load (`warden.bench.pg_restart`);
- `audit_tampering_detected` (of 4 kinds): `warden.bench.reliability_audit`;
- `worst_media_peak_rss_mb`: the worst media input the limits allow (`warden.bench.reliability_media`).

WARDEN_BENCH_FUZZ_S sets the fuzzing time (default 900 s, two fuzzers at once).
"""

from __future__ import annotations

import os
import random
import string
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from ..serve.local import serve_in_thread
from ..settings import MediaSettings, PipelineSettings, Settings


def unknown_method_flood(base_url: str, total: int, clients: int = 8) -> int:
    """Send `total` unauthenticated requests with random method names and paths; the number of 5xx."""

    def junk(seed: int) -> int:
        rng = random.Random(seed)
        errors = 0
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for _ in range(total // clients):
                method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
                path = "/" + "".join(rng.choices(string.ascii_lowercase + "/", k=rng.randint(1, 30)))
                errors += client.request(method, path).status_code >= 500
        return errors

    with ThreadPoolExecutor(clients) as pool:
        return sum(pool.map(junk, range(clients)))


def metrics_growth_ratio(base_url: str) -> float:
    unknown_method_flood(base_url, 200)  # the fixed label values (and the scrape's own) exist from here on
    httpx.get(base_url + "/metrics")
    before = len(httpx.get(base_url + "/metrics").text)
    unknown_method_flood(base_url, 3_000)
    return len(httpx.get(base_url + "/metrics").text) / before


def _api_figures(workdir: Path, fuzz_s: int) -> dict[str, float]:
    from ..serve import create_app
    from .bad_input import run_probes, summary
    from .fuzz import run_fuzz

    settings = Settings(
        database_url=f"sqlite:///{workdir / 'warden.db'}",
        pipeline=PipelineSettings(batch_max_wait_ms=5.0),
        media=MediaSettings(store_dir=workdir / "media"),
    )
    with serve_in_thread(create_app(settings)) as url:
        admin = (workdir / "bootstrap-admin.key").read_text().strip()
        figures = {"metrics_growth_ratio_after_3000_unknown_methods": metrics_growth_ratio(url)}
        keys = {"admin": admin}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as client:
            for role in ("client", "reviewer"):
                r = client.post("/v1/admin/api-keys", json={"name": f"bench-{role}", "role": role})
                r.raise_for_status()
                keys[role] = r.json()["key"]
        figures.update(summary(run_probes(url, keys)))
        report_dir = workdir / "schemathesis"
        fuzz = run_fuzz(url, admin, fuzz_s, report_dir, processes=2)
        figures.update(fuzz.figures())
        figures["fuzz_seconds"] = float(fuzz_s)
    return figures


def run() -> dict[str, float]:
    from .pg_restart import run_restart_scenario
    from .reliability_audit import measure as audit_measure
    from .reliability_media import measure as media_measure

    fuzz_s = int(os.environ.get("WARDEN_BENCH_FUZZ_S", "900"))
    with tempfile.TemporaryDirectory(prefix="warden-bench-reliability-") as tmp:
        root = Path(tmp)
        for name in ("api", "pg", "audit", "media"):
            (root / name).mkdir()
        figures = _api_figures(root / "api", fuzz_s)
        figures.update(run_restart_scenario(root / "pg").figures())
        figures.update(audit_measure(root / "audit"))
        figures.update(media_measure(root / "media"))
    return figures
