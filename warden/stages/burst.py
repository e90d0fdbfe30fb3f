"""Copy-burst stage (opt-in: add "burst" to `pipeline.stages`): the same text posted by many
accounts within a short window is the signature of a spam or coordinated campaign, whatever each
copy's own score. An allowed item whose text (after undoing evasions: case, spacing, leetspeak,
look-alike letters) was posted by `pipeline.burst_min_authors` distinct authors within
`pipeline.burst_window_s` goes to review under `pipeline.burst_category`, with the count as reason.

The memory is this process's (shared by the moderators of one app across policy reloads); each
server or worker counts what it sees."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from ..banks.textnorm import normalize_text
from ..decision import Reason, StageTrace
from ..errors import ConfigError
from .base import ItemState, Parts, Stage, per_item_ms, register

MIN_CHARS = 20  # shorter texts ("thanks!", "lol") are posted by everyone and say nothing
MAX_TEXTS = 100_000  # distinct texts remembered; the least recently seen are forgotten first


class CopyMemory:
    """Who posted which normalised text when, within a sliding window (thread-safe, bounded)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._seen: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, key: str, author: str) -> int:
        """Note that `author` posted `key` now; the number of distinct authors in the window."""
        now = self.clock()
        with self._lock:
            posts = self._seen.pop(key, None) or deque()
            while posts and posts[0][0] < now - self.window_s:
                posts.popleft()
            posts.append((now, author))
            self._seen[key] = posts
            while len(self._seen) > MAX_TEXTS:
                self._seen.popitem(last=False)
            return len({a for _, a in posts})


@register
class CopyBurstStage(Stage):
    name = "burst"
    reads = frozenset({"text", "author", "decision"})

    def __init__(self, memory: CopyMemory, min_authors: int, category: str, window_s: float) -> None:
        self.memory = memory
        self.min_authors = min_authors
        self.category = category
        self.window_s = window_s

    @classmethod
    def build(cls, parts: Parts) -> CopyBurstStage:
        settings = parts.settings.pipeline
        if settings.burst_category not in parts.policy.category_ids:
            raise ConfigError(
                f"pipeline.burst_category {settings.burst_category!r} is not a category of the policy "
                f"(known: {', '.join(parts.policy.category_ids)})"
            )
        memory = parts.shared.setdefault("copy_memory", CopyMemory(settings.burst_window_s))
        return cls(memory, settings.burst_min_authors, settings.burst_category, settings.burst_window_s)

    def decide(self, states: Sequence[ItemState]) -> None:
        started = time.perf_counter()
        counted = []
        for state in states:
            item = state.content
            normalised = normalize_text(item.text)
            if state.decision is None or not item.author_id or len(normalised) < MIN_CHARS:
                continue
            key = hashlib.sha1(normalised.encode("utf-8")).hexdigest()
            counted.append((state, self.memory.record(key, item.author_id)))
        latency = per_item_ms(started, time.perf_counter(), len(counted))
        for state, authors in counted:
            decision = state.decision
            assert decision is not None
            decision.stages.append(
                StageTrace(name=self.name, detectors=["copy_memory"], latency_ms=latency, cost=0.0)
            )
            if authors < self.min_authors or decision.action != "allow":
                continue
            decision.action = "review"
            score = decision.categories[self.category]
            score.action = "review"
            decision.reasons.append(
                Reason(
                    category=self.category,
                    action="review",
                    probability=score.probability,
                    threshold=score.threshold if score.threshold is not None else 1.0,
                    clause=(
                        f"the same text was posted by {authors} accounts within {self.window_s:g} s "
                        f"(>= {self.min_authors}): a possible spam or coordinated campaign"
                    ),
                    evidence=[],
                )
            )
