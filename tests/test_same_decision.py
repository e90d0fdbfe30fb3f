"""One pipeline, every door: the same items get the same decision through the HTTP API (a real server
on 127.0.0.1), the stream worker (the real Redis) and the re-scorer's baseline (what `warden ray
rescore` compares a candidate with; its actors run exactly this class)."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
from redis.exceptions import ConnectionError as RedisConnectionError
from support import require_service, serve_app

from warden.bootstrap import build
from warden.content import Content
from warden.moderator import Moderator
from warden.rescore import RescoreOptions, Rescorer
from warden.serve import create_app
from warden.settings import Settings, StreamSettings, get_settings
from warden.store import Store
from warden.stream.worker import StreamWorker, connect, push_items

ITEMS = [
    {"id": "d-1", "text": "Have a lovely weekend, everyone!"},
    {"id": "d-2", "text": "you are a worthless idiot and nobody likes you"},
    {"id": "d-3", "text": "Du bist so ein dummer Idiot, verschwinde"},
    {"id": "d-4", "text": "Cheap followers!!! DM me now, limited offer"},
]


def _key(decision: dict) -> tuple:  # type: ignore[type-arg]
    probs = {c: round(s["probability"], 6) for c, s in decision["categories"].items()}
    return decision["action"], decision["flagged"], tuple(sorted(probs.items()))


def test_api_worker_and_rescore_agree(tmp_path: Path) -> None:
    base = get_settings().override(review={"enabled": False})
    moderator = Moderator.from_settings(base).load()

    # The HTTP API.
    api_settings: Settings = base.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'api.db'}", "auth_enabled": False}
    )
    with serve_app(create_app(api_settings, moderator=moderator)) as url, httpx.Client(base_url=url) as c:
        response = c.post("/v1/moderate", json={"items": ITEMS})
        assert response.status_code == 200, response.text
        via_api = {d["content_id"]: _key(d) for d in response.json()["decisions"]}

    # The stream worker.
    client = connect("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except RedisConnectionError:
        require_service("Redis not reachable on 127.0.0.1:6379 (start redis-server)")
    prefix = f"warden-test-{secrets.token_hex(4)}"
    streams = StreamSettings(
        input_stream=f"{prefix}:items",
        output_stream=f"{prefix}:out",
        dead_letter_stream=f"{prefix}:dead",
        block_ms=50,
    )
    worker_settings = base.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'worker.db'}"})
    app = build(worker_settings, store=Store(worker_settings.database_url), moderator=moderator)
    try:
        push_items(client, streams.input_stream, ITEMS)
        StreamWorker(app, client, streams, consumer="same").run(idle_exit_after=2)
        assert app.store is not None
        stored = app.store.find_decisions_by_content_ids([i["id"] for i in ITEMS])
        via_worker = {cid: _key(d.model_dump(mode="json")) for cid, d in stored.items()}
    finally:
        assert app.store is not None
        app.store.close()
        client.delete(*client.keys(f"{prefix}:*"))

    # The re-scorer's baseline for items the store has never seen: the live pipeline.
    rescore_settings = base.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'rescore.db'}"})
    rescorer = Rescorer(rescore_settings, RescoreOptions(policy_path=base.policy_path))
    items = [Content(**i) for i in ITEMS]
    via_rescore = {d.content_id: _key(d.model_dump(mode="json")) for d in rescorer.live.moderate(items)}
    rescorer.store.close()

    assert via_api == via_worker == via_rescore
