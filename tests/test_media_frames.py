"""Media decoding on real files: Pillow-made images and animations, ffmpeg-made videos with known cuts."""

from __future__ import annotations

import io
import random
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from warden.banks.matcher import BankMatcher
from warden.errors import MediaError
from warden.media import frames as frames_module
from warden.media.frames import (
    check_declared,
    decode_media,
    image_frames,
    keyframe_plan,
    sniff,
    spread,
    video_keyframes,
)
from warden.media.images import MediaLimitError
from warden.media.video import probe_video, video_file
from warden.settings import BankSettings, Limits, MediaSettings

LIMITS = Limits()
MEDIA = MediaSettings()
CUTS = (2.4, 6.3)  # the scene video: testsrc2 until 2.4 s, red until 6.3 s, colour bars until 10 s


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


X264_FAST = ["-c:v", "libx264", "-preset", "ultrafast"]
VP8_FAST = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    names = ["mp4", "webm", "long", "strobe", "big", "rotated", "piped"]
    out = {k: d / f"{k}.{'webm' if k in ('webm', 'piped') else 'mp4'}" for k in names}
    scenes = [
        "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=30:duration={CUTS[0]}",
        "-f", "lavfi", "-i", f"color=c=red:size=640x360:rate=30:duration={CUTS[1] - CUTS[0]}",
        "-f", "lavfi", "-i", f"smptebars=size=640x360:rate=30:duration={10 - CUTS[1]}",
        "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0",
    ]  # fmt: skip
    # veryfast keeps x264's B-frames, so the default B-frame skipping is exercised.
    ffmpeg(*scenes, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out["mp4"]))
    ffmpeg("-i", str(out["mp4"]), "-vf", "scale=320:180", *VP8_FAST, "-b:v", "1M", str(out["webm"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x90:rate=2:duration=300", *X264_FAST, str(out["long"]))
    # Black and white alternating every frame: a scene change at every frame.
    strobe = "color=c=black:size=64x64:rate=10:duration=10,format=gray,geq=lum='if(mod(N\\,2)\\,255\\,0)'"
    ffmpeg("-f", "lavfi", "-i", strobe, *X264_FAST, "-pix_fmt", "yuv420p", str(out["strobe"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=1280x720:rate=5:duration=1", *X264_FAST, str(out["big"]))
    plain = d / "plain.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=5:duration=2", *X264_FAST, str(plain))
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out["rotated"]))
    # Muxed to a pipe, as a browser's MediaRecorder does: the header carries no duration.
    source = ["-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=3"]
    with open(out["piped"], "wb") as sink:
        cmd = ["ffmpeg", "-v", "error", *source, *VP8_FAST, "-f", "webm", "pipe:1"]
        subprocess.run(cmd, stdout=sink, check=True, timeout=60)
    return out


def mean_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


def is_red(image: Image.Image) -> bool:
    r, g, b = mean_rgb(image)
    return r > 200 and g < 60 and b < 60


# -- identifying bytes -----------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def test_sniff_recognises_formats_by_their_bytes(videos: dict[str, Path]) -> None:
    small = Image.new("RGB", (4, 4), "blue")
    assert sniff(encode(small, "JPEG")) == "image/jpeg"
    assert sniff(encode(small, "PNG")) == "image/png"
    assert sniff(encode(small, "GIF")) == "image/gif"
    assert sniff(encode(small, "WEBP")) == "image/webp"
    assert sniff(encode(small, "BMP")) == "image/bmp"
    assert sniff(encode(small, "TIFF")) == "image/tiff"
    assert sniff(videos["mp4"].read_bytes()) == "video/mp4"
    assert sniff(videos["webm"].read_bytes()) == "video/webm"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == "video/x-msvideo"
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ") == "video/mp4"  # QuickTime .mov


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is plain text\n", "look like text"),
        (random.Random(1).randbytes(4096), "unsupported media type"),
    ],
)
def test_sniff_refuses_unknown_bytes(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        sniff(data)


def test_declared_type_is_checked_against_the_bytes() -> None:
    for ok in (None, "", "application/octet-stream", "image/jpeg", "image/png", "IMAGE/JPEG; charset=binary"):
        check_declared(ok, "image/jpeg")  # same family: decoding follows the bytes anyway
    check_declared("video/mp4", "image/gif")  # platforms call animated GIFs videos
    check_declared("application/mp4", "video/mp4")
    with pytest.raises(MediaError, match="declared content type text/plain does not match .* image/jpeg"):
        check_declared("text/plain", "image/jpeg")
    with pytest.raises(MediaError, match="image/png does not match the bytes, which are video/mp4"):
        check_declared("image/png", "video/mp4")
    with pytest.raises(MediaError, match="not a media type"):
        check_declared("jpeg please", "image/jpeg")


def test_decode_media_refuses_mislabelled_and_bad_input(videos: dict[str, Path]) -> None:
    with pytest.raises(MediaError, match="image/png does not match the bytes, which are video/mp4"):
        decode_media(videos["mp4"].read_bytes(), "image/png", LIMITS, MEDIA)
    with pytest.raises(MediaError, match="unsupported media type.*look like text"):
        decode_media(b"GET /index.html HTTP/1.1\r\n\r\n", "image/jpeg", LIMITS, MEDIA)
    with pytest.raises(MediaError, match="empty"):
        decode_media(b"", "image/jpeg", LIMITS, MEDIA)
    with pytest.raises(MediaError, match="unsupported media type"):
        decode_media(random.Random(2).randbytes(10_000), None, LIMITS, MEDIA)
    truncated_video = videos["mp4"].read_bytes()[:3000]
    with pytest.raises(MediaError, match="video"):
        decode_media(truncated_video, "video/mp4", LIMITS, MEDIA)


# -- still images ------------------------------------------------------------------------------------


def test_png_transparency_is_flattened_onto_white() -> None:
    rgba = np.zeros((10, 30, 4), dtype=np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:20] = (0, 0, 255, 0)  # fully transparent blue: hidden, must not show
    rgba[:, 20:] = (0, 0, 0, 128)  # half-transparent black
    decoded = decode_media(encode(Image.fromarray(rgba), "PNG"), "image/png", LIMITS, MEDIA)
    assert decoded.kind == "image" and decoded.duration_s is None and not decoded.animated
    (frame,) = decoded.frames
    assert frame.time_s is None and frame.image.mode == "RGB" and frame.image.size == (30, 10)
    pixels = np.asarray(frame.image)
    assert tuple(pixels[5, 5]) == (255, 0, 0)
    assert tuple(pixels[5, 15]) == (255, 255, 255)
    assert all(abs(int(v) - 127) <= 2 for v in pixels[5, 25])


def test_palette_transparency_cmyk_and_16_bit() -> None:
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 255, 0, 255, 0, 255] + [0] * 762)
    palette.paste(0, (0, 0, 4, 8))
    (frame,) = image_frames(encode(palette, "PNG", transparency=1), LIMITS, MEDIA)
    assert tuple(np.asarray(frame.image)[0, 0]) == (0, 255, 0)
    assert tuple(np.asarray(frame.image)[0, 7]) == (255, 255, 255)  # transparent magenta shows white

    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan, full magenta + yellow: red
    (frame,) = image_frames(encode(cmyk, "JPEG", quality=95), LIMITS, MEDIA)
    assert frame.image.mode == "RGB" and is_red(frame.image)

    ramp = Image.fromarray(np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (4, 1)))
    assert ramp.mode == "I;16"
    (frame,) = image_frames(encode(ramp, "PNG"), LIMITS, MEDIA)
    row = np.asarray(frame.image)[0, :, 0]
    assert row[0] == 0 and row[-1] == 255 and 120 <= row[32] <= 135  # rescaled, not clipped to white


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 20, 20))  # red on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees clockwise to display
    decoded = decode_media(encode(image, "JPEG", exif=exif, quality=95), None, LIMITS, MEDIA)
    assert (decoded.width, decoded.height) == (20, 40)
    top = decoded.frames[0].image.crop((0, 0, 20, 20))
    assert is_red(top)  # the stored left side is on top once upright


def test_truncated_and_bomb_images_are_refused() -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8))
    jpeg = encode(noise, "JPEG")
    with pytest.raises(MediaError, match="corrupt or truncated image"):
        image_frames(jpeg[: len(jpeg) // 2], LIMITS, MEDIA)
    with pytest.raises(MediaError, match="empty"):
        image_frames(b"", LIMITS, MEDIA)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    with pytest.raises(MediaError, match="50000x50000 = 2,500,000,000 pixels.*decompression-bomb"):
        decode_media(bomb + chunk(b"IEND", b""), "image/png", LIMITS, MEDIA)
    with pytest.raises(MediaLimitError, match="bytes, limit is 1,000"):
        image_frames(jpeg, Limits(max_media_bytes=1_000), MEDIA)


# -- animations --------------------------------------------------------------------------------------

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255),
           (255, 0, 255), (255, 255, 255), (0, 0, 0), (128, 128, 128), (255, 128, 0)]  # fmt: skip


def test_animated_gif_frames_are_spread_with_their_times() -> None:
    frames = [Image.new("RGB", (24, 16), c) for c in COLOURS]
    durations = [100 * (i + 1) for i in range(10)]  # 0.1 s, 0.2 s, ... 1.0 s
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    decoded = decode_media(data, "image/gif", LIMITS, MEDIA.model_copy(update={"max_gif_frames": 4}))
    assert decoded.animated and decoded.duration_s == pytest.approx(5.5)
    assert [f.frame_index for f in decoded.frames] == [0, 1, 2, 3]
    assert [f.time_s for f in decoded.frames] == pytest.approx([0.0, 0.6, 2.1, 4.5])  # frames 0, 3, 6, 9
    for frame, colour in zip(decoded.frames, [COLOURS[0], COLOURS[3], COLOURS[6], COLOURS[9]], strict=True):
        assert frame.image.mode == "RGB" and frame.image.size == (24, 16)
        assert np.abs(mean_rgb(frame.image) - colour).max() < 3


def test_animated_webp_frames_and_times() -> None:
    frames = [Image.new("RGB", (20, 20), c) for c in COLOURS[:6]]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=250, lossless=True)
    decoded = decode_media(data, "image/webp", LIMITS, MEDIA)
    assert decoded.content_type == "image/webp" and decoded.duration_s == pytest.approx(1.5)
    assert [f.time_s for f in decoded.frames] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    for frame, colour in zip(decoded.frames, COLOURS[:6], strict=True):
        assert np.abs(mean_rgb(frame.image) - colour).max() < 3


def test_animated_png_with_alpha() -> None:
    frames = [Image.new("RGBA", (10, 10), c) for c in [(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0)]]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=[100, 300, 200])
    decoded = decode_media(data, "image/apng", LIMITS, MEDIA)
    assert decoded.duration_s == pytest.approx(0.6)
    assert [f.time_s for f in decoded.frames] == pytest.approx([0.0, 0.1, 0.4])
    assert [f.image.getpixel((0, 0)) for f in decoded.frames] == [
        (255, 0, 0),
        (127, 255, 127),
        (255, 255, 255),
    ]


def tiny_gif(count: int, canvas: tuple[int, int] = (1, 1), big_frame: int | None = None) -> bytes:
    """A hand-written GIF of `count` one-pixel frames; frame `big_frame` declares 30000x30000."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *canvas, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    for i in range(count):
        size = (30_000, 30_000) if i == big_frame else (1, 1)
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, *size, 0)
        out += b"\x02\x02\x44\x01\x00"  # LZW: clear, pixel 0, end
    return bytes(out + b"\x3b")


def test_gif_bombs_are_refused_before_decoding() -> None:
    assert len(image_frames(tiny_gif(3), LIMITS, MEDIA)) == 3  # the hand-written GIF is valid
    with pytest.raises(MediaLimitError, match="more than 1,000 frames"):
        image_frames(tiny_gif(5_000), LIMITS, MEDIA)  # 70 kB, 5000 frames
    with pytest.raises(MediaLimitError, match="4000x4000 x 10 frames = 160,000,000 pixels"):
        image_frames(tiny_gif(10, canvas=(4000, 4000)), LIMITS, MEDIA)
    with pytest.raises(MediaLimitError, match="GIF canvas is 30000x30000"):
        image_frames(tiny_gif(10, big_frame=7), LIMITS, MEDIA)  # a later frame grows the canvas


# -- video -------------------------------------------------------------------------------------------


def test_scene_cuts_and_fixed_rate_keyframes(videos: dict[str, Path]) -> None:
    media = MEDIA.model_copy(update={"video_fps": 0.25})  # fixed frames at 0, 4, 8 s: cuts are not on them
    frames = video_keyframes(videos["mp4"], LIMITS, media)
    times = [f.time_s or 0.0 for f in frames]
    assert times == sorted(times) and times[0] == 0.0
    assert [f.frame_index for f in frames] == list(range(len(frames)))
    for expected in (4.0, 8.0):  # fixed rate (B-frame skipping may make them a little late)
        assert any(0 <= t - expected <= 0.2 for t in times), times
    after_red = [f for f in frames if 0 <= (f.time_s or 0) - CUTS[0] <= 0.25]
    assert after_red and is_red(after_red[0].image)
    after_bars = [f for f in frames if 0 <= (f.time_s or 0) - CUTS[1] <= 0.25]
    assert after_bars and not is_red(after_bars[0].image)
    assert len(frames) <= 6  # first + 2 fixed + 2 cuts (+ none spurious, give or take one)
    assert all(f.image.size == (640, 360) and f.image.mode == "RGB" for f in frames)


def test_mp4_and_webm_decode_through_decode_media(videos: dict[str, Path]) -> None:
    for key, content_type, size in (("mp4", "video/mp4", (640, 360)), ("webm", "video/webm", (320, 180))):
        decoded = decode_media(videos[key].read_bytes(), content_type, LIMITS, MEDIA, media_index=2)
        assert decoded.kind == "video" and decoded.content_type == content_type
        assert (decoded.width, decoded.height) == size
        assert decoded.duration_s == pytest.approx(10.0, abs=0.1)
        times = [f.time_s or 0.0 for f in decoded.frames]
        # 1 fps fixed rate plus the two cuts
        assert 12 <= len(times) <= 13 and all(f.media_index == 2 for f in decoded.frames)
        for cut in CUTS:
            assert any(0 <= t - cut <= 0.25 for t in times), (key, times)


def test_cap_spreads_keyframes_over_a_long_video(videos: dict[str, Path]) -> None:
    media = MEDIA.model_copy(update={"max_video_frames": 12})
    frames = video_keyframes(videos["long"], LIMITS, media)
    times = np.array([f.time_s for f in frames])
    # No cuts: the 8 fixed-rate frames (12 minus the third kept for scene changes), evenly spaced.
    assert len(frames) == 8
    assert times[0] == 0 and times[-1] > 250  # the whole video, not its first 12 seconds
    assert np.diff(times) == pytest.approx(np.full(7, 40.0), abs=0.6)
    plan = keyframe_plan(300.0, media)
    assert plan.rate == pytest.approx(7.5 / 300) and plan.scene_gap_s == pytest.approx(75.0)


def test_strobing_video_stays_within_the_cap(videos: dict[str, Path]) -> None:
    media = MEDIA.model_copy(update={"max_video_frames": 8})
    frames = video_keyframes(videos["strobe"], LIMITS, media)
    assert 4 <= len(frames) <= 8
    assert (frames[-1].time_s or 0) > 7


def test_keyframes_are_scaled_and_rotated_as_displayed(videos: dict[str, Path]) -> None:
    big = decode_media(videos["big"].read_bytes(), None, LIMITS, MEDIA)
    assert (big.width, big.height) == (1280, 720)
    assert big.frames[0].image.size == (640, 360)
    rotated = decode_media(videos["rotated"].read_bytes(), None, LIMITS, MEDIA)
    assert (rotated.width, rotated.height) == (180, 320)
    assert rotated.frames[0].image.size == (180, 320)


def test_slow_extraction_times_out(videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "_TIMEOUT_BASE_S", 0.001)  # a deadline no decoder can meet
    monkeypatch.setattr(frames_module, "_TIMEOUT_PER_VIDEO_S", 0.0)
    with pytest.raises(MediaError, match="keyframe extraction timed out after 0 s"):
        video_keyframes(videos["long"], LIMITS, MEDIA)


def test_duration_from_packets_when_the_header_has_none(videos: dict[str, Path]) -> None:
    info = probe_video(videos["piped"])
    assert info.duration_s == pytest.approx(3.0, abs=0.15) and info.codec == "vp8"
    with pytest.raises(MediaLimitError, match="video lasts 3 s, limit is 2 s"):
        decode_media(videos["piped"].read_bytes(), None, Limits(max_video_seconds=2), MEDIA)


def test_video_is_written_once_and_hashed_from_the_same_file(videos: dict[str, Path]) -> None:
    data = videos["mp4"].read_bytes()
    matcher = BankMatcher(BankSettings(), LIMITS)
    seen: dict[str, object] = {}

    def hash_it(path: Path) -> None:
        seen["path"] = path
        seen["fingerprints"] = {
            name: matcher.types[name].from_video_file(path, data) for name in ("vpdq", "tmk_pdqf", "md5")
        }

    decoded = decode_media(data, "video/mp4", LIMITS, MEDIA, on_video_path=hash_it)
    assert decoded.frames
    # The hook saw the decoder's own file, removed once decoding ended.
    assert isinstance(seen["path"], Path) and not seen["path"].exists()
    on_its_own = matcher.media_fingerprints(data, "video")
    assert seen["fingerprints"] == {name: on_its_own[name] for name in ("vpdq", "tmk_pdqf", "md5")}

    with pytest.raises(MediaError, match="limit is 5 s"), video_file(data, Limits(max_video_seconds=5)):
        pass
    with video_file(data, LIMITS) as first:
        pass
    assert not first.exists()  # removed on exit

    def fail(path: Path) -> None:
        raise RuntimeError("hasher broke")

    with pytest.raises(RuntimeError, match="hasher broke"):
        decode_media(data, "video/mp4", LIMITS, MEDIA, on_video_path=fail)


def test_spread_includes_both_ends() -> None:
    assert spread(5, 10) == [0, 1, 2, 3, 4]
    assert spread(100, 4) == [0, 33, 66, 99]
    assert spread(1, 3) == [0]
