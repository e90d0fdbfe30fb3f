"""Priority = expected harm (severity weight x reach x P(violation)) x an ageing factor.

The ageing factor is piecewise linear in x = elapsed / SLA: 1 at creation, 1 + before at the due time,
then + after per further SLA period. Linear pieces (no exp) so the same formula runs as SQL on SQLite
and PostgreSQL and the database can order a queue by current priority with LIMIT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, case, literal

from ..policy.model import SEVERITY_WEIGHT

# Guards a zero or negative SLA window (clock skew between workers, bad config).
_MIN_WINDOW_S = 1.0


def severity_weight(severity: str) -> float:
    return SEVERITY_WEIGHT.get(severity, SEVERITY_WEIGHT["medium"])


def reach_factor(metadata: Mapping[str, Any] | None) -> float:
    """1 + log10(1 + reach) from metadata "reach" (or "views"); 1 when absent or not a number.

    Log-scaled so a viral post outranks an unseen one without drowning severity: 1M views = 7x."""
    if not metadata:
        return 1.0
    for key in ("reach", "views"):
        value = metadata.get(key)
        if isinstance(value, bool):  # bool is an int; True views means nothing
            continue
        if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
            return 1.0 + math.log10(1.0 + float(value))
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number) and number >= 0:
                return 1.0 + math.log10(1.0 + number)
    return 1.0


def base_priority(severity: str, reach: float, probability: float) -> float:
    return severity_weight(severity) * reach * max(0.0, min(1.0, probability))


def sla_fraction(now_epoch: float, created_epoch: float, due_epoch: float) -> float:
    return max(0.0, (now_epoch - created_epoch) / max(due_epoch - created_epoch, _MIN_WINDOW_S))


def ageing_factor(x: float, before: float, after: float) -> float:
    """x = fraction of the SLA elapsed (>= 0)."""
    if x <= 1.0:
        return 1.0 + before * x
    return 1.0 + before + after * (x - 1.0)


def current_priority(
    base: float, now_epoch: float, created_epoch: float, due_epoch: float, before: float, after: float
) -> float:
    return base * ageing_factor(sla_fraction(now_epoch, created_epoch, due_epoch), before, after)


def priority_sql(
    base: SQLColumnExpression[float],
    created_epoch: SQLColumnExpression[float],
    due_epoch: SQLColumnExpression[float],
    now_epoch: float,
    before: float,
    after: float,
) -> ColumnElement[float]:
    """`current_priority` as a SQL expression over the given columns (same numbers, same order)."""
    window = case(
        (due_epoch - created_epoch < _MIN_WINDOW_S, literal(_MIN_WINDOW_S)), else_=due_epoch - created_epoch
    )
    x = (literal(now_epoch) - created_epoch) / window
    ageing = case(
        (x <= 0.0, literal(1.0)),
        (x <= 1.0, 1.0 + before * x),
        else_=1.0 + before + after * (x - 1.0),
    )
    return base * ageing


@dataclass(frozen=True)
class Ageing:
    """The review queues' ordering: base priority times the SLA ageing factor, in Python for one
    task and as SQL for a whole queue (the store orders by `sql` and knows nothing of the formula)."""

    before: float = 1.0
    after: float = 4.0

    def current(self, base: float, now_epoch: float, created_epoch: float, due_epoch: float) -> float:
        return current_priority(base, now_epoch, created_epoch, due_epoch, self.before, self.after)

    def sql(
        self,
        base: SQLColumnExpression[float],
        created_epoch: SQLColumnExpression[float],
        due_epoch: SQLColumnExpression[float],
        now_epoch: float,
    ) -> ColumnElement[float]:
        return priority_sql(base, created_epoch, due_epoch, now_epoch, self.before, self.after)
