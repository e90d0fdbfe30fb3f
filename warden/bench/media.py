"""Media area: images/s per stage and end to end, video speed against real time, memory, meme quality.

Figures (flat, unit in the name):
- decode_images_per_s: `decode_media` on JPEG memes (~420-720 px wide), one thread;
- nsfw_images_per_s: Open-NSFW forward passes (+ embedding) on decoded frames, batched, 2 threads;
- ocr_images_per_s: Tesseract on the same memes (`media.threads` parallel processes);
- image_path_images_per_s: `Moderator.moderate` on posts of one image each (decode, NSFW, OCR, text
  cascade on the OCR text, fusion), batches of 32;
- video_realtime_factor: seconds of video per second of processing for a 60 s 640x360 30 fps H.264
  clip (ffmpeg's moving testsrc2 pattern, a caption on screen from 20 s to 40 s) at the default
  sampling (1 fps + scene changes), OCR on at most `media.ocr_max_frames` keyframes;
- peak_rss_mb: the benchmark process's peak resident memory;
- meme_ocr_f1 / meme_text_f1 / meme_ocr_cer: the text tier's `hate` F1 on the OCR text of rendered
  test-split memes vs on their true text (same memes), and OCR's character error rate;
- meme_fused_f1: `hate` F1 of the multimodal fusion on test-split posts (meme + caption).
Memes need the data sets (`WARDEN_DATA_DIR`); without them the quality figures are left out.
"""

from __future__ import annotations

import io
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from ..content import Content, Media
from ..errors import MissingDataError
from ..moderator import Moderator
from ..settings import get_settings

console = Console()
N_IMAGES = 192
N_QUALITY = None  # every test-split meme (374)


def _jpeg(image) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Seconds of the fastest of `repeat` runs (the shared host's noise only slows runs down)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _test_video(seconds: int = 60) -> bytes:
    """ffmpeg's moving test pattern with an outlined caption on screen for the middle third (so OCR
    runs as on a real clip with overlay text); without drawtext (no libfreetype) the pattern alone."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MissingDataError("ffmpeg is not installed (make system-deps)")
    from ..learn.media.memes import FONT_FILES, find_font

    font = str(find_font(FONT_FILES[1])).replace(":", r"\:")
    caption = (
        f"drawtext=fontfile={font}:text='I will kill you and your family':fontsize=30:fontcolor=white:"
        "borderw=3:bordercolor=black:x=(w-text_w)/2:y=h-60:"
        f"enable='between(t,{seconds / 3},{2 * seconds / 3})'"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mp4"
        for filters in ([caption], []):
            cmd = [
                ffmpeg, "-y", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
                "-i", f"testsrc2=size=640x360:rate=30:duration={seconds}",
                *(["-vf", *filters] if filters else []),
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path),
            ]  # fmt: skip
            done = subprocess.run(cmd, timeout=300)
            if done.returncode == 0:
                return path.read_bytes()
        raise MissingDataError("ffmpeg could not encode the benchmark clip")


def run() -> dict[str, float]:
    from ..learn.media.memes import build_meme_set
    from ..media.frames import decode_media

    settings = get_settings()
    out: dict[str, float] = {}
    moderator = Moderator.from_settings(settings).load().load_media()
    analyzer = moderator.media.analyzer
    try:
        memes = build_meme_set(settings.data_dir, "test", N_IMAGES, seed=7)
    except MissingDataError as exc:
        raise SystemExit(f"the media benchmark renders memes from the data sets: {exc}") from None
    blobs = [_jpeg(m.image) for m in memes]

    # Decode.
    def decode_all() -> list:
        return [decode_media(b, "image/jpeg", settings.limits, settings.media, 0) for b in blobs]

    decoded = decode_all()
    out["decode_images_per_s"] = round(len(blobs) / _best(decode_all), 1)
    frames = [d.frames[0] for d in decoded]
    # NSFW (with the embedding from the same pass).
    analyzer.nsfw.analyse(frames[:16])  # warm-up
    out["nsfw_images_per_s"] = round(len(frames) / _best(lambda: analyzer.nsfw.analyse(frames)), 1)
    # OCR.
    ocr = analyzer.ocr
    if ocr is not None:
        images = [f.image for f in frames[:64]]
        out["ocr_images_per_s"] = round(len(images) / _best(lambda: ocr.recognise_batch(images), 1), 2)
    # Whole image path through the Moderator.
    items = [
        Content(id=f"bench-{i}", kind="image", media=[Media(data=b, content_type="image/jpeg")])
        for i, b in enumerate(blobs[:96])
    ]

    def image_path() -> None:
        for start in range(0, len(items), 32):
            moderator.moderate(items[start : start + 32])

    out["image_path_images_per_s"] = round(len(items) / _best(image_path, 1), 2)
    # Video at the default sampling.
    clip = _test_video(60)
    item = Content(id="bench-video", kind="video", media=[Media(data=clip, content_type="video/mp4")])
    moderator.moderate([item])  # warm-up
    seconds = _best(lambda: moderator.moderate([item]), 2)
    decision = moderator.moderate([item])[0]
    duration = decision.media[0].duration_s or 60.0
    out["video_realtime_factor"] = round(duration / seconds, 2)
    out["video_keyframes"] = float(decision.media[0].frames_analysed)
    out["video_ocr_frames"] = float(analyzer.last.ocr_frames)
    out["video_seconds_per_60s_clip"] = round(seconds, 3)
    # Quality on rendered test-split memes.
    try:
        out.update(_quality(moderator, settings.data_dir))
    except MissingDataError as exc:
        console.print(f"[yellow]meme quality figures skipped: {exc}[/]")
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _quality(moderator: Moderator, data_dir: Path) -> dict[str, float]:
    """Hate F1 on the test-split memes: text tier on OCR text vs true text, and the fused posts."""
    ocr = moderator.media.analyzer.ocr
    if ocr is None:
        return {}
    from ..evaluate.metrics import binary_metrics
    from ..learn.media.memes import build_meme_set, edit_distance, normalise_for_cer
    from ..learn.media.train_fusion import (
        SEED,
        _single,
        caption_pool,
        channels,
        make_posts,
        read_memes,
        score_texts,
    )

    memes = [m for m in build_meme_set(data_dir, "test", N_QUALITY, seed=SEED) if "hate" in m.labels]
    benign, hateful = caption_pool(data_dir, "test")
    posts = make_posts(memes, benign, hateful, (0.3, 0.5, 0.2), SEED + 1)
    started = time.perf_counter()
    read_memes(ocr, posts, console, "test")  # one OCR pass serves every figure below
    ocr_rate = len(posts) / (time.perf_counter() - started)
    texts = [p.ocr_text for p in posts] + [p.caption or "" for p in posts] + [p.meme.text for p in posts]
    scores = score_texts(moderator, texts)

    def f1(y: np.ndarray, flagged: np.ndarray) -> float:
        return round(float(binary_metrics(y, flagged.astype(float), flagged)["f1"] or 0.0), 4)

    y_meme = np.array([p.meme_hate for p in posts])
    y_post = np.array([p.label for p in posts])
    ref = [normalise_for_cer(p.meme.text) for p in posts]
    errors = sum(edit_distance(r, normalise_for_cer(p.ocr_text)) for r, p in zip(ref, posts, strict=True))
    fusion = moderator.media.fusion
    fused = np.array([fusion.fuse_one(channels(p, scores), "hate")[0] for p in posts])
    threshold = moderator.media_decider.flag_threshold("hate")
    return {
        "meme_n": float(len(posts)),
        "meme_ocr_f1": f1(y_meme, _single(scores, "hate", [p.ocr_text for p in posts])[1]),
        "meme_text_f1": f1(y_meme, _single(scores, "hate", [p.meme.text for p in posts])[1]),
        "meme_ocr_cer": round(errors / max(sum(len(r) for r in ref), 1), 4),
        "meme_ocr_images_per_s": round(ocr_rate, 2),
        "meme_fused_f1": f1(y_post, fused >= threshold),
        "meme_caption_only_f1": f1(y_post, _single(scores, "hate", [p.caption for p in posts])[1]),
        "meme_post_ocr_only_f1": f1(y_post, _single(scores, "hate", [p.ocr_text for p in posts])[1]),
    }
