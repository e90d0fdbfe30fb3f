"""ModerationService: moderate + store, with idempotency by content id.

Shared by the HTTP API, the stream consumer and `warden moderate --store`, so the rules
(same id and same content returns the stored decision; same id with different content is
a conflict) live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from .content import Content, check_limits
from .decision import Decision
from .errors import ConflictError
from .moderator import Moderator
from .store import Store


class ModerationService:
    def __init__(self, moderator: Moderator, store: Store) -> None:
        self.moderator = moderator
        self.store = store

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
        return [by_id[item.id] for item in items]
