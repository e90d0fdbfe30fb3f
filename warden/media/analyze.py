"""MediaAnalyzer: decoded frames -> NSFW scores and OCR, batched across a whole call.

All frames of all attachments of all items in one `analyze` call go through the NSFW network together.
OCR is the slow part (Tesseract: 3.6 images/s on two processes in the media bench), so it is spent
where text is likely:
- a still image is always read (one call);
- an animation or a video has at most `media.ocr_max_frames` frames read: those whose text-likelihood
  score (density of strong horizontal intensity steps, the strokes of letters) is highest and at
  least `media.ocr_min_text_score`. Overlay text usually stays for seconds, so a few frames cover it;
  a video whose text changes every second is read only in part (see docs/media.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..content import Content, Media
from ..errors import MediaError
from ..settings import MediaSettings, Settings
from ..signals import Evidence, Signal
from .budget import PixelAccount, charge, item_account, request_pixels
from .fusion import MediaFusion
from .intake import MediaBatchError, MediaIntakeError, media_status, resolve_item
from .types import Frame, OcrResult, normalise_ocr_text

if TYPE_CHECKING:
    from ..banks.matcher import BankMatcher
    from ..banks.signal_types.base import Fingerprint
    from ..decision import MediaResult
    from .frames import DecodedMedia
    from .nsfw_detector import NsfwFrameDetector
    from .ocr import TesseractOcr

_TEXT_SCORE_WIDTH = 320
_TEXT_STEP = 60  # grey-level step between neighbouring pixels that counts as a letter edge


def text_likelihood(image: Image.Image) -> float:
    """Cheap text-likelihood: share of pixel pairs with a strong horizontal step, on a 320-px thumbnail.

    Letters are dense in vertical strokes with sharp contrast; smooth photos score near 0. It ranks
    frames of one video for OCR; it is not a text detector (busy textures score high too)."""
    grey = image.convert("L")
    if grey.width > _TEXT_SCORE_WIDTH:
        height = max(1, round(grey.height * _TEXT_SCORE_WIDTH / grey.width))
        grey = grey.resize((_TEXT_SCORE_WIDTH, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.int16)
    if pixels.shape[1] < 2:
        return 0.0
    steps = np.abs(np.diff(pixels, axis=1)) > _TEXT_STEP
    return float(steps.mean())


@dataclass
class FrameResult:
    """What the image detectors found on one frame."""

    media_index: int
    frame_index: int
    time_s: float | None
    width: int
    height: int
    nsfw: float
    evidence: list[Evidence] = field(default_factory=list)  # image regions for `sexual`
    text_score: float = 0.0
    ocr: OcrResult | None = None  # None: no text reading for this frame
    ocr_shared: bool = False  # the reading is a neighbouring frame's of the same text run

    @property
    def ocr_text(self) -> str:
        return normalise_ocr_text(self.ocr.text) if self.ocr is not None else ""


@dataclass
class AnalyzerTimings:
    nsfw_s: float = 0.0
    ocr_s: float = 0.0
    frames: int = 0
    ocr_frames: int = 0


class MediaAnalyzer:
    """The image tier: NSFW network and Tesseract OCR over decoded frames."""

    name = "media_analyzer"

    def __init__(
        self,
        settings: MediaSettings | None = None,
        nsfw: NsfwFrameDetector | None = None,
        ocr: TesseractOcr | None = None,
    ) -> None:
        self.settings = settings or MediaSettings()
        self._nsfw = nsfw
        self._ocr = ocr
        self.last = AnalyzerTimings()

    def load(self) -> MediaAnalyzer:
        from .nsfw_detector import NsfwFrameDetector

        if self._nsfw is None:
            self._nsfw = NsfwFrameDetector(
                self.settings.models_dir,
                threads=self.settings.threads,
                batch_size=self.settings.nsfw_batch_size,
            )
        self._nsfw.load()
        if self.settings.ocr_enabled and self._ocr is None:
            from .ocr import TesseractOcr

            self._ocr = TesseractOcr(
                languages=self.settings.ocr_languages,
                timeout_s=self.settings.ocr_timeout_s,
                workers=self.settings.threads,
            )
        return self

    @property
    def nsfw(self) -> NsfwFrameDetector:
        if self._nsfw is None:
            self.load()
        assert self._nsfw is not None
        return self._nsfw

    @property
    def ocr(self) -> TesseractOcr | None:
        return self._ocr if self.settings.ocr_enabled else None

    def versions(self) -> dict[str, str]:
        out = {self.nsfw.name: self.nsfw.identity}
        if self.ocr is not None:
            identity = getattr(self.ocr, "identity", None)
            out["ocr"] = str(identity or f"tesseract/{self.settings.ocr_languages}")
        return out

    def text_runs(self, scores: Sequence[float]) -> list[list[int]]:
        """Maximal runs of consecutive frames whose text-likelihood reaches `ocr_min_text_score`:
        stretches where the same overlay text is probably on screen."""
        runs: list[list[int]] = []
        for i, score in enumerate(scores):
            if score < self.settings.ocr_min_text_score:
                continue
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        return runs

    def ocr_picks(self, frames: Sequence[Frame], scores: Sequence[float]) -> list[int]:
        """Which frames of one attachment OCR reads (indices into `frames`): every text run gets its
        best frame first (runs by peak score), then further frames spread within the runs, up to
        `ocr_max_frames`; a still image is always read."""
        if self.ocr is None or not frames:
            return []
        if len(frames) == 1:
            return [0]
        runs = sorted(self.text_runs(scores), key=lambda run: -max(scores[i] for i in run))
        picked: list[int] = []
        budget = self.settings.ocr_max_frames
        while len(picked) < budget:
            added = False
            for run in runs:
                if len(picked) >= budget:
                    break
                mine = [i for i in run if i in picked]
                rest = [i for i in run if i not in picked]
                if not rest:
                    continue
                # First the run's best frame, then the frame farthest from those already read.
                pick = (
                    max(rest, key=lambda i: scores[i])
                    if not mine
                    else max(rest, key=lambda i: min(abs(i - m) for m in mine))
                )
                picked.append(pick)
                added = True
            if not added:
                break
        return sorted(picked)

    def _share_within_runs(self, results: list[list[FrameResult]], read: Sequence[tuple[int, int]]) -> None:
        """Frames of a text run that OCR did not read take the reading of the nearest read frame of
        the run (`ocr_shared`): overlay text persists, so a segment is not cut at every unread frame."""
        by_attachment: dict[int, list[int]] = {}
        for a, j in read:
            by_attachment.setdefault(a, []).append(j)
        for a, done in by_attachment.items():
            row = results[a]
            if len(row) < 2:
                continue
            for run in self.text_runs([fr.text_score for fr in row]):
                sources = [j for j in run if j in done]
                if not sources:
                    continue
                for j in run:
                    if j not in done:
                        row[j].ocr = row[_nearest(j, sources)].ocr
                        row[j].ocr_shared = True

    def analyze(
        self, attachments: Sequence[Sequence[Frame]], known: Sequence[list[Signal] | None] | None = None
    ) -> list[list[FrameResult]]:
        """Per attachment, per frame: NSFW score, regions, and OCR where picked. `known`: per
        attachment, the NSFW signals of its frames if an earlier pass computed them (else None)."""
        known = list(known) if known is not None else [None] * len(attachments)
        pairs = list(zip(attachments, known, strict=True))
        flat: list[Frame] = [f for frames, k in pairs if k is None for f in frames]
        timings = AnalyzerTimings(frames=sum(len(frames) for frames in attachments))
        started = time.perf_counter()
        fresh = iter(self.nsfw.detect_frames(flat) if flat else [])
        signals = [
            sig for frames, k in pairs for sig in (k if k is not None else [next(fresh) for _ in frames])
        ]
        timings.nsfw_s = time.perf_counter() - started
        results: list[list[FrameResult]] = []
        ocr_jobs: list[tuple[int, int]] = []
        k = 0
        for a, frames in enumerate(attachments):
            row: list[FrameResult] = []
            scores = [text_likelihood(f.image) for f in frames] if len(frames) > 1 else [0.0] * len(frames)
            for j, frame in enumerate(frames):
                sig = signals[k]
                width, height = frame.source_size or frame.image.size
                row.append(
                    FrameResult(
                        media_index=frame.media_index,
                        frame_index=frame.frame_index,
                        time_s=frame.time_s,
                        width=width,
                        height=height,
                        nsfw=float(sig.scores.get("sexual", 0.0)),
                        evidence=[_evidence_to_source(ev, frame) for ev in sig.evidence],
                        text_score=scores[j],
                    )
                )
                k += 1
            ocr_jobs += [(a, j) for j in self.ocr_picks(frames, scores)]
            results.append(row)
        if ocr_jobs and self.ocr is not None:
            started = time.perf_counter()
            read = self.ocr.recognise_batch([attachments[a][j].image for a, j in ocr_jobs])
            for (a, j), ocr_result in zip(ocr_jobs, read, strict=True):
                results[a][j].ocr = _ocr_to_source(ocr_result, attachments[a][j])
            self._share_within_runs(results, ocr_jobs)
            timings.ocr_s = time.perf_counter() - started
            timings.ocr_frames = len(ocr_jobs)
        self.last = timings
        return results


def _nearest(index: int, candidates: Sequence[int]) -> int:
    return min(candidates, key=lambda c: (abs(c - index), c))


def _source_scale(frame: Frame) -> tuple[float, float] | None:
    """Source pixels per analysed pixel of a still shrunk for analysis (None: not shrunk)."""
    if frame.source_size is None or frame.source_size == frame.image.size:
        return None
    return frame.source_size[0] / frame.image.width, frame.source_size[1] / frame.image.height


def _evidence_to_source(evidence: Evidence, frame: Frame) -> Evidence:
    """A region's `box` moved from the analysed frame's pixels to the source picture's."""
    scale = _source_scale(frame)
    box = evidence.detail.get("box")
    if scale is None or not isinstance(box, list) or len(box) != 4:
        return evidence
    sx, sy = scale
    x, y, w, h = box
    moved = [round(x * sx), round(y * sy), round(w * sx), round(h * sy)]
    return dataclasses.replace(evidence, detail={**evidence.detail, "box": moved})


def _ocr_to_source(result: OcrResult, frame: Frame) -> OcrResult:
    """OCR word boxes moved from the analysed frame's pixels to the source picture's (as OCR
    itself maps its upscaled or downscaled working copy back)."""
    scale = _source_scale(frame)
    if scale is None or frame.source_size is None:
        return result
    sx, sy = scale
    width, height = frame.source_size
    words = []
    for w in result.words:
        left, top = math.floor(w.left * sx), math.floor(w.top * sy)
        right = min(width, math.ceil((w.left + w.width) * sx))
        bottom = min(height, math.ceil((w.top + w.height) * sy))
        words.append(dataclasses.replace(w, left=left, top=top, width=right - left, height=bottom - top))
    return OcrResult(text=result.text, words=words, languages=result.languages)


def _lossless(image: Image.Image) -> bytes:
    """An RGB picture as PPM bytes: decodes to exactly the same pixels."""
    buffer = io.BytesIO()
    image.save(buffer, "PPM")
    return buffer.getvalue()


# Signal types that hash PDQ's reference view of a still (the plain RGB conversion, shrunk to 512 px
# by nearest neighbour): decoding keeps that view (`DecodedMedia.reference`), so they hash it
# instead of decoding the file again at full size. Same hash, bit for bit.
REFERENCE_SAMPLED = frozenset({"pdq"})


def ocr_evidence(
    result: FrameResult, start: int, end: int, category: str, detector: str, weight: float
) -> list[dict[str, Any]]:
    """Text-span evidence on a frame's OCR text -> one `ocr_word` entry per word box it covers.

    Offsets index `result.ocr.text` (the raw OCR text the text tier scored)."""
    if result.ocr is None:
        return []
    out = []
    for word in result.ocr.words_in(start, end):
        out.append(
            Evidence(
                category=category,
                detector=detector,
                kind="ocr_word",
                snippet=word.text,
                weight=weight,
                detail={
                    "media_index": result.media_index,
                    "frame_index": result.frame_index,
                    "time_s": result.time_s,
                    "box": word.box(),
                    "word": word.text,
                    "confidence": round(float(word.confidence), 1),
                },
            ).to_dict()
        )
    return out


# -- the media tier: intake, decoding, fingerprints, analysis and fusion for the Moderator ------------


@dataclass
class Attachment:
    """One decoded attachment of an item, with its bank fingerprints (taken while decoding)."""

    media_index: int
    sha256: str
    decoded: DecodedMedia
    fingerprints: dict[str, list[Fingerprint]] = field(default_factory=dict)
    decode_ms: float = 0.0
    # The NSFW detector's signals per frame when decoding already ran it (for the image_embedding
    # bank type); the media stage then reuses them instead of a second forward pass.
    nsfw: list[Signal] | None = None

    @property
    def kind(self) -> str:
        if self.decoded.kind == "video":
            return "video"
        return "animation" if self.decoded.animated else "image"

    def summary(self) -> MediaResult:
        """The attachment as a decision lists it before any detector ran (e.g. after a bank match)."""
        from ..decision import MediaResult

        return MediaResult(
            media_index=self.media_index,
            kind=self.kind,
            content_type=self.decoded.content_type,
            sha256=self.sha256,
            width=self.decoded.width or None,
            height=self.decoded.height or None,
            duration_s=self.decoded.duration_s,
        )


class MediaTier:
    """What the Moderator needs for media: intake + decoding with limits, the analyzer and the fusion.

    Constructing it loads nothing; `load()` loads the NSFW network and checks Tesseract."""

    def __init__(
        self,
        settings: Settings,
        analyzer: MediaAnalyzer | None = None,
        fusion: MediaFusion | None = None,
    ) -> None:
        self.settings = settings
        self.analyzer = analyzer or MediaAnalyzer(settings.media)
        self.fusion = fusion or MediaFusion.load(settings.media.models_dir)
        self._loaded = False

    def load(self) -> MediaTier:
        if not self._loaded:
            self.analyzer.load()
            self._loaded = True
        return self

    def versions(self) -> dict[str, str]:
        return {**self.analyzer.versions(), "media_fusion": self.fusion.version}

    def prepare(
        self, items: Sequence[Content], banks: BankMatcher | None = None, *, allow_path: bool = True
    ) -> tuple[list[Content], list[list[Attachment] | None]]:
        """Resolve and decode every attachment; MediaBatchError (by content id) if any item fails.
        `allow_path=False` refuses media given as a server-side file path (HTTP requests).

        Each item decoded here keeps its attachments (`Content._decoded`), also when another item
        of the batch fails: the caller drops the failures and calls again without decoding twice.

        Pixels are budgeted (`warden.media.budget`): an item's attachments together may decode at
        most `limits.max_item_pixels`, the items of one request (the HTTP API opens it with
        `request_pixels`; otherwise this call is the request) `limits.max_request_pixels`. Image
        headers are summed before anything of the item is decoded; an item over either budget
        fails with 413 and nothing of it is kept."""
        limits = self.settings.limits
        out_items: list[Content] = []
        out_media: list[list[Attachment] | None] = []
        failures: dict[str, MediaIntakeError] = {}
        with request_pixels(limits) as request:
            for item in items:
                if not item.media:
                    out_items.append(item)
                    out_media.append(None)
                    continue
                # Fingerprints depend on which signal types have bank entries: decode again if that changed.
                active = tuple(sorted(banks.active_types())) if banks is not None else ()
                if item._decoded is None or item._decoded[2] != active:
                    # Decoding again (bank types changed): the request that first decoded it paid.
                    mine = item_account(limits)
                    accounts = (mine,) if item._decoded is not None else (mine, request)
                    try:
                        resolved = resolve_item(item, self.settings.media, limits, allow_path=allow_path)
                        self.check_pixels(resolved.media, accounts)
                        attachments = [
                            self.decode(k, m, banks, accounts=accounts) for k, m in enumerate(resolved.media)
                        ]
                    except MediaIntakeError as exc:
                        failures[item.id] = exc
                        continue
                    item._decoded = resolved._decoded = (resolved, attachments, active)
                resolved, attachments, _ = item._decoded
                out_items.append(resolved)
                out_media.append(attachments)
        if failures:
            raise MediaBatchError(failures)
        return out_items, out_media

    def check_pixels(self, media: Sequence[Media], accounts: tuple[PixelAccount, ...]) -> None:
        """Refuse (413) an item whose images' headers alone declare more pixels than the accounts
        have left, before any of them is decoded (videos are charged as they are decoded)."""
        from .frames import declared_pixels
        from .images import MediaLimitError

        declared = [
            declared_pixels(m.data, self.settings.limits, self.settings.media) if m.data else None
            for m in media
        ]
        try:
            charge(accounts, sum(d for d in declared if d is not None), check_only=True)
        except MediaLimitError as exc:
            raise MediaIntakeError(f"media: {exc}", status=exc.status) from None

    def decode(
        self,
        index: int,
        media: Media,
        banks: BankMatcher | None = None,
        *,
        accounts: tuple[PixelAccount, ...] = (),
    ) -> Attachment:
        """One attachment (already in `data` form): type check, decode with limits, fingerprints.
        Its decoded pixels are charged to `accounts` (see `prepare`)."""
        from .frames import VIDEO_TYPES, check_declared, decode_media, sniff

        assert media.data is not None
        data = media.data
        started = time.perf_counter()
        try:
            sniffed = sniff(data)
            check_declared(media.content_type, sniffed)
        except MediaError as exc:
            # An empty file is malformed (422); bytes of another kind than declared, or of a kind
            # we do not decode, are an unsupported media type (415).
            raise MediaIntakeError(f"media[{index}]: {exc}", status=415 if data else 422) from None
        kind = "video" if sniffed in VIDEO_TYPES else "image"
        active = (
            [n for n in banks.active_types() if kind in banks.types[n].media] if banks is not None else []
        )
        fingerprints: dict[str, list[Fingerprint]] = {}

        nsfw_pass: list[Signal] | None = None

        def take_fingerprints(
            video_path: Path | None = None,
            frames: list[Frame] | None = None,
            reference: Image.Image | None = None,
        ) -> None:
            # Only signal types with bank entries: vPDQ/TMK hash every frame and cost more than analysis.
            nonlocal nsfw_pass
            assert banks is not None
            for name in active:
                signal_type = banks.types[name]
                from_embedding = getattr(signal_type, "from_nsfw_embedding", None)
                if from_embedding is not None and frames is not None and self.settings.media.enabled:
                    # The NSFW network's pooled features of the decoded picture: the same forward
                    # pass the media stage reads its scores from (kept on the attachment).
                    nsfw_pass, embeddings = self.load().analyzer.nsfw.analyse(frames)
                    fps = from_embedding(embeddings[0])
                elif video_path is not None:
                    fps = signal_type.from_video_file(video_path, data)
                elif name in REFERENCE_SAMPLED and reference is not None:
                    fps = signal_type.from_bytes(_lossless(reference), kind)
                else:
                    fps = signal_type.from_bytes(data, kind)
                if fps:
                    fingerprints[name] = fps

        try:
            decoded = decode_media(
                data,
                media.content_type,
                self.settings.limits,
                self.settings.media,
                index,
                on_video_path=take_fingerprints if kind == "video" and active else None,
                accounts=accounts,
                reference=kind == "image" and any(name in REFERENCE_SAMPLED for name in active),
            )
            if kind == "image" and active:
                take_fingerprints(
                    frames=decoded.frames if not decoded.animated else None, reference=decoded.reference
                )
            if decoded.reference is not None:
                decoded = dataclasses.replace(decoded, reference=None)  # hashed: not kept with the item
        except MediaError as exc:
            raise MediaIntakeError(f"media[{index}]: {exc}", status=media_status(exc)) from None
        return Attachment(
            media_index=index,
            sha256=hashlib.sha256(data).hexdigest(),
            decoded=decoded,
            fingerprints=fingerprints,
            decode_ms=(time.perf_counter() - started) * 1000.0,
            nsfw=nsfw_pass,
        )
