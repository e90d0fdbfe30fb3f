"""The graph router through a real uvicorn server on 127.0.0.1 (auth with real API keys in SQLite),
and the `warden graph` Typer commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import typer
from fastapi import FastAPI
from support import serve_app
from typer.testing import CliRunner

from warden.cli.graph import graph_app
from warden.graph.service import GraphService
from warden.serve.errors import install_error_handlers
from warden.serve.graph_api import router
from warden.settings import Settings
from warden.store import Store

T0 = 1_700_000_000


def _events(prefix: str = "bot", accounts: int = 5, targets: int = 12) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}{a}-{t}",
            "actor": f"{prefix}{a}",
            "target": f"acct{t}",
            "kind": "rate",
            "weight": 10,
            "timestamp": T0 + 30 * a + t,
        }
        for a in range(accounts)
        for t in range(targets)
    ]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path_factory.mktemp("graph-api") / "warden.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    keys = {role: store.create_api_key(f"graph-{role}", role) for role in ("admin", "client", "reviewer")}
    app = FastAPI()
    install_error_handlers(app)
    # What require_roles reads; the real app sets the full AppState here.
    app.state.warden = SimpleNamespace(settings=Settings(auth_enabled=True), store=store)
    app.state.warden_graph = GraphService()
    app.include_router(router)
    with serve_app(app, lifespan="off") as url:
        yield url, keys
    store.close()


def _client(api: tuple[str, dict[str, str]], role: str | None) -> httpx.Client:
    url, keys = api
    headers = {"Authorization": f"Bearer {keys[role]}"} if role else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def test_ingest_roles_and_row_errors(api):
    with _client(api, None) as anonymous:
        assert anonymous.post("/v1/graph/events", json={"events": _events()}).status_code == 401
    with _client(api, "reviewer") as reviewer:
        r = reviewer.post("/v1/graph/events", json={"events": _events()})
        assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden"
    with _client(api, "client") as client:
        bad = [
            {"event_id": "x1", "actor": "a", "target": "b", "kind": "poke", "timestamp": T0},
            {
                "event_id": "x2",
                "actor": "a",
                "target": "b",
                "kind": "rate",
                "weight": "NaN?",
                "timestamp": T0,
            },
            {"event_id": "bot0-0", "actor": "a", "target": "b", "kind": "like", "timestamp": T0},
        ]
        r = client.post("/v1/graph/events", json={"events": _events() + bad})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["accepted"] == 60 and body["rejected"] == 3
        assert [e["index"] for e in body["errors"]] == [60, 61, 62]
        assert "unknown interaction type" in body["errors"][0]["error"]
        assert body["errors"][2]["error"] == "duplicate event_id 'bot0-0'"
        assert client.post("/v1/graph/events", json={"events": []}).status_code == 422
        assert client.post("/v1/graph/events", json={"rows": []}).status_code == 422


def test_account_risk_and_clusters(api):
    with _client(api, "admin") as admin:
        admin.post("/v1/graph/events", json={"events": _events("ring")})
        r = admin.get("/v1/graph/accounts/ring0")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["risk"] >= 0.7
        group = body["evidence"]["detectors"]["coordination"]["evidence"]["group"]
        assert group["size"] >= 5
        assert admin.get("/v1/graph/accounts/nobody").status_code == 404
        clusters = admin.get("/v1/graph/clusters").json()["clusters"]
        assert clusters and clusters[0]["shared_targets"][0]["target"].startswith("acct")
    with _client(api, "client") as client:
        assert client.post("/v1/graph/labels", json={"labels": {"ring0": "bad"}}).status_code == 403
    with _client(api, "reviewer") as reviewer:
        assert reviewer.get("/v1/graph/accounts/ring0?evidence=false").json()["evidence"] == {}


def test_labels_endpoint(api):
    with _client(api, "admin") as admin:
        assert admin.post("/v1/graph/events", json={"events": _events(prefix="lab")}).status_code == 200
        before = admin.get("/v1/graph/accounts/lab1").json()["model"]
        labels = {
            "lab0": "bad",
            "lab1": "bad",
            "lab2": "bad",
            "acct0": "good",
            "acct1": "good",
            "acct2": "good",
        }
        r = admin.post("/v1/graph/labels", json={"labels": labels})
        assert r.status_code == 200 and r.json() == {"labelled": 6, "bad": 3}
        after = admin.get("/v1/graph/accounts/lab1").json()
        assert after["known_label"] == 1
        # Three known accounts per class: the label-free fallback gives way to the stacked model.
        assert before.startswith("max") and after["model"].startswith("combined")
        r = admin.post("/v1/graph/labels", json={"labels": {"bot1": "perhaps"}})
        assert r.status_code == 422


def test_cli_ingest_score_clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WARDEN_GRAPH__PATH", raising=False)
    app = typer.Typer()
    app.add_typer(graph_app, name="graph")
    runner = CliRunner()
    events = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in _events()] + ['{"actor": "a", "kind": "like"}']
    events.write_text("\n".join(lines) + "\n")
    graph = tmp_path / "graph.npz"
    r = runner.invoke(app, ["graph", "ingest", str(events), "--graph", str(graph)])
    assert r.exit_code == 0, r.output
    assert "ingested 60 event(s), rejected 1" in r.output and "target is missing" in r.output
    r = runner.invoke(app, ["graph", "clusters", "--graph", str(graph), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["size"] == 5
    r = runner.invoke(app, ["graph", "score", "--graph", str(graph), "--account", "bot2"])
    assert r.exit_code == 0 and json.loads(r.stdout)["risk"] >= 0.7
    r = runner.invoke(app, ["graph", "score", "--graph", str(graph), "--top", "3"])
    assert r.exit_code == 0 and "bot" in r.stdout
    r = runner.invoke(app, ["graph", "score", "--graph", str(tmp_path / "none.npz")])
    assert r.exit_code == 2 and "no graph yet" in r.output
