"""A bounded Schemathesis run against a real server: every operation of the OpenAPI schema, with
examples, boundary coverage, random fuzzing and the stateful phase (links between operations),
checked for "not a server error". Shared by `tests/test_fuzz.py` (a short run in `make test`) and
`make bench AREA=reliability` (a long one: `fuzz_requests`, `fuzz_server_errors`).

Requests and 5xx are counted by the server itself (its Prometheus counters), so nothing depends on
parsing the fuzzer's report; the fuzzer's own exit status and summary are kept for the message.

The run's admin key must survive it: key revocation is excluded from the run (its refusals, such as
the last admin, are tested on their own), everything else an admin can do is fuzzed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Operations the run may not call: revoking keys would revoke the run's own key.
EXCLUDED_OPERATIONS = ("revoke_api_key_v1_admin_api_keys__name__delete",)


@dataclass
class FuzzReport:
    requests: int
    server_errors: int
    exit_code: int
    output_tail: str

    def figures(self) -> dict[str, float]:
        return {"fuzz_requests": float(self.requests), "fuzz_server_errors": float(self.server_errors)}


def server_counts(base_url: str) -> tuple[int, int]:
    """(requests served, responses >= 500) from the server's /metrics."""
    text = httpx.get(base_url + "/metrics", timeout=30).text
    requests = errors = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "warden_request_latency_seconds_count":
                requests += int(sample.value)
            elif sample.name == "warden_http_errors_total" and sample.labels.get("status", "").startswith(
                "5"
            ):
                errors += int(sample.value)
    return requests, errors


def _schemathesis() -> str:
    beside = Path(sys.executable).with_name("st")
    found = str(beside) if beside.exists() else shutil.which("st")
    if not found:
        raise RuntimeError("schemathesis is not installed (it is a dev dependency: make setup)")
    return found


def run_fuzz(
    base_url: str,
    admin_key: str,
    max_time_s: int,
    report_dir: Path,
    max_examples: int = 25,
    workers: int = 1,
    seed: int = 17,
    processes: int = 1,
) -> FuzzReport:
    """Run `processes` fuzzers at once (seeds `seed`, `seed + 1`, ...; one worker each: the
    fuzzer's threaded workers trip a CPython 3.11 AST race in its coverage phase)."""
    before_requests, before_errors = server_counts(base_url)
    command = [
        _schemathesis(), "run", f"{base_url}/openapi.json",
        "--header", f"Authorization: Bearer {admin_key}",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(max_examples),
        "--max-time", str(max_time_s),
        "--workers", str(workers),
        "--request-timeout", "60",
        "--continue-on-failure",
        "--suppress-health-check", "all",
        "--report", "junit",
        "--output-sanitize", "true",
        "--warnings", "off",
    ]  # fmt: skip
    for operation in EXCLUDED_OPERATIONS:
        command += ["--exclude-operation-id", operation]
    runs = []
    for n in range(processes):
        out = report_dir / f"run-{n}"
        out.mkdir(parents=True, exist_ok=True)
        args = [*command, "--seed", str(seed + n), "--report-dir", str(out)]
        runs.append(
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out)
        )
    outputs, exit_code = [], 0
    for run in runs:
        try:
            output, _ = run.communicate(timeout=max_time_s + 300)
        except subprocess.TimeoutExpired:
            run.kill()
            output, _ = run.communicate()
        outputs.append(output)
        exit_code = exit_code or run.returncode
    after_requests, after_errors = server_counts(base_url)
    return FuzzReport(
        requests=after_requests - before_requests - 1,  # minus the first /metrics read
        server_errors=after_errors - before_errors,
        exit_code=exit_code,
        output_tail="\n".join(o[-4000:] for o in outputs),
    )
