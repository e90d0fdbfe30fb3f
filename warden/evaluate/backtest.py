"""Policy backtest: how decisions would change if a new policy replaced the active one.

Both policies run on the same items with the same models; only what depends on the policy
differs (few-shot prototypes from its examples, resolved thresholds, action rules, categories).
The report counts actions and flagged categories under each, and lists items whose action flips.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..content import Content
from ..decision import Decision
from ..moderator import Moderator


@dataclass
class Flip:
    content_id: str
    text: str
    old_action: str
    new_action: str
    old_categories: list[str]
    new_categories: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class BacktestReport:
    old_policy: str
    new_policy: str
    items: int
    old_actions: Counter[str] = field(default_factory=Counter)
    new_actions: Counter[str] = field(default_factory=Counter)
    old_flagged: Counter[str] = field(default_factory=Counter)
    new_flagged: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    flips: list[Flip] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(n for (old, new), n in self.transitions.items() if old != new)

    def to_dict(self, max_examples: int = 20) -> dict[str, Any]:
        return {
            "old_policy": self.old_policy,
            "new_policy": self.new_policy,
            "items": self.items,
            "changed": self.changed,
            "actions": {"old": dict(self.old_actions), "new": dict(self.new_actions)},
            "flagged_by_category": {"old": dict(self.old_flagged), "new": dict(self.new_flagged)},
            "transitions": [
                {"from": a, "to": b, "items": n} for (a, b), n in sorted(self.transitions.items())
            ],
            "examples": [f.to_dict() for f in self.flips[:max_examples]],
        }


def _flagged(decision: Decision) -> list[str]:
    return sorted(c for c, s in decision.categories.items() if s.flagged)


def backtest(
    old: Moderator,
    new: Moderator,
    items: Sequence[Content],
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    report = BacktestReport(old.policy.full_version, new.policy.full_version, len(items))
    for lo in range(0, len(items), batch_size):
        batch = list(items[lo : lo + batch_size])
        for item, before, after in zip(batch, old.moderate(batch), new.moderate(batch), strict=True):
            report.old_actions[before.action] += 1
            report.new_actions[after.action] += 1
            old_cats, new_cats = _flagged(before), _flagged(after)
            report.old_flagged.update(old_cats)
            report.new_flagged.update(new_cats)
            report.transitions[(before.action, after.action)] += 1
            if before.action != after.action or old_cats != new_cats:
                report.flips.append(Flip(item.id, item.text, before.action, after.action, old_cats, new_cats))
        if progress is not None:
            progress(len(batch))
    # Most informative first: action changes before category-only changes.
    report.flips.sort(key=lambda f: f.old_action == f.new_action)
    return report
