"""MD5 and SHA-256: exact matching of any bytes (media files, or a text's UTF-8)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import ClassVar

from .base import Fingerprint, IndexHit, SignalIndex, SignalType


class ExactIndex(SignalIndex):
    def __init__(self) -> None:
        self._by_value: dict[str, set[int]] = {}
        self._value_of: dict[int, str] = {}
        self._lock = threading.Lock()

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        with self._lock:
            for entry_id, value in entries:
                self._drop(entry_id)
                self._by_value.setdefault(value, set()).add(entry_id)
                self._value_of[entry_id] = value

    def _drop(self, entry_id: int) -> None:
        old = self._value_of.pop(entry_id, None)
        if old is not None:
            ids = self._by_value[old]
            ids.discard(entry_id)
            if not ids:
                del self._by_value[old]

    def remove(self, entry_ids: Sequence[int]) -> None:
        with self._lock:
            for entry_id in entry_ids:
                self._drop(entry_id)

    def query(self, values: Sequence[str]) -> list[list[IndexHit]]:
        with self._lock:
            return [[IndexHit(i, 0.0) for i in sorted(self._by_value.get(v, ()))] for v in values]

    def __len__(self) -> int:
        return len(self._value_of)


class _DigestSignal(SignalType):
    digest_name: ClassVar[str]
    hex_digits: ClassVar[int]
    media = frozenset({"text", "image", "video"})
    distance_unit = "exact"

    def validate(self, value: str) -> str:
        value = value.strip().lower()
        if len(value) != self.hex_digits or any(c not in "0123456789abcdef" for c in value):
            raise ValueError(f"{self.name} is {self.hex_digits} hex digits, got {value[:80]!r}")
        return value

    def _digest(self, data: bytes) -> str:
        return hashlib.new(self.digest_name, data).hexdigest()

    def from_text(self, text: str) -> list[Fingerprint]:
        return [Fingerprint(self._digest(text.encode("utf-8")))] if text else []

    def from_bytes(self, data: bytes, kind: str) -> list[Fingerprint]:
        return [Fingerprint(self._digest(data))]

    def new_index(self) -> SignalIndex:
        return ExactIndex()


class Md5Signal(_DigestSignal):
    name = "md5"
    description = "MD5 of the exact bytes (media file, or a text's UTF-8)."
    aliases = ("video_md5", "photo_md5", "md5")
    exchange_name = "video_md5"
    digest_name = "md5"
    hex_digits = 32
    examples = ("5d41402abc4b2a76b9719d911017c592", "5D41402ABC4B2A76B9719D911017C592 ")
    invalid_examples = ("", "5d41402abc4b2a76b9719d911017c59", "zz41402abc4b2a76b9719d911017c592")


class Sha256Signal(_DigestSignal):
    name = "sha256"
    description = "SHA-256 of the exact bytes (media file, or a text's UTF-8)."
    aliases = ("sha256",)
    exchange_name = "sha256"
    digest_name = "sha256"
    hex_digits = 64
    examples = ("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",)
    invalid_examples = ("", "2cf24dba", "g" * 64)
