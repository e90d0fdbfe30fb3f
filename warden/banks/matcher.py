"""BankMatcher: the in-memory indexes of every active bank entry, kept in step with the store.

The process that changes a bank applies the change here at once; other processes (more API
workers, a CLI import while the server runs) are picked up by `refresh()`, which a server calls
every `refresh_interval_s` and which reads only entries changed since the last refresh.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from ..settings import BankSettings, Limits
from ..store.banks import BankRepository
from .model import Bank, BankEntry, BankMatch
from .signal_types import Fingerprint, SignalIndex, SignalType, build_signal_types, canonical_name

# Refreshes re-read a little before the last one started: writers' clocks and commit order differ.
_REFRESH_OVERLAP = timedelta(seconds=5)


class BankMatcher:
    name = "bank_match"
    version = "1"

    def __init__(self, settings: BankSettings | None = None, limits: Limits | None = None) -> None:
        self.settings = settings or BankSettings()
        self.types: dict[str, SignalType] = build_signal_types(self.settings, limits)
        self.indexes: dict[str, SignalIndex] = {n: t.new_index() for n, t in self.types.items()}
        self._banks: dict[int, Bank] = {}
        self._indexed: dict[int, tuple[int, str]] = {}  # entry id -> (bank id, signal type)
        self._watermark: datetime | None = None
        self._lock = threading.RLock()

    # -- keeping in step with the store ---------------------------------------------------------
    def load(self, repo: BankRepository) -> BankMatcher:
        """Rebuild every index from the store (start-up)."""
        started = datetime.now().astimezone()
        with self._lock:
            self.indexes = {n: t.new_index() for n, t in self.types.items()}
            self._indexed = {}
            self._banks = repo.bank_ids()
            by_type: dict[str, list[tuple[int, str]]] = {}
            owners: dict[int, tuple[int, str]] = {}
            for entry in repo.iter_entries():
                if self._should_index(entry):
                    by_type.setdefault(entry.signal_type, []).append((entry.id, entry.value))
                    owners[entry.id] = (entry.bank_id, entry.signal_type)
            for signal_type, pairs in by_type.items():
                self.indexes[signal_type].add(pairs)  # one bulk add per type: one index build
            self._indexed = owners
            self._watermark = started
        return self

    def _should_index(self, entry: BankEntry) -> bool:
        bank = self._banks.get(entry.bank_id)
        return entry.active and bank is not None and bank.enabled and entry.signal_type in self.indexes

    def apply(self, entries: Iterable[BankEntry], banks: Mapping[int, Bank] | None = None) -> int:
        """Bring the indexes in line with these entries' current state; returns how many changed."""
        changed = 0
        with self._lock:
            if banks is not None:
                self._banks = dict(banks)
            to_add: dict[str, list[tuple[int, str]]] = {}
            to_remove: dict[str, list[int]] = {}
            for entry in entries:
                want = self._should_index(entry)
                have = entry.id in self._indexed
                if want and not have:
                    to_add.setdefault(entry.signal_type, []).append((entry.id, entry.value))
                    self._indexed[entry.id] = (entry.bank_id, entry.signal_type)
                elif have and not want:
                    _, signal_type = self._indexed.pop(entry.id)
                    to_remove.setdefault(signal_type, []).append(entry.id)
            for signal_type, ids in to_remove.items():
                self.indexes[signal_type].remove(ids)
                changed += len(ids)
            for signal_type, pairs in to_add.items():
                self.indexes[signal_type].add(pairs)
                changed += len(pairs)
        return changed

    def refresh(self, repo: BankRepository) -> int:
        """Apply changes other processes made since the last load or refresh."""
        started = datetime.now().astimezone()
        banks = repo.bank_ids()
        with self._lock:
            since = None if self._watermark is None else self._watermark - _REFRESH_OVERLAP
            gone = [eid for eid, (bank_id, _) in self._indexed.items() if bank_id not in banks]
        changed = 0
        if gone:  # a deleted bank's entries are gone from the store: drop them by owner
            with self._lock:
                by_type: dict[str, list[int]] = {}
                for eid in gone:
                    _, signal_type = self._indexed.pop(eid)
                    by_type.setdefault(signal_type, []).append(eid)
                for signal_type, ids in by_type.items():
                    self.indexes[signal_type].remove(ids)
            changed += len(gone)
        changed += self.apply(repo.iter_entries(changed_since=since), banks)
        with self._lock:
            self._watermark = started
        return changed

    # -- matching --------------------------------------------------------------------------------
    def active_types(self) -> list[str]:
        return [name for name, index in self.indexes.items() if len(index)]

    def text_fingerprints(self, text: str) -> dict[str, list[Fingerprint]]:
        """Fingerprints of a text for the signal types that have entries (skips costly ones otherwise)."""
        out: dict[str, list[Fingerprint]] = {}
        for name in self.active_types():
            signal_type = self.types[name]
            if "text" in signal_type.media:
                fps = signal_type.from_text(text)
                if fps:
                    out[name] = fps
        return out

    def media_fingerprints(self, data: bytes, kind: str) -> dict[str, list[Fingerprint]]:
        """Fingerprints of media bytes for every signal type that covers the kind."""
        out: dict[str, list[Fingerprint]] = {}
        for name, signal_type in self.types.items():
            if kind in signal_type.media:
                fps = signal_type.from_bytes(data, kind)
                if fps:
                    out[name] = fps
        return out

    def fingerprints(
        self,
        text: str = "",
        hashes: Mapping[str, Sequence[str]] | None = None,
        media: tuple[bytes, str] | None = None,
    ) -> dict[str, list[Fingerprint]]:
        """One lookup: the text's fingerprints, the caller's precomputed hashes (validated; a bad one
        raises ValueError naming it as `hashes.TYPE`) and a media file's (`(bytes, kind)`)."""
        out = self.text_fingerprints(text) if text else {}
        for raw_name, values in (hashes or {}).items():
            try:
                name = canonical_name(raw_name)
                checked = [Fingerprint(self.types[name].validate(v)) for v in values]
            except ValueError as exc:
                raise ValueError(f"hashes.{raw_name}: {exc}") from None
            out.setdefault(name, []).extend(checked)
        if media is not None:
            for name, fps in self.media_fingerprints(*media).items():
                out.setdefault(name, []).extend(fps)
        return out

    def match(self, queries: Sequence[Mapping[str, Sequence[Fingerprint]]]) -> list[list[BankMatch]]:
        """For each query (fingerprints by signal type), the bank matches, best first.

        One index call per signal type for the whole batch. PDQ fingerprints with a known quality
        below `pdq_min_quality` are skipped: featureless images match each other.
        """
        results: list[list[BankMatch]] = [[] for _ in queries]
        by_type: dict[str, list[tuple[int, Fingerprint]]] = {}
        for qi, query in enumerate(queries):
            for name, fps in query.items():
                for fp in fps:
                    if (
                        name == "pdq"
                        and fp.quality is not None
                        and fp.quality < self.settings.pdq_min_quality
                    ):
                        continue
                    by_type.setdefault(name, []).append((qi, fp))
        for name, pairs in by_type.items():
            index = self.indexes.get(name)
            if index is None:
                raise ValueError(f"unknown signal type {name!r}")
            if not len(index):
                continue
            hits = index.query([fp.value for _, fp in pairs])
            with self._lock:
                for (qi, _), row in zip(pairs, hits, strict=True):
                    for hit in row:
                        owner = self._indexed.get(hit.entry_id)
                        bank = self._banks.get(owner[0]) if owner else None
                        if bank is None:
                            continue  # removed while the query ran
                        results[qi].append(
                            BankMatch(
                                bank=bank.name,
                                bank_id=bank.id,
                                category=bank.category,
                                action=bank.action,
                                entry_id=hit.entry_id,
                                signal_type=name,
                                distance=hit.distance,
                                distance_unit=self.types[name].distance_unit,
                                detail=hit.detail,
                            )
                        )
        for matches in results:
            matches.sort(key=lambda m: (m.distance, m.entry_id))
        return results
