"""The media path end to end through the Python API and the CLI: real decoders (Pillow, ffmpeg), the
real Open-NSFW ONNX model, real Tesseract and the shipped text models; media made on the fly."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from media_samples import (
    BENIGN,
    HATEFUL,
    TEXT_BOX,
    VIOLENT,
    background,
    decompression_bomb,
    encode,
    gif,
    scene_video,
    text_image,
    truncated_jpeg,
)
from typer.testing import CliRunner

from warden.cli import app
from warden.content import Content, Media
from warden.decision import Decision
from warden.media.analyze import MediaAnalyzer, MediaTier
from warden.media.fusion import MediaFusion, PostChannels, noisy_or
from warden.media.intake import MediaBatchError, MediaIntakeError, fetch_url, resolve_media
from warden.media.types import Frame
from warden.moderator import Moderator
from warden.settings import Limits, MediaSettings, Settings


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.from_settings(Settings(banks={"enabled": False})).load().load_media()


def _evidence(decision: Decision, kind: str) -> list[dict[str, Any]]:
    return [ev for reason in decision.reasons for ev in reason.evidence if ev["kind"] == kind]


def test_image_with_violent_text_is_read_and_decided_with_word_boxes(moderator: Moderator) -> None:
    image = text_image(VIOLENT)
    [decision] = moderator.moderate(
        [Content(id="img-1", kind="image", media=[Media(data=encode(image), content_type="image/jpeg")])]
    )
    assert decision.action == "remove" and decision.categories["violence"].flagged
    [result] = decision.media
    assert (result.kind, result.frames_analysed, result.width, result.height) == ("image", 1, 640, 360)
    assert "kill" in (result.ocr_text or "").lower()
    words = _evidence(decision, "ocr_word")
    assert words, decision.reasons
    for ev in words:
        left, top, width, height = ev["detail"]["box"]
        # The word boxes lie in the text band drawn at TEXT_BOX, not somewhere else in the picture.
        assert TEXT_BOX[0] - 15 <= left and top >= TEXT_BOX[1] - 15 and top + height <= 360
        assert ev["detail"]["media_index"] == 0 and ev["detail"]["time_s"] is None
        assert ev["detail"]["word"].lower().strip(".,") in VIOLENT.lower().split()
    assert "image_nsfw" in decision.versions.models and "media_fusion" in decision.versions.models


def test_benign_picture_is_allowed_with_an_nsfw_score(moderator: Moderator) -> None:
    [decision] = moderator.moderate(
        [Content(id="img-2", kind="image", media=[Media(data=encode(background(), "PNG"))])]
    )
    assert decision.action == "allow" and not decision.flagged
    [result] = decision.media
    assert result.content_type == "image/png" and result.ocr_text is None
    assert 0.0 <= result.probabilities["sexual"] < 0.2
    assert decision.categories["sexual"].evaluated and not decision.categories["hate"].evaluated


def test_animated_gif_gets_frames_times_and_segments(moderator: Moderator) -> None:
    frames = [background(seed=s) for s in range(3)] + [text_image(VIOLENT, seed=s) for s in range(3)]
    [decision] = moderator.moderate(
        [Content(id="gif-1", kind="image", media=[Media(data=gif(frames, 500), content_type="image/gif")])]
    )
    [result] = decision.media
    assert (
        result.kind == "animation" and result.frames_analysed == 6 and result.duration_s == pytest.approx(3.0)
    )
    assert decision.action == "remove"
    flagged = [s for s in result.segments if "violence" in s.flagged]
    assert flagged and flagged[0].start_s >= 1.0 and flagged[-1].end_s == pytest.approx(3.0)
    assert all(s.action == "allow" for s in result.segments if not s.flagged)
    times = {ev["detail"]["time_s"] for ev in _evidence(decision, "ocr_word")}
    assert times and all(t is not None and t >= 1.5 for t in times)


def test_video_keyframes_segments_and_whole_video_decision(moderator: Moderator) -> None:
    clip = scene_video(seconds_plain=3, seconds_text=3, text=VIOLENT)
    [decision] = moderator.moderate(
        [Content(id="vid-1", kind="video", media=[Media(data=clip, content_type="video/mp4")])]
    )
    [result] = decision.media
    assert result.kind == "video" and result.duration_s == pytest.approx(6.0, abs=0.2)
    assert 6 <= result.frames_analysed <= 12  # 1 fps plus the scene change
    assert decision.action == "remove" and decision.categories["violence"].flagged
    flagged = [s for s in result.segments if s.flagged]
    assert flagged and flagged[0].start_s >= 2.5 and flagged[-1].end_s == pytest.approx(6.0, abs=0.2)
    assert result.segments[0].start_s == 0.0 and result.segments[0].action == "allow"
    times = [ev["detail"]["time_s"] for ev in _evidence(decision, "ocr_word")]
    assert times and min(times) >= 2.5
    assert [s.name for s in decision.stages] == ["media", "text", "media_fusion"]


def test_ocr_reads_a_few_frames_and_shares_them_within_a_text_run(moderator: Moderator) -> None:
    shared = moderator.media.analyzer
    analyzer = MediaAnalyzer(MediaSettings(ocr_max_frames=2), nsfw=shared.nsfw, ocr=shared.ocr)
    plain = [Frame(background(seed=1), 0, k, float(k)) for k in range(3)]
    texty = [Frame(text_image(VIOLENT, seed=k), 0, 3 + k, 3.0 + k) for k in range(6)]
    [results] = analyzer.analyze([plain + texty])
    assert analyzer.last.ocr_frames == 2 and analyzer.last.frames == 9
    read = [fr for fr in results if fr.ocr is not None and not fr.ocr_shared]
    assert len(read) == 2 and all(fr.frame_index >= 3 for fr in read)
    # The text run's other frames borrow the nearest reading; the plain frames have none.
    assert all(fr.ocr is not None and "kill" in fr.ocr_text.lower() for fr in results[3:])
    assert all(fr.ocr is None for fr in results[:3])


def test_caption_and_image_are_one_decision(moderator: Moderator) -> None:
    benign_png = encode(text_image(BENIGN), "PNG")
    hateful_png = encode(text_image(HATEFUL), "PNG")
    posts = [
        Content(id="post-benign", text="Sunday with the family", media=[Media(data=benign_png)]),
        Content(id="post-ocr", text="Sunday with the family", media=[Media(data=hateful_png)]),
        Content(id="post-caption", text=HATEFUL, media=[Media(data=benign_png)]),
    ]
    benign, by_ocr, by_caption = moderator.moderate(posts)
    assert benign.action == "allow"
    assert by_ocr.categories["hate"].flagged and _evidence(by_ocr, "ocr_word")
    assert by_caption.categories["hate"].flagged
    caption_spans = [ev for r in by_caption.reasons for ev in r.evidence if ev.get("source") == "caption"]
    assert caption_spans and all(ev["kind"] == "text_span" for ev in caption_spans)
    # The caption is the item's text: its content hash covers text and image bytes.
    assert benign.content_hash != by_ocr.content_hash


def test_malformed_media_fail_alone_with_clear_statuses(moderator: Moderator) -> None:
    png = encode(background(), "PNG")
    items = [
        Content(id="good", kind="image", media=[Media(data=png)]),
        Content(id="truncated", kind="image", media=[Media(data=truncated_jpeg())]),
        Content(id="bomb", kind="image", media=[Media(data=decompression_bomb())]),
        Content(id="empty", kind="image", media=[Media(data=b"")]),
        Content(id="mislabelled", kind="image", media=[Media(data=png, content_type="video/mp4")]),
        Content(id="not-media", kind="image", media=[Media(data=b"hello, world")]),
        Content(id="text", text=BENIGN),
    ]
    with pytest.raises(MediaBatchError) as caught:
        moderator.moderate(items)
    statuses = {cid: err.status for cid, err in caught.value.failures.items()}
    assert statuses == {"truncated": 422, "bomb": 413, "empty": 422, "mislabelled": 415, "not-media": 415}
    assert "truncated" in str(caught.value.failures["truncated"])
    assert "decompression-bomb" in str(caught.value.failures["bomb"])
    rest = [item for item in items if item.id not in statuses]
    assert [d.content_id for d in moderator.moderate(rest)] == ["good", "text"]


def test_media_limits_are_settings(moderator: Moderator) -> None:
    settings = moderator.settings.model_copy(update={"limits": Limits(max_media_bytes=1000)})
    tier = MediaTier(settings, moderator.media.analyzer, moderator.media.fusion)
    small = Moderator(moderator.policy, moderator.pipeline, settings, media=tier)
    with pytest.raises(MediaBatchError) as caught:
        small.moderate([Content(id="big", kind="image", media=[Media(data=encode(background(), "PNG"))])])
    assert caught.value.failures["big"].status == 413 and "limit is 1,000" in str(caught.value)


# -- intake ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    (root / "pic.png").write_bytes(encode(text_image(BENIGN), "PNG"))
    (root / "big.bin").write_bytes(b"\0" * 5000)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            if self.path.startswith("/redirect-out"):
                self.send_response(302)
                self.send_header("Location", "http://localhost.invalid/pic.png")
                self.end_headers()
                return
            if self.path.startswith("/redirect-in"):
                self.send_response(302)
                self.send_header("Location", "/pic.png")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_fetch_is_off_by_default_and_allow_listed(file_server: str) -> None:
    limits = Limits()
    with pytest.raises(MediaIntakeError, match="fetching is disabled"):
        resolve_media(Media(url=f"{file_server}/pic.png"), MediaSettings(), limits, allow_path=False)
    on = MediaSettings(fetch_enabled=True, fetch_allow_hosts=["127.0.0.1"], fetch_timeout_s=5)
    got = resolve_media(Media(url=f"{file_server}/pic.png"), on, limits, allow_path=False)
    assert got.data.startswith(b"\x89PNG") and got.content_type == "image/png" and got.source == "url"
    assert fetch_url(f"{file_server}/redirect-in", on, 10**6)[0].startswith(b"\x89PNG")
    with pytest.raises(MediaIntakeError, match="not in media.fetch_allow_hosts"):
        fetch_url(f"{file_server}/redirect-out", on, 10**6)
    other = MediaSettings(fetch_enabled=True, fetch_allow_hosts=["media.example.org"])
    with pytest.raises(MediaIntakeError, match="not in media.fetch_allow_hosts"):
        fetch_url(f"{file_server}/pic.png", other, 10**6)
    with pytest.raises(MediaIntakeError) as too_big:
        fetch_url(f"{file_server}/big.bin", on, 1000)
    assert too_big.value.status == 413
    with pytest.raises(MediaIntakeError, match="only http and https"):
        fetch_url("file:///etc/passwd", on, 1000)


def test_paths_are_read_with_limits_only_where_allowed(tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    picture.write_bytes(encode(background(), "PNG"))
    settings, limits = MediaSettings(), Limits()
    with pytest.raises(MediaIntakeError, match="not accepted over HTTP"):
        resolve_media(Media(path=str(picture)), settings, limits, allow_path=False)
    assert resolve_media(Media(path=str(picture)), settings, limits, allow_path=True).filename == "p.png"
    with pytest.raises(MediaIntakeError, match="does not exist"):
        resolve_media(Media(path=str(tmp_path / "nope.png")), settings, limits, allow_path=True)
    with pytest.raises(MediaIntakeError, match="not a regular file"):
        resolve_media(Media(path="/dev/zero"), settings, limits, allow_path=True)
    with pytest.raises(MediaIntakeError) as big:
        resolve_media(Media(path=str(picture)), settings, Limits(max_media_bytes=10), allow_path=True)
    assert big.value.status == 413


# -- fusion --------------------------------------------------------------------------------------------


def test_fusion_learns_hate_and_uses_a_documented_prior_elsewhere() -> None:
    fusion = MediaFusion.load()
    assert fusion.kind("hate") == "learned" and fusion.kind("sexual") == "prior"
    holdout = fusion.metrics["calib_hate"]
    assert holdout["holdout_ece_learned"] < 0.1 and holdout["n_holdout"] >= 200
    # A stronger channel never lowers the learned probability.
    low = fusion.fuse_one(PostChannels(caption={"hate": 0.1}, ocr={"hate": 0.1}), "hate")[0]
    high = fusion.fuse_one(PostChannels(caption={"hate": 0.1}, ocr={"hate": 0.95}), "hate")[0]
    assert high > low
    # NSFW speaks to `sexual` only, combined by noisy-OR with the text channels.
    p, evaluated = fusion.fuse_one(PostChannels(caption={"sexual": 0.2}, nsfw=0.5), "sexual")
    assert evaluated and p == pytest.approx(noisy_or([0.2, 0.5])) == pytest.approx(0.6)
    assert fusion.fuse_one(PostChannels(nsfw=0.9), "hate") == (0.0, False)
    probs, evaluated_all = fusion.fuse([PostChannels(nsfw=0.9)], ["sexual", "hate"])
    assert np.allclose(probs, [[0.9, 0.0]]) and evaluated_all.tolist() == [[True, False]]


# -- CLI -------------------------------------------------------------------------------------------------


def test_cli_moderates_media_files_and_keeps_going_past_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "violent.png").write_bytes(encode(text_image(VIOLENT), "PNG"))
    (tmp_path / "anim.gif").write_bytes(gif([background(seed=s) for s in range(2)], 400))
    (tmp_path / "bad.jpg").write_bytes(truncated_jpeg())
    (tmp_path / "clip.mp4").write_bytes(scene_video(2, 2, BENIGN))
    rows = [
        {"id": "row-1", "text": "look", "media": [{"path": "violent.png"}]},
        {"id": "row-2", "kind": "image", "media": [{"path": "bad.jpg"}]},
        {"id": "row-3", "kind": "image", "media": [{"path": "missing.png"}]},
        {"id": "row-4", "text": "plain text row"},
    ]
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    settings_env = {"WARDEN_BANKS__ENABLED": "false"}
    result = CliRunner().invoke(
        app,
        [
            "moderate",
            str(data),
            "-o",
            str(out),
            "--image",
            str(tmp_path / "anim.gif"),
            "--video",
            str(tmp_path / "clip.mp4"),
            "--no-banks",
        ],  # fmt: skip
        env=settings_env,
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {line.get("content_id"): line for line in lines}
    assert by_id["row-1"]["action"] == "remove" and by_id["row-1"]["media"][0]["ocr_text"]
    assert "truncated" in by_id["row-2"]["error"] and "does not exist" in by_id["row-3"]["error"]
    assert by_id["row-4"]["action"] == "allow"
    assert by_id["anim.gif"]["media"][0]["kind"] == "animation"
    assert by_id["clip.mp4"]["media"][0]["kind"] == "video" and by_id["clip.mp4"]["media"][0]["segments"]
