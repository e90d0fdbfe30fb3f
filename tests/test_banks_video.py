"""vPDQ and TMK+PDQF on videos built with ffmpeg from the PDQ test photos: re-encoded, resized and
trimmed copies match their source through the index; videos of different photos match nothing."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from support import require_data

from warden.banks.signal_types.tmk import TmkIndex, TmkSignal, features_from_bytes
from warden.banks.signal_types.vpdq import VpdqIndex, VpdqSignal, parse_frames
from warden.errors import MediaError
from warden.settings import BankSettings

SLIDES = {
    "a": [
        "bridge-mods/aaa-orig.jpg",
        "reg-test-input/labelme-subset/q0122.jpg",
        "reg-test-input/labelme-subset/q0291.jpg",
    ],
    "b": [
        "misc-images/c.png",
        "reg-test-input/labelme-subset/q0746.jpg",
        "reg-test-input/labelme-subset/q1050.jpg",
    ],
}
# Derived copies of video "a": (name, ffmpeg output options, input options)
VARIANTS = {
    "a_reencoded": (["-c:v", "libx264", "-crf", "35"], []),
    "a_resized": (["-vf", "scale=320:240", "-c:v", "libx264"], []),
    "a_trimmed": (["-c:v", "libx264"], ["-ss", "1.5"]),
    "a_webm": (["-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime"], []),
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed (make system-deps)")
    root = require_data("pdq-image-hash-testset")
    work = tmp_path_factory.mktemp("videos")
    with zipfile.ZipFile(root / "pdq_test_images.zip") as z:
        z.extractall(work / "img")
    out: dict[str, Path] = {}
    for name, slides in SLIDES.items():
        inputs: list[str] = []
        for slide in slides:
            inputs += ["-loop", "1", "-t", "3", "-i", str(work / "img" / slide)]
        scaled = "".join(f"[{i}:v]scale=640:480,setsar=1,fps=25[v{i}];" for i in range(len(slides)))
        joined = "".join(f"[v{i}]" for i in range(len(slides)))
        graph = f"{scaled}{joined}concat=n={len(slides)}:v=1:a=0,format=yuv420p[out]"
        out[name] = work / f"{name}.mp4"
        _ffmpeg(*inputs, "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", str(out[name]))
    for name, (options, input_options) in VARIANTS.items():
        suffix = ".webm" if "webm" in name else ".mp4"
        out[name] = work / f"{name}{suffix}"
        _ffmpeg(*input_options, "-i", str(out["a"]), *options, str(out[name]))
    return {name: path.read_bytes() for name, path in out.items()}


def test_vpdq_matches_copies_of_the_source_and_not_other_videos(videos: dict[str, bytes]) -> None:
    signal = VpdqSignal(BankSettings())
    values = {name: signal.from_bytes(data, "video")[0].value for name, data in videos.items()}
    frames = parse_frames(values["a"])
    assert len(frames) >= 3 and all(t is not None for _, t in frames)
    index = VpdqIndex(BankSettings())
    index.add([(1, values["a"]), (2, values["b"])])
    for name in VARIANTS:
        hits = index.query([values[name]])[0]
        assert [h.entry_id for h in hits] == [1], name
        assert hits[0].detail["query_match"] >= 0.8
    assert [h.entry_id for h in index.query([values["b"]])[0]] == [2]
    index.remove([1])
    assert index.query([values["a_reencoded"]])[0] == []


def test_tmk_matches_copies_of_the_source_and_not_other_videos(videos: dict[str, bytes]) -> None:
    signal = TmkSignal(BankSettings())
    values = {name: signal.from_bytes(data, "video")[0].value for name, data in videos.items()}
    assert signal.validate(values["a"]) == values["a"]  # the .tmk file round-trips through our parser
    index = TmkIndex(BankSettings())
    index.add([(1, values["a"]), (2, values["b"])])
    for name in VARIANTS:
        hits = index.query([values[name]])[0]
        assert [h.entry_id for h in hits] == [1], name
        assert hits[0].detail["level2"] >= 0.7
    assert [h.entry_id for h in index.query([values["b"]])[0]] == [2]


def test_bad_video_input_gets_a_clear_error(videos: dict[str, bytes]) -> None:
    signal = VpdqSignal(BankSettings())
    with pytest.raises(MediaError, match="empty"):
        signal.from_bytes(b"", "video")
    with pytest.raises(MediaError, match="not a decodable video"):
        signal.from_bytes(b"this is not a video at all" * 100, "video")
    with pytest.raises(ValueError, match="bad magic"):
        features_from_bytes(b"not a tmk file" * 10)
