"""Request ids, JSON logs, OpenTelemetry spans per stage, and a Grafana dashboard that only names
metrics the server really exports."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support import REPO, serve_app

from warden.observability import TRACING, RequestIdFilter, configure_logging
from warden.serve import create_app
from warden.settings import LoggingSettings, Settings


@dataclass
class Running:
    url: str
    admin: str


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("observability")
    settings = Settings(database_url=f"sqlite:///{root / 'warden.db'}", pipeline={"batch_max_wait_ms": 5.0})
    with serve_app(create_app(settings)) as url:
        yield Running(url, (root / "bootstrap-admin.key").read_text().strip())


def test_every_response_carries_a_request_id(running: Running) -> None:
    given = httpx.get(running.url + "/healthz", headers={"X-Request-ID": "req-42.a:b"})
    assert given.headers["x-request-id"] == "req-42.a:b"
    fresh = httpx.get(running.url + "/v1/policies")  # an error answer too (401)
    assert fresh.status_code == 401 and re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    unsafe = httpx.get(running.url + "/healthz", headers={"X-Request-ID": "x" * 500})
    assert unsafe.headers["x-request-id"] != "x" * 500


def test_json_logs_carry_the_request_id(running: Running) -> None:
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(LoggingSettings(format="json", level="INFO"), stream=buffer)
    try:
        r = httpx.post(
            running.url + "/v1/admin/api-keys",
            json={"name": "logged-key", "role": "client"},
            headers={"Authorization": f"Bearer {running.admin}", "X-Request-ID": "trace-me-7"},
        )
        assert r.status_code == 201, r.text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    [created] = [r for r in records if "logged-key" in r["message"]]
    assert created["request_id"] == "trace-me-7" and created["level"] == "INFO"
    assert created["logger"] == "warden.serve" and created["time"].endswith("+00:00")


def test_json_logs_keep_extra_fields_and_leave_out_an_absent_request_id() -> None:
    buffer = io.StringIO()
    handler = configure_logging(LoggingSettings(format="json"), stream=buffer)
    try:
        logging.getLogger("warden.test").warning("shed %d items", 3, extra={"queue": "review"})
    finally:
        logging.getLogger().removeHandler(handler)
    [record] = [json.loads(line) for line in buffer.getvalue().splitlines() if "shed" in line]
    assert record["message"] == "shed 3 items" and record["queue"] == "review" and "request_id" not in record
    assert any(isinstance(f, RequestIdFilter) for f in handler.filters)


def test_spans_per_moderation_call_and_stage(running: Running) -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra (make setup installs it)")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    TRACING.tracer = provider.get_tracer("warden")  # what enable() does with the global provider
    try:
        key = httpx.post(
            running.url + "/v1/admin/api-keys",
            json={"name": "traced", "role": "client"},
            headers={"Authorization": f"Bearer {running.admin}"},
        ).json()["key"]
        r = httpx.post(
            running.url + "/v1/moderate",
            json={"items": [{"id": "span-1", "text": "hello there"}, {"id": "span-2", "text": "you idiot"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200, r.text
    finally:
        TRACING.disable()
    spans = exporter.get_finished_spans()
    [call] = [s for s in spans if s.name == "warden.moderate"]
    assert call.attributes is not None and call.attributes["warden.items"] == 2
    stages = [s for s in spans if s.name.startswith("warden.stage.")]
    assert {s.name for s in stages} >= {"warden.stage.text"}
    assert all(s.parent is not None and s.parent.span_id == call.context.span_id for s in stages)


def test_tracing_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_otel(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("opentelemetry"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_otel)
    with pytest.raises(RuntimeError, match=r"pip install 'warden\[otel\]'"):
        TRACING.enable()
    assert TRACING.tracer is None


def test_the_grafana_dashboard_names_only_exported_metrics(running: Running) -> None:
    dashboard = json.loads((REPO / "docs" / "grafana" / "warden-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(warden_[a-z_]+)", target["expr"])
    }
    # Every family the API server and the stream worker export, with the suffixes Prometheus adds.
    from warden.serve.metrics import Metrics
    from warden.stream.metrics import WorkerMetrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    exported: set[str] = set()
    for registry in (Metrics().registry, WorkerMetrics().registry):
        for family in registry.collect():
            exported |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    missing = used - exported
    assert used and not missing, missing
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
