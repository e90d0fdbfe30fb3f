"""The Python client SDK (`warden.client`) and the CLI's remote mode against a real server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from media_samples import BENIGN, VIOLENT, encode, text_image
from support import serve_app
from typer.testing import CliRunner

from warden.bench.fuzz import server_counts
from warden.cli import app as cli
from warden.client import AsyncWardenClient, RetryPolicy, WardenAPIError, WardenClient
from warden.decision import Decision
from warden.serve import create_app
from warden.settings import Settings


@dataclass
class Running:
    url: str
    keys: dict[str, str]


@contextlib.contextmanager
def _start(root: Path, **sections: Any) -> Iterator[Running]:
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        pipeline={"batch_max_wait_ms": 5.0, **sections.pop("pipeline", {})},
        media={"store_dir": root / "media"},
        **sections,
    )
    with serve_app(create_app(settings)) as url:
        admin = (root / "bootstrap-admin.key").read_text().strip()
        keys = {"admin": admin}
        for role in ("client", "reviewer"):
            r = httpx.post(
                url + "/v1/admin/api-keys",
                json={"name": f"sdk-{role}", "role": role},
                headers={"Authorization": f"Bearer {admin}"},
            )
            keys[role] = r.json()["key"]
        yield Running(url, keys)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with _start(tmp_path_factory.mktemp("client")) as server:
        yield server


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sync_client_moderates_looks_up_and_uploads(running: Running, tmp_path: Path) -> None:
    with WardenClient(running.url, api_key=running.keys["client"]) as warden:
        decision = warden.moderate({"id": _uid("one"), "text": VIOLENT})
        assert isinstance(decision, Decision) and decision.flagged
        assert warden.get_decision(decision.decision_id) == decision
        assert warden.find_decision(decision.content_id) == decision
        picture = tmp_path / "threat.png"
        picture.write_bytes(encode(text_image(VIOLENT), "PNG"))
        uploaded = warden.upload(_uid("post"), [picture], text="look at this")
        assert uploaded.media and uploaded.flagged
        with pytest.raises(WardenAPIError) as caught:
            warden.moderate({"id": _uid("long"), "text": "x" * 20_001})
        assert caught.value.status == 422 and caught.value.type == "validation_error"
    with WardenClient(running.url, api_key="wdn_wrong") as stranger, pytest.raises(WardenAPIError) as caught:
        stranger.moderate({"id": "x", "text": "hi"})
    assert caught.value.status == 401


def test_batches_are_split_under_the_limits_and_keep_their_order(running: Running) -> None:
    png = base64.b64encode(encode(text_image(BENIGN), "PNG")).decode()
    items: list[dict[str, Any]] = [
        {"id": _uid(f"b{n}"), "text": BENIGN if n % 2 else VIOLENT} for n in range(8)
    ]
    items[5] = {
        "id": _uid("bad"),
        "kind": "image",
        "media": [{"data": base64.b64encode(b"not an image").decode()}],
    }
    items[6] = {"id": _uid("img"), "kind": "image", "media": [{"data": png}]}
    with WardenClient(running.url, api_key=running.keys["client"], max_batch_items=3) as warden:
        result = warden.moderate_batch(items)
    assert [d.content_id for d in result.decisions] == [i["id"] for n, i in enumerate(items) if n != 5]
    [error] = result.errors
    assert error.index == 5 and error.content_id == items[5]["id"] and error.status == 415
    assert [d.flagged for d in result.decisions[:2]] == [True, False]


def test_async_client(running: Running) -> None:
    async def session() -> None:
        async with AsyncWardenClient(
            running.url, api_key=running.keys["client"], max_batch_items=2
        ) as warden:
            one = await warden.moderate({"id": _uid("a"), "text": BENIGN})
            assert not one.flagged and (await warden.get_decision(one.decision_id)) == one
            items = [{"id": _uid(f"a{n}"), "text": VIOLENT if n == 3 else BENIGN} for n in range(7)]
            result = await warden.moderate_batch(items, concurrency=3)
            assert [d.content_id for d in result.decisions] == [i["id"] for i in items]
            assert [d.flagged for d in result.decisions] == [n == 3 for n in range(7)]

    asyncio.run(session())


def test_review_appeal_and_bank_calls(running: Running) -> None:
    with WardenClient(running.url, api_key=running.keys["client"]) as client:
        decision = client.moderate({"id": _uid("appealed"), "text": VIOLENT})
        appeal = client.appeal(decision.decision_id, "user-1", "I was quoting a film")
        assert client.get_appeal(appeal.id).status == "open"
    with WardenClient(running.url, api_key=running.keys["reviewer"]) as reviewer:
        task = reviewer.lease(queue="appeals")
        assert task is not None and task.decision_id == decision.decision_id
        label = reviewer.decide(task.id, "uphold", note="threat stands")
        assert label.task_complete and label.outcome == "uphold"
    with WardenClient(running.url, api_key=running.keys["admin"]) as admin:
        bank = admin.create_bank(_uid("sdk-bank"), "violence")
        assert bank.name in {b.name for b in admin.list_banks()}
        added = admin.add_bank_entries(bank.name, [{"signal_type": "md5", "value": "a" * 32}])
        assert len(added["added"]) == 1
        assert admin.match(hashes={"md5": ["a" * 32]})["matches"]


def test_overload_is_retried_after_the_servers_retry_after(tmp_path: Path) -> None:
    """A server with a queue of two items answers 429 to most of a burst; the client waits out
    Retry-After and every item still gets its decision."""
    with _start(tmp_path, pipeline={"queue_max_items": 2, "queue_max_items_per_key": 2}) as server:
        items = [{"id": _uid(f"burst{n}"), "text": BENIGN} for n in range(24)]

        async def burst() -> list[Decision]:
            policy = RetryPolicy(attempts=30, backoff_s=0.05, max_backoff_s=1.0)
            async with AsyncWardenClient(
                server.url, server.keys["client"], retry=policy, max_batch_items=1
            ) as w:
                return (await w.moderate_batch(items, concurrency=12)).decisions

        decisions = asyncio.run(burst())
        assert [d.content_id for d in decisions] == [i["id"] for i in items]
        metrics = httpx.get(server.url + "/metrics").text
        assert 'warden_http_errors_total{status="429"}' in metrics  # the server did push back
        assert server_counts(server.url)[1] == 0  # and never with a 5xx


def test_cli_remote_mode_moderates_through_the_server(running: Running, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    ids = [_uid("cli"), _uid("cli")]
    source.write_text(
        "\n".join(json.dumps({"id": i, "text": t}) for i, t in zip(ids, [VIOLENT, BENIGN], strict=True))
        + "\n"
    )
    out = tmp_path / "decisions.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "--remote",
            running.url,
            "--api-key",
            running.keys["client"],
            "moderate",
            str(source),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["content_id"] for d in decisions] == ids and decisions[0]["flagged"]
    with WardenClient(running.url, api_key=running.keys["client"]) as warden:  # stored by the server
        assert warden.find_decision(ids[0]).decision_id == decisions[0]["decision_id"]
    refused = CliRunner().invoke(
        cli, ["--remote", running.url, "moderate", str(source), "--policy", str(source)]
    )
    assert refused.exit_code != 0 and "remote server runs its active policy" in refused.output


def test_the_docs_example_runs(running: Running) -> None:
    from support import REPO

    doc = (REPO / "docs" / "client.md").read_text(encoding="utf-8")
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("http://127.0.0.1:8000", running.url).replace(
        '"wdn_..."', repr(running.keys["client"])
    )
    example = example.replace("range(2_500)", "range(30)")  # the same code, a smaller batch
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/client.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert len(namespace["result"].decisions) == 30 and namespace["decision"].flagged
