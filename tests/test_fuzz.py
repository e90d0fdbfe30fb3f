"""A bounded Schemathesis run against the real server (every operation, stateful phase on): no
response may be a 5xx. The long run (20,000+ requests) is `make bench AREA=reliability`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support import serve_app

from warden.bench.fuzz import run_fuzz
from warden.serve import create_app
from warden.settings import Settings

# The make-test budget for the fuzzer (the issue allows 3 minutes).
MAX_TIME_S = 120


def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency (make setup)")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'warden.db'}",
        pipeline={"batch_max_wait_ms": 5.0},
        media={"store_dir": tmp_path / "media"},
    )
    with serve_app(create_app(settings)) as url:
        admin = (tmp_path / "bootstrap-admin.key").read_text().strip()
        report_dir = tmp_path / "schemathesis"
        report_dir.mkdir()
        report = run_fuzz(url, admin, MAX_TIME_S, report_dir)
        assert report.requests >= 1_000, report.output_tail  # it really ran
        assert report.server_errors == 0, report.output_tail
        # The run's key survived and the server still serves.
        r = httpx.get(url + "/v1/policies", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
