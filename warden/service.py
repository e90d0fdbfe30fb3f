"""ModerationService: moderate + store, with idempotency by content id.

Shared by the HTTP API, the stream consumer and `warden moderate --store`, so the rules
(same id and same content returns the stored decision; same id with different content is
a conflict) live in one place. With a ReviewService, the returned decisions are routed to human
review here too, for the API and the CLI alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .content import Content, check_limits
from .decision import Decision
from .errors import ConflictError, WardenError
from .moderator import Moderator
from .store import Store

if TYPE_CHECKING:
    from .review.service import ReviewService
    from .shadow import ShadowRunner


def moderate_each(
    run: Callable[[list[Content]], list[Decision]], items: Sequence[Content]
) -> dict[str, Decision | WardenError]:
    """Per content id, its decision or the error that refused it, so one bad item never costs the
    others theirs: items whose media cannot be taken in are dropped and the rest decided (decoded
    media is kept with each item, so nothing is decoded twice); an error of the batch as a whole
    (an id stored with other content, a malformed hash) is traced to its item(s) one by one."""
    from .media.intake import MediaBatchError

    items = list(items)
    refused: dict[str, Decision | WardenError] = {}
    try:
        try:
            return {d.content_id: d for d in run(items)}
        except MediaBatchError as exc:
            refused = dict(exc.failures)
            items = [item for item in items if item.id not in refused]
            return {**refused, **{d.content_id: d for d in run(items)}}
    except WardenError:
        outcomes = dict(refused)
        for item in items:
            try:
                [outcomes[item.id]] = run([item])
            except WardenError as exc:
                outcomes[item.id] = exc
        return outcomes


class ModerationService:
    def __init__(
        self,
        moderator: Moderator,
        store: Store,
        review: ReviewService | None = None,
        shadow: ShadowRunner | None = None,
    ) -> None:
        self.moderator = moderator
        self.store = store
        self.review = review
        self.shadow = shadow  # a candidate deciding a sample of fresh items beside the live path

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
        started = time.perf_counter()
        stored = self.store.save_decisions(self.moderator.moderate(fresh), actor=actor) if fresh else []
        if fresh and self.shadow is not None:
            self.shadow.observe(fresh, stored, time.perf_counter() - started)
        by_id = {d.content_id: d for d in stored}
        by_id.update({k: v for k, v in existing.items() if k not in by_id})
        decisions = [by_id[item.id] for item in items]
        if self.review is not None:
            # Stored ones too: routing is idempotent (and skips what a person decided), so a retry
            # queues what a failure between storing and routing left out, and nothing twice.
            self.review.enqueue_decisions(items, decisions, actor)
        return decisions
