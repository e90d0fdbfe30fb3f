"""Perspective-compatible API, driven by Google's own discovery-based client
(google-api-python-client) built from the discovery document the server serves, as Perspective's
documentation shows for its own service; plus the raw HTTP shapes (errors, `?key=`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from support import REPO, serve_app

from warden.serve import create_app
from warden.settings import Settings

discovery = pytest.importorskip(
    "googleapiclient.discovery", reason="google-api-python-client (dev dependency)"
)
errors = pytest.importorskip("googleapiclient.errors")

THREAT = "I will find you and kill you, you worthless idiot"
NICE = "Thanks for the thoughtful reply, I learned something today."


@dataclass
class Running:
    url: str
    key: str
    admin: str
    app: Any


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("perspective")
    settings = Settings(database_url=f"sqlite:///{root / 'warden.db'}", pipeline={"batch_max_wait_ms": 5.0})
    app = create_app(settings)
    with serve_app(app) as url:
        admin = (root / "bootstrap-admin.key").read_text().strip()
        r = httpx.post(
            url + "/v1/admin/api-keys",
            json={"name": "perspective-client", "role": "client"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 201, r.text
        yield Running(url, r.json()["key"], admin, app)


def _client(running: Running, key: str | None = None) -> Any:
    return discovery.build(
        "commentanalyzer",
        "v1alpha1",
        developerKey=key or running.key,
        discoveryServiceUrl=f"{running.url}/$discovery/rest?version=v1alpha1",
        static_discovery=False,
        cache_discovery=False,
    )


def _analyze(text: str, **extra: Any) -> dict[str, Any]:
    attributes = extra.pop("attributes", ["TOXICITY", "THREAT", "INSULT"])
    return {
        "comment": {"text": text},
        "requestedAttributes": {a: {} for a in attributes},
        "languages": ["en"],
        **extra,
    }


def test_google_client_analyzes_comments(running: Running) -> None:
    client = _client(running)
    threat = (
        client.comments().analyze(body=_analyze(THREAT, spanAnnotations=True, clientToken="t-1")).execute()
    )
    nice = client.comments().analyze(body=_analyze(NICE)).execute()
    assert set(threat["attributeScores"]) == {"TOXICITY", "THREAT", "INSULT"}
    for name in ("TOXICITY", "THREAT"):
        assert threat["attributeScores"][name]["summaryScore"]["value"] > 0.5
        assert nice["attributeScores"][name]["summaryScore"]["value"] < 0.5
        assert threat["attributeScores"][name]["summaryScore"]["type"] == "PROBABILITY"
    spans = threat["attributeScores"]["THREAT"]["spanScores"]
    assert spans and all(0 <= s["begin"] < s["end"] <= len(THREAT) for s in spans)
    assert "spanScores" not in nice["attributeScores"]["TOXICITY"]
    assert threat["languages"] == ["en"] and threat["detectedLanguages"] == ["en"]
    assert threat["clientToken"] == "t-1"
    # scoreThreshold leaves out what scores below it, as Perspective does.
    high = (
        client.comments()
        .analyze(
            body=_analyze(NICE, attributes=[])
            | {"requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.9}}}
        )
        .execute()
    )
    assert high["attributeScores"] == {}


def test_do_not_store_is_honoured(running: Running) -> None:
    client = _client(running)
    text = "doNotStore: you are a pathetic moron"
    client.comments().analyze(body=_analyze(text, doNotStore=True)).execute()
    store = running.app.state.warden.store
    before = store.last_audit_id()
    client.comments().analyze(body=_analyze(text + "!", doNotStore=True)).execute()
    assert store.last_audit_id() == before  # no decision, no audit row
    stored = client.comments().analyze(body=_analyze(text + "?")).execute()
    assert stored["attributeScores"] and store.last_audit_id() > before


def test_suggest_score_queues_the_suggestion_for_review(running: Running) -> None:
    client = _client(running)
    body = {
        "comment": {"text": "this is a borderline remark about your cooking"},
        "attributeScores": {"INSULT": {"summaryScore": {"value": 1.0}}},
        "languages": ["en"],
        "communityId": "forum-7",
        "clientToken": "s-1",
    }
    out = client.comments().suggestscore(body=body).execute()
    assert out["clientToken"] == "s-1"
    tasks = httpx.get(
        running.url + "/v1/review/tasks",
        params={"queue": "relabel", "status": "all"},
        headers={"Authorization": f"Bearer {running.admin}"},
    ).json()
    [task] = [t for t in tasks if t["text"] == body["comment"]["text"]]
    assert task["route"].startswith("suggested:") and task["category"] == "harassment"


def test_errors_have_googles_shape(running: Running) -> None:
    client = _client(running)
    with pytest.raises(errors.HttpError) as caught:
        client.comments().analyze(body=_analyze(NICE, attributes=["FLIRTATION"])).execute()
    assert caught.value.resp.status == 400 and "FLIRTATION" in str(caught.value)
    with pytest.raises(errors.HttpError) as caught:
        _client(running, key="wdn_not-a-key").comments().analyze(body=_analyze(NICE)).execute()
    assert caught.value.resp.status == 401
    raw = httpx.post(
        f"{running.url}/v1alpha1/comments:analyze", params={"key": running.key}, json={"comment": {}}
    )
    error = raw.json()["error"]
    assert raw.status_code == 400 and error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert error["details"][0]["fieldViolations"]
    no_key = httpx.post(f"{running.url}/v1alpha1/comments:analyze", json=_analyze(NICE))
    assert no_key.status_code == 401 and no_key.json()["error"]["status"] == "UNAUTHENTICATED"
    # The key in a header works too, and other routes keep Warden's envelope.
    ok = httpx.post(
        f"{running.url}/v1alpha1/comments:analyze", json=_analyze(NICE), headers={"X-API-Key": running.key}
    )
    assert ok.status_code == 200, ok.text
    assert "type" in httpx.get(running.url + "/v1/policies").json()["error"]


def test_the_docs_example_runs(running: Running) -> None:
    doc = (REPO / "docs" / "perspective.md").read_text(encoding="utf-8")
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("http://127.0.0.1:8000", running.url).replace('"wdn_..."', repr(running.key))
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/perspective.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["response"]["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5
