"""Shadow mode: a candidate model version and/or policy decides a sample of live traffic.

`ModerationService` hands every batch of freshly decided items to the `ShadowRunner` after the live
decisions are stored, so the API, the stream worker and `warden moderate --store` shadow alike.
The sample is chosen by a hash of the content id (the same item is sampled whichever door it came
in by, and a retry is not sampled twice); the candidate's decisions go to the `shadow_decisions`
table only, never to clients, review or the output stream. A candidate failure is logged and never
reaches the live path. `shadow_report` gives agreement, flips per category and action, and the
latency cost; `warden shadow report` prints it and the console's admin page shows it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .content import Content
from .decision import Decision
from .errors import ConfigError
from .moderator import Moderator
from .policy.model import load_policy

if TYPE_CHECKING:
    from .settings import Settings
    from .store import Store

log = logging.getLogger("warden.shadow")


def sampled(content_id: str, rate: float) -> bool:
    """Deterministic per content id: the same item is in or out of the sample everywhere."""
    if rate <= 0:
        return False
    digest = hashlib.blake2b(content_id.encode("utf-8", "surrogatepass"), digest_size=8, person=b"shadow")
    return int.from_bytes(digest.digest(), "big") / 2**64 < rate


def flagged_categories(decision: Decision) -> list[str]:
    return sorted(c for c, s in decision.categories.items() if s.flagged)


class ShadowRunner:
    def __init__(self, candidate: Moderator, store: Store, sample_rate: float, name: str) -> None:
        self.candidate = candidate
        self.store = store
        self.sample_rate = sample_rate
        self.name = name

    @classmethod
    def from_settings(cls, settings: Settings, live: Moderator, store: Store) -> ShadowRunner:
        shadow = settings.shadow
        if shadow.models_dir is None and shadow.policy_path is None:
            raise ConfigError(
                "shadow.enabled needs shadow.models_dir and/or shadow.policy_path (the candidate)"
            )
        policy = load_policy(shadow.policy_path) if shadow.policy_path else live.policy
        if shadow.models_dir is not None:
            # Its own models (memory: one more set of detectors), the live process's other settings.
            candidate_settings = settings.model_copy(update={"models_dir": shadow.models_dir})
            candidate = Moderator.from_settings(candidate_settings, policy).load()
            candidate = candidate.attach(live.banks, None)
        else:
            candidate = live.with_policy(policy).load()  # shares the loaded models
        versions = candidate.versions
        name = shadow.name or f"{versions.policy}/{versions.pipeline}"
        return cls(candidate, store, shadow.sample_rate, name)

    def observe(self, items: Sequence[Content], live: Sequence[Decision], live_seconds: float) -> int:
        """Decide the sampled part of a freshly decided batch with the candidate and store it;
        returns how many were stored. Never raises: the live path must not notice the shadow."""
        try:
            live_by_id = {d.content_id: d for d in live}
            chosen = [i for i in items if i.id in live_by_id and sampled(i.id, self.sample_rate)]
            if not chosen:
                return 0
            started = time.perf_counter()
            decisions = self.candidate.moderate(chosen)
            shadow_ms = 1000.0 * (time.perf_counter() - started) / len(chosen)
            live_ms = 1000.0 * live_seconds / max(len(items), 1)
            now = datetime.now(UTC)
            rows = []
            for decision in decisions:
                current = live_by_id[decision.content_id]
                rows.append(
                    {
                        "candidate": self.name,
                        "content_id": decision.content_id,
                        "live_decision_id": current.decision_id,
                        "live_action": current.action,
                        "shadow_action": decision.action,
                        "flagged": {
                            "live": flagged_categories(current),
                            "shadow": flagged_categories(decision),
                        },
                        "live_ms_per_item": live_ms,
                        "shadow_ms_per_item": shadow_ms,
                        "payload": decision.model_dump(mode="json"),
                        "created_at": now,
                    }
                )
            return self.store.save_shadow_decisions(rows)
        except Exception:  # noqa: BLE001 - a failing candidate must never fail live traffic
            log.exception(
                "shadow candidate %s failed on a batch of %d; live decisions unaffected",
                self.name,
                len(items),
            )
            return 0


class DiffSummary:
    """Live against candidate over items, built incrementally (shadow reports, `warden ray rescore`):
    action and flagged-set agreement, action transitions, per category the items only the candidate
    flags (`up`) and only live flags (`down`), and the first example flips."""

    def __init__(self, examples: int = 5) -> None:
        self.examples_wanted = examples
        self.items = 0
        self.same_action = 0
        self.same_flagged = 0
        self.transitions: Counter[str] = Counter()
        self.up: Counter[str] = Counter()
        self.down: Counter[str] = Counter()
        self.examples: list[dict[str, Any]] = []

    def add(
        self,
        content_id: str,
        live_action: str,
        action: str,
        live_flagged: Sequence[str],
        flagged: Sequence[str],
    ) -> None:
        live, cand = set(live_flagged), set(flagged)
        self.items += 1
        self.same_action += live_action == action
        self.same_flagged += live == cand
        self.transitions[f"{live_action}->{action}"] += 1
        self.up.update(cand - live)
        self.down.update(live - cand)
        if live_action != action and len(self.examples) < self.examples_wanted:
            self.examples.append(
                {
                    "content_id": content_id,
                    "live": live_action,
                    "shadow": action,
                    "live_flagged": sorted(live),
                    "shadow_flagged": sorted(cand),
                }
            )

    def merge(self, other: DiffSummary) -> None:
        self.items += other.items
        self.same_action += other.same_action
        self.same_flagged += other.same_flagged
        self.transitions.update(other.transitions)
        self.up.update(other.up)
        self.down.update(other.down)
        room = self.examples_wanted - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    def as_dict(self) -> dict[str, Any]:
        n = max(self.items, 1)
        return {
            "items": self.items,
            "action_agreement": self.same_action / n,
            "flagged_agreement": self.same_flagged / n,
            "transitions": dict(self.transitions.most_common()),
            "categories": {
                c: {"up": self.up[c], "down": self.down[c]} for c in sorted(set(self.up) | set(self.down))
            },
            "examples": self.examples,
        }


def shadow_report(store: Store, candidate: str | None = None, examples: int = 5) -> list[dict[str, Any]]:
    """Per candidate: the `DiffSummary` of its stored shadow decisions against the live ones, the
    latency per item of each and the cost of the candidate per sampled item."""
    names = [candidate] if candidate else store.shadow_candidates()
    out = []
    for name in names:
        rows = store.shadow_decisions(name)
        if not rows:
            continue
        summary = DiffSummary(examples)
        for r in reversed(rows):  # oldest first: the examples are the first flips
            summary.add(
                r["content_id"],
                r["live_action"],
                r["shadow_action"],
                r["flagged"]["live"],
                r["flagged"]["shadow"],
            )
        n = len(rows)
        live_ms = sum(r["live_ms_per_item"] for r in rows) / n
        shadow_ms = sum(r["shadow_ms_per_item"] for r in rows) / n
        out.append(
            {
                "candidate": name,
                **summary.as_dict(),
                "live_ms_per_item": round(live_ms, 2),
                "shadow_ms_per_item": round(shadow_ms, 2),
                # What shadowing costs a sampled item, relative to deciding it live.
                "cost_per_sampled_item": round(shadow_ms / live_ms, 3) if live_ms > 0 else None,
                "first": min(r["created_at"] for r in rows).isoformat(),
                "last": max(r["created_at"] for r in rows).isoformat(),
            }
        )
    return out
