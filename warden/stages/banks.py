"""Bank stage: every item's fingerprints (text, attachments, caller-sent hashes) against the banks of
known content; a match settles the item with the bank's action, before any model runs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..decision import StageTrace, Versions
from ..errors import ValidationError
from .base import ItemState, Parts, Stage, per_item_ms, register

if TYPE_CHECKING:
    from ..banks.matcher import BankMatcher
    from ..banks.signal_types import Fingerprint
    from ..settings import Settings
    from .decisions import DecisionAssembler

BANK_STAGE_COST = 0.01  # a hash lookup; same units as Detector.cost (n-gram tier 0.02, MiniLM head 1)


@register
class BankStage(Stage):
    name = "banks"
    reads = frozenset({"text", "hashes", "media"})

    def __init__(self, banks: BankMatcher, settings: Settings, assembler: DecisionAssembler) -> None:
        self.banks = banks
        self.settings = settings
        self.assembler = assembler

    @classmethod
    def build(cls, parts: Parts) -> BankStage | None:
        # Without banks there is no bank stage to record.
        return cls(parts.banks, parts.settings, parts.assembler) if parts.banks is not None else None

    @property
    def cost(self) -> float:
        return BANK_STAGE_COST

    def models(self) -> dict[str, str]:
        return {"bank_match": f"{self.banks.name}@{self.banks.version}"}

    def _fingerprints(self, state: ItemState) -> dict[str, list[Fingerprint]]:
        """The item's text fingerprints, the caller's hashes (422 if one is malformed) and the
        fingerprints its attachments got while decoding."""
        item = state.content
        try:
            query = self.banks.fingerprints(item.text, item.hashes)
        except ValueError as exc:
            raise ValidationError(f"{item.id}: {exc}") from None
        for attachment in state.media:
            for name, fps in attachment.fingerprints.items():
                query.setdefault(name, []).extend(fps)
        return query

    def score(self, states: Sequence[ItemState], versions: Versions) -> None:
        if not self.settings.banks.enabled:
            matches: list[list] = [[] for _ in states]
            latency = 0.0
        else:
            started = time.perf_counter()
            matches = self.banks.match([self._fingerprints(s) for s in states])
            latency = per_item_ms(started, time.perf_counter(), len(states))
        for state, found in zip(states, matches, strict=True):
            state.matches = found
            state.traces.append(
                StageTrace(
                    name=self.name,
                    detectors=["bank_match"],
                    latency_ms=latency,
                    cost=self.cost,
                    exited=bool(found),
                )
            )
            if found and state.open:
                state.decision = self.assembler.from_matches(
                    state.content, state.language, found, state.traces, versions
                )
                state.decision.media = [a.summary() for a in state.media]
