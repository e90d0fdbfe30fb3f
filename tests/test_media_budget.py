"""Media memory budgets: pixels per item and per request (refused from the headers, 413, nothing
kept), the process-wide decode budget (a decode waits until its pixels fit), and large stills
decoded once and shrunk for analysis without changing what matters (PDQ hashes, OCR input, boxes)."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from media_samples import background, encode, gif, scene_video
from PIL import Image
from support import serve_app

from warden.banks.signal_types.pdq import PdqSignal
from warden.content import Content, Media
from warden.media import images as images_module
from warden.media.analyze import MediaAnalyzer, MediaTier, _lossless
from warden.media.budget import DecodeBudget, PixelAccount, charge, request_pixels, shared_budget
from warden.media.frames import declared_pixels, decode_media
from warden.media.images import MediaLimitError, exif_upright, open_unloaded, shrink_to_rgb, to_rgb
from warden.media.intake import MediaBatchError
from warden.media.ocr import _working_copy
from warden.media.types import Frame, OcrResult, OcrWord
from warden.serve import create_app
from warden.settings import BankSettings, Limits, MediaSettings, Settings
from warden.signals import Evidence, Signal

LIMITS = Limits()
MEDIA = MediaSettings()
SIDE = (300, 200)  # 60,000 pixels per test image
PIXELS = SIDE[0] * SIDE[1]


def _png(seed: int = 0) -> bytes:
    return encode(background(*SIDE, seed=seed), "PNG")


def _item(prefix: str, images: int, seed: int = 0) -> Content:
    return Content(
        id=f"{prefix}-{uuid.uuid4().hex[:8]}",
        kind="image",
        media=[Media(data=_png(seed + k), content_type="image/png") for k in range(images)],
    )


def _tier(limits: Limits) -> MediaTier:
    return MediaTier(Settings(banks={"enabled": False}, limits=limits))


# -- item and request budgets through the pipeline ----------------------------------------------


def test_an_item_over_max_item_pixels_is_refused_from_its_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    tier = _tier(Limits(max_item_pixels=2 * PIXELS + 1))
    decodes: list[int] = []
    real = MediaTier.decode
    monkeypatch.setattr(MediaTier, "decode", lambda self, *a, **k: decodes.append(1) or real(self, *a, **k))
    item = _item("big", 3)
    with pytest.raises(MediaBatchError) as caught:
        tier.prepare([item])
    error = caught.value.failures[item.id]
    assert error.status == 413
    assert "this item would decode 180,000 pixels, limit is 120,001 (limits.max_item_pixels)" in str(error)
    assert decodes == [] and item._decoded is None  # refused before any attachment was decoded
    # Within the budget the same item decodes, and its pixels are what was declared.
    [fits] = tier.prepare([_item("ok", 2)])[1]
    assert fits is not None and [a.decoded.width * a.decoded.height for a in fits] == [PIXELS, PIXELS]


def test_a_batch_over_max_request_pixels_refuses_the_items_past_the_budget() -> None:
    tier = _tier(Limits(max_item_pixels=10 * PIXELS, max_request_pixels=5 * PIXELS))
    items = [_item("a", 2), _item("b", 2), _item("c", 2), _item("d", 1)]
    with pytest.raises(MediaBatchError) as caught:
        tier.prepare(items)
    assert set(caught.value.failures) == {items[2].id}  # 4 + 2 > 5; the one-image item still fits
    error = caught.value.failures[items[2].id]
    assert error.status == 413 and "limits.max_request_pixels" in str(error)
    assert "this request would decode 360,000 pixels, limit is 300,000" in str(error)
    assert items[2]._decoded is None and all(items[i]._decoded is not None for i in (0, 1, 3))
    # A retry without the refused item decodes nothing again (and charges nothing again).
    kept = [items[i] for i in (0, 1, 3)]
    assert [a is not None for a in tier.prepare(kept)[1]] == [True, True, True]


def test_an_open_request_account_spans_several_calls() -> None:
    tier = _tier(Limits(max_item_pixels=10 * PIXELS, max_request_pixels=3 * PIXELS))
    with request_pixels(tier.settings.limits) as request:
        tier.prepare([_item("one", 2)])
        with pytest.raises(MediaBatchError, match="limits.max_request_pixels"):
            tier.prepare([_item("two", 2)])
        assert request.used == 2 * PIXELS
    tier.prepare([_item("three", 2)])  # a new call outside: a new request


def test_animation_frames_and_video_keyframes_count_as_decoded(tmp_path: Path) -> None:
    frames = [background(*SIDE, seed=s) for s in range(4)]
    animation = gif(frames, 100)
    assert declared_pixels(animation, LIMITS, MEDIA) == 4 * PIXELS  # every frame is decoded
    account = PixelAccount(10 * PIXELS, "limits.max_item_pixels", "this item")
    decode_media(animation, "image/gif", LIMITS, MEDIA, accounts=(account,))
    assert account.used == 4 * PIXELS
    with pytest.raises(MediaLimitError, match="would decode 240,000 pixels, limit is 200,000"):
        decode_media(animation, None, LIMITS, MEDIA, accounts=(PixelAccount(200_000, "x", "this item"),))

    clip = scene_video(1, 1)
    account = PixelAccount(10**9, "limits.max_item_pixels", "this item")
    decoded = decode_media(clip, "video/mp4", LIMITS, MEDIA, accounts=(account,))
    assert declared_pixels(clip, LIMITS, MEDIA) is None  # videos are charged as they decode
    assert account.used == sum(f.image.width * f.image.height for f in decoded.frames) > 0
    small = PixelAccount(PIXELS, "limits.max_item_pixels", "this item")
    with pytest.raises(MediaLimitError, match="limits.max_item_pixels"):
        decode_media(clip, "video/mp4", LIMITS, MEDIA, accounts=(small,))


def test_charges_are_all_or_nothing() -> None:
    item = PixelAccount(100, "limits.max_item_pixels", "this item")
    request = PixelAccount(50, "limits.max_request_pixels", "this request")
    charge((item, request), 40)
    with pytest.raises(MediaLimitError, match="this request would decode 60 pixels, limit is 50"):
        charge((item, request), 20)
    assert (item.used, request.used) == (40, 40)
    charge((item, request), -10)  # an estimate given back
    assert (item.used, request.used) == (30, 30)


# -- the process-wide decode budget ---------------------------------------------------------------


def _wait_until(condition: Any, what: str) -> None:
    done = threading.Event()
    for _ in range(2000):
        if condition():
            return
        done.wait(0.005)
    raise AssertionError(f"timed out waiting until {what}")


def test_a_decode_waits_until_its_pixels_fit() -> None:
    budget = DecodeBudget(workers=4, max_pixels=100)
    first_in, release_first, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with budget.reserve(80):
            first_in.set()
            release_first.wait()

    def second() -> None:
        with budget.reserve(50):
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(10)
    b = threading.Thread(target=second)
    b.start()
    _wait_until(lambda: budget.waiting == 1, "the second decode queues")
    assert not second_in.is_set() and budget.used == 80  # 80 + 50 > 100: it must wait
    release_first.set()
    assert second_in.wait(10)
    a.join(10)
    b.join(10)
    assert (budget.used, budget.active, budget.waiting) == (0, 0, 0)


def test_the_worker_count_and_arrival_order_are_kept() -> None:
    budget = DecodeBudget(workers=1, max_pixels=1_000)
    order: list[str] = []
    hold = threading.Event()

    def decode(name: str, pixels: int, wait: threading.Event | None = None) -> None:
        with budget.reserve(pixels):
            order.append(name)
            if wait is not None:
                wait.wait()

    first = threading.Thread(target=decode, args=("first", 10, hold))
    first.start()
    _wait_until(lambda: budget.active == 1, "the first decode runs")
    big = threading.Thread(target=decode, args=("big", 5_000))  # above the budget: runs alone
    big.start()
    _wait_until(lambda: budget.waiting == 1, "the big decode queues")
    small = threading.Thread(target=decode, args=("small", 1))
    small.start()
    _wait_until(lambda: budget.waiting == 2, "the small decode queues behind it")
    assert order == ["first"]  # one worker: even a 1-pixel decode waits
    hold.set()
    for t in (first, big, small):
        t.join(10)
    assert order == ["first", "big", "small"]  # first come, first served: no starving


def test_decode_media_runs_within_the_shared_budget() -> None:
    media = MediaSettings(decode_workers=2, max_decoding_pixels=PIXELS + 7)  # a budget of its own
    budget = shared_budget(media)
    assert shared_budget(media.model_copy()) is budget
    done = threading.Event()
    out: list[Any] = []

    def decode() -> None:
        out.append(decode_media(_png(), "image/png", LIMITS, media))
        done.set()

    with budget.reserve(PIXELS):  # another decode holds most of the budget
        worker = threading.Thread(target=decode)
        worker.start()
        _wait_until(lambda: budget.waiting == 1, "the decode queues")
        assert not done.is_set()
    assert done.wait(30)
    worker.join(10)
    assert out[0].frames[0].image.size == SIDE and budget.used == 0


# -- large stills: decoded once, shrunk, results kept ----------------------------------------------


def _photo(width: int, height: int, seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (height // 50, width // 50, 3), dtype=np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )


def test_normal_images_decode_exactly_as_before() -> None:
    photo = _photo(1600, 1200)
    for data in (
        encode(photo, "PNG"),
        encode(photo, "JPEG", quality=90),
        encode(photo.convert("RGBA"), "PNG"),
    ):
        [frame] = decode_media(data, None, LIMITS, MEDIA).frames
        image = open_unloaded(data, LIMITS)
        image.load()
        assert frame.source_size is None
        assert np.array_equal(np.asarray(frame.image), np.asarray(to_rgb(exif_upright(image))))


def test_a_large_still_is_shrunk_to_what_ocr_reads() -> None:
    photo = _photo(4000, 3000)  # a 12 MP phone photo
    [frame] = decode_media(encode(photo, "PNG"), None, LIMITS, MEDIA).frames
    assert frame.image.width * frame.image.height <= MEDIA.max_analysis_pixels * 1.001
    assert frame.source_size == (4000, 3000)
    # The same pixels OCR worked on when it shrank the full picture itself.
    assert np.array_equal(np.asarray(frame.image), np.asarray(_working_copy(photo)[0]))
    # A 40 MP JPEG: decoded by DCT scaling, shrunk, upright as its EXIF says.
    exif = Image.Exif()
    exif[0x0112] = 6
    big = encode(_photo(7200, 5400), "JPEG", quality=80, exif=exif)
    decoded = decode_media(big, None, LIMITS, MEDIA)
    [frame] = decoded.frames
    assert (decoded.width, decoded.height) == frame.source_size == (5400, 7200)
    assert frame.image.height > frame.image.width and frame.image.width * frame.image.height <= 8_010_000


def test_shrinking_any_mode_matches_converting_first() -> None:
    photo = _photo(3000, 2400)
    for mode in ("RGBA", "P", "L", "CMYK", "I;16"):
        image = (
            photo.convert(mode)
            if mode != "I;16"
            else Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
        )
        shrunk = np.asarray(shrink_to_rgb(image, 1_000_000), dtype=np.int16)
        reference = np.asarray(to_rgb(image).resize(shrink_to_rgb(image, 1_000_000).size), dtype=np.int16)
        assert shrunk.shape == reference.shape and np.abs(shrunk - reference).mean() < 2.0, mode


class _Banks:
    """The part of a BankMatcher that decoding reads: which signal types have entries."""

    def __init__(self) -> None:
        self.types = {"pdq": PdqSignal(BankSettings(), LIMITS)}

    def active_types(self) -> set[str]:
        return {"pdq"}


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(lambda: _photo(640, 360), id="small"),
        pytest.param(lambda: _photo(1600, 1200), id="normal"),
        pytest.param(lambda: _photo(4000, 3000), id="large"),
        pytest.param(lambda: _photo(1600, 1200).convert("P"), id="palette"),
        pytest.param(lambda: _photo(1600, 300).convert("RGBA"), id="wide-alpha"),
    ],
)
def test_pdq_hashes_do_not_change(image: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(image(), "PNG")
    pdq = PdqSignal(BankSettings(), LIMITS)
    expected = pdq.from_bytes(data, "image")  # the file decoded at full size, as before
    reference = decode_media(data, None, LIMITS, MEDIA, reference=True).reference
    assert reference is not None and pdq.from_bytes(_lossless(reference), "image") == expected
    opened: list[tuple[int, int]] = []
    real_open = images_module.open_image
    monkeypatch.setattr(
        images_module, "open_image", lambda d, limits: opened.append((o := real_open(d, limits)).size) or o
    )
    attachment = _tier(LIMITS).decode(0, Media(data=data), _Banks())  # type: ignore[arg-type]
    assert attachment.fingerprints["pdq"] == expected
    assert opened and all(w <= 512 and h <= 512 for w, h in opened)  # the file is not decoded a second time
    assert attachment.decoded.reference is None  # hashed, then not kept with the item


class _Nsfw:
    name, identity = "image_nsfw", "stub"

    def detect_frames(self, frames: list[Frame]) -> list[Signal]:
        return [
            Signal(
                "image_nsfw",
                "1",
                scores={"sexual": 0.1},
                evidence=[
                    Evidence("sexual", "image_nsfw", "image_region", detail={"box": [0, 0, *f.image.size]})
                ],
            )
            for f in frames
        ]


class _Ocr:
    def recognise_batch(self, images: list[Image.Image]) -> list[OcrResult]:
        word = OcrWord("hello", left=100, top=50, width=200, height=40, confidence=90.0, start=0, end=5)
        return [OcrResult("hello", [word]) for _ in images]


def test_boxes_are_reported_in_the_source_pictures_pixels() -> None:
    analyzer = MediaAnalyzer(MEDIA, nsfw=_Nsfw(), ocr=_Ocr())  # type: ignore[arg-type]
    shrunk = Frame(Image.new("RGB", (2000, 1500)), source_size=(4000, 3000))
    plain = Frame(Image.new("RGB", (640, 360)), media_index=1)
    [[big], [small]] = analyzer.analyze([[shrunk], [plain]])
    assert (big.width, big.height) == (4000, 3000) and (small.width, small.height) == (640, 360)
    assert big.evidence[0].detail["box"] == [0, 0, 4000, 3000]
    assert small.evidence[0].detail["box"] == [0, 0, 640, 360]
    assert big.ocr is not None and big.ocr.words[0].box() == [200, 100, 400, 80]
    assert small.ocr is not None and small.ocr.words[0].box() == [100, 50, 200, 40]


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root: Path = tmp_path_factory.mktemp("media-budget")
    settings = Settings(
        database_url=f"sqlite:///{root / 'warden.db'}",
        auth_enabled=False,
        banks=BankSettings(enabled=False),
        media={"store_dir": root / "media"},
        limits=Limits(max_item_pixels=2 * PIXELS, max_request_pixels=4 * PIXELS),
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def _json_item(prefix: str, images: int) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{uuid.uuid4().hex[:8]}",
        "kind": "image",
        "media": [
            {"data": base64.b64encode(_png(k)).decode(), "content_type": "image/png"} for k in range(images)
        ],
    }


def _stored(client: httpx.Client, content_id: str) -> bool:
    return client.get("/v1/decisions", params={"content_id": content_id}).status_code == 200


def test_http_item_and_request_budgets(client: httpx.Client) -> None:
    big = _json_item("big", 3)
    response = client.post("/v1/moderate", json=big)
    assert response.status_code == 413, response.text
    assert "limits.max_item_pixels" in response.json()["error"]["message"]
    assert not _stored(client, big["id"])

    items = [_json_item("a", 2), _json_item("b", 2), _json_item("c", 1)]  # 2 + 2 + 1 > 4
    response = client.post("/v1/moderate", json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["content_id"] for d in body["decisions"]] == [items[0]["id"], items[1]["id"]]
    [error] = body["errors"]
    assert (error["index"], error["status"], error["type"]) == (2, 413, "payload_too_large")
    assert "limits.max_request_pixels" in error["message"]
    assert not _stored(client, items[2]["id"]) and _stored(client, items[0]["id"])
    # The next request has a budget of its own.
    again = _json_item("again", 1)
    assert client.post("/v1/moderate", json=again).status_code == 200

    files = [("files", (f"{k}.png", _png(k), "image/png")) for k in range(3)]
    upload_id = f"upload-{uuid.uuid4().hex[:8]}"
    response = client.post("/v1/moderate/upload", data={"id": upload_id}, files=files)
    assert response.status_code == 413 and "limits.max_item_pixels" in response.json()["error"]["message"]
    assert not _stored(client, upload_id)
