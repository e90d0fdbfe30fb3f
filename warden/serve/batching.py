"""In-process dynamic micro-batching.

Concurrent requests are gathered for up to `max_wait_ms` (measured from the oldest waiting
request) or until `max_size` items, then moderated with one `service.moderate` call in a
worker thread. Model inference is much cheaper per item in batches, and under load the
queue fills while the previous batch runs, so batches grow exactly when it matters.

One worker thread runs every call, so the moderator never runs concurrently with itself
(the encoder runtimes keep per-process state) and SQLite sees one writer at a time.

Requests of different actors in one batch are moderated in one call per actor, because the
store records the actor of each decision for the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..content import Content
from ..decision import Decision
from ..errors import ConflictError, ValidationError

log = logging.getLogger("warden.serve.batching")

ModerateFn = Callable[[list[Content], str], list[Decision]]
# Errors caused by one request's items: the batch is retried request by request so that only
# the offending request fails.
PER_REQUEST_ERRORS: tuple[type[Exception], ...] = (ConflictError, ValidationError)

Outcome = list[Decision] | Exception


class BatcherClosedError(RuntimeError):
    """The batcher is shutting down and takes no new work (HTTP 503)."""


class OverloadedError(RuntimeError):
    """More items wait than the server may queue, overall or for this key (HTTP 429): shed now
    rather than answer late. `retry_after_s` is the time the queue ahead needs at the recent rate."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(eq=False)
class _Request:
    items: list[Content]
    actor: str
    enqueued_at: float
    future: asyncio.Future[list[Decision]] | None = None


class MicroBatcher:
    def __init__(
        self,
        moderate: ModerateFn,
        max_size: int,
        max_wait_ms: float,
        on_batch: Callable[[int], None] | None = None,
        max_queued_items: int | None = None,
        max_queued_items_per_actor: int | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_queued_items = max_queued_items
        self.max_queued_items_per_actor = max_queued_items_per_actor
        # Items accepted and not yet answered (waiting or being decided), overall and per actor.
        self._queued = 0
        self._queued_by_actor: dict[str, int] = {}
        self._items_per_s = 0.0  # moving average of the decided rate, for Retry-After
        self._moderate = moderate
        self.max_size = max_size
        self.max_wait = max(float(max_wait_ms), 0.0) / 1000.0
        self._on_batch = on_batch
        self._executor: ThreadPoolExecutor | None = None
        self._pending: deque[_Request] = deque()
        self._pending_items = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warden-batch")
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="warden-micro-batcher")

    async def close(self) -> None:
        """Stop taking work, finish everything already submitted, then stop the worker."""
        if self._closing:
            return
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> MicroBatcher:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- submitting ------------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """Started, not closing and its worker alive: what readiness probes report."""
        return not self._closing and self._task is not None and not self._task.done()

    async def submit(self, items: Sequence[Content], actor: str) -> list[Decision]:
        """Decisions for `items`, in order. Raises what `moderate` raised for this request's items."""
        items = list(items)
        if not items:
            return []
        if self._closing or self._task is None or self._wakeup is None or self._executor is None:
            raise BatcherClosedError("the server is shutting down; retry shortly")
        self._admit(len(items), actor)
        try:
            return await self._submit(items, actor)
        finally:
            self._queued -= len(items)
            left = self._queued_by_actor.get(actor, 0) - len(items)
            if left > 0:
                self._queued_by_actor[actor] = left
            else:
                self._queued_by_actor.pop(actor, None)

    def _admit(self, n: int, actor: str) -> None:
        """Refuse (429) what would queue past the bounds: latency stays bounded by the queue."""
        mine = self._queued_by_actor.get(actor, 0)
        # Something is always admitted when nothing waits (a request's size is bounded elsewhere).
        for who, ahead, limit in (
            ("the server", self._queued, self.max_queued_items),
            ("this API key", mine, self.max_queued_items_per_actor),
        ):
            if limit is not None and ahead and ahead + n > limit:
                retry = ahead / self._items_per_s if self._items_per_s > 0 else 1.0
                raise OverloadedError(
                    f"{who} has {ahead} items waiting (limit {limit}); retry later",
                    retry_after_s=max(1.0, min(retry, 60.0)),
                )
        self._queued += n
        self._queued_by_actor[actor] = mine + n

    async def _submit(self, items: list[Content], actor: str) -> list[Decision]:
        assert self._executor is not None and self._wakeup is not None
        loop = asyncio.get_running_loop()
        request = _Request(items, actor, loop.time())
        if len(items) >= self.max_size:
            # Already a full batch: merging would only delay it and everybody else.
            [outcome] = await loop.run_in_executor(self._executor, self._process, [request])
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        request.future = loop.create_future()
        self._pending.append(request)
        self._pending_items += len(items)
        self._wakeup.set()
        return await request.future

    # -- the gather loop -------------------------------------------------------------------------

    async def _loop(self) -> None:
        try:
            await self._gather_and_run()
        finally:
            # Only reached early on a bug or cancellation: nobody may wait forever.
            while self._pending:
                request = self._pending.popleft()
                if request.future is not None and not request.future.done():
                    request.future.set_exception(BatcherClosedError("the micro-batcher stopped"))
            self._pending_items = 0

    async def _gather_and_run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            deadline = self._pending[0].enqueued_at + self.max_wait
            while self._pending_items < self.max_size and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
            batch = self._take()
            if not batch:
                continue
            try:
                assert self._executor is not None
                outcomes = await loop.run_in_executor(self._executor, self._process, batch)
            except Exception as exc:  # the worker itself failed: every request of the batch sees it
                log.exception("micro-batch failed")
                outcomes = [exc] * len(batch)
            for request, outcome in zip(batch, outcomes, strict=True):
                future = request.future
                if future is None or future.done():  # the caller went away
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _take(self) -> list[_Request]:
        """Oldest requests first, up to max_size items (always at least one request)."""
        batch: list[_Request] = []
        size = 0
        while self._pending:
            request = self._pending[0]
            if batch and size + len(request.items) > self.max_size:
                break
            self._pending.popleft()
            self._pending_items -= len(request.items)
            if request.future is not None and request.future.done():
                continue  # cancelled while waiting
            batch.append(request)
            size += len(request.items)
        return batch

    # -- in the worker thread --------------------------------------------------------------------

    def _call(self, items: list[Content], actor: str) -> list[Decision]:
        if self._on_batch is not None:
            self._on_batch(len(items))
        started = time.perf_counter()
        decisions = self._moderate(items, actor)
        rate = len(items) / max(time.perf_counter() - started, 1e-6)
        self._items_per_s = rate if self._items_per_s == 0 else 0.8 * self._items_per_s + 0.2 * rate
        return decisions

    def _process(self, batch: list[_Request]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        by_actor: dict[str, list[int]] = {}
        for index, request in enumerate(batch):
            by_actor.setdefault(request.actor, []).append(index)
        for actor, indexes in by_actor.items():
            group = [batch[i] for i in indexes]
            results: list[Outcome]
            try:
                results = list(self._combined(group, actor))
            except PER_REQUEST_ERRORS as exc:
                # The combined call failed as a whole (nothing was stored): retry each request
                # alone so the error reaches only the request(s) that caused it.
                results = [exc] if len(group) == 1 else [self._single(request) for request in group]
            except Exception:
                # Unexpected failure: isolate it the same way, so one bad request cannot fail the
                # others that happened to share its batch.
                log.exception("moderation call failed for %d request(s); retrying one by one", len(group))
                results = [self._single(request) for request in group]
            for i, result in zip(indexes, results, strict=True):
                outcomes[i] = result
        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    def _combined(self, group: list[_Request], actor: str) -> list[list[Decision]]:
        # The same content id from two requests would be a duplicate id in one call: moderate each
        # (id, content) once and give every request its own copy of the answer.
        unique: dict[tuple[str, str], Content] = {}
        keys_per_request: list[list[tuple[str, str]]] = []
        for request in group:
            keys = [(item.id, item.content_hash()) for item in request.items]
            for key, item in zip(keys, request.items, strict=True):
                unique.setdefault(key, item)
            keys_per_request.append(keys)
        decisions = self._call(list(unique.values()), actor)
        by_key = dict(zip(unique.keys(), decisions, strict=True))
        return [[by_key[key] for key in keys] for keys in keys_per_request]

    def _single(self, request: _Request) -> Outcome:
        try:
            return self._call(request.items, request.actor)
        except Exception as exc:
            return exc
