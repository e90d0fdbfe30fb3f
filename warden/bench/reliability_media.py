"""Reliability figure: memory and time of the worst media item the default limits let in.

`measure(workdir)` builds highly compressible PNGs (a flat grey picture: ~100 KB on the wire for
tens of megapixels, so the byte limits never stop them) and moderates one item made of them in a
fresh Python process, so that nothing else the caller allocated counts. That process loads the real
moderator (text models, Open-NSFW, Tesseract) with a PDQ bank (so the bank hashing path runs too),
moderates a small warm-up item, measures its idle RSS, resets the kernel's peak-RSS mark
(`/proc/self/clear_refs`) and moderates the worst item; a thread polls `/proc/self/statm` as well in
case the reset is not allowed. Two candidate worst items, the worse one reported:

- as many PNGs of just under `limits.max_image_pixels` as `max_media_per_item`, `max_item_pixels`
  and `max_request_pixels` allow;
- `max_media_per_item` PNGs of the largest size the item budget allows for that many.

Figures: `worst_media_peak_rss_mb` (peak RSS above idle, MB) and `worst_media_seconds` (wall time of
that `moderate` call).
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

_PAGE = 4096


def flat_png(width: int, height: int, grey: int = 128) -> bytes:
    """An RGB PNG of one colour, written row by row (never holding the picture in memory)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + bytes([grey]) * (3 * width)  # filter byte "none", then the pixels
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
    )


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE


def _hwm_bytes() -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _reset_hwm() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0: writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    hwm = _hwm_bytes()
    return hwm is not None and hwm <= _rss_bytes() + 16 * _PAGE


class _Poller(threading.Thread):
    def __init__(self, every_s: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.every_s = every_s
        self.peak = _rss_bytes()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.every_s)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, _rss_bytes())
        return self.peak


def _child(workdir: Path, files: list[Path], pdq_bank: bool = True) -> dict[str, Any]:
    """Runs in the fresh process: load, warm up, measure idle, moderate the worst item."""
    import gc

    from ..banks.exchange import RawEntry
    from ..bootstrap import bank_service, open_store
    from ..content import Content, Media
    from ..media.intake import MediaBatchError
    from ..moderator import Moderator
    from ..settings import MediaSettings, Settings

    database = workdir / "reliability-media.db"
    database.unlink(missing_ok=True)  # each run starts with an empty store
    settings = Settings(
        database_url=f"sqlite:///{database}",
        media=MediaSettings(store_dir=workdir / "media"),
    )
    store = open_store(settings)
    banks = bank_service(settings, store)
    if pdq_bank:
        banks.create_bank("reliability-pdq", "sexual", "review", actor="bench")
        banks.add_entries("reliability-pdq", [RawEntry(-1, "pdq", "f" * 64)], "bench")
    moderator = Moderator.from_settings(settings).load().attach(banks=banks.matcher).load_media()
    # Warm-up with as many small attachments as the worst item has: the NSFW network's arena grows
    # once to its batch size, a cost every server pays after its first full item, not this item's.
    small = flat_png(640, 360)
    warm = Content(
        id="warm-up",
        kind="image",
        media=[Media(data=small, content_type="image/png") for _ in files],
    )
    moderator.moderate([warm])
    blobs = [f.read_bytes() for f in files]
    item = Content(
        id=f"worst-{len(blobs)}",
        kind="image",
        media=[Media(data=b, content_type="image/png") for b in blobs],
    )
    gc.collect()
    idle = _rss_bytes()
    reset = _reset_hwm()
    poller = _Poller()
    poller.start()
    started = time.perf_counter()
    refused = ""
    try:
        moderator.moderate([item])
    except MediaBatchError as exc:
        refused = str(exc)
    seconds = time.perf_counter() - started
    polled = poller.stop()
    hwm = _hwm_bytes() if reset else None
    peak = max(polled, hwm or 0)
    return {
        "idle_rss_mb": idle / 1e6,
        "peak_rss_mb": (peak - idle) / 1e6,
        "seconds": seconds,
        "hwm_reset": reset,
        "refused": refused,
    }


def _child_main() -> None:
    workdir, pdq_bank = Path(sys.argv[1]), sys.argv[2] == "pdq"
    files = [Path(p) for p in sys.argv[3:]]
    print(json.dumps(_child(workdir, files, pdq_bank)))


def run_item(
    workdir: Path, count: int, pixels: int, pdq_bank: bool = True, timeout_s: float = 1800
) -> dict[str, Any]:
    """One item of `count` flat PNGs of about `pixels` pixels each, moderated in a fresh process
    (with a PDQ bank entry unless `pdq_bank` is false, so that images are PDQ-hashed too)."""
    side = math.isqrt(pixels)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"flat-{side}x{side}.png"
    if not path.exists():
        path.write_bytes(flat_png(side, side))
    code = "from warden.bench.reliability_media import _child_main; _child_main()"
    done = subprocess.run(
        [sys.executable, "-c", code, str(workdir), "pdq" if pdq_bank else "-", *[str(path)] * count],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worst-media measurement failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(count=count, megapixels=side * side / 1e6, png_kb=path.stat().st_size / 1e3)
    return result


def worst_items() -> list[tuple[int, int]]:
    """(count, pixels per image) of the worst items the default limits let in: the largest images
    (as many as fit), the most images (as large as fit), and images of exactly the analysed size
    (`media.max_analysis_pixels`: the most pixels held for analysis, as many as fit)."""
    from ..settings import Limits, MediaSettings

    limits, media = Limits(), MediaSettings()
    per_image = limits.max_image_pixels - 1
    # Getattr: the figure is also measured on code from before the item and request budgets.
    budget = min(
        getattr(limits, "max_item_pixels", math.inf), getattr(limits, "max_request_pixels", math.inf)
    )
    most = limits.max_media_per_item
    out: list[tuple[int, int]] = []
    for size in (per_image, getattr(media, "max_analysis_pixels", per_image)):
        count = int(min(most, budget // size))
        if count >= 1 and (count, size) not in out:
            out.append((count, size))
    if out[0][0] < most:
        out.append((most, int(min(per_image, budget // most))))
    return out


def measure(workdir: Path) -> dict[str, float]:
    runs = [run_item(Path(workdir), count, pixels) for count, pixels in worst_items()]
    for r in runs:
        if r["refused"]:
            raise RuntimeError(f"the default limits refused their own worst item: {r['refused']}")
    worst = max(runs, key=lambda r: r["peak_rss_mb"])
    return {
        "worst_media_peak_rss_mb": round(worst["peak_rss_mb"], 1),
        "worst_media_seconds": round(worst["seconds"], 2),
    }
