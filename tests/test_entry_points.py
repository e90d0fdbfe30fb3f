"""One composition root: the CLI (`warden moderate`), the HTTP API (a real server on 127.0.0.1)
and the Python API (`warden.open`) give identical decisions for the same text, image and
author-linked items: same action, categories, reasons and versions, the graph and bank stages
included in every one."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from media_samples import VIOLENT, encode, text_image
from support import serve_app
from typer.testing import CliRunner

import warden
from warden.cli import app as cli
from warden.graph.service import GraphService
from warden.serve.app import create_app
from warden.settings import Settings, get_settings

T0 = 1_700_000_000
BORDERLINE = "nobody likes you, loser"


def _graph_file(path: Path) -> Path:
    """Six accounts rating the same twelve targets in lockstep, beside thirty ordinary ones."""
    lockstep = [
        {"event_id": f"b{a}-{t}", "actor": f"bot{a}", "target": f"acct{t}", "kind": "rate",
         "weight": 10, "timestamp": T0 + 30 * a + t}
        for a in range(6) for t in range(12)
    ]  # fmt: skip
    organic = [
        {"event_id": f"n{a}-{t}", "actor": f"user{a}", "target": f"acct{(a * 7 + t * 3) % 40}",
         "kind": "rate", "weight": 5, "timestamp": T0 + 86_400 * t + 5_000 * a}
        for a in range(30) for t in range(4)
    ]  # fmt: skip
    service = GraphService()
    assert not service.ingest(lockstep + organic).errors
    service.graph.save(path)
    return path


def _view(decision: dict[str, Any]) -> dict[str, Any]:
    """What must agree: action, per-category scores, reasons (with evidence) and versions."""
    return {
        "action": decision["action"],
        "flagged": decision["flagged"],
        "categories": {
            c: (round(s["probability"], 4), s["flagged"]) for c, s in sorted(decision["categories"].items())
        },
        "reasons": decision["reasons"],
        "versions": decision["versions"],
        "stages": [s["name"] for s in decision["stages"]],
    }


def test_cli_http_and_python_give_the_same_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "threat.jpg"
    image.write_bytes(encode(text_image(VIOLENT)))
    items: list[dict[str, Any]] = [
        {"id": "plain", "text": "What a lovely morning for a run by the river"},
        {"id": "by-bot", "text": BORDERLINE, "author_id": "bot0"},
        {"id": "by-user", "text": BORDERLINE, "author_id": "user3"},
        {"id": "spam", "text": "WINNER!! You have won a free iPhone, click http://bit.ly/x to claim now"},
        {"id": "image", "kind": "image", "text": "look at this", "media": [{"path": str(image)}]},
    ]
    env = {
        "WARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WARDEN_GRAPH__PATH": str(_graph_file(tmp_path / "graph.npz")),
        "WARDEN_MEDIA__STORE_DIR": str(tmp_path / "media"),
        "WARDEN_AUTH_ENABLED": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        settings = Settings()
        # CLI
        src = tmp_path / "in.jsonl"
        src.write_text("".join(json.dumps(i) + "\n" for i in items))
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(cli, ["moderate", str(src), "-o", str(out)])
        assert result.exit_code == 0, result.output
        by_cli = {d["content_id"]: _view(d) for d in map(json.loads, out.read_text().splitlines())}
        # Python API
        with warden.open(settings, store_decisions=False) as app:  # banks from the database, as the others
            decisions = app.moderate([warden.Content.model_validate(i) for i in items])
        by_python = {d.content_id: _view(d.model_dump(mode="json")) for d in decisions}
        # HTTP API: media as base64, as clients send it
        over_http = [
            {**i, "media": [{"data": base64.b64encode(image.read_bytes()).decode()}]} if i.get("media") else i
            for i in items
        ]
        with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as client:
            r = client.post("/v1/moderate", json={"items": over_http})
            assert r.status_code == 200, r.text
            by_http = {d["content_id"]: _view(d) for d in r.json()["decisions"]}
    finally:
        get_settings.cache_clear()
    assert set(by_cli) == set(by_python) == set(by_http) == {i["id"] for i in items}
    for content_id in by_cli:
        for part in by_cli[content_id]:
            seen = (by_cli[content_id][part], by_python[content_id][part], by_http[content_id][part])
            assert seen[0] == seen[1] == seen[2], (content_id, part, seen)
    # The graph stage ran at every door: the coordinated author's borderline post goes to review.
    assert by_cli["by-bot"]["action"] == "review" and by_cli["by-user"]["action"] == "allow"
    assert "graph" in by_cli["by-bot"]["stages"] and "banks" in by_cli["plain"]["stages"]
    # The threat written in the image is read by OCR and removed as violence at every door.
    assert by_cli["image"]["action"] == "remove" and by_cli["image"]["categories"]["violence"][1] is True


def test_one_bad_item_never_costs_the_others_their_decisions(tmp_path: Path) -> None:
    """The Python API's `moderate_each` (which `warden moderate` uses): undecodable media, a
    malformed hash and an id stored before with other content each refuse only their own item."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", media={"store_dir": tmp_path / "m"})
    with warden.open(settings) as app:
        app.moderate([warden.Content(id="taken", text="the first text under this id")])
        outcomes = app.moderate_each(
            [
                warden.Content(id="fine", text="What a lovely morning for a run by the river"),
                warden.Content(
                    id="broken",
                    kind="image",
                    media=[{"data": b"\xff\xd8\xff\xe0 no jpeg", "content_type": "image/jpeg"}],
                ),
                warden.Content(id="bad-hash", kind="image", hashes={"pdq": ["not-a-pdq-hash"]}),
                warden.Content(id="taken", text="another text under the same id"),
            ]
        )
    assert outcomes["fine"].action == "allow"  # type: ignore[union-attr]
    assert "media[0]" in str(outcomes["broken"]) and "hashes.pdq" in str(outcomes["bad-hash"])
    assert "already moderated with different content" in str(outcomes["taken"])
