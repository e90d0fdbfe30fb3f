"""ModerationService: moderate + store, with idempotency by content id.

Shared by the HTTP API, the stream consumer and `warden moderate --store`, so the rules
(same id and same content returns the stored decision; same id with different content is
a conflict) live in one place. With a ReviewService, the returned decisions are routed to human
review here too, for the API and the CLI alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .content import Content, check_limits
from .decision import Decision
from .errors import ConflictError
from .moderator import Moderator
from .store import Store

if TYPE_CHECKING:
    from .review.service import ReviewService


class ModerationService:
    def __init__(self, moderator: Moderator, store: Store, review: ReviewService | None = None) -> None:
        self.moderator = moderator
        self.store = store
        self.review = review

    def moderate(self, items: Sequence[Content], actor: str) -> list[Decision]:
        items = list(items)
        check_limits(items, self.moderator.settings.limits)
        existing = self.store.find_decisions_by_content_ids([i.id for i in items])
        fresh: list[Content] = []
        for item in items:
            prior = existing.get(item.id)
            if prior is not None and prior.content_hash != item.content_hash():
                raise ConflictError(
                    f"content id {item.id!r} was already moderated with different content; use a new id"
                )
            if prior is None:
                fresh.append(item)
        stored = self.store.save_decisions(self.moderator.moderate(fresh), actor=actor) if fresh else []
        by_id = {d.content_id: d for d in stored}
        by_id.update({k: v for k, v in existing.items() if k not in by_id})
        decisions = [by_id[item.id] for item in items]
        if self.review is not None:
            # Stored ones too: routing is idempotent (and skips what a person decided), so a retry
            # queues what a failure between storing and routing left out, and nothing twice.
            self.review.enqueue_decisions(items, decisions, actor)
        return decisions
