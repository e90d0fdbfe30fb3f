"""Issue 17 as the product's own tests: the bad-input corpus against a real server, stored records
that always serve back (including rows poisoned before the edge checks existed), exceptions that
never cost the client its connection, and a PostgreSQL restart under load (503, never 500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import create_engine, text
from support import require_service, serve_app

from warden.bench.bad_input import describe, nested_json, run_probes, summary
from warden.content import CLIPPED_MARKER, JSON_DEPTH_CEILING, Content, clip_json
from warden.serve import create_app
from warden.serve.errors import install_error_handlers
from warden.serve.middleware import CatchAllMiddleware
from warden.settings import Settings
from warden.store.engine import normalize_url


@dataclass
class Running:
    url: str
    app: FastAPI
    settings: Settings
    keys: dict[str, str]

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=60
        )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("reliability")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        pipeline={"batch_max_wait_ms": 10.0},
        media={"store_dir": root / "media"},
    )
    app = create_app(settings)
    with serve_app(app) as url:
        admin = (root / "bootstrap-admin.key").read_text().strip()
        keys = {"admin": admin}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            for role in ("client", "reviewer"):
                r = c.post("/v1/admin/api-keys", json={"name": f"rel-{role}", "role": role})
                assert r.status_code == 201, r.text
                keys[role] = r.json()["key"]
        yield Running(url, app, settings, keys)


# -- the corpus ------------------------------------------------------------------------------------


def test_every_bad_input_probe_gets_its_4xx_and_the_server_keeps_serving(running: Running) -> None:
    results = run_probes(running.url, running.keys)
    figures = summary(results)
    assert figures["bad_input_cases"] >= 40
    assert figures["bad_input_server_errors"] == 0, describe(results)
    assert figures["bad_input_unexpected_status"] == 0, describe(results)
    with running.client("client") as c:  # and it still moderates
        assert (
            c.post("/v1/moderate", json={"id": "after-corpus", "text": "have a nice day"}).status_code == 200
        )


# -- stored records always serve back --------------------------------------------------------------


def test_clip_json_keeps_shallow_values_and_clips_deep_ones() -> None:
    shallow = {"a": [1, 2.5, {"b": None, "c": "x"}], "d": True}
    assert clip_json(shallow, 10) == shallow
    clipped = clip_json(nested_json(50), 5)
    node = clipped
    for _ in range(5):
        node = node["a"]
    assert node == CLIPPED_MARKER.format(depth=5)
    assert clip_json({"x": float("nan"), "y": [float("inf")]}, 5) == {"x": None, "y": [None]}
    clip_json(nested_json(100_000), JSON_DEPTH_CEILING)  # iterative: no RecursionError at any depth


def test_content_refuses_metadata_no_serialiser_could_write_back() -> None:
    with pytest.raises(ValueError, match="nested more than"):
        Content(id="deep", text="hi", metadata=nested_json(JSON_DEPTH_CEILING + 5))
    Content(id="ok", text="hi", metadata=nested_json(JSON_DEPTH_CEILING - 2))


def test_records_at_the_limits_round_trip_through_every_read_endpoint(running: Running) -> None:
    limits = running.settings.limits
    pad = "m" * (limits.max_metadata_bytes // 2)
    metadata = {"deep": nested_json(limits.max_metadata_depth - 2), "pad": pad}
    item = {
        "id": "r" * limits.max_id_chars,
        "text": "you are all idiots " * (limits.max_text_chars // 19),
        "metadata": metadata,
        "author_id": "a" * 256,
        "context": "c" * 20_000,
    }
    with running.client("client") as c:
        r = c.post("/v1/moderate", json=item)
        assert r.status_code == 200, r.text
        decision = r.json()["decisions"][0]
        assert c.get(f"/v1/decisions/{decision['decision_id']}").json() == decision
        assert c.get("/v1/decisions", params={"content_id": item["id"]}).json() == decision
        r = c.post(
            "/v1/appeals",
            json={
                "decision_id": decision["decision_id"],
                "appellant": "p" * 256,
                "reason": "w" * 4_000,
                "content": item,
            },
        )
        assert r.status_code == 201, r.text
        appeal = r.json()
        assert c.get(f"/v1/appeals/{appeal['id']}").json() == appeal
    with running.client("reviewer") as reviewer:  # the appeal's task, leased and decided, note at its limit
        leased = reviewer.post("/v1/review/lease", json={"queue": "appeals"})
        assert leased.status_code == 200, leased.text
        task = leased.json()["task"]
        assert task is not None and task["metadata"] == metadata
        r = reviewer.post(
            f"/v1/review/tasks/{task['id']}/decision", json={"action": "uphold", "note": "n" * 4_000}
        )
        assert r.status_code == 200, r.text
        appeal_task = task["id"]
    with running.client("admin") as admin:
        gold_item = {**item, "id": "g" * limits.max_id_chars}
        r = admin.post(
            "/v1/review/gold", json={"item": gold_item, "action": "remove", "categories": ["harassment"]}
        )
        assert r.status_code == 201, r.text
        task = r.json()
        assert task["metadata"] == metadata
        again = admin.get(f"/v1/review/tasks/{task['id']}")
        assert again.status_code == 200 and again.json()["metadata"] == metadata
        listed = admin.get("/v1/review/tasks", params={"status": "all", "limit": 500})
        assert listed.status_code == 200, listed.text
        bank = admin.post(
            "/v1/banks", json={"name": "limits-bank", "category": "extremism", "description": "d" * 2_000}
        )
        assert bank.status_code in (201, 409), bank.text
        entry = admin.post(
            "/v1/banks/limits-bank/entries",
            json={"entries": [{"signal_type": "md5", "value": "0" * 32, "source": "s" * 256}]},
        )
        assert entry.status_code in (200, 201), entry.text
        assert admin.get("/v1/banks/limits-bank/entries").status_code == 200
        assert admin.get("/v1/review/stats").status_code == 200
        labels = admin.get(f"/v1/review/tasks/{appeal_task}/labels")
        assert labels.status_code == 200 and labels.json()[0]["note"] == "n" * 4_000
        assert admin.get("/v1/review/labels").status_code == 200
        assert admin.get("/v1/policies", params={"include_yaml": True}).status_code == 200


def test_a_row_poisoned_before_the_edge_checks_shows_clipped_instead_of_failing(running: Running) -> None:
    with running.client("admin") as admin:
        r = admin.post("/v1/review/gold", json={"item": {"id": "poisoned", "text": "hi"}, "action": "allow"})
        assert r.status_code == 201, r.text
        task_id = r.json()["id"]
    # Write what an older release accepted: metadata 400 levels deep, straight into the row.
    engine = create_engine(normalize_url(running.settings.database_url))
    with engine.begin() as conn:
        snapshot = json.loads(
            conn.execute(
                text("SELECT snapshot FROM review_tasks WHERE id = :id"), {"id": task_id}
            ).scalar_one()
        )
        snapshot["metadata"] = {"thread": nested_json(400)}
        conn.execute(
            text("UPDATE review_tasks SET snapshot = :s WHERE id = :id"),
            {"s": json.dumps(snapshot), "id": task_id},
        )
    engine.dispose()
    with running.client("admin") as admin:
        one = admin.get(f"/v1/review/tasks/{task_id}")
        assert one.status_code == 200, one.text
        assert CLIPPED_MARKER.format(depth=JSON_DEPTH_CEILING) in one.text
        listed = admin.get("/v1/review/tasks", params={"status": "all", "limit": 500})
        assert listed.status_code == 200, listed.text
        console = admin.get("/console/")
        assert console.status_code < 500


# -- exceptions never reset the connection ---------------------------------------------------------


def test_an_unhandled_exception_answers_500_and_keeps_the_connection() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/port")
    def port(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"port": request.client.port}

    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        before = client.get("/port").json()["port"]
        r = client.get("/boom")
        assert r.status_code == 500 and r.json()["error"]["type"] == "internal_error"
        assert "a bug" not in r.text  # internals stay in the log
        assert r.headers.get("connection", "").lower() != "close"
        assert client.get("/port").json()["port"] == before  # the same TCP connection


def test_readyz_reports_the_database_and_the_batcher(running: Running) -> None:
    r = httpx.get(running.url + "/readyz")
    assert r.status_code == 200 and r.json() == {
        "status": "ready",
        "checks": {"database": "ok", "batcher": "ok"},
    }


# -- the database goes away under load -------------------------------------------------------------


@pytest.mark.postgres
def test_a_postgres_restart_under_load_answers_503_never_500_and_recovers(tmp_path: Path) -> None:
    from warden.bench.pg_restart import run_restart_scenario
    from warden.store.private_postgres import PostgresBinariesMissing

    try:
        report = run_restart_scenario(tmp_path, clients=4, before_s=3.0, down_s=3.0, after_s=6.0)
    except PostgresBinariesMissing as exc:
        require_service(str(exc))
        return
    figures = report.figures()
    assert report.server_errors == 0, (figures, report.errors[:5])
    assert figures["pg_restart_unavailable_503"] > 0, figures  # the outage was seen, and answered 503
    assert figures["pg_restart_missing_retry_after"] == 0, figures
    assert figures["pg_restart_readyz_503"] > 0, figures
    assert figures["pg_restart_recovery_s"] < 10, figures  # no server restart needed
    assert report.acknowledged > 0 and figures["pg_restart_lost_acknowledged"] == 0, figures
    assert report.audit_chain_ok, report.errors


@pytest.mark.parametrize(("configured", "secure"), [(True, True), (None, False), (False, False)])
def test_console_cookies_can_be_forced_secure_behind_a_tls_proxy(
    running: Running, configured: bool | None, secure: bool
) -> None:
    console = running.app.state.warden_console  # what settings.review.console_cookie_secure sets
    saved, console.cookie_secure = console.cookie_secure, configured
    try:
        r = httpx.get(running.url + "/console/login")  # plain http, as behind a proxy that terminated TLS
    finally:
        console.cookie_secure = saved
    cookie = r.headers.get("set-cookie", "")
    assert cookie, r.text
    assert ("; secure" in cookie.lower()) is secure, cookie
