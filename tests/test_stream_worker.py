"""`warden worker`: the Redis Streams consumer against the real Redis on 127.0.0.1:6379 and a real
database, with the real models. Every test uses streams of its own (random names) and removes them.

In process: decisions stored once and written to the output stream, bad entries dead-lettered with
their reason, redelivery idempotent, a dead consumer's entries claimed, a failing database retried
then dead-lettered after `max_attempts`, a policy activated elsewhere followed. The kill test (worker
processes SIGKILLed and restarted, Redis restarted) is in `test_stream_kill.py`."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from support import require_service

from warden.bootstrap import Warden, build
from warden.moderator import Moderator
from warden.settings import Settings, StreamSettings, get_settings
from warden.store import Store
from warden.store.engine import normalize_url
from warden.stream.worker import StreamWorker, connect, push_items, stream_status

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def redis_client() -> Iterator[Any]:
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = connect(REDIS_URL)
    try:
        client.ping()
    except RedisConnectionError:
        require_service("Redis not reachable on 127.0.0.1:6379 (start redis-server)")
    yield client
    client.close()


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.from_settings(get_settings().override(pipeline={"cascade_exits": False})).load()


@pytest.fixture
def streams(redis_client: Any) -> Iterator[StreamSettings]:
    prefix = f"warden-test-{secrets.token_hex(4)}"
    settings = StreamSettings(
        redis_url=REDIS_URL,
        input_stream=f"{prefix}:items",
        output_stream=f"{prefix}:decisions",
        dead_letter_stream=f"{prefix}:dead",
        read_count=16,
        block_ms=50,
        claim_idle_ms=150,
        max_attempts=2,
        policy_poll_s=0.05,
    )
    yield settings
    keys = list(redis_client.scan_iter(f"{prefix}:*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def app(tmp_path: Path, moderator: Moderator) -> Iterator[Warden]:
    settings: Settings = get_settings().model_copy(update={"database_url": f"sqlite:///{tmp_path / 'w.db'}"})
    settings = settings.override(review={"enabled": False}, pipeline={"cascade_exits": False})
    warden = build(settings, store=Store(settings.database_url), moderator=moderator)
    yield warden
    assert warden.store is not None
    warden.store.close()


def _items(n: int, prefix: str = "post") -> list[dict[str, str]]:
    texts = ["Have a lovely weekend, everyone!", "you are a worthless idiot", "Meeting moved to 3pm"]
    return [{"id": f"{prefix}-{i}", "text": f"{texts[i % 3]} #{i}"} for i in range(n)]


def _versions(app: Warden) -> dict[str, int]:
    assert app.store is not None
    engine = create_engine(normalize_url(app.store.url))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT content_id, count(*) FROM decision_history GROUP BY content_id"))
        out = {r[0]: int(r[1]) for r in rows}
    engine.dispose()
    return out


def test_decides_each_item_once_and_dead_letters_bad_entries(
    app: Warden, redis_client: Any, streams: StreamSettings
) -> None:
    good = _items(40)
    push_items(redis_client, streams.input_stream, good)
    bad = [
        "{not json",
        json.dumps({"text": "an item without an id"}),
        json.dumps({"id": "post-1", "text": "other content under a used id"}),
        json.dumps({"id": "x", "text": "hi", "unknown_field": 1}),
    ]
    push_items(redis_client, streams.input_stream, bad)
    push_items(redis_client, streams.input_stream, [good[0]])  # a producer retry: same id, same content
    worker = StreamWorker(app, redis_client, streams, consumer="c1")
    stats = worker.run(idle_exit_after=3)
    assert stats.decided == 41 and stats.dead_lettered == 4
    status = stream_status(redis_client, streams)
    assert status["group"]["pending"] == 0 and status["group"]["lag"] == 0
    assert status["output_length"] == 41 and status["dead_letters"] == 4
    out = redis_client.xrange(streams.output_stream)
    by_content: dict[str, set[str]] = {}
    for _, fields in out:
        by_content.setdefault(fields["content_id"], set()).add(fields["decision_id"])
        assert json.loads(fields["decision"])["content_id"] == fields["content_id"]
    assert set(by_content) == {i["id"] for i in good} and all(len(v) == 1 for v in by_content.values())
    errors = sorted(f["error"] for _, f in redis_client.xrange(streams.dead_letter_stream))
    assert any("invalid item: id: Field required" in e for e in errors)
    assert any("already moderated with different content" in e for e in errors)
    assert any("Invalid JSON" in e or "invalid item" in e for e in errors)
    assert set(_versions(app).values()) == {1} and len(_versions(app)) == 40
    # Everything through the pipeline: the stored decision is the one the output stream carries.
    assert app.store is not None
    stored = app.store.find_decisions_by_content_ids(["post-1"])["post-1"]
    assert stored.decision_id in by_content["post-1"]


def test_redelivery_never_makes_a_second_decision_version(
    app: Warden, redis_client: Any, streams: StreamSettings
) -> None:
    items = _items(12, "again")
    push_items(redis_client, streams.input_stream, items)
    StreamWorker(app, redis_client, streams, consumer="c1").run(idle_exit_after=2)
    first = {f["content_id"]: f["decision_id"] for _, f in redis_client.xrange(streams.output_stream)}
    push_items(redis_client, streams.input_stream, items)
    StreamWorker(app, redis_client, streams, consumer="c2").run(idle_exit_after=2)
    out = redis_client.xrange(streams.output_stream)
    assert len(out) == 24 and all(first[f["content_id"]] == f["decision_id"] for _, f in out)
    assert set(_versions(app).values()) == {1}


def test_entries_of_a_dead_consumer_are_claimed(
    app: Warden, redis_client: Any, streams: StreamSettings
) -> None:
    push_items(redis_client, streams.input_stream, _items(10, "orphan"))
    worker = StreamWorker(app, redis_client, streams, consumer="survivor")
    worker.ensure_group()
    # A consumer reads the entries and dies before acknowledging any.
    redis_client.xreadgroup(streams.group, "dead", {streams.input_stream: ">"}, count=10)
    assert stream_status(redis_client, streams)["group"]["pending"] == 10
    stats = worker.run(idle_exit_after=6)
    assert stats.claimed == 10 and stats.decided == 10
    assert stream_status(redis_client, streams)["group"]["pending"] == 0


def test_a_failing_database_is_retried_then_dead_lettered_with_its_error(
    app: Warden, redis_client: Any, streams: StreamSettings
) -> None:
    push_items(redis_client, streams.input_stream, _items(5, "doomed"))
    assert app.store is not None
    engine = create_engine(normalize_url(app.store.url))
    with engine.begin() as conn:  # the database loses its decisions table: every batch fails
        conn.execute(text("DROP TABLE decision_history"))
    engine.dispose()
    worker = StreamWorker(app, redis_client, streams, consumer="c1")
    stats = worker.run(idle_exit_after=25, max_seconds=30)
    # Delivered max_attempts (2) times, failing each time, then dead-lettered with the error kept.
    assert stats.decided == 0 and stats.failed == 10 and stats.dead_lettered == 5
    letters = redis_client.xrange(streams.dead_letter_stream)
    assert len(letters) == 5
    assert all("decision_history" in f["error"] and f["attempts"] == "2" for _, f in letters)
    assert json.loads(letters[0][1]["item"])["id"].startswith("doomed-")
    assert stream_status(redis_client, streams)["group"]["pending"] == 0


def test_follows_a_policy_activated_elsewhere(
    app: Warden, redis_client: Any, streams: StreamSettings
) -> None:
    assert app.store is not None
    worker = StreamWorker(app, redis_client, streams, consumer="c1")
    before = app.moderator.policy
    changed = before.model_copy(update={"version": before.version + "-stricter"})
    import yaml

    yaml_text = yaml.safe_dump(changed.model_dump(mode="json"), sort_keys=False)
    # What `PUT /v1/policies/active` leaves in the store.
    app.store.record_policy(changed.name, changed.version, changed.full_version, yaml_text, actor="admin")
    app.store.append_audit("admin", "policy.activate", "policy", changed.full_version, {})
    push_items(redis_client, streams.input_stream, _items(3, "after"))
    stats = worker.run(idle_exit_after=2)
    assert stats.policy_reloads == 1 and app.moderator.policy.full_version == changed.full_version
    out = redis_client.xrange(streams.output_stream)
    assert {json.loads(f["decision"])["versions"]["policy"] for _, f in out} == {changed.full_version}
