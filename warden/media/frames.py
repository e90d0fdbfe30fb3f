"""From media bytes to the frames detectors look at: stills, animation frames and video keyframes.

`decode_media` is the one entry point: it identifies the bytes by their magic numbers (a declared
content type is only checked against them, never trusted), then decodes an image or animation
with Pillow, or writes a video to a temporary file once and extracts keyframes with one ffmpeg
process. Every step is bounded: bytes, pixels, animation frames, video seconds, keyframes, time.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
from PIL import Image

from ..errors import MediaError
from ..settings import Limits, MediaSettings
from .budget import PixelAccount, charge, shared_budget
from .images import (
    DECODE_ERRORS,
    SWAPS_AXES,
    MediaLimitError,
    check_pixels,
    exif_upright,
    fit_pixels,
    fit_size,
    open_unloaded,
    reference_sample,
    scan_gif,
    shrink_to_rgb,
    to_rgb,
    upright_method,
)
from .types import Frame
from .video import VideoInfo, ffmpeg_binary, open_video, probe_video

# -- what the bytes are ----------------------------------------------------------------------------

IMAGE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/avif",
        "image/heic",
    }
)
VIDEO_TYPES = frozenset(
    {
        "video/mp4", "video/webm", "video/x-msvideo", "video/x-flv", "video/mp2t", "video/mpeg",
        "video/x-ms-asf", "video/ogg",
    }
)  # fmt: skip
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Top-level QuickTime atoms that may open a .mov written without an `ftyp` box.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _iso_bmff_type(data: bytes) -> str:
    size = int.from_bytes(data[:4], "big")
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, min(size, len(data), 256) - 3, 4))
    if brands & _AVIF_BRANDS:
        return "image/avif"
    if brands & _HEIF_BRANDS and data[8:12] not in (b"isom", b"mp41", b"mp42", b"qt  "):
        return "image/heic"
    return "video/mp4"  # mp4, mov, m4v, 3gp: all demuxed the same way


def sniff(data: bytes) -> str:
    """The media type the bytes really are, from their magic numbers; MediaError if not one we decode."""
    if not data:
        raise MediaError("media is empty (0 bytes)")
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    # "BM" alone is too weak a signature: also require a known DIB header size.
    if (
        head[:2] == b"BM"
        and len(data) >= 18
        and int.from_bytes(data[14:18], "little") in (12, 40, 52, 56, 108, 124)
    ):
        return "image/bmp"
    if head[4:8] == b"ftyp" and len(data) >= 12:
        return _iso_bmff_type(data)
    if head[4:8] in _QUICKTIME_ATOMS:
        return "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM and Matroska
        return "video/webm"
    if head[:3] == b"FLV":
        return "video/x-flv"
    if head[:4] == b"OggS":
        return "video/ogg"
    if head == _ASF_GUID:
        return "video/x-ms-asf"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video/mpeg"
    if len(data) >= 189 and data[0] == 0x47 and data[188] == 0x47:  # MPEG-TS sync bytes
        return "video/mp2t"
    raise MediaError(
        f"unsupported media type: not an image or video format Warden decodes ({_describe(data)})"
    )


def _describe(data: bytes) -> str:
    start = data[:64]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in start):
        return f"the bytes look like text: {start[:24].decode('ascii')!r}"
    return f"first bytes {data[:8].hex()}"


def _family(content_type: str) -> str:
    return content_type.split("/", 1)[0]


# Declared types that say nothing about the content.
_UNINFORMATIVE = {"application/octet-stream", "binary/octet-stream", "application/unknown"}
# Non-video/ declarations commonly used for video containers.
_VIDEO_ALIASES = {
    "application/mp4",
    "application/ogg",
    "application/x-matroska",
    "application/vnd.rn-realmedia",
}


def check_declared(declared: str | None, sniffed: str) -> None:
    """Refuse a declared content type that contradicts the bytes.

    Only the family (image or video) must agree: a subtype mix-up such as a JPEG labelled image/png
    is common and harmless, since decoding follows the bytes. An animated GIF or WebP declared as
    video is accepted too (platforms often call them videos)."""
    if declared is None:
        return
    normalised = declared.split(";", 1)[0].strip().lower()
    if not normalised or normalised in _UNINFORMATIVE:
        return
    if not re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", normalised):
        raise MediaError(f"declared content type {declared!r} is not a media type such as image/png")
    family = "video" if normalised in _VIDEO_ALIASES else _family(normalised)
    actual = _family(sniffed)
    if family == actual or (family == "video" and sniffed in ("image/gif", "image/webp")):
        return
    raise MediaError(f"declared content type {normalised} does not match the bytes, which are {sniffed}")


# -- images and animations -----------------------------------------------------------------------

# An animation may decode at most this many times the pixels of the largest still image: decoding is
# sequential (each frame paints over the last), so every frame up to the last sampled one is decoded.
ANIMATION_PIXEL_FACTOR = 2
# An animation's analysed frames together hold at most this many times `media.max_analysis_pixels`
# (a still's analysed size): 50 frames of 565x565 at the defaults, more than common GIFs have.
ANIMATION_ANALYSIS_FACTOR = 2


@dataclass(frozen=True)
class _Decoded:
    frames: list[Frame]
    width: int
    height: int
    duration_s: float | None
    reference: Image.Image | None = None


def _declared(image: Image.Image, data: bytes, media: MediaSettings, limits: Limits) -> tuple[int, int]:
    """(frames, pixels decoding them makes) as the headers declare them, limits checked, before any
    frame is decoded. Every frame of an animation is decoded (each paints over the last)."""
    fmt = image.format
    width, height = image.size
    if fmt == "GIF":
        layout = scan_gif(data, stop_after=media.max_decoded_frames + 1)
        count, width, height = layout.frames, layout.width, layout.height
        check_pixels(width, height, limits, "GIF canvas")
    elif fmt in ("WEBP", "PNG"):  # libwebp's demuxer / the APNG acTL chunk: counted without decoding
        count = int(getattr(image, "n_frames", 1))
        width, height = image.size
    else:
        return 1, width * height  # multi-page TIFF, MPO (JPEG + depth map): the first picture is the image
    if count > media.max_decoded_frames:
        raise MediaLimitError(
            f"animation has more than {media.max_decoded_frames:,} frames (limit max_decoded_frames)"
        )
    budget = ANIMATION_PIXEL_FACTOR * limits.max_image_pixels
    if count > 1 and width * height * count > budget:
        raise MediaLimitError(
            f"animation is {width}x{height} x {count:,} frames = {width * height * count:,} pixels "
            f"to decode, limit is {budget:,} (decompression-bomb guard)"
        )
    return count, width * height * max(count, 1)


def declared_pixels(data: bytes, limits: Limits, media: MediaSettings) -> int | None:
    """Pixels decoding an image attachment will make, from its headers alone; None for a video or
    bytes that do not open (decoding reports those properly)."""
    try:
        if sniff(data) not in IMAGE_TYPES:
            return None
        image = open_unloaded(data, limits)
        return _declared(image, data, media, limits)[1]
    except DECODE_ERRORS + (MediaError,):
        return None


def spread(count: int, k: int) -> list[int]:
    """`k` indices evenly spread over range(count), always including the first and the last."""
    if count <= k:
        return list(range(count))
    return sorted({int(i) for i in np.rint(np.linspace(0, count - 1, k))})


def _decode_image(
    data: bytes,
    limits: Limits,
    media: MediaSettings,
    media_index: int,
    accounts: tuple[PixelAccount, ...] = (),
    reference: bool = False,
) -> _Decoded:
    """Decode one image: its pixels are charged to `accounts` from the headers first, then decoded
    within the process's decode budget. `reference`: also keep PDQ's reference sample."""
    image = open_unloaded(data, limits)
    try:
        count, pixels = _declared(image, data, media, limits)
        charge(accounts, pixels)
        if count <= 1:
            return _decode_still(image, media, media_index, reference)
        return _decode_animation(image, count, limits, media, media_index, reference)
    except DECODE_ERRORS as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from None


def _decode_still(image: Image.Image, media: MediaSettings, media_index: int, reference: bool) -> _Decoded:
    """A still as one RGB frame. One larger than `media.max_analysis_pixels` is shrunk to it while
    decoding (a JPEG by its decoder's DCT scaling first, when that still covers the target), so the
    full-size pixels exist once and only inside the decode budget; its frame keeps the source size
    (`Frame.source_size`), in which OCR and region boxes are reported."""
    width, height = image.size
    cap = media.max_analysis_pixels
    large = width * height > cap
    if large and image.format == "JPEG":
        image.draft(None, fit_size(width, height, cap))
    with shared_budget(media).reserve(image.width * image.height):
        image.load()
        sample = reference_sample(image) if reference else None
        if not large:
            picture = to_rgb(exif_upright(image))
            return _Decoded([Frame(picture, media_index, 0, None)], *picture.size, None, sample)
        method = upright_method(image)
        picture = shrink_to_rgb(image, cap)
        if picture is not image:  # a JPEG's DCT scaling may already have reached the target
            image.close()  # the full-size pixels go now, inside the budget
    if method is not None:
        picture = picture.transpose(method)
    size = (height, width) if method in SWAPS_AXES else (width, height)
    return _Decoded([Frame(picture, media_index, 0, None, source_size=size)], *size, None, sample)


def _decode_animation(
    image: Image.Image, count: int, limits: Limits, media: MediaSettings, media_index: int, reference: bool
) -> _Decoded:
    wanted = spread(count, media.max_gif_frames)
    keep = set(wanted)
    # The kept frames together hold at most ANIMATION_ANALYSIS_FACTOR analysed stills' worth of
    # pixels (and never more than one still image may have).
    kept_pixels = min(limits.max_image_pixels, ANIMATION_ANALYSIS_FACTOR * media.max_analysis_pixels)
    per_frame = max(1, kept_pixels // len(wanted))
    canvas = image.width * image.height
    is_gif = image.format == "GIF"
    with shared_budget(media).reserve(canvas + min(canvas * len(wanted), kept_pixels)):
        return _animation_frames(image, count, keep, per_frame, is_gif, media_index, reference)


def _animation_frames(
    image: Image.Image,
    count: int,
    keep: set[int],
    per_frame: int,
    is_gif: bool,
    media_index: int,
    reference: bool,
) -> _Decoded:
    frames: list[Frame] = []
    sample: Image.Image | None = None
    clock_ms = 0.0
    for index in range(count):
        image.seek(index)
        image.load()
        if index == 0 and reference:
            sample = reference_sample(image)  # the first frame, as PDQ's reference reads the file
        if index in keep:
            picture = to_rgb(image)
            if picture is image:  # the next seek would repaint it
                picture = image.copy()
            picture = fit_pixels(picture, per_frame)
            frames.append(Frame(picture, media_index, len(frames), round(clock_ms / 1000.0, 3)))
        duration = float(image.info.get("duration") or 0.0)
        if is_gif and duration <= 10:
            duration = 100.0  # browsers play GIF delays of 0-10 ms as 100 ms
        clock_ms += duration
    return _Decoded(frames, *image.size, round(clock_ms / 1000.0, 3), sample)


def image_frames(data: bytes, limits: Limits, media: MediaSettings, media_index: int = 0) -> list[Frame]:
    """A still image as one RGB frame (time None), or an animated GIF/WebP/PNG as at most
    `media.max_gif_frames` frames spread evenly over its frames, each with its presentation time.

    Frames are spread by index, not by time: a frame shown briefly is as much content as one
    shown long. Animations declaring more than `media.max_decoded_frames` frames, or whose canvas
    times frame count exceeds ANIMATION_PIXEL_FACTOR x `limits.max_image_pixels`, are refused
    before any frame is decoded."""
    return _decode_image(data, limits, media, media_index).frames


# -- video keyframes -----------------------------------------------------------------------------

MAX_SIDE = 640  # keyframes are scaled so that their longest side is at most this
# ffmpeg gets 30 s plus one second per second of video: far slower than real time means trouble.
_TIMEOUT_BASE_S = 30.0
_TIMEOUT_PER_VIDEO_S = 1.0
_SKIPPABLE_B_FRAMES = frozenset({"h264", "mpeg2video", "mpeg4", "mpeg1video"})
_SHOWINFO = re.compile(rb"Parsed_showinfo.*?\bn:\s*\d+\s+pts:\s*\S+\s+pts_time:\s*(\S+)")


@dataclass(frozen=True)
class KeyframePlan:
    """How densely one video is sampled so that it yields at most `max_video_frames` keyframes."""

    rate: float  # fixed-rate frames per second (0: none besides the first)
    scene_gap_s: float | None  # minimum spacing of scene-change keyframes (None: no scene detection)


def keyframe_plan(duration_s: float, media: MediaSettings) -> KeyframePlan:
    """Split the keyframe budget between the fixed rate and scene changes.

    A third of `max_video_frames` is kept for scene changes. The fixed rate is `video_fps` unless
    that would fill the rest, then it is lowered so that its frames still span the whole video;
    scene-change keyframes are spaced so that even a strobing video cannot exceed their share."""
    cap = media.max_video_frames
    if cap <= 1:
        return KeyframePlan(rate=0.0, scene_gap_s=None)
    duration = max(duration_s, 1e-3)
    scene_share = max(1, cap // 3)
    fixed_cap = cap - scene_share  # includes the first frame
    wanted = math.floor(duration * media.video_fps) + 1
    if wanted <= fixed_cap:
        rate, fixed = media.video_fps, wanted
    else:
        # fixed_cap - 0.5 intervals: fixed_cap - 1 crossings of the rate's grid before the end.
        rate, fixed = (fixed_cap - 0.5) / duration, fixed_cap
    return KeyframePlan(rate=rate, scene_gap_s=duration / max(cap - fixed, 1))


def fixed_keyframes(duration_s: float, media: MediaSettings) -> int:
    """The keyframes `keyframe_plan` takes at its fixed rate (the first included): the fewest a
    video of that duration yields, scene changes come on top."""
    cap = media.max_video_frames
    if cap <= 1:
        return 1
    return min(math.floor(max(duration_s, 1e-3) * media.video_fps) + 1, cap - max(1, cap // 3))


def keyframe_pixels(info: VideoInfo) -> int:
    """Pixels of one keyframe as extracted (longest side scaled to MAX_SIDE, never enlarged)."""
    scale = min(1.0, MAX_SIDE / max(info.width, info.height, 1))
    return max(1, round(info.width * scale)) * max(1, round(info.height * scale))


def _select_expression(plan: KeyframePlan, threshold: float) -> str:
    # Register 0 holds the time of the last scene-change keyframe (ffmpeg expressions keep st/ld
    # registers between frames): cuts closer than scene_gap_s to the previous one are skipped.
    fixed = f"gt(floor(t*{plan.rate:.9f}),floor(prev_t*{plan.rate:.9f}))" if plan.rate > 0 else "0"
    if plan.scene_gap_s is None:
        return f"eq(n,0)+{fixed}"
    scene = f"gt(scene,{threshold:.6f})*gte(t-ld(0),{plan.scene_gap_s:.6f})"
    return f"if(eq(n,0),st(0,-1e9)*0+1,if({scene},st(0,t)*0+1,{fixed}))"


def _read_ppm(stream: IO[bytes]) -> Image.Image | None:
    """One binary PPM frame (ffmpeg's `-c:v ppm` header: `P6\\nW H\\n255\\n`), None at the end."""
    magic = stream.readline()
    if not magic:
        return None
    size, depth = stream.readline().split(), stream.readline().strip()
    if magic.strip() != b"P6" or len(size) != 2 or depth != b"255":
        raise MediaError("keyframe extraction failed: unexpected frame header from ffmpeg")
    width, height = int(size[0]), int(size[1])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise MediaError(f"keyframe extraction failed: ffmpeg sent a {width}x{height} frame")
    pixels = stream.read(width * height * 3)
    if len(pixels) != width * height * 3:
        return None  # cut short: the process died, its exit status says why
    return Image.frombytes("RGB", (width, height), pixels)


def video_keyframes(
    path: Path, limits: Limits, media: MediaSettings, media_index: int = 0, info: VideoInfo | None = None
) -> list[Frame]:
    """Keyframes of a video file with one ffmpeg process: the first frame, scene changes (ffmpeg's
    scene score above `media.video_scene_threshold`) and a fixed rate of `media.video_fps`, at most
    `media.max_video_frames` spread over the whole video (see `keyframe_plan`), scaled so that the
    longest side is at most 640 px, with presentation times in seconds from the start.

    B-frames are left undecoded for codecs whose B-frames nothing else depends on (H.264, MPEG-2,
    MPEG-4 part 2), not for HEVC, where some encoders code every inter frame as a B-frame: about
    twice as fast on typical H.264; scene changes are then seen between the remaining frames (a
    tenth of a second apart at most, usually) and keyframe times are at most that late. `info`
    (duration and codec) is probed when not given."""
    if info is None:
        info = probe_video(path)
    duration_s = info.duration_s
    skip_b_frames = info.codec in _SKIPPABLE_B_FRAMES
    plan = keyframe_plan(duration_s, media)
    scale = (
        f"scale=w='max(1,round(iw*sar*min(1,{MAX_SIDE}/max(iw*sar,ih))))'"
        f":h='max(1,round(ih*min(1,{MAX_SIDE}/max(iw*sar,ih))))',setsar=1"
    )
    select = f"select='{_select_expression(plan, media.video_scene_threshold)}'"
    cmd = [
        ffmpeg_binary(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
        # One decoding thread: the machine decodes several requests' media at once.
        "-threads", "1", "-filter_threads", "1",
        *(["-skip_frame", "bidir"] if skip_b_frames else []),
        # Decode no more than the limit even if the container under-declares its duration.
        "-t", f"{limits.max_video_seconds:.3f}",
        "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", f"{select},{scale},showinfo",
        "-vsync", "vfr", "-f", "image2pipe", "-c:v", "ppm", "pipe:1",
    ]  # fmt: skip
    timeout = _TIMEOUT_BASE_S + _TIMEOUT_PER_VIDEO_S * duration_s
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            kept, positions = _collect(proc, media.max_video_frames)
            returncode = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.seek(0)
        stderr = log.read()
    if timed_out.is_set() and returncode != 0:
        raise MediaError(f"keyframe extraction timed out after {timeout:.0f} s")
    if returncode != 0:
        lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if "showinfo" not in ln]
        raise MediaError(
            f"keyframe extraction failed: {lines[-1].strip() if lines else f'exit {returncode}'}"
        )
    if not kept:
        raise MediaError("video has no decodable frames")
    times = [_parse_time(m.group(1)) for m in _SHOWINFO.finditer(stderr)]
    if len(times) <= positions[-1]:
        raise MediaError("keyframe extraction failed: ffmpeg reported fewer frame times than frames")
    chosen = spread(len(kept), media.max_video_frames)
    return [
        Frame(kept[i], media_index, n, round(max(times[positions[i]], 0.0), 3)) for n, i in enumerate(chosen)
    ]


def _collect(proc: subprocess.Popen[bytes], cap: int) -> tuple[list[Image.Image], list[int]]:
    """Read every frame ffmpeg sends, holding at most 2 x cap in memory.

    The plan keeps ffmpeg within about `cap` frames; should a container hide more video than it
    declares, every other held frame is dropped (and later ones sampled at the doubled stride),
    which keeps the held frames evenly spread."""
    assert proc.stdout is not None
    kept: list[Image.Image] = []
    positions: list[int] = []  # each kept frame's position in ffmpeg's output, to find its time
    stride, position = 1, 0
    while (picture := _read_ppm(proc.stdout)) is not None:
        if position % stride == 0:
            kept.append(picture)
            positions.append(position)
            if len(kept) > 2 * cap:
                kept, positions, stride = kept[::2], positions[::2], stride * 2
        position += 1
    return kept, positions


def _parse_time(text: bytes) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0  # NOPTS: ffmpeg could not time the frame
    return value if math.isfinite(value) else 0.0


# -- one entry point -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedMedia:
    """One attachment, decoded. `width`/`height` are the source's (as displayed); `duration_s` is
    None for a still image. For video, `frames` are keyframes at most 640 px on their longest side."""

    kind: Literal["image", "video"]
    content_type: str  # from the bytes, not the declaration
    frames: list[Frame] = field(default_factory=list)
    width: int = 0
    height: int = 0
    duration_s: float | None = None
    # An image's pixels as PDQ's reference path reads them (at most 512x512), kept when asked for:
    # banks hash them instead of decoding the file a second time.
    reference: Image.Image | None = None

    @property
    def animated(self) -> bool:
        return self.kind == "image" and self.duration_s is not None


def decode_media(
    data: bytes,
    declared_type: str | None,
    limits: Limits,
    media: MediaSettings,
    media_index: int = 0,
    on_video_path: Callable[[Path], object] | None = None,
    *,
    accounts: tuple[PixelAccount, ...] = (),
    reference: bool = False,
) -> DecodedMedia:
    """Identify, check and decode one attachment.

    For a video, the bytes are written to a temporary file and probed once; `on_video_path(path)`
    is then called with that file (for example to compute vPDQ / TMK hashes with the signal types'
    `from_video_file`) while the keyframes are extracted beside it, in another thread. Its
    exceptions propagate.

    Decoded pixels are charged to `accounts` (an item's, a request's: `warden.media.budget`): an
    image's from its headers before decoding, a video's keyframes as planned before extraction and
    as delivered after. Every decode runs within the process's `shared_budget`. `reference`: keep
    PDQ's reference sample of an image (`DecodedMedia.reference`)."""
    content_type = sniff(data)
    check_declared(declared_type, content_type)
    if content_type in IMAGE_TYPES:
        decoded = _decode_image(data, limits, media, media_index, accounts, reference)
        return DecodedMedia(
            "image",
            content_type,
            decoded.frames,
            decoded.width,
            decoded.height,
            decoded.duration_s,
            reference=decoded.reference,
        )
    with open_video(data, limits) as video:
        frame_pixels = keyframe_pixels(video.info)
        planned = fixed_keyframes(video.info.duration_s, media) * frame_pixels
        charge(accounts, planned)
        with shared_budget(media).reserve(media.max_video_frames * frame_pixels):
            if on_video_path is None:
                frames = video_keyframes(video.path, limits, media, media_index, video.info)
            else:
                # Leaving the pool's block waits for the hook: the file must outlive it.
                with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warden-video-hook") as pool:
                    hook = pool.submit(on_video_path, video.path)
                    frames = video_keyframes(video.path, limits, media, media_index, video.info)
                hook.result()
        delivered = sum(f.image.width * f.image.height for f in frames)
        charge(accounts, delivered - planned)
    info = video.info
    return DecodedMedia("video", content_type, frames, info.width, info.height, info.duration_s)
