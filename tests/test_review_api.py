"""Human review over HTTP: a real uvicorn server with the real moderator and SQLite. Items moderated
through /v1/moderate land in the QA queue, two reviewer keys lease and decide them, a client files an
appeal that a reviewer reverses (GET /v1/decisions shows it), gold media is served to reviewers, roles
are enforced, and the `warden review` CLI reads the same database."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import serve_app
from typer.testing import CliRunner

from warden.cli import app as cli_app
from warden.serve import create_app
from warden.serve.app import AppState
from warden.settings import MediaSettings, ReviewSettings, Settings, get_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@dataclass
class ReviewServer:
    url: str
    state: AppState
    db_url: str
    keys: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=60
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewServer]:
    root = tmp_path_factory.mktemp("warden-review")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        # Every automated decision is sampled for QA so moderated items reach a queue deterministically.
        review=ReviewSettings(qa_sample_rate=1.0, qa_reviews=2, gold_rate=0.0),
        # No media analysis needed: gold media goes straight to the media store reviewers read from.
        media=MediaSettings(enabled=False, store_dir=root / "media"),
        pipeline={"enable_encoder": False, "enable_multilingual": False},
    )
    application = create_app(settings)
    with serve_app(application) as url:
        keys = {"admin": (root / "bootstrap-admin.key").read_text().strip()}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['admin']}"}) as c:
            for name, role in (("client", "client"), ("rev-1", "reviewer"), ("rev-2", "reviewer")):
                r = c.post("/v1/admin/api-keys", json={"name": name, "role": role})
                assert r.status_code == 201, r.text
                keys[name] = r.json()["key"]
        yield ReviewServer(url, application.state.warden, settings.database_url, keys)


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _moderate(server: ReviewServer, text: str, **fields: Any) -> dict[str, Any]:
    with server.client("client") as c:
        r = c.post("/v1/moderate", json={"id": _uid("item"), "text": text, **fields})
    assert r.status_code == 200, r.text
    decision: dict[str, Any] = r.json()["decisions"][0]
    return decision


def _lease(server: ReviewServer, who: str, queue: str) -> dict[str, Any] | None:
    with server.client(who) as c:
        r = c.post("/v1/review/lease", json={"queue": queue})
    assert r.status_code == 200, r.text
    task: dict[str, Any] | None = r.json()["task"]
    return task


def test_moderated_item_is_reviewed_twice_and_counted(server: ReviewServer) -> None:
    decision = _moderate(server, "Thanks for the recipe, the cake turned out great!", metadata={"views": 9})
    assert decision["action"] == "allow"
    with server.client("rev-1") as c:
        listed = c.get("/v1/review/tasks", params={"queue": "qa"}).json()
        mine = [t for t in listed if t["decision_id"] == decision["decision_id"]]
        assert len(mine) == 1 and mine[0]["text"].startswith("Thanks for the recipe")
        assert mine[0]["reviews_required"] == 2 and mine[0]["reach"] == pytest.approx(2.0)
        queues = {q["name"]: q for q in c.get("/v1/review/queues").json()}
        assert queues["qa"]["pending"] >= 1 and set(queues) >= {
            "review",
            "severe",
            "qa",
            "appeals",
            "relabel",
        }
    # Resubmitting the same item (a client retry) does not queue it again.
    with server.client("client") as c:
        r = c.post(
            "/v1/moderate",
            json={"id": decision["content_id"], "text": mine[0]["text"], "metadata": {"views": 9}},
        )
        assert r.status_code == 200
    with server.client("rev-1") as c:
        again = [
            t
            for t in c.get("/v1/review/tasks", params={"queue": "qa", "limit": 500}).json()
            if t["content_id"] == decision["content_id"]
        ]
        assert len(again) == 1

    # Work the QA queue until this item comes up for both reviewers (other tests may add items).
    task_id = mine[0]["id"]
    for who in ("rev-1", "rev-2"):
        while (task := _lease(server, who, "qa")) is not None:
            with server.client(who) as c:
                r = c.post(f"/v1/review/tasks/{task['id']}/decision", json={"action": "allow"})
                assert r.status_code == 200, r.text
                label = r.json()
            if task["id"] == task_id:
                assert label["reviewer"] == f"apikey:{who}"
                assert label["task_complete"] is (who == "rev-2")
                break
    with server.client("rev-1") as c:
        assert c.get(f"/v1/review/tasks/{task_id}").json()["status"] == "done"
        r = c.post(f"/v1/review/tasks/{task_id}/decision", json={"action": "allow"})
        assert r.status_code == 409 and r.json()["error"]["type"] == "conflict"
        assert c.post("/v1/review/tasks/nope/decision", json={"action": "allow"}).status_code == 404
        assert c.get("/v1/review/stats").status_code == 403  # admin only
    with server.client("admin") as c:
        r = c.get(f"/v1/review/tasks/{task_id}/labels")
        assert [lab["reviewer"] for lab in r.json()] == ["apikey:rev-1", "apikey:rev-2"]
        stats = c.get("/v1/review/stats").json()
    assert stats["agreement"]["items"] >= 1
    [allow] = [e for e in stats["automation"] if e["action"] == "allow" and e["category"] is None]
    assert allow["agreed"] == allow["items"] >= 1 and 0 < allow["low"] <= allow["precision"] == 1.0


def test_appeal_reversal_shows_in_the_decision(server: ReviewServer) -> None:
    text = "You are a worthless idiot and everyone hates you"
    decision = _moderate(server, text)
    decision_id = decision["decision_id"]
    # Reverse whatever automation did: to allow when it acted, else to a removal for harassment.
    answer = (
        {"action": "reverse"}
        if decision["action"] != "allow"
        else {"action": "remove", "categories": ["harassment"]}
    )
    expected = "allow" if decision["action"] != "allow" else "remove"
    body = {
        "decision_id": decision_id,
        "appellant": "user-42",
        "reason": "I was joking with a friend",
        "content": {"id": decision["content_id"], "text": text},  # as judged: shown to the reviewer
    }
    with server.client("rev-1") as c:
        assert c.post("/v1/appeals", json=body).status_code == 403  # the platform files appeals
    with server.client("client") as c:
        r = c.post("/v1/appeals", json=body)
        assert r.status_code == 201, r.text
        appeal = r.json()
        assert appeal["status"] == "open" and appeal["original_action"] == decision["action"]
        assert c.post("/v1/appeals", json=body).status_code == 409
        assert c.post("/v1/appeals", json={**body, "decision_id": "nope"}).status_code == 404
        assert c.post("/v1/appeals", json={**body, "reason": ""}).status_code == 422
        altered = {**body, "content": {"id": decision["content_id"], "text": "something else"}}
        assert c.post("/v1/appeals", json=altered).status_code == 422  # not the item that was judged
    task = _lease(server, "rev-2", "appeals")
    assert task is not None and task["appeal"]["appeal_id"] == appeal["id"]
    assert task["appeal"]["reason"] == "I was joking with a friend" and task["text"].startswith("You are")
    with server.client("rev-2") as c:
        r = c.post(f"/v1/review/tasks/{task['id']}/decision", json={**answer, "note": "context"})
        assert r.status_code == 200, r.text
        assert r.json()["outcome"] == "reverse" and r.json()["decision_updated"]
    with server.client("client") as c:
        current = c.get(f"/v1/decisions/{decision_id}").json()
        assert current["action"] == expected and current["decision_id"] == decision_id
        assert current["stages"][-1]["name"] == "human_review"
        resolved = c.get(f"/v1/appeals/{appeal['id']}").json()
        assert resolved["status"] == "reversed" and resolved["resolved_by"] == "apikey:rev-2"
    trail = {(row["action"], row["actor"]) for row in server.state.store.list_audit(limit=200)}
    assert ("appeal.create", "apikey:client") in trail and ("appeal.reverse", "apikey:rev-2") in trail
    assert ("decision.revise", "apikey:rev-2") in trail


def test_gold_media_release_and_roles(server: ReviewServer) -> None:
    content_id = _uid("gold")
    gold = {
        "item": {
            "id": content_id,
            "kind": "image",
            "text": "",
            "hashes": {"md5": ["0" * 32]},
            "media": [{"data": base64.b64encode(PNG).decode(), "content_type": "image/png"}],
        },
        "action": "allow",
    }
    with server.client("rev-1") as c:
        assert c.post("/v1/review/gold", json=gold).status_code == 403
    with server.client("admin") as c:
        r = c.post("/v1/review/gold", json=gold)
        assert r.status_code == 201, r.text
        task = r.json()
    assert task["gold"] is True
    [ref] = task["media"]
    assert ref["stored"] and ref["kind"] == "image"
    with server.client("rev-1") as c:
        r = c.get(f"/v1/review/media/{ref['sha256']}")
        assert r.status_code == 200 and r.content == PNG
        assert r.headers["content-type"] == "image/png" and r.headers["x-content-type-options"] == "nosniff"
        assert c.get(f"/v1/review/media/{'0' * 64}").status_code == 404
        assert c.get("/v1/review/media/not-a-digest").status_code == 422
        # Gold items never show in listings, and reviewers cannot tell one apart.
        listed = c.get("/v1/review/tasks", params={"status": "open", "limit": 500}).json()
        assert content_id not in {t["content_id"] for t in listed}
        seen = c.get(f"/v1/review/tasks/{task['id']}").json()
        assert seen["gold"] is False
    with server.client("client") as c:
        assert c.get("/v1/review/queues").status_code == 403

    # Release: a leased item goes back to the queue, once.
    _moderate(server, "See you at practice on Thursday")
    leased = _lease(server, "rev-1", "qa")
    assert leased is not None
    with server.client("rev-1") as c:
        assert c.post(f"/v1/review/tasks/{leased['id']}/release").status_code == 200
        assert c.post(f"/v1/review/tasks/{leased['id']}/release").status_code == 409
    with server.client("admin") as c:
        r = c.post("/v1/review/label-errors", json={"enqueue": False})
        assert r.status_code == 200 and r.json() == {"issues": []}  # too few labels per class yet
        bad = c.post("/v1/review/label-errors", json={"probabilities": {"x": {"spam_scam": 2.0}}})
        assert bad.status_code == 422
        labels = c.get("/v1/review/labels").json()
    assert all(row["source"] in ("review", "appeal") for row in labels)


def test_review_cli_reads_the_same_store(
    server: ReviewServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARDEN_DATABASE_URL", server.db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        res = runner.invoke(cli_app, ["review", "queues"])
        assert res.exit_code == 0, res.output
        assert "qa" in res.output and "appeals" in res.output
        res = runner.invoke(cli_app, ["review", "stats", "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["labels"] >= 2
        out = tmp_path / "labels.jsonl"
        res = runner.invoke(cli_app, ["review", "export-labels", "--out", str(out)])
        assert res.exit_code == 0, res.output
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert rows and {"content_id", "text", "categories", "action", "reviewer", "at", "source"} <= set(
            rows[0]
        )
        probs = tmp_path / "p.jsonl"
        probs.write_text('{"content_id": "a", "probabilities": {"spam_scam": 0.5}}\nnot json\n')
        res = runner.invoke(cli_app, ["review", "label-errors", "--probabilities", str(probs)])
        assert res.exit_code == 2 and "p.jsonl:2" in res.output
    finally:
        get_settings.cache_clear()
