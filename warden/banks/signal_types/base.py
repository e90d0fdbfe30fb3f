"""The signal type interface: how a kind of fingerprint is validated, computed and matched.

Adding a type is one file with a `SignalType` subclass plus `register()` in `__init__.py`
(python-threatexchange's `signal_type/signal_base.py` follows the same shape).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...settings import BankSettings, Limits


@dataclass(frozen=True)
class IndexHit:
    """An indexed entry close enough to a query value. `distance` is 0 for identical."""

    entry_id: int
    distance: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fingerprint:
    """A computed signal value; `quality` where the algorithm reports one (PDQ: 0-100)."""

    value: str
    quality: int | None = None


class SignalIndex(ABC):
    """Entries of one signal type, searchable; adds and removals are visible to the next query."""

    @abstractmethod
    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        """Index (entry id, canonical value) pairs; re-adding an id replaces it."""

    @abstractmethod
    def remove(self, entry_ids: Sequence[int]) -> None:
        """Stop matching these entries (unknown ids are ignored)."""

    @abstractmethod
    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        """For each query value, the matching entries, best first."""

    @abstractmethod
    def __len__(self) -> int: ...


class SignalType(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    # Names other systems use for the same signal (ThreatExchange / HMA), accepted on import.
    aliases: ClassVar[tuple[str, ...]] = ()
    # The name written on export to ThreatExchange-style files.
    exchange_name: ClassVar[str]
    # What content it fingerprints: text, image, video.
    media: ClassVar[frozenset[str]]
    # Distance unit reported in evidence (bits, 1 - similarity, ...).
    distance_unit: ClassVar[str]
    # For the conformance kit (`signal_types.testing.check_signal_type`): values that must validate
    # and match themselves, values that must be refused with a ValueError, and for text types a
    # text whose fingerprints must validate.
    examples: ClassVar[tuple[str, ...]] = ()
    invalid_examples: ClassVar[tuple[str, ...]] = ()
    example_text: ClassVar[str] = "an example post to fingerprint, long enough for every text signal type"

    def __init__(self, settings: BankSettings, limits: Limits | None = None) -> None:
        self.settings = settings
        self.limits = limits or Limits()  # media decoding limits (bytes, pixels, duration)

    def example_values(self) -> list[str]:
        """Valid example values (types whose values are computed override this)."""
        return list(self.examples)

    @abstractmethod
    def validate(self, value: str) -> str:
        """Return the canonical form of a value, or raise ValueError saying what is wrong."""

    def from_text(self, text: str) -> list[Fingerprint]:
        """Signal values for a text (none unless the type fingerprints text)."""
        return []

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        """Signal values for raw media bytes of `kind` (image, video); MediaError if undecodable."""
        return []

    def from_video_file(self, path: Path, data: bytes) -> list[Fingerprint]:
        """Signal values for a video whose bytes `data` are already checked and written to `path`
        (the media path hashes the file it decodes keyframes from). Default: from the bytes; types
        that read video files override it so the file is not written and probed again."""
        return self.from_bytes(data, "video")

    @abstractmethod
    def new_index(self) -> SignalIndex: ...
