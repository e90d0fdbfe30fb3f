"""vPDQ: PDQ of video frames sampled once a second; a video matches when most of its frames do.

Value format: the frame hashes separated by spaces, each `HEX` or `HEX@SECONDS` (the frame time
is kept for evidence). The match rule follows python-threatexchange's vPDQ: the share of the
query's distinct frames that match some frame of the entry must reach `vpdq_min_query_match`,
and the share of the entry's frames matched must reach `vpdq_min_entry_match`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from ...errors import MissingExtraError
from ...settings import BankSettings
from ..pdq_index import PdqIndex, hex_to_words
from .base import Fingerprint, IndexHit, SignalIndex, SignalType


def parse_frames(value: str) -> list[tuple[str, float | None]]:
    frames: list[tuple[str, float | None]] = []
    for token in value.split():
        hex_part, _, time_part = token.partition("@")
        time = None
        if time_part:
            try:
                time = float(time_part)
            except ValueError:
                raise ValueError(f"frame time is not a number in {token[:90]!r}") from None
        frames.append((hex_part.lower(), time))
    if not frames:
        raise ValueError("a vPDQ value lists at least one frame hash")
    hex_to_words([h for h, _ in frames])
    return frames


def format_frames(frames: Sequence[tuple[str, float | None]]) -> str:
    return " ".join(h if t is None else f"{h}@{t:g}" for h, t in frames)


class VpdqSignal(SignalType):
    name = "vpdq"
    description = "vPDQ video hash: space-separated frame PDQ hashes (HEX or HEX@SECONDS)."
    aliases = ("vpdq",)
    exchange_name = "vpdq"
    media = frozenset({"video"})
    distance_unit = "1 - share of query frames matched"
    examples = (
        "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22@0 "
        "f8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22@1",
    )
    invalid_examples = (
        "",
        "d8f8f0ce@0",
        "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22@soon",
    )

    def validate(self, value: str) -> str:
        return format_frames(parse_frames(value))

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        if kind != "video":
            return []
        from ...media.video import video_file

        with video_file(data, self.limits) as path:
            return self.from_video_file(path, data)

    def from_video_file(self, path: Path, data: bytes) -> list[Fingerprint]:
        try:
            import vpdq
        except ImportError as exc:
            raise MissingExtraError("vPDQ video hashing", "video") from exc

        features = vpdq.computeHash(str(path), seconds_per_hash=1.0, thread_count=1)
        frames: list[tuple[str, float | None]] = []
        seen: set[str] = set()
        for feature in features:
            if feature.quality < self.settings.pdq_min_quality:
                continue  # featureless frames (black, fades) match everything
            hex_hash = vpdq.hash_to_hex(feature.hash)
            if hex_hash not in seen:
                seen.add(hex_hash)
                frames.append((hex_hash, round(float(feature.timestamp), 3)))
        if not frames:
            return []
        return [Fingerprint(format_frames(frames))]

    def new_index(self) -> SignalIndex:
        return VpdqIndex(self.settings)


class VpdqIndex(SignalIndex):
    """All entries' frames in one PDQ index; frame rows map back to (entry, frame number)."""

    def __init__(self, settings: BankSettings) -> None:
        self.settings = settings
        self.frames = PdqIndex(max_distance=settings.pdq_max_distance)
        self._frame_entry: dict[int, tuple[int, int]] = {}  # frame row -> (entry id, frame number)
        self._entry_frames: dict[int, list[int]] = {}  # entry id -> frame rows
        self._next_row = 0
        self._lock = threading.Lock()

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        for entry_id, value in entries:
            frames = parse_frames(value)
            distinct = list(dict.fromkeys(h for h, _ in frames))
            with self._lock:
                self._remove_locked([entry_id])
                rows = list(range(self._next_row, self._next_row + len(distinct)))
                self._next_row += len(distinct)
                for n, row in enumerate(rows):
                    self._frame_entry[row] = (entry_id, n)
                self._entry_frames[entry_id] = rows
            self.frames.add(rows, hex_to_words(distinct))

    def _remove_locked(self, entry_ids: Sequence[int]) -> None:
        for entry_id in entry_ids:
            rows = self._entry_frames.pop(entry_id, None)
            if rows:
                self.frames.remove(rows)
                for row in rows:
                    self._frame_entry.pop(row, None)

    def remove(self, entry_ids: Sequence[int]) -> None:
        with self._lock:
            self._remove_locked(entry_ids)

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        out: list[list[IndexHit]] = []
        for value in values:
            frames = parse_frames(value)
            distinct = list(dict.fromkeys(h for h, _ in frames))
            times = {h: t for h, t in reversed(frames)}
            hits = self.frames.search(hex_to_words(distinct))
            query_frames: dict[int, set[int]] = {}
            entry_frames: dict[int, set[int]] = {}
            first_time: dict[int, float | None] = {}
            with self._lock:
                for q, row_hits in enumerate(hits):
                    for hit in row_hits:
                        owner = self._frame_entry.get(hit.id)
                        if owner is None:
                            continue
                        entry_id, frame_no = owner
                        query_frames.setdefault(entry_id, set()).add(q)
                        entry_frames.setdefault(entry_id, set()).add(frame_no)
                        first_time.setdefault(entry_id, times.get(distinct[q]))
                sizes = {e: len(self._entry_frames.get(e, ())) for e in query_frames}
            row: list[IndexHit] = []
            for entry_id, matched in query_frames.items():
                query_share = len(matched) / len(distinct)
                entry_share = len(entry_frames[entry_id]) / max(sizes[entry_id], 1)
                if (
                    query_share >= self.settings.vpdq_min_query_match
                    and entry_share >= self.settings.vpdq_min_entry_match
                ):
                    detail = {
                        "query_match": round(query_share, 4),
                        "entry_match": round(entry_share, 4),
                        "first_match_s": first_time.get(entry_id),
                    }
                    row.append(IndexHit(entry_id, round(1.0 - query_share, 4), detail))
            row.sort(key=lambda h: (h.distance, h.entry_id))
            out.append(row)
        return out

    def __len__(self) -> int:
        return len(self._entry_frames)
