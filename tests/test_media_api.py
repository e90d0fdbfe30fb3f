"""Media over HTTP: a real uvicorn server on 127.0.0.1 with the real moderator (text models, Open-NSFW,
Tesseract, ffmpeg), base64 JSON and multipart uploads, and malformed media in batches."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from media_samples import (
    BENIGN,
    HATEFUL,
    VIOLENT,
    background,
    decompression_bomb,
    encode,
    gif,
    scene_video,
    text_image,
    truncated_jpeg,
)
from support import serve_app

from warden.serve import create_app
from warden.settings import BankSettings, Settings


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root: Path = tmp_path_factory.mktemp("media-api")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        auth_enabled=False,
        banks=BankSettings(enabled=False),
        media={"store_dir": root / "media"},
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def _kinds(decision: dict[str, Any]) -> set[str]:
    return {ev["kind"] for reason in decision["reasons"] for ev in reason["evidence"]}


def test_json_base64_caption_and_image(client: httpx.Client) -> None:
    item = {
        "id": _id("post"),
        "text": "Sunday with the family",
        "media": [{"data": _b64(encode(text_image(HATEFUL))), "content_type": "image/jpeg"}],
    }
    response = client.post("/v1/moderate", json=item)
    assert response.status_code == 200, response.text
    body = response.json()
    [decision] = body["decisions"]
    assert body["errors"] == []
    assert decision["categories"]["hate"]["flagged"] and "ocr_word" in _kinds(decision)
    assert decision["media"][0]["kind"] == "image" and "animals" in decision["media"][0]["ocr_text"].lower()
    # Idempotent by content id: the same post again returns the stored decision.
    again = client.post("/v1/moderate", json=item).json()["decisions"][0]
    assert again["decision_id"] == decision["decision_id"]


def test_upload_image_gif_and_video(client: httpx.Client) -> None:
    frames = [background(seed=s) for s in range(2)] + [text_image(VIOLENT, seed=s) for s in range(2)]
    uploads = {
        "image": ("v.png", encode(text_image(VIOLENT), "PNG"), "image/png"),
        "gif": ("a.gif", gif(frames, 500), "image/gif"),
        "video": ("c.mp4", scene_video(2, 3, VIOLENT), "video/mp4"),
    }
    for name, file in uploads.items():
        response = client.post(
            "/v1/moderate/upload", data={"id": _id(name), "text": "see this"}, files=[("files", file)]
        )
        assert response.status_code == 200, (name, response.text)
        [decision] = response.json()["decisions"]
        assert decision["action"] == "remove", (name, decision["categories"]["violence"])
        [media] = decision["media"]
        words = [ev for r in decision["reasons"] for ev in r["evidence"] if ev["kind"] == "ocr_word"]
        assert words and all(len(ev["detail"]["box"]) == 4 for ev in words)
        if name == "image":
            assert media["kind"] == "image" and words[0]["detail"]["time_s"] is None
        else:
            assert media["kind"] == ("animation" if name == "gif" else "video")
            assert any(s["flagged"] for s in media["segments"]) and words[0]["detail"]["time_s"] >= 0.9


def test_upload_of_two_files_is_one_post(client: httpx.Client) -> None:
    files = [
        ("files", ("a.png", encode(text_image(BENIGN), "PNG"), "image/png")),
        ("files", ("b.jpg", encode(text_image(VIOLENT)), "image/jpeg")),
    ]
    response = client.post("/v1/moderate/upload", data={"id": _id("two")}, files=files)
    [decision] = response.json()["decisions"]
    assert [m["media_index"] for m in decision["media"]] == [0, 1]
    assert [m["action"] for m in decision["media"]] == ["allow", "remove"] and decision["action"] == "remove"


def test_malformed_media_in_a_batch_lose_nothing_else(client: httpx.Client) -> None:
    png = encode(background(), "PNG")
    items = [
        {"id": _id("good"), "kind": "image", "media": [{"data": _b64(png)}]},
        {"id": _id("trunc"), "kind": "image", "media": [{"data": _b64(truncated_jpeg())}]},
        {"id": _id("bomb"), "kind": "image", "media": [{"data": _b64(decompression_bomb())}]},
        {"id": _id("empty"), "kind": "image", "media": [{"data": ""}]},
        {"id": _id("wrong"), "kind": "image", "media": [{"data": _b64(png), "content_type": "video/mp4"}]},
        {"id": _id("path"), "kind": "image", "media": [{"path": "/etc/passwd"}]},
        {"id": _id("url"), "kind": "image", "media": [{"url": "http://127.0.0.1:9/x.png"}]},
        {"id": _id("text"), "text": BENIGN},
    ]
    response = client.post("/v1/moderate", json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["content_id"] for d in body["decisions"]] == [items[0]["id"], items[-1]["id"]]
    errors = {e["index"]: (e["status"], e["type"]) for e in body["errors"]}
    assert errors == {
        1: (422, "validation_error"),
        2: (413, "payload_too_large"),
        3: (422, "validation_error"),
        4: (415, "unsupported_media_type"),
        5: (422, "validation_error"),
        6: (422, "validation_error"),
    }
    messages = {e["index"]: e["message"] for e in body["errors"]}
    assert "truncated" in messages[1] and "decompression-bomb" in messages[2] and "0 bytes" in messages[3]
    assert "not accepted over HTTP" in messages[5] and "fetching is disabled" in messages[6]


@pytest.mark.parametrize(
    ("media", "status", "words"),
    [
        ({"data": _b64(b"")}, 422, "empty"),
        ({"data": _b64(decompression_bomb())}, 413, "pixels"),
        ({"data": _b64(b"just some text")}, 415, "unsupported media type"),
        ({"data": _b64(b"GIF89a" + b"\0" * 20)}, 422, "not a decodable image"),
    ],
)
def test_a_single_bad_item_gets_its_own_status(
    client: httpx.Client, media: dict[str, str], status: int, words: str
) -> None:
    response = client.post("/v1/moderate", json={"id": _id("bad"), "kind": "image", "media": [media]})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"] and error["details"][0]["loc"] == ["body", "items", 0, "media"]


def test_upload_refuses_wrong_types_and_bad_base64_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/moderate/upload", json={"id": "x"})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]["message"]
    fake = ("files", ("x.jpg", encode(background(), "PNG"), "video/mp4"))
    response = client.post("/v1/moderate/upload", data={"id": _id("fake")}, files=[fake])
    assert response.status_code == 415 and "does not match" in response.json()["error"]["message"]
    response = client.post("/v1/moderate", json={"id": _id("b64"), "media": [{"data": "no base64 here!"}]})
    assert response.status_code == 422 and "base64" in response.json()["error"]["message"]
    assert "/v1/moderate/upload" in client.get("/openapi.json").json()["paths"]
