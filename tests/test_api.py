"""The HTTP API end to end: a real uvicorn server on 127.0.0.1 with the real moderator (trained
models) and SQLite in a temporary directory, talked to over TCP with httpx."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from support import serve_app as _serve

from warden.content import Content
from warden.errors import ConflictError
from warden.policy.model import load_policy
from warden.serve import create_app
from warden.serve.app import AppState
from warden.serve.batching import MicroBatcher, OverloadedError
from warden.settings import Limits, Settings

OPENAI_KEYS = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
}
MAX_REQUEST_BYTES = 256 * 1024


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Server:
    url: str
    app: FastAPI
    settings: Settings
    db_dir: Path
    keys: dict[str, str]

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.warden
        return state

    def client(self, role: str | None = "admin", header: str = "bearer") -> httpx.Client:
        headers = {}
        if role is not None:
            key = self.keys[role]
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db_dir = tmp_path_factory.mktemp("warden-api")
    settings = Settings(
        database_url=f"sqlite:///{db_dir / 'warden.db'}",
        auth_enabled=True,
        pipeline={"batch_max_wait_ms": 25.0},
        limits=Limits(max_request_bytes=MAX_REQUEST_BYTES),
    )
    missing = [name for name in ("linear.npz", "fusion.json") if not (settings.models_dir / name).exists()]
    if missing:
        pytest.fail(f"trained models missing in {settings.models_dir}: {missing} (run `warden train`)")
    app = create_app(settings)
    with _serve(app) as url:
        admin = (db_dir / "bootstrap-admin.key").read_text().strip()
        keys = {"admin": admin}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
            for role in ("client", "reviewer"):
                r = c.post("/v1/admin/api-keys", json={"name": f"test-{role}", "role": role})
                assert r.status_code == 201, r.text
                keys[role] = r.json()["key"]
        yield Server(url=url, app=app, settings=settings, db_dir=db_dir, keys=keys)


def _error(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message", "details"}, body
    assert body["error"]["type"] == type_, body
    assert body["error"]["message"], body
    return dict(body["error"])


def _metrics(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{server.url}/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


# -- auth -----------------------------------------------------------------------------------------


def test_bootstrap_admin_key_file_is_private(server: Server) -> None:
    path = server.db_dir / "bootstrap-admin.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with server.client("admin") as c:
        names = [k["name"] for k in c.get("/v1/admin/api-keys").json()["keys"]]
    assert names.count("bootstrap-admin") == 1


def test_missing_and_invalid_keys_are_401(server: Server) -> None:
    with server.client(None) as c:
        err = _error(c.post("/v1/moderate", json={"id": "a", "text": "hi"}), 401, "unauthorized")
        assert "Bearer" in err["message"] and "X-API-Key" in err["message"]
        r = c.get("/v1/policies")
        _error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        _error(c.get("/v1/policies", headers={"Authorization": "Bearer wdn_not-a-key"}), 401, "unauthorized")
        _error(c.get("/v1/policies", headers={"X-API-Key": "garbage"}), 401, "unauthorized")
        basic = {"Authorization": f"Basic {server.keys['admin']}"}  # the right key in the wrong scheme
        _error(c.get("/v1/policies", headers=basic), 401, "unauthorized")


def test_every_v1_endpoint_requires_a_key(server: Server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    checked = 0
    with server.client(None) as c:
        for path, operations in paths.items():
            if not path.startswith("/v1/"):
                continue
            for method in operations:
                url = path.replace("{decision_id}", "x").replace("{name}", "x")
                kwargs: dict[str, Any] = {"json": {}} if method in ("post", "put", "patch") else {}
                r = c.request(method.upper(), url, params={"content_id": "x"}, **kwargs)
                assert r.status_code == 401, (method, path, r.text)
                checked += 1
    assert checked >= 8


def test_roles(server: Server) -> None:
    item = {"id": _uid("roles"), "text": "Nice photo, where was it taken?"}
    with server.client("reviewer") as c:
        err = _error(c.post("/v1/moderate", json=item), 403, "forbidden")
        assert "reviewer" in err["message"]
        _error(c.get("/v1/admin/api-keys"), 403, "forbidden")
    with server.client("client") as c:
        _error(c.get("/v1/admin/api-keys"), 403, "forbidden")
        _error(c.post("/v1/admin/api-keys", json={"name": "x", "role": "admin"}), 403, "forbidden")
        r = c.post("/v1/moderate", json=item)
        assert r.status_code == 200, r.text
    decision_id = r.json()["decisions"][0]["decision_id"]
    # The same key through X-API-Key; reviewers read decisions and policies; admin passes every check.
    with server.client("client", header="x-api-key") as c:
        assert c.get(f"/v1/decisions/{decision_id}").status_code == 200
    with server.client("reviewer", header="x-api-key") as c:
        assert c.get(f"/v1/decisions/{decision_id}").status_code == 200
        assert c.get("/v1/policies").status_code == 200
    with server.client("admin") as c:
        assert c.post("/v1/moderate", json=item).status_code == 200
        assert c.get(f"/v1/decisions/{decision_id}").status_code == 200


def test_api_key_management(server: Server) -> None:
    name = _uid("acme")
    with server.client("admin") as admin:
        r = admin.post("/v1/admin/api-keys", json={"name": name, "role": "client"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["name"] == name and created["role"] == "client" and created["key"].startswith("wdn_")
        listing = admin.get("/v1/admin/api-keys")
        assert created["key"] not in listing.text  # the plaintext is shown once, never listed
        [info] = [k for k in listing.json()["keys"] if k["name"] == name]
        assert info["role"] == "client" and info["revoked_at"] is None
        _error(admin.post("/v1/admin/api-keys", json={"name": name, "role": "client"}), 409, "conflict")
        _error(admin.post("/v1/admin/api-keys", json={"name": "x", "role": "root"}), 422, "validation_error")
        extra = {"name": "x", "role": "client", "a": 1}
        _error(admin.post("/v1/admin/api-keys", json=extra), 422, "validation_error")

        headers = {"Authorization": f"Bearer {created['key']}"}
        assert httpx.get(f"{server.url}/v1/policies", headers=headers).status_code == 200
        assert admin.delete(f"/v1/admin/api-keys/{name}").status_code == 200
        _error(httpx.get(f"{server.url}/v1/policies", headers=headers), 401, "unauthorized")
        _error(admin.delete("/v1/admin/api-keys/no-such-key"), 404, "not_found")
        # The only admin key cannot revoke itself (nobody could manage keys over the API after it).
        _error(admin.delete("/v1/admin/api-keys/bootstrap-admin"), 409, "conflict")
        assert admin.get("/v1/admin/api-keys").status_code == 200
    audit = server.state.store.list_audit(object_id=name)
    actions = {(row["action"], row["actor"]) for row in audit}
    assert ("apikey.create", "apikey:bootstrap-admin") in actions
    assert ("apikey.revoke", "apikey:bootstrap-admin") in actions


# -- moderation -----------------------------------------------------------------------------------


def test_moderate_single_item(server: Server) -> None:
    policy = load_policy(server.settings.policy_path)
    health = httpx.get(f"{server.url}/healthz").json()
    item = {"id": _uid("single"), "text": "Thanks for the helpful answer, have a nice weekend!"}
    with server.client("client") as c:
        r = c.post("/v1/moderate", json=item)
    assert r.status_code == 200, r.text
    [d] = r.json()["decisions"]
    assert d["content_id"] == item["id"]
    assert set(d["categories"]) == set(policy.category_ids)
    for score in d["categories"].values():
        assert 0.0 <= score["probability"] <= 1.0 and isinstance(score["flagged"], bool)
    assert d["versions"] == health["versions"]
    assert d["versions"]["policy"] == policy.full_version
    assert d["versions"]["pipeline"].startswith("pipeline-") and "linear_ngram" in d["versions"]["models"]
    assert d["language"] == "en" and d["action"] == "allow" and not d["flagged"]
    assert [s["name"] for s in d["stages"]][:2] == ["banks", "fast"]


def test_moderate_batch_english_and_german(server: Server) -> None:
    policy = load_policy(server.settings.policy_path)
    items: list[dict[str, Any]] = [
        {"id": _uid("en"), "text": "Have a wonderful day, see you at the game tonight!"},
        {"id": _uid("de"), "text": "Ich hoffe, du hast einen schönen Tag und eine gute Reise."},
        {"id": _uid("de-tox"), "text": "Halt die Fresse, du dummer Wichser"},
        {"id": _uid("en-meta"), "text": "see you", "language": "en", "metadata": {"thread": 7}},
    ]
    with server.client("client") as c:
        r = c.post("/v1/moderate", json={"items": items})
    assert r.status_code == 200, r.text
    decisions = r.json()["decisions"]
    assert [d["content_id"] for d in decisions] == [i["id"] for i in items]
    for d in decisions:
        assert set(d["categories"]) == set(policy.category_ids)
        assert d["versions"]["policy"] == policy.full_version
        assert d["decision_id"] and d["content_hash"]
    assert [d["language"] for d in decisions] == ["en", "de", "de", "en"]
    benign_de, toxic_de = decisions[1], decisions[2]
    harassment = [d["categories"]["harassment"]["probability"] for d in (benign_de, toxic_de)]
    assert harassment[1] > harassment[0]


def test_evidence_spans(server: Server) -> None:
    text = "Fuck you, you stupid bitch, shut your mouth"
    with server.client("client") as c:
        r = c.post("/v1/moderate", json={"id": _uid("evidence"), "text": text})
    assert r.status_code == 200, r.text
    [d] = r.json()["decisions"]
    assert d["flagged"] and d["action"] != "allow"
    assert d["reasons"], d
    spans = []
    for reason in d["reasons"]:
        assert set(reason) >= {"category", "action", "probability", "threshold", "clause", "evidence"}
        assert reason["category"] in d["categories"] and reason["clause"]
        assert reason["probability"] >= reason["threshold"]
        for ev in reason["evidence"]:
            assert ev["category"] == reason["category"] and ev["detector"] and isinstance(ev["weight"], float)
            if ev["kind"] == "text_span":
                spans.append(ev)
    assert spans, d["reasons"]
    for ev in spans:
        assert 0 <= ev["start"] < ev["end"] <= len(text)
        assert text[ev["start"] : ev["end"]] == ev["snippet"]


def test_idempotency_and_conflict(server: Server) -> None:
    cid = _uid("idem")
    with server.client("client") as c:
        item = {"id": cid, "text": "The match was great fun."}
        first = c.post("/v1/moderate", json=item).json()["decisions"][0]
        again = c.post("/v1/moderate", json=item).json()["decisions"][0]
        assert again["decision_id"] == first["decision_id"] and again["created_at"] == first["created_at"]
        err = _error(c.post("/v1/moderate", json={"id": cid, "text": "Something else"}), 409, "conflict")
        assert cid in err["message"]
        # A batch with one conflicting item fails as a whole and stores nothing.
        fresh = _uid("idem-fresh")
        batch = {"items": [{"id": fresh, "text": "hello"}, {"id": cid, "text": "changed"}]}
        _error(c.post("/v1/moderate", json=batch), 409, "conflict")
        _error(c.get("/v1/decisions", params={"content_id": fresh}), 404, "not_found")


def test_decision_lookup(server: Server) -> None:
    cid = _uid("lookup")
    with server.client("client") as c:
        [d] = c.post("/v1/moderate", json={"id": cid, "text": "Lovely weather today"}).json()["decisions"]
    with server.client("reviewer") as c:
        by_id = c.get(f"/v1/decisions/{d['decision_id']}")
        assert by_id.status_code == 200 and by_id.json() == d
        by_content = c.get("/v1/decisions", params={"content_id": cid})
        assert by_content.status_code == 200 and by_content.json() == d
        err = _error(c.get("/v1/decisions/does-not-exist"), 404, "not_found")
        assert "does-not-exist" in err["message"]
        err = _error(c.get("/v1/decisions", params={"content_id": "nope-404"}), 404, "not_found")
        assert "nope-404" in err["message"]
        _error(c.get("/v1/decisions"), 422, "validation_error")


def test_policies(server: Server) -> None:
    policy = load_policy(server.settings.policy_path)
    with server.client("client") as c:
        body = c.get("/v1/policies").json()
        with_yaml = c.get("/v1/policies", params={"include_yaml": "true"}).json()
    active = body["active"]
    assert active["name"] == policy.name and active["version"] == policy.version
    assert active["full_version"] == policy.full_version
    assert [cat["id"] for cat in active["categories"]] == policy.category_ids
    rules = server.state.moderator.decider.rules
    for cat in active["categories"]:
        assert cat["title"] and cat["definition"] and cat["severity"] in ("low", "medium", "high", "critical")
        assert [a["action"] for a in cat["actions"]] == [t["action"] for t in cat["thresholds"]]
        resolved = [round(r.threshold, 6) for r in rules[cat["id"]]]
        assert [t["threshold"] for t in cat["thresholds"]] == resolved
        assert 0.0 < cat["flag_threshold"] <= 1.0
        assert set(cat["thresholds_by_route"]) == {"en", "multi"}
        assert cat["thresholds_by_route"]["en"] == cat["thresholds"]
    assert policy.full_version in [h["full_version"] for h in body["history"]]
    assert all(h["yaml_text"] is None for h in body["history"])
    [recorded] = [h for h in with_yaml["history"] if h["full_version"] == policy.full_version]
    assert recorded["yaml_text"] == server.settings.policy_path.read_text(encoding="utf-8")


# -- OpenAI compatibility -------------------------------------------------------------------------


def test_openai_moderations(server: Server) -> None:
    policy = load_policy(server.settings.policy_path)
    abuse = "Fuck you, you stupid bitch, shut your mouth"
    threat = "I will find you and kill you, you worthless idiot"
    texts = [abuse, "What a lovely garden!", "What a lovely garden!", threat]
    with server.client("client") as c:  # Bearer, as OpenAI clients send it
        one = c.post("/v1/moderations", json={"input": texts[1], "model": "omni-moderation-latest"})
        many = c.post("/v1/moderations", json={"input": texts})
        again = c.post("/v1/moderations", json={"input": abuse})
        _error(c.post("/v1/moderations", json={"input": []}), 422, "validation_error")
        _error(c.post("/v1/moderations", json={"input": "x", "temperature": 1}), 422, "validation_error")
        _error(c.post("/v1/moderations", json={"input": 5}), 422, "validation_error")
        too_long = c.post("/v1/moderations", json={"input": ["ok", "x" * 20_001]})
        assert "input[1]" in _error(too_long, 422, "validation_error")["message"]
    assert one.status_code == 200 and many.status_code == 200, (one.text, many.text)
    body = many.json()
    assert set(body) == {"id", "model", "results"}
    assert body["id"].startswith("modr-") and body["model"] == f"warden-{policy.version}"
    assert len(one.json()["results"]) == 1 and len(body["results"]) == 4
    for result in body["results"]:
        assert {"flagged", "categories", "category_scores", "category_applied_input_types"} <= set(result)
        assert set(result["categories"]) == OPENAI_KEYS
        assert set(result["category_scores"]) == OPENAI_KEYS
        assert result["category_applied_input_types"] == {k: ["text"] for k in OPENAI_KEYS}
        assert all(isinstance(v, bool) for v in result["categories"].values())
        assert all(0.0 <= v <= 1.0 for v in result["category_scores"].values())
        warden = {k: v["probability"] for k, v in result["warden_categories"].items()}
        assert set(warden) == set(policy.category_ids)
        scores = result["category_scores"]
        assert scores["harassment"] == warden["harassment"] and scores["hate"] == warden["hate"]
        assert scores["harassment/threatening"] == min(warden["harassment"], warden["violence"])
        assert scores["illicit/violent"] == min(warden["illicit_goods"], warden["violence"])
        assert scores["violence"] == max(warden["violence"], warden["extremism"])
        assert scores["self-harm/intent"] == warden["self_harm"]
        assert scores["sexual/minors"] == warden["sexual_minors"]
    abuse_result, garden, garden2, threat_result = body["results"]
    assert abuse_result["flagged"] and any(abuse_result["categories"].values())
    assert not garden["flagged"] and not any(garden["categories"].values())
    assert threat_result["category_scores"]["violence"] > garden["category_scores"]["violence"]
    assert garden["warden_decision_id"] == garden2["warden_decision_id"]  # one text, one decision
    # The content id is a hash of the text, so the same text is answered from the stored decision.
    assert again.json()["results"][0]["warden_decision_id"] == abuse_result["warden_decision_id"]
    assert one.json()["results"][0]["warden_decision_id"] == garden["warden_decision_id"]


# -- validation and limits ------------------------------------------------------------------------


def test_oversized_bodies_are_413(server: Server) -> None:
    big = {"id": _uid("big"), "text": "a" * (MAX_REQUEST_BYTES + 10)}
    with server.client("client") as c:
        err = _error(c.post("/v1/moderate", json=big), 413, "payload_too_large")
        assert str(MAX_REQUEST_BYTES) in err["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes themselves are counted
        yield b'{"id": "chunked", "text": "'
        for _ in range(40):
            yield b"b" * 8192
        yield b'"}'

    with server.client("client") as c:
        r = c.post("/v1/moderate", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        _error(r, 413, "payload_too_large")


def test_schema_and_limit_violations_are_422(server: Server) -> None:
    many = {"items": [{"id": f"n{i}", "text": "x"} for i in range(1001)]}
    cases: list[tuple[Any, str | None]] = [
        ({"id": "a", "text": "hi", "colour": "red"}, "colour"),
        ({"items": [{"id": "a", "text": "hi", "colour": "red"}]}, "colour"),
        ({"items": [{"id": "a", "text": "hi"}], "extra": 1}, "extra"),
        ({"id": "", "text": "hi"}, "id"),
        ({"text": "no id"}, "id"),
        ({"items": []}, "items"),
        ({"id": "a", "text": "x" * 20_001}, "20000"),
        ({"items": [{"id": "d", "text": "a"}, {"id": "d", "text": "b"}]}, "duplicate"),
        ({"id": "img", "kind": "image"}, "image"),
        ({"id": "k", "kind": "hologram"}, "kind"),
        (many, "1000"),
        ([{"id": "a", "text": "hi"}], "items"),
        ("just a string", "items"),
    ]
    with server.client("client") as c:
        for body, needle in cases:
            err = _error(c.post("/v1/moderate", json=body), 422, "validation_error")
            text = err["message"] + " ".join(str(d["loc"]) + d["msg"] for d in err["details"])
            assert needle is None or needle in text, (body if body is not many else "1001 items", err)
        bad_item = {"items": [{"id": "a", "text": "hi", "colour": 1}]}
        err = _error(c.post("/v1/moderate", json=bad_item), 422, "validation_error")
        assert err["details"][0]["loc"] == ["body", "items", 0, "colour"]
        assert err["details"][0]["msg"] and err["details"][0]["type"] == "extra_forbidden"
        # A lone surrogate escape is valid JSON but not valid text.
        surrogate = b'{"id": "s", "text": "\\ud800"}'
        r = c.post("/v1/moderate", content=surrogate, headers={"Content-Type": "application/json"})
        assert "Unicode" in _error(r, 422, "validation_error")["message"]


def test_malformed_bodies_are_400(server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    with server.client("client") as c:
        latin1 = b'{"id": "u", "text": "caf\xe9"}'
        err = _error(c.post("/v1/moderate", content=latin1, headers=json_type), 400, "invalid_encoding")
        assert "UTF-8" in err["message"] and "byte 24" in err["message"]
        broken = b'{"id": "j",\n "text": }'
        err = _error(c.post("/v1/moderate", content=broken, headers=json_type), 400, "invalid_json")
        assert "line 2" in err["message"]
        plain = {"Content-Type": "text/plain"}
        r = c.post("/v1/moderate", content=b'{"id": "t", "text": "hi"}', headers=plain)
        _error(r, 415, "unsupported_media_type")
        err = _error(c.post("/v1/moderate", headers=json_type), 422, "validation_error")
        assert "body is required" in err["message"]


# -- operations -----------------------------------------------------------------------------------


def test_healthz_and_metrics(server: Server) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["versions"]["policy"].startswith("warden-default@")
    with server.client("client") as c:
        c.post("/v1/moderate", json={"id": _uid("metrics"), "text": "Fuck you, you stupid bitch"})
        c.get("/v1/decisions/missing-for-metrics")
    r = httpx.get(f"{server.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for needle in (
        "warden_items_moderated_total{action=",
        "warden_category_flagged_total{category=",
        'warden_request_latency_seconds_bucket{endpoint="/v1/moderate"',
        'endpoint="/v1/decisions/{decision_id}"',
        "warden_batch_size_bucket",
        'warden_stage_latency_seconds_bucket{le="0.001",stage="fast"}',
        'warden_http_errors_total{status="404"}',
    ):
        assert needle in text, needle
    values = _metrics(server)
    assert sum(v for (name, _), v in values.items() if name == "warden_items_moderated_total") > 0


def test_openapi_document(server: Server) -> None:
    doc = httpx.get(f"{server.url}/openapi.json").json()
    assert doc["info"]["title"] == "Warden"
    paths = doc["paths"]
    for path, method in [
        ("/v1/moderate", "post"),
        ("/v1/decisions/{decision_id}", "get"),
        ("/v1/decisions", "get"),
        ("/v1/policies", "get"),
        ("/v1/moderations", "post"),
        ("/v1/admin/api-keys", "post"),
        ("/v1/admin/api-keys", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths[path], (path, method)
        assert paths[path][method]["tags"], path
    moderate = paths["/v1/moderate"]["post"]
    schema = moderate["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/DecisionsResponse")
    assert {"ApiKeyHeader", "BearerKey"} <= set(doc["components"]["securitySchemes"])
    assert "examples" in doc["components"]["schemas"]["DecisionsResponse"]


# -- micro-batching -------------------------------------------------------------------------------


def _batch_histogram(server: Server) -> tuple[float, float]:
    values = _metrics(server)
    return values[("warden_batch_size_count", ())], values[("warden_batch_size_bucket", (("le", "1.0"),))]


def test_concurrent_requests_are_micro_batched(server: Server) -> None:
    count_before, singles_before = _batch_histogram(server)
    n = 20
    barrier = threading.Barrier(n)
    prefix = _uid("conc")

    def one(i: int) -> httpx.Response:
        with server.client("client") as c:
            barrier.wait()
            return c.post("/v1/moderate", json={"id": f"{prefix}-{i}", "text": f"Comment {i} is fine."})

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    assert [r.status_code for r in responses] == [200] * n, [r.text for r in responses]
    assert [r.json()["decisions"][0]["content_id"] for r in responses] == [f"{prefix}-{i}" for i in range(n)]
    count_after, singles_after = _batch_histogram(server)
    calls = count_after - count_before
    merged = calls - (singles_after - singles_before)
    assert 0 < calls < n and merged >= 1, (calls, merged)


def test_concurrent_conflict_fails_only_its_request(server: Server) -> None:
    taken = _uid("taken")
    with server.client("client") as c:
        assert c.post("/v1/moderate", json={"id": taken, "text": "original"}).status_code == 200
    bodies = [
        {"id": _uid("ok1"), "text": "fine"},
        {"id": taken, "text": "different"},
        {"id": _uid("ok2"), "text": "also fine"},
    ]
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, str]) -> httpx.Response:
        with server.client("client") as c:
            barrier.wait()
            return c.post("/v1/moderate", json=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        ok1, conflict, ok2 = pool.map(post, bodies)
    assert ok1.status_code == 200 and ok2.status_code == 200, (ok1.text, ok2.text)
    _error(conflict, 409, "conflict")


def test_batcher_fallback_and_dedupe_with_the_real_service(server: Server) -> None:
    """Deterministic batching (a long wait window) around the server's real ModerationService."""
    service = server.state.service
    taken = _uid("b-taken")
    service.moderate([Content(id=taken, text="original")], actor="test")
    good = Content(id=_uid("b-good"), text="A perfectly normal sentence.")
    clash = Content(id=taken, text="changed text")
    sizes: list[int] = []

    async def scenario() -> list[Any]:
        async with MicroBatcher(service.moderate, max_size=64, max_wait_ms=300, on_batch=sizes.append) as b:
            requests = [b.submit([good], "test"), b.submit([clash], "test"), b.submit([good], "test")]
            return await asyncio.gather(*requests, return_exceptions=True)

    first, failed, dup = asyncio.run(scenario())
    # One combined call of the 2 distinct items (the duplicate id+content deduplicated), which
    # conflicts; then each request alone so that only the conflicting one fails.
    assert sizes == [2, 1, 1, 1], sizes
    assert isinstance(failed, ConflictError)
    assert isinstance(first, list) and isinstance(dup, list)
    assert first[0].decision_id == dup[0].decision_id

    sizes.clear()
    same = Content(id=_uid("b-same"), text="Same item from two requests")

    async def dedupe() -> list[Any]:
        async with MicroBatcher(service.moderate, max_size=64, max_wait_ms=300, on_batch=sizes.append) as b:
            return list(await asyncio.gather(b.submit([same], "test"), b.submit([same, good], "test")))

    a, b = asyncio.run(dedupe())
    assert sizes == [2] and a[0].decision_id == b[0].decision_id and b[1].content_id == good.id


def test_batcher_sheds_past_its_queue_bounds(server: Server) -> None:
    """Past `max_queued_items` (overall) or `max_queued_items_per_actor`, a request is refused at
    once with a Retry-After, and the queued ones are still answered."""
    service = server.state.service
    items = [Content(id=_uid(f"shed-{i}"), text=f"An ordinary comment number {i}.") for i in range(5)]

    async def scenario() -> list[Any]:
        async with MicroBatcher(
            service.moderate, max_size=64, max_wait_ms=300, max_queued_items=3, max_queued_items_per_actor=2
        ) as b:
            waiting = [
                asyncio.ensure_future(b.submit([items[0]], "a")),
                asyncio.ensure_future(b.submit([items[1]], "a")),
            ]
            await asyncio.sleep(0.01)
            outcomes: list[Any] = []
            for item, actor in ((items[2], "a"), (items[3], "b"), (items[4], "c")):
                try:
                    outcomes.append(await asyncio.wait_for(asyncio.shield(b.submit([item], actor)), 0.05))
                except (OverloadedError, TimeoutError) as exc:
                    outcomes.append(exc)
            return outcomes + list(await asyncio.gather(*waiting))

    third_a, first_b, first_c, *answered = asyncio.run(scenario())
    assert isinstance(third_a, OverloadedError) and "this API key" in str(third_a)  # a holds 2 of 2
    assert isinstance(first_b, TimeoutError)  # admitted: waits in the window with a's two
    assert isinstance(first_c, OverloadedError) and "the server" in str(first_c)  # 3 of 3 queued
    assert first_c.retry_after_s >= 1.0
    assert [d[0].content_id for d in answered] == [items[0].id, items[1].id]


def test_api_answers_429_with_retry_after_past_capacity(server: Server, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'shed.db'}", auth_enabled=False).override(
        pipeline={"queue_max_items": 4, "batch_max_wait_ms": 200}
    )
    app = create_app(settings, moderator=server.state.moderator)
    n = 24
    barrier = threading.Barrier(n)
    with _serve(app) as url:

        def one(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=60) as c:
                barrier.wait()
                return c.post("/v1/moderate", json={"id": f"shed-{i}", "text": f"Comment {i} is fine."})

        with ThreadPoolExecutor(n) as pool:
            responses = list(pool.map(one, range(n)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429} and codes.count(200) >= 4 and codes.count(429) >= 1, codes
    shed = next(r for r in responses if r.status_code == 429)
    assert int(shed.headers["Retry-After"]) >= 1 and shed.json()["error"]["type"] == "overloaded"


# -- other configurations -------------------------------------------------------------------------


def test_auth_disabled_is_anonymous(server: Server, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dev.db'}", auth_enabled=False)
    # The already loaded moderator is injected: no second model load.
    app = create_app(settings, moderator=server.state.moderator)
    with _serve(app) as url, httpx.Client(base_url=url) as c:
        r = c.post("/v1/moderate", json={"id": "dev-1", "text": "hello there"})
        assert r.status_code == 200, r.text
        assert c.get("/v1/admin/api-keys").json() == {"keys": []}
        audit = app.state.warden.store.list_audit(object_id=r.json()["decisions"][0]["decision_id"])
        assert [row["actor"] for row in audit] == ["anonymous"]
    assert not (tmp_path / "bootstrap-admin.key").exists()


def test_restart_keeps_existing_keys(server: Server) -> None:
    key_file = server.db_dir / "bootstrap-admin.key"
    before = key_file.read_text()
    app = create_app(server.settings, moderator=server.state.moderator)
    with _serve(app) as url:
        r = httpx.get(f"{url}/v1/admin/api-keys", headers={"X-API-Key": server.keys["admin"]})
        assert r.status_code == 200
        assert [k["name"] for k in r.json()["keys"]].count("bootstrap-admin") == 1
    assert key_file.read_text() == before
    assert os.stat(key_file).st_mode & 0o077 == 0


def test_metrics_stay_bounded_under_random_methods_and_paths(server: Server) -> None:
    """Unauthenticated junk (random method names and paths) folds into fixed label values: the
    /metrics page and the process stay the same size however much of it arrives."""
    import resource

    from warden.bench.reliability import unknown_method_flood

    def flood(total: int) -> None:  # eight clients at once
        assert unknown_method_flood(server.url, total, clients=8) == 0

    flood(200)  # warm-up: the fixed label values exist from here on (the scrape's own series too)
    httpx.get(f"{server.url}/metrics")
    before = len(httpx.get(f"{server.url}/metrics").text)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    flood(3_000)
    after = len(httpx.get(f"{server.url}/metrics").text)
    assert after <= 1.1 * before, (before, after)
    # The server runs in this process: its peak memory may not grow by more than a few MB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 20_000  # KiB
    assert 'method="other"' in httpx.get(f"{server.url}/metrics").text


def test_input_refused_inside_an_endpoint_is_a_4xx_not_a_500(server: Server) -> None:
    # A NUL byte passes the OpenAI schema (any string) and is refused when the input becomes Content.
    with server.client("client") as c:
        r = c.post("/v1/moderations", json={"input": ["fine text", "bad\u0000text"]})
        assert _error(r, 422, "validation_error")["message"].startswith("input[1]: ")
        assert c.post("/v1/moderations", json={"input": "still works"}).status_code == 200  # same connection
    # The mechanism: any model validation failing inside an endpoint answers 422, for every route.
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from warden.content import Content
    from warden.serve.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/late")
    def late(text: str) -> dict[str, str]:
        return {"id": Content(id="x", text=text).id}

    with TestClient(app, raise_server_exceptions=False) as client:
        body = client.get("/late", params={"text": "a\u0000b"})
        assert body.status_code == 422 and body.json()["error"]["details"][0]["loc"] == ["body", "text"]


def test_free_form_fields_that_could_not_be_served_back_are_refused_at_the_edge(server: Server) -> None:
    from warden.bench.bad_input import nested_json as nested

    with server.client("client") as c:
        # Past the configured limit (limits.max_metadata_depth)...
        r = c.post("/v1/moderate", json={"id": _uid("deep"), "text": "hi", "metadata": nested(100)})
        assert "nested more than 32 levels" in _error(r, 422, "validation_error")["message"]
        # ... and past the ceiling every Content enforces: under the parser's limit and under 16 KB,
        # but no serialiser's friend.
        r = c.post("/v1/moderate", json={"id": _uid("deep"), "text": "hi", "metadata": nested(300)})
        assert "nested more than 200 levels" in _error(r, 422, "validation_error")["message"]
        body = '{"id": "nan-1", "text": "hi", "metadata": {"score": NaN}}'  # Python's json reads NaN
        r = c.post("/v1/moderate", content=body, headers={"content-type": "application/json"})
        assert r.status_code in (400, 422) and r.json()["error"]["type"] in (
            "validation_error",
            "invalid_json",
        )
        for blank in (" ", "\u200b\u200b"):
            _error(c.post("/v1/moderate", json={"id": blank, "text": "hi"}), 422, "validation_error")
        form = {"id": _uid("form"), "metadata": "[" * 10_000 + "]" * 10_000}
        files = {"files": ("x.png", b"\x89PNG\r\n\x1a\n", "image/png")}
        r = c.post("/v1/moderate/upload", data=form, files=files)
        assert r.status_code in (400, 413, 422), r.text
        assert c.post("/v1/moderate", json={"id": _uid("after"), "text": "still fine"}).status_code == 200
    with server.client("admin") as admin:
        r = admin.put("/v1/policies/active", json={"yaml": "[" * 5_000 + "]" * 5_000})
        assert r.status_code == 422 and "nested too deeply" in r.text, r.text
