"""The official `openai` Python SDK, pointed at a real Warden server: text, lists of texts, the
omni-moderation multimodal input (text and image_url parts), the echoed model, and errors
surfaced as the SDK's own exception types."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_samples import BENIGN, VIOLENT, encode, text_image
from support import serve_app

from warden.serve import create_app
from warden.serve.openai_compat import OPENAI_CATEGORIES
from warden.settings import Settings

openai = pytest.importorskip("openai", reason="the openai SDK is a dev dependency (make setup)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("openai-sdk")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        pipeline={"batch_max_wait_ms": 5.0},
        media={"store_dir": root / "media"},
    )
    with serve_app(create_app(settings)) as url:
        admin = (root / "bootstrap-admin.key").read_text().strip()
        yield url, admin


@pytest.fixture
def client(server: tuple[str, str]) -> openai.OpenAI:
    url, key = server
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def test_text_and_lists_of_texts(client: openai.OpenAI) -> None:
    one = client.moderations.create(model="omni-moderation-latest", input=VIOLENT)
    assert one.model == "omni-moderation-latest" and len(one.results) == 1
    result = one.results[0]
    assert result.flagged and result.categories.violence
    assert result.category_scores.violence > 0.5
    assert result.category_applied_input_types.violence == ["text"]
    many = client.moderations.create(input=[BENIGN, VIOLENT, BENIGN])
    assert [r.flagged for r in many.results] == [False, True, False]
    # Every key of the omni-moderation schema is present, including the sub-categories.
    dumped = many.results[0].model_dump(by_alias=True)
    assert set(dumped["categories"]) >= set(OPENAI_CATEGORIES)
    assert set(dumped["category_scores"]) >= set(OPENAI_CATEGORIES)


def test_multimodal_input_is_one_item_with_its_image_judged(client: openai.OpenAI) -> None:
    threat_picture = _data_url(encode(text_image(VIOLENT), "PNG"))
    response = client.moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "look at what they sent me"},
            {"type": "image_url", "image_url": {"url": threat_picture}},
        ],
    )
    assert len(response.results) == 1  # the parts are one item
    result = response.results[0]
    assert result.flagged, result  # the threat is in the picture only (OCR)
    assert result.category_applied_input_types.violence == ["text", "image"]
    image_only = client.moderations.create(
        input=[{"type": "image_url", "image_url": {"url": _data_url(encode(text_image(BENIGN), "PNG"))}}]
    )
    benign = image_only.results[0]
    assert not benign.flagged and benign.category_applied_input_types.sexual == ["image"]


def test_errors_are_the_sdks_exception_types(client: openai.OpenAI, server: tuple[str, str]) -> None:
    url, _ = server
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="wdn_not-a-key", max_retries=0).moderations.create(
            input="hi"
        )
    with pytest.raises(openai.UnprocessableEntityError):
        client.moderations.create(input=[])
    with pytest.raises(openai.UnprocessableEntityError, match="base64"):
        client.moderations.create(
            input=[{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="fetch"):  # remote URLs: fetching is off
        client.moderations.create(
            input=[{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
        )
    with pytest.raises(openai.APIStatusError) as caught:  # bytes that are no image
        client.moderations.create(
            input=[{"type": "image_url", "image_url": {"url": _data_url(b"just some text")}}]
        )
    assert caught.value.status_code == 415


def test_the_docs_example_runs(client: openai.OpenAI, server: tuple[str, str], tmp_path: Path) -> None:
    """The copy-paste example of docs/openai.md, run as written (base URL and key substituted)."""
    from support import REPO

    doc = (REPO / "docs" / "openai.md").read_text(encoding="utf-8")
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    url, key = server
    example = example.replace("http://127.0.0.1:8000", url).replace('"wdn_..."', repr(key))
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/openai.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["result"] is not None
