"""`warden worker`: a Redis Streams consumer that moderates every item once and loses none.

Delivery is at least once; decisions are exactly once. Each worker of the consumer group reads a
batch (`XREADGROUP`), runs it through the one pipeline via `ModerationService` (which returns the
stored decision for a content id it has already decided, so a redelivered item never gets a second
decision version), then appends the decisions to the output stream and acknowledges the entries in
one Redis transaction. An entry is acknowledged only after its decision is stored:

- a worker that dies leaves its entries pending; another (or itself, restarted) claims them with
  `XAUTOCLAIM` once they have been idle `claim_idle_ms`;
- an entry that fails `max_attempts` deliveries goes to the dead-letter stream with its last error;
  an entry that can never succeed (invalid JSON or item, an id already used for other content)
  goes there at once;
- Redis going away stops reads, not the process: the worker retries with backoff and recreates its
  group if the stream came back empty.

Between batches the worker follows the store: a policy activated elsewhere (`PUT
/v1/policies/active`, an audit event) is switched to within `policy_poll_s` plus one batch, and
bank changes are applied incrementally every `banks.refresh_interval_s`, each worker at its own
phase so that they never all query the store at the same moment. SIGTERM drains: the batch in hand
is finished and acknowledged, nothing more is read.

Output entries carry `content_id`, `decision_id`, `action`, `flagged` and the decision as JSON; a
crash between storing and acknowledging can repeat an output entry (same `decision_id`), so
consumers of the output stream deduplicate by it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..content import Content
from ..decision import Decision
from ..errors import WardenError
from ..policy.model import load_policy_text
from ..service import moderate_each
from ..settings import StreamSettings
from .metrics import WorkerMetrics

if TYPE_CHECKING:
    from ..bootstrap import Warden

log = logging.getLogger("warden.stream")

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
Entry = tuple[str, dict[str, str]]


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def connect(url: str) -> Redis:
    """A client that returns str, with timeouts: a dead Redis is noticed, not waited on forever."""
    return Redis.from_url(
        url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5, health_check_interval=5
    )


@dataclass
class _Parsed:
    entry_id: str
    content: Content


@dataclass
class WorkerStats:
    decided: int = 0
    dead_lettered: int = 0
    failed: int = 0  # deliveries that failed and stay pending for a retry
    claimed: int = 0
    batches: int = 0
    policy_reloads: int = 0
    redis_errors: int = 0
    bank_changes: int = 0
    started: float = field(default_factory=time.monotonic)


class StreamWorker:
    def __init__(
        self,
        app: Warden,
        redis: Redis,
        settings: StreamSettings,
        consumer: str | None = None,
        actor: str = "system:worker",
        metrics: WorkerMetrics | None = None,
    ) -> None:
        if app.service is None or app.store is None:
            raise ValueError("the stream worker stores its decisions: build the app with a store")
        self.app = app
        # Any: redis-py's annotations cover bytes and str replies at once; ours are str.
        self.redis: Any = redis
        self.settings = settings
        self.consumer = consumer or default_consumer_name()
        self.actor = actor
        self.metrics = metrics or WorkerMetrics()
        self.stats = WorkerStats()
        self._stopping = False
        self._errors_key = f"{settings.input_stream}:errors"
        self._last_claim = 0.0
        self._claim_every = min(settings.claim_idle_ms / 2000.0, 5.0)
        self._policy_seen = app.store.last_audit_id()
        self._next_policy_check = 0.0
        interval = app.settings.banks.refresh_interval_s
        # Each worker refreshes its bank index at its own phase of the interval (staggered).
        self._next_bank_refresh = time.monotonic() + random.uniform(0, interval)
        self._next_lag = 0.0
        self._recovered_own = False
        self._failures = 0

    # -- lifecycle --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batch in hand, acknowledge it, read nothing more (SIGTERM, SIGINT)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.settings.input_stream, self.settings.group, id="0", mkstream=True)
            log.info("created consumer group %s on %s", self.settings.group, self.settings.input_stream)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Listed in the group from now on (`warden worker status`), not only after its first entry.
        self.redis.xgroup_createconsumer(self.settings.input_stream, self.settings.group, self.consumer)

    def run(self, idle_exit_after: int | None = None, max_seconds: float | None = None) -> WorkerStats:
        """Consume until stopped; `idle_exit_after` N empty reads in a row also end it (drain mode,
        for batch jobs and tests), as does `max_seconds`."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        backoff = 0.1
        idle = 0
        group_ready = False
        while not self._stopping and (deadline is None or time.monotonic() < deadline):
            try:
                if not group_ready:
                    self.ensure_group()
                    group_ready = True
                self._between_batches()
                handled = self.step()
                backoff = 0.1
            except _REDIS_DOWN as exc:
                self.stats.redis_errors += 1
                self.metrics.redis_errors.inc()
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                group_ready = False
                continue
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream was recreated (Redis restarted without data)
                    group_ready = False
                    continue
                raise
            idle = 0 if handled else idle + 1
            if idle_exit_after is not None and idle >= idle_exit_after:
                break
        return self.stats

    # -- one batch --------------------------------------------------------------------------------

    def step(self) -> int:
        """Claim (or read) one batch and handle it; the number of entries handled."""
        entries = self._recover_own() if not self._recovered_own else []
        if not entries:
            entries = self._claim_stale()
        if not entries:
            entries = self._read_new()
        if not entries:
            return 0
        self._handle(entries)
        return len(entries)

    def _read_new(self) -> list[Entry]:
        count = min(self.settings.read_count, self.settings.max_in_flight)
        reply = self.redis.xreadgroup(
            self.settings.group,
            self.consumer,
            {self.settings.input_stream: ">"},
            count=count,
            block=self.settings.block_ms,
        )
        return [(eid, fields) for _, entries in reply or [] for eid, fields in entries if fields is not None]

    def _recover_own(self) -> list[Entry]:
        """Entries this consumer name read before a restart and never acknowledged: claimed again
        (which counts the delivery) so a poison item that kills the worker still reaches the
        dead-letter stream."""
        self._recovered_own = True
        pending = self.redis.xpending_range(
            self.settings.input_stream,
            self.settings.group,
            min="-",
            max="+",
            count=self.settings.read_count,
            consumername=self.consumer,
        )
        ids = [p["message_id"] for p in pending]
        if not ids:
            return []
        self._recovered_own = len(ids) < self.settings.read_count  # more left: next step again
        claimed = self.redis.xclaim(self.settings.input_stream, self.settings.group, self.consumer, 0, ids)
        self.stats.claimed += len(claimed)
        self.metrics.claimed.inc(len(claimed))
        log.info("claimed %d entries this consumer held before it restarted", len(claimed))
        return self._with_attempt_check([(eid, f) for eid, f in claimed if f is not None])

    def _claim_stale(self) -> list[Entry]:
        now = time.monotonic()
        if now - self._last_claim < self._claim_every:
            return []
        self._last_claim = now
        reply = self.redis.xautoclaim(
            self.settings.input_stream,
            self.settings.group,
            self.consumer,
            min_idle_time=self.settings.claim_idle_ms,
            start_id="0-0",
            count=self.settings.read_count,
        )
        entries = [(eid, f) for eid, f in reply[1] if f is not None]
        if entries:
            self._last_claim = 0.0  # more may be waiting: claim again next step
            self.stats.claimed += len(entries)
            self.metrics.claimed.inc(len(entries))
            log.info("claimed %d entries idle over %d ms", len(entries), self.settings.claim_idle_ms)
        return self._with_attempt_check(entries)

    def _with_attempt_check(self, entries: list[Entry]) -> list[Entry]:
        """Entries delivered `max_attempts` times go to the dead-letter stream now; the rest return."""
        if not entries:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for eid, _ in entries:
            pipe.xpending_range(self.settings.input_stream, self.settings.group, min=eid, max=eid, count=1)
        pipe.hmget(self._errors_key, [eid for eid, _ in entries])
        *pendings, errors = pipe.execute()
        keep: list[Entry] = []
        dead: list[tuple[Entry, str, int]] = []
        for (eid, fields), pending, error in zip(entries, pendings, errors, strict=True):
            attempts = int(pending[0]["times_delivered"]) if pending else 1
            if attempts > self.settings.max_attempts:
                dead.append(((eid, fields), error or "no error recorded (the worker died)", attempts - 1))
            else:
                keep.append((eid, fields))
        if dead:
            self._finish([], dead)
        return keep

    def _handle(self, entries: list[Entry]) -> None:
        started = time.perf_counter()
        parsed: list[_Parsed] = []
        dead: list[tuple[Entry, str, int]] = []
        fields_of = dict(entries)
        for eid, fields in entries:
            try:
                parsed.append(_Parsed(eid, parse_item(fields)))
            except WardenError as exc:
                dead.append(((eid, fields), str(exc), 1))
        # One content id twice in a batch (a producer retry): decided once, answered for both.
        unique: dict[str, Content] = {}
        for p in parsed:
            first = unique.setdefault(p.content.id, p.content)
            if first is not p.content and first.content_hash() != p.content.content_hash():
                dead.append(
                    (
                        (p.entry_id, fields_of[p.entry_id]),
                        f"content id {p.content.id!r} repeated with other content",
                        1,
                    )
                )
        try:
            outcomes = self._decide(list(unique.values()))
        except Exception as exc:  # noqa: BLE001 - anything but a per-item error: retry later
            self._failed(entries, exc)
            return
        self._failures = 0
        decided: list[tuple[str, Decision]] = []
        refused = {d[0][0] for d in dead}
        for p in parsed:
            if p.entry_id in refused:
                continue
            outcome = outcomes.get(p.content.id)
            if isinstance(outcome, Decision):
                decided.append((p.entry_id, outcome))
            else:
                dead.append(((p.entry_id, fields_of[p.entry_id]), str(outcome or "no decision"), 1))
        self._finish(decided, dead)
        self.stats.batches += 1
        self.metrics.batches.inc()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(entries))

    def _decide(self, items: list[Content]) -> dict[str, Decision | WardenError]:
        service = self.app.service
        assert service is not None
        return moderate_each(lambda batch: service.moderate(batch, actor=self.actor), items)

    def _failed(self, entries: Sequence[Entry], exc: Exception) -> None:
        """A failure of the batch as a whole (database down, a crashed model): the entries stay
        pending under this consumer, their error kept, and are claimed again after `claim_idle_ms`."""
        message = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("batch of %d failed (%s); left pending for a retry", len(entries), message)
        self.stats.failed += len(entries)
        self.metrics.entries.labels(outcome="failed").inc(len(entries))
        if isinstance(exc, _REDIS_DOWN):
            raise exc
        with contextlib.suppress(*_REDIS_DOWN):
            self.redis.hset(self._errors_key, mapping={eid: message for eid, _ in entries})
        # Read slower while it lasts (a database outage must not burn every item's attempts).
        self._failures += 1
        time.sleep(min(0.2 * 2 ** (self._failures - 1), 5.0))

    def _finish(
        self, decided: Sequence[tuple[str, Decision]], dead: Sequence[tuple[Entry, str, int]]
    ) -> None:
        """Output entries, dead letters and acknowledgements in one transaction."""
        s = self.settings
        pipe = self.redis.pipeline(transaction=True)
        for _, decision in decided:
            pipe.xadd(s.output_stream, output_fields(decision), maxlen=s.output_maxlen, approximate=True)
        for (eid, fields), error, attempts in dead:
            pipe.xadd(
                s.dead_letter_stream,
                {
                    "entry_id": eid,
                    "item": fields.get("item", json.dumps(fields)),
                    "error": error[:2000],
                    "attempts": str(attempts),
                    "consumer": self.consumer,
                    "at": f"{time.time():.3f}",
                },
                maxlen=s.output_maxlen,
                approximate=True,
            )
        ids = [eid for eid, _ in decided] + [e[0][0] for e in dead]
        if ids:
            pipe.xack(s.input_stream, s.group, *ids)
            pipe.hdel(self._errors_key, *ids)
        pipe.execute()
        self.stats.decided += len(decided)
        self.stats.dead_lettered += len(dead)
        self.metrics.entries.labels(outcome="decided").inc(len(decided))
        if dead:
            self.metrics.entries.labels(outcome="dead_letter").inc(len(dead))
            for (eid, _), error, _attempts in dead:
                log.warning("entry %s dead-lettered: %s", eid, error[:200])

    # -- following the store ----------------------------------------------------------------------

    def _between_batches(self) -> None:
        now = time.monotonic()
        if now >= self._next_policy_check:
            self._next_policy_check = now + self.settings.policy_poll_s
            self._follow_policy()
        banks = self.app.banks
        if banks is not None and now >= self._next_bank_refresh:
            self._next_bank_refresh = now + self.app.settings.banks.refresh_interval_s
            try:
                changed = banks.matcher.refresh(banks.repo)
            except Exception:  # noqa: BLE001 - a database blip must not stop consumption
                log.exception("bank refresh failed; retrying")
            else:
                if changed:
                    self.stats.bank_changes += changed
                    self.metrics.bank_changes.inc(changed)
        if now >= self._next_lag:
            self._next_lag = now + 1.0
            self._observe_lag()

    def _follow_policy(self) -> None:
        store = self.app.store
        assert store is not None
        try:
            event = store.latest_policy_activation(self._policy_seen)
        except Exception:  # noqa: BLE001 - keep consuming on the policy in force
            log.exception(
                "could not read policy activations; keeping %s", self.app.moderator.policy.full_version
            )
            return
        if event is None:
            return
        self._policy_seen = int(event["audit_id"])
        if event["full_version"] == self.app.moderator.policy.full_version:
            return
        policy = load_policy_text(event["yaml_text"], source=f"policy {event['full_version']}")
        self.app.activate_policy(policy)
        self.stats.policy_reloads += 1
        self.metrics.policy_reloads.inc()
        log.info("switched to policy %s (activated by %s)", policy.full_version, event["actor"])

    def _observe_lag(self) -> None:
        try:
            for group in self.redis.xinfo_groups(self.settings.input_stream):
                if group["name"] == self.settings.group:
                    self.metrics.lag.set(float(group.get("lag") or 0))
                    self.metrics.pending.set(float(group.get("pending") or 0))
        except ResponseError:
            pass


def parse_item(fields: dict[str, str]) -> Content:
    """The entry's `item` field as a validated Content (the API's rules); a WardenError otherwise."""
    from ..errors import ValidationError

    raw = fields.get("item")
    if raw is None:
        raise ValidationError("entry has no 'item' field (the item's JSON object)")
    try:
        return Content.model_validate_json(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "item"
        raise ValidationError(f"invalid item: {where}: {first.get('msg')}") from None


def output_fields(decision: Decision) -> dict[str, str]:
    return {
        "content_id": decision.content_id,
        "decision_id": decision.decision_id,
        "action": decision.action,
        "flagged": "1" if decision.flagged else "0",
        "decision": decision.model_dump_json(),
    }


def push_items(
    redis: Redis,
    stream: str,
    items: Iterable[dict[str, Any] | str],
    chunk: int = 500,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """XADD one entry per item (a dict, or its JSON text as is); the number added."""
    n = 0
    pipe = redis.pipeline(transaction=False)
    for item in items:
        pipe.xadd(stream, {"item": item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)})
        n += 1
        if n % chunk == 0:
            pipe.execute()
            if on_chunk:
                on_chunk(chunk)
    rest = len(pipe.command_stack)
    pipe.execute()
    if on_chunk and rest:
        on_chunk(rest)
    return n


def stream_status(redis: Redis, settings: StreamSettings) -> dict[str, Any]:
    """Lengths, the group's lag and pending entries, and its consumers."""
    out: dict[str, Any] = {
        "input_length": redis.xlen(settings.input_stream),
        "output_length": redis.xlen(settings.output_stream),
        "dead_letters": redis.xlen(settings.dead_letter_stream),
        "group": None,
        "consumers": [],
    }
    try:
        for group in redis.xinfo_groups(settings.input_stream):
            if group["name"] == settings.group:
                out["group"] = {"lag": group.get("lag"), "pending": group.get("pending")}
                out["consumers"] = [
                    {"name": c["name"], "pending": c["pending"], "idle_ms": c["idle"]}
                    for c in redis.xinfo_consumers(settings.input_stream, settings.group)
                ]
    except ResponseError:  # no such stream yet
        pass
    return out
