"""Review storage: tasks and their review slots (leases), labels, appeals, and decision revisions.

Concurrency rules, all enforced by the database so several API workers can share one queue:
- a slot is leased by a conditional UPDATE (free = not done and no unexpired holder) whose row count
  says who won; an expired lease is simply a free slot again (no background sweeper);
- (task, reviewer) is unique among slots and labels, so nobody reviews an item twice;
- one open appeal per decision (unique `open_key`), one task per routed decision and queue
  (unique `dedupe_key`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    SQLColumnExpression,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..decision import Decision
from ..errors import ConflictError, NotFoundError
from . import audit_chain
from .review_records import (
    Appeal,
    AppealInfo,
    BanditEvent,
    Lease,
    LeaseCandidate,
    MediaRef,
    QueueSummary,
    ReviewLabel,
    ReviewTask,
)
from .tables import (
    AppealRow,
    DecisionHistoryRow,
    DecisionRow,
    ReviewAssignmentRow,
    ReviewBanditEventRow,
    ReviewLabelRow,
    ReviewTaskRow,
)

T = ReviewTaskRow
A = ReviewAssignmentRow
# Lost races are retried: the next attempt sees the winner's rows.
_ATTEMPTS = 4
_PAGE = 25
R = TypeVar("R")


class Chooser(Protocol):
    """A learned ordering for one lease: which of the first `count` candidates to serve."""

    count: int

    def choose(self, candidates: list[LeaseCandidate]) -> int | None: ...


_CANDIDATE_COLUMNS = (
    T.id,
    T.queue,
    T.category,
    T.language,
    T.severity,
    T.probability,
    T.reach,
    T.created_epoch,
    T.due_epoch,
)


def _lease_candidate(row: Any) -> LeaseCandidate:
    return LeaseCandidate(
        task_id=str(row.id),
        queue=row.queue,
        category=row.category,
        language=row.language,
        severity=row.severity,
        probability=float(row.probability),
        reach=float(row.reach),
        created_epoch=float(row.created_epoch),
        due_epoch=float(row.due_epoch),
        priority=float(row.priority),
    )


class TaskOrdering(Protocol):
    """How open tasks rank now. The review service supplies it (`review.priority.Ageing`): the
    store applies it, in SQL for queue listings and leases, without holding the formula."""

    def current(self, base: float, now_epoch: float, created_epoch: float, due_epoch: float) -> float: ...

    def sql(
        self,
        base: SQLColumnExpression[float],
        created_epoch: SQLColumnExpression[float],
        due_epoch: SQLColumnExpression[float],
        now_epoch: float,
    ) -> ColumnElement[float]: ...


@dataclass
class NewTask:
    queue: str
    content_id: str
    decision_id: str
    kind: str
    language: str | None
    category: str | None
    severity: str
    probability: float
    reach: float
    base_priority: float
    created_at: datetime
    sla_s: float
    reviews_required: int
    snapshot: dict[str, Any]
    created_by: str
    dedupe_key: str | None = None
    gold: bool = False
    gold_answer: dict[str, Any] | None = None
    appeal_id: str | None = None
    exclude_reviewers: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class LabelledTask:
    """A task with its labels, for quality metrics, label-error search and export."""

    id: str
    queue: str
    status: str
    gold: bool
    gold_answer: dict[str, Any] | None
    reviews_required: int
    content_id: str
    decision_id: str
    language: str | None
    category: str | None
    snapshot: dict[str, Any]
    completed_at: datetime | None
    labels: list[ReviewLabel] = field(default_factory=list)


# Given the task's labels (it just completed) and the current decision, the revised decision or None.
Resolver = Callable[[list[ReviewLabel], Decision], Decision | None]


def _now() -> datetime:
    return datetime.now(UTC)


def _audit(
    session: Session, actor: str, action: str, object_type: str, object_id: str, detail: dict[str, Any]
) -> None:
    audit_chain.record(session, actor, action, object_type, object_id, detail, _now())


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _is_lock_error(exc: OperationalError) -> bool:
    # SQLite refuses to upgrade a read transaction whose snapshot another writer moved on.
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()


def _free_slot(now: datetime) -> ColumnElement[bool]:
    return and_(
        A.done.is_(False),
        A.excluded.is_(False),
        or_(A.reviewer.is_(None), A.expires_at < now),
    )


def _label(row: ReviewLabelRow) -> ReviewLabel:
    return ReviewLabel(
        id=row.id,
        task_id=row.task_id,
        queue=row.queue,
        content_id=row.content_id,
        decision_id=row.decision_id,
        reviewer=row.reviewer,
        action=row.action,
        categories=list(row.categories),
        note=row.note,
        source=row.source,  # type: ignore[arg-type]
        outcome=row.outcome,
        created_at=row.created_at,
    )


def _appeal(row: AppealRow) -> Appeal:
    return Appeal(
        id=row.id,
        decision_id=row.decision_id,
        content_id=row.content_id,
        appellant=row.appellant,
        reason=row.reason,
        status=row.status,  # type: ignore[arg-type]
        original_action=row.original_action,
        outcome_action=row.outcome_action,
        task_id=row.task_id,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolution_note=row.resolution_note,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _task(
    row: ReviewTaskRow,
    slots: Sequence[ReviewAssignmentRow],
    now: datetime,
    ageing: TaskOrdering,
    viewer: str | None = None,
) -> ReviewTask:
    snap = row.snapshot
    active = sorted(
        (
            s
            for s in slots
            if s.reviewer is not None
            and not s.done
            and not s.excluded
            and s.expires_at is not None
            and s.expires_at >= now
        ),
        key=lambda s: (s.reviewer == viewer, s.leased_at or now),
    )
    free = any(
        not s.done and not s.excluded and (s.reviewer is None or (s.expires_at or now) < now) for s in slots
    )
    if row.status == "done":
        status = "done"
    elif row.gold or free:
        status = "pending"
    else:
        status = "leased"
    now_epoch = now.timestamp()
    holder = active[-1] if active else None
    appeal = snap.get("appeal")
    return ReviewTask(
        id=row.id,
        queue=row.queue,
        status=status,  # type: ignore[arg-type]
        content_id=row.content_id,
        decision_id=row.decision_id,
        kind=row.kind,
        text=snap.get("text", ""),
        context=snap.get("context"),
        language=row.language,
        author_id=snap.get("author_id"),
        metadata=snap.get("metadata", {}),
        media=[MediaRef.model_validate(m) for m in snap.get("media", [])],
        media_results=snap.get("media_results", []),
        category=row.category,
        severity=row.severity,
        scores=snap.get("scores", {}),
        flagged=snap.get("flagged", []),
        original_action=snap.get("original_action", "allow"),
        reasons=snap.get("reasons", []),
        judge=snap.get("judge"),
        route=snap.get("route", ""),
        probability=row.probability,
        reach=row.reach,
        base_priority=row.base_priority,
        priority=ageing.current(row.base_priority, now_epoch, row.created_epoch, row.due_epoch),
        created_at=row.created_at,
        due_at=row.due_at,
        overdue=row.status == "open" and row.due_epoch < now_epoch,
        lease_reviewer=holder.reviewer if holder else None,
        lease_expires_at=holder.expires_at if holder else None,
        leases=[Lease(reviewer=s.reviewer or "", expires_at=s.expires_at or now) for s in active],
        reviews_required=row.reviews_required,
        reviews_done=row.reviews_done,
        appeal=AppealInfo.model_validate(appeal) if appeal else None,
        gold=row.gold,
        completed_at=row.completed_at,
    )


class ReviewRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def _retry(self, attempt: Callable[[], R], what: str) -> R:
        for n in range(_ATTEMPTS):
            try:
                return attempt()
            except IntegrityError as exc:
                if n == _ATTEMPTS - 1:
                    raise ConflictError(f"{what}: lost {_ATTEMPTS} concurrent races, try again") from exc
            except OperationalError as exc:
                if not _is_lock_error(exc) or n == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # -- reading tasks ---------------------------------------------------------------------------

    def _slots(self, session: Session, task_ids: Sequence[str]) -> dict[str, list[ReviewAssignmentRow]]:
        out: dict[str, list[ReviewAssignmentRow]] = defaultdict(list)
        if task_ids:
            for slot in session.scalars(select(A).where(A.task_id.in_(set(task_ids)))):
                out[slot.task_id].append(slot)
        return out

    def _tasks(
        self,
        session: Session,
        rows: Sequence[ReviewTaskRow],
        now: datetime,
        ageing: TaskOrdering,
        viewer: str | None = None,
    ) -> list[ReviewTask]:
        slots = self._slots(session, [r.id for r in rows])
        return [_task(r, slots.get(r.id, []), now, ageing, viewer) for r in rows]

    def get_task(
        self, task_id: str, now: datetime, ageing: TaskOrdering, viewer: str | None = None
    ) -> ReviewTask:
        with self._sessions() as session:
            row = session.get(T, task_id)
            if row is None:
                raise NotFoundError(f"unknown review task {task_id!r}")
            return self._tasks(session, [row], now, ageing, viewer)[0]

    def get_tasks(self, task_ids: Sequence[str], now: datetime, ageing: TaskOrdering) -> list[ReviewTask]:
        """Tasks in the order of `task_ids` (unknown ids are skipped)."""
        if not task_ids:
            return []
        with self._sessions() as session:
            rows = {r.id: r for r in session.scalars(select(T).where(T.id.in_(set(task_ids))))}
            ordered = [rows[i] for i in task_ids if i in rows]
            return self._tasks(session, ordered, now, ageing)

    def find_tasks(self, decision_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(task id, queue, snapshot) of every task about a decision, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(T.id, T.queue, T.snapshot)
                .where(T.decision_id == decision_id)
                .order_by(T.created_epoch)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    @staticmethod
    def _filters(queue: str | None, category: str | None, language: str | None) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if queue is not None:
            where.append(T.queue == queue)
        if category is not None:
            where.append(T.category == category)
        if language is not None:
            where.append(T.language == language)
        return where

    def list_tasks(
        self,
        now: datetime,
        ageing: TaskOrdering,
        queue: str | None = None,
        category: str | None = None,
        language: str | None = None,
        status: str = "pending",
        limit: int = 50,
        include_gold: bool = False,
    ) -> list[ReviewTask]:
        where = self._filters(queue, category, language)
        if not include_gold:
            where.append(T.gold.is_(False))
        free = exists().where(A.task_id == T.id, _free_slot(now))
        order: list[Any] = [
            ageing.sql(T.base_priority, T.created_epoch, T.due_epoch, now.timestamp()).desc(),
            T.created_epoch,
            T.id,
        ]
        if status == "pending":
            where += [T.status == "open", or_(free, T.gold.is_(True))]
        elif status == "leased":
            where += [T.status == "open", ~free, T.gold.is_(False)]
        elif status == "open":
            where.append(T.status == "open")
        elif status == "done":
            where.append(T.status == "done")
            order = [T.completed_at.desc(), T.id]
        elif status != "all":
            raise ValueError(f"status must be pending, leased, open, done or all, got {status!r}")
        with self._sessions() as session:
            rows = session.scalars(select(T).where(*where).order_by(*order).limit(limit)).all()
            return self._tasks(session, rows, now, ageing)

    def queue_summaries(self, now: datetime, names: Sequence[str]) -> list[QueueSummary]:
        now_epoch = now.timestamp()
        base = [T.status == "open", T.gold.is_(False)]
        free = exists().where(A.task_id == T.id, _free_slot(now))
        summaries = {name: QueueSummary(name=name) for name in names}
        with self._sessions() as session:
            totals = session.execute(
                select(
                    T.queue,
                    func.count(),
                    func.min(T.created_epoch),
                    func.sum(case((T.due_epoch < now_epoch, 1), else_=0)),
                )
                .where(*base)
                .group_by(T.queue)
            )
            open_counts: dict[str, int] = {}
            for queue, count, oldest, overdue in totals:
                summary = summaries.setdefault(queue, QueueSummary(name=queue))
                open_counts[queue] = int(count)
                summary.overdue = int(overdue or 0)
                summary.oldest_age_s = round(max(0.0, now_epoch - float(oldest)), 3) if oldest else None
            pending = session.execute(select(T.queue, func.count()).where(*base, free).group_by(T.queue))
            for queue, count in pending:
                summaries[queue].pending = int(count)
            for queue, count in open_counts.items():
                summaries[queue].leased = count - summaries[queue].pending
            for column, attr in ((T.category, "by_category"), (T.language, "by_language")):
                grouped = session.execute(
                    select(T.queue, column, func.count()).where(*base).group_by(T.queue, column)
                )
                for queue, key, count in grouped:
                    getattr(summaries[queue], attr)[key or "unknown"] = int(count)
        return list(summaries.values())

    def count_open(self, queue: str) -> int:
        with self._sessions() as session:
            query = select(func.count()).select_from(T).where(T.queue == queue, T.status == "open")
            return int(session.scalar(query) or 0)

    # -- creating tasks --------------------------------------------------------------------------

    @staticmethod
    def _insert_tasks(session: Session, tasks: Sequence[NewTask]) -> None:
        rows, slots = [], []
        for t in tasks:
            due = t.created_at + timedelta(seconds=t.sla_s)
            rows.append(
                {
                    "id": t.id,
                    "queue": t.queue,
                    "status": "open",
                    "gold": t.gold,
                    "content_id": t.content_id,
                    "decision_id": t.decision_id,
                    "kind": t.kind,
                    "language": t.language,
                    "category": t.category,
                    "severity": t.severity,
                    "probability": float(t.probability),
                    "reach": float(t.reach),
                    "base_priority": float(t.base_priority),
                    "created_at": t.created_at,
                    "due_at": due,
                    "created_epoch": t.created_at.timestamp(),
                    "due_epoch": due.timestamp(),
                    "reviews_required": 0 if t.gold else t.reviews_required,
                    "reviews_done": 0,
                    "snapshot": t.snapshot,
                    "gold_answer": t.gold_answer,
                    "appeal_id": t.appeal_id,
                    "completed_at": None,
                    "dedupe_key": t.dedupe_key,
                    "created_by": t.created_by,
                }
            )
            # Gold tasks get a slot per reviewer when served; others one slot per required review.
            free = 0 if t.gold else t.reviews_required
            slot = {"task_id": t.id, "leased_at": None, "expires_at": None, "done": False}
            slots += [{**slot, "reviewer": None, "excluded": False} for _ in range(free)]
            slots += [{**slot, "reviewer": r, "excluded": True} for r in sorted(set(t.exclude_reviewers))]
        if rows:
            session.execute(insert(T), rows)
        if slots:
            session.execute(insert(A), slots)

    def add_tasks(self, tasks: Sequence[NewTask]) -> list[str]:
        """Insert tasks; a task whose dedupe_key exists already is not added again. Returns, per input,
        the id of the stored task (new or existing)."""
        if not tasks:
            return []

        def once() -> list[str]:
            with self._sessions.begin() as session:
                keys = [t.dedupe_key for t in tasks if t.dedupe_key is not None]
                existing: dict[str, str] = {}
                if keys:
                    found = session.execute(select(T.dedupe_key, T.id).where(T.dedupe_key.in_(keys)))
                    existing = {k: i for k, i in found if k is not None}
                fresh, out = [], []
                for t in tasks:
                    if t.dedupe_key is not None and t.dedupe_key in existing:
                        out.append(existing[t.dedupe_key])
                        continue
                    if t.dedupe_key is not None:
                        existing[t.dedupe_key] = t.id
                    fresh.append(t)
                    out.append(t.id)
                self._insert_tasks(session, fresh)
                return out

        return self._retry(once, "adding review tasks")

    # -- leases ----------------------------------------------------------------------------------

    def lease(
        self,
        reviewer: str,
        now: datetime,
        lease_s: float,
        ageing: TaskOrdering,
        queue: str | None = None,
        category: str | None = None,
        language: str | None = None,
        gold_first: bool = False,
        chooser: Chooser | None = None,
    ) -> ReviewTask | None:
        """The reviewer's current lease (renewed) if one matches, else a gold item (when `gold_first`),
        else the highest-priority task with a free slot the reviewer has not worked on.

        With a `chooser`, the first `chooser.count` such tasks in priority order are its candidates:
        it names the one to try first (a learned ordering); the others follow in priority order. It
        only ever sees tasks this lease could serve, so it cannot widen what the reviewer may see."""
        expires = now + timedelta(seconds=lease_s)
        task_id = self._retry(
            lambda: self._lease_once(
                reviewer, now, expires, ageing, queue, category, language, gold_first, chooser
            ),
            f"leasing a task for {reviewer}",
        )
        return None if task_id is None else self.get_task(task_id, now, ageing, viewer=reviewer)

    def _lease_once(
        self,
        reviewer: str,
        now: datetime,
        expires: datetime,
        ageing: TaskOrdering,
        queue: str | None,
        category: str | None,
        language: str | None,
        gold_first: bool,
        chooser: Chooser | None = None,
    ) -> str | None:
        filters = self._filters(queue, category, language)
        with self._sessions.begin() as session:
            held = session.execute(
                select(A.id, A.task_id)
                .join(T, T.id == A.task_id)
                .where(
                    A.reviewer == reviewer,
                    A.done.is_(False),
                    A.excluded.is_(False),
                    A.expires_at >= now,
                    T.status == "open",
                    *filters,
                )
                .order_by(A.leased_at)
                .limit(1)
            ).first()
            if held is not None:
                # Renewal: a reviewer reloading the console keeps the item instead of taking another.
                session.execute(
                    update(A).where(A.id == held[0], A.reviewer == reviewer).values(expires_at=expires)
                )
                return str(held[1])
            worked = exists().where(
                A.task_id == T.id,
                A.reviewer == reviewer,
                or_(A.done.is_(True), A.excluded.is_(True), A.expires_at >= now),
            )
            if gold_first:
                gold_id = session.scalar(
                    select(T.id)
                    .where(T.status == "open", T.gold.is_(True), ~worked, *filters)
                    .order_by(T.created_epoch, T.id)
                    .limit(1)
                )
                if gold_id is not None:
                    # Each reviewer has their own slot on a gold item: reuse an abandoned one, else add it.
                    renewed = session.execute(
                        update(A)
                        .where(A.task_id == gold_id, A.reviewer == reviewer, _free_slot(now))
                        .values(leased_at=now, expires_at=expires)
                        .execution_options(synchronize_session=False)
                    )
                    if _rowcount(renewed) == 0:
                        slot = {"task_id": gold_id, "reviewer": reviewer, "leased_at": now}
                        session.execute(
                            insert(A), [{**slot, "expires_at": expires, "done": False, "excluded": False}]
                        )
                    return gold_id
            free = exists().where(A.task_id == T.id, _free_slot(now))
            prio = ageing.sql(T.base_priority, T.created_epoch, T.due_epoch, now.timestamp())
            servable = [T.status == "open", T.gold.is_(False), free, ~worked, *filters]
            first_pick: str | None = None
            if chooser is not None:
                first_pick = self._chosen(session, chooser, servable, prio)
            offset = 0
            while True:
                candidates = list(
                    session.scalars(
                        select(T.id)
                        .where(*servable)
                        .order_by(prio.desc(), T.created_epoch, T.id)
                        .limit(_PAGE)
                        .offset(offset)
                    ).all()
                )
                if not candidates and first_pick is None:
                    return None
                if first_pick is not None:  # the learned pick first, then the formula's order
                    candidates = [first_pick, *(c for c in candidates if c != first_pick)]
                    first_pick = None
                for task_id in candidates:
                    slot_ids = session.scalars(
                        select(A.id)
                        .where(A.task_id == task_id, _free_slot(now))
                        # The reviewer's own expired slot first: taking another would break uniqueness.
                        .order_by(case((A.reviewer == reviewer, 0), else_=1), A.id)
                    ).all()
                    for slot_id in slot_ids:
                        won = session.execute(
                            update(A)
                            .where(A.id == slot_id, _free_slot(now))
                            .values(reviewer=reviewer, leased_at=now, expires_at=expires)
                            .execution_options(synchronize_session=False)
                        )
                        if _rowcount(won) == 1:
                            return task_id
                offset += _PAGE

    @staticmethod
    def _chosen(
        session: Session, chooser: Chooser, servable: list[Any], prio: ColumnElement[float]
    ) -> str | None:
        """The chooser's pick among the servable tasks: the first half of its candidates by formula
        priority, the rest the newest not among them (so it can serve what the formula ranks low)."""
        by_formula = chooser.count - chooser.count // 2
        columns = (*_CANDIDATE_COLUMNS, prio.label("priority"))
        top = session.execute(
            select(*columns).where(*servable).order_by(prio.desc(), T.created_epoch, T.id).limit(by_formula)
        ).all()
        if not top:
            return None
        fresh = session.execute(
            select(*columns)
            .where(*servable, T.id.not_in([r.id for r in top]))
            .order_by(T.created_epoch.desc(), T.id)
            .limit(chooser.count - by_formula)
        ).all()
        rows = sorted([*top, *fresh], key=lambda r: (-float(r.priority), float(r.created_epoch), str(r.id)))
        pick = chooser.choose([_lease_candidate(r) for r in rows])
        return str(rows[pick].id) if pick is not None and 0 <= pick < len(rows) else None

    # -- learned ordering: logged leases -----------------------------------------------------------
    def log_bandit_event(
        self,
        queue: str,
        task_id: str,
        reviewer: str,
        policy: str,
        model_version: str,
        fallback_reason: str,
        propensity: float,
        chosen: int,
        candidates: list[dict[str, Any]],
        now: datetime,
    ) -> int:
        row = ReviewBanditEventRow(
            queue=queue,
            task_id=task_id,
            reviewer=reviewer,
            policy=policy,
            model_version=model_version,
            fallback_reason=fallback_reason[:500],
            propensity=propensity,
            chosen=chosen,
            candidates=candidates,
            reward=None,
            created_at=now,
            rewarded_at=None,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def reward_bandit_event(self, task_id: str, reviewer: str, reward: float, now: datetime) -> bool:
        """Attach the reward to the reviewer's latest unrewarded logged lease of the task."""
        with self._sessions.begin() as session:
            event_id = session.scalar(
                select(ReviewBanditEventRow.id)
                .where(
                    ReviewBanditEventRow.task_id == task_id,
                    ReviewBanditEventRow.reviewer == reviewer,
                    ReviewBanditEventRow.reward.is_(None),
                )
                .order_by(ReviewBanditEventRow.id.desc())
                .limit(1)
            )
            if event_id is None:
                return False
            session.execute(
                update(ReviewBanditEventRow)
                .where(ReviewBanditEventRow.id == event_id)
                .values(reward=reward, rewarded_at=now)
            )
            return True

    def bandit_events(
        self, queue: str | None = None, rewarded_only: bool = True, limit: int = 200_000
    ) -> list[BanditEvent]:
        """Logged leases, oldest first (the most recent `limit`)."""
        E = ReviewBanditEventRow
        query = select(E)
        if queue is not None:
            query = query.where(E.queue == queue)
        if rewarded_only:
            query = query.where(E.reward.is_not(None))
        with self._sessions() as session:
            rows = session.scalars(query.order_by(E.id.desc()).limit(limit)).all()
            return [
                BanditEvent(
                    id=r.id,
                    queue=r.queue,
                    task_id=r.task_id,
                    reviewer=r.reviewer,
                    policy=r.policy,
                    model_version=r.model_version,
                    fallback_reason=r.fallback_reason,
                    propensity=r.propensity,
                    chosen=r.chosen,
                    candidates=list(r.candidates),
                    reward=r.reward,
                    created_at=r.created_at,
                )
                for r in reversed(rows)
            ]

    def release(self, task_id: str, reviewer: str) -> None:
        with self._sessions.begin() as session:
            task = session.get(T, task_id)
            if task is None:
                raise NotFoundError(f"unknown review task {task_id!r}")
            mine = [A.task_id == task_id, A.reviewer == reviewer, A.done.is_(False), A.excluded.is_(False)]
            if task.gold:  # gold slots are per reviewer: drop it so the item can be served again later
                slot = session.scalar(select(A).where(*mine))
                if slot is not None:
                    session.delete(slot)
                    return
            else:
                freed = session.execute(
                    update(A)
                    .where(*mine)
                    .values(reviewer=None, leased_at=None, expires_at=None)
                    .execution_options(synchronize_session=False)
                )
                if _rowcount(freed) == 1:
                    return
            raise ConflictError(f"{reviewer} holds no lease on task {task_id}")

    # -- labels ----------------------------------------------------------------------------------

    def record_label(
        self,
        task_id: str,
        reviewer: str,
        action: str,
        categories: list[str],
        note: str,
        source: str,
        now: datetime,
        outcome: str | None = None,
        resolve: Resolver | None = None,
    ) -> ReviewLabel:
        """Store a reviewer's label, atomically with its consequences: the slot is done, the task
        completes at reviews_required labels, `resolve` may write a new decision version, an appeal
        task resolves its appeal; everything is audited under the reviewer's name."""
        return self._retry(
            lambda: self._record_label_once(
                task_id, reviewer, action, categories, note, source, now, outcome, resolve
            ),
            f"recording {reviewer}'s label on task {task_id}",
        )

    def _record_label_once(
        self,
        task_id: str,
        reviewer: str,
        action: str,
        categories: list[str],
        note: str,
        source: str,
        now: datetime,
        outcome: str | None,
        resolve: Resolver | None,
    ) -> ReviewLabel:
        with self._sessions.begin() as session:
            task = session.scalar(select(T).where(T.id == task_id).with_for_update())
            if task is None:
                raise NotFoundError(f"unknown review task {task_id!r}")
            if task.status == "done":
                raise ConflictError(f"review task {task_id} is already complete")
            # An expired lease still counts while nobody else has taken the slot over.
            closed = session.execute(
                update(A)
                .where(A.task_id == task_id, A.reviewer == reviewer, A.done.is_(False), A.excluded.is_(False))
                .values(done=True)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(closed) != 1:
                raise ConflictError(
                    f"{reviewer} does not hold a lease on task {task_id} (never leased, released, "
                    "or expired and taken by another reviewer): lease it first"
                )
            row = ReviewLabelRow(
                task_id=task_id,
                queue=task.queue,
                content_id=task.content_id,
                decision_id=task.decision_id,
                reviewer=reviewer,
                action=action,
                categories=list(categories),
                note=note,
                source=source,
                outcome=outcome,
                created_at=now,
            )
            session.add(row)
            session.flush()
            task.reviews_done += 1
            complete = task.reviews_required > 0 and task.reviews_done >= task.reviews_required
            label = _label(row)
            label.task_complete = complete
            detail: dict[str, Any] = {
                "task_id": task_id,
                "queue": task.queue,
                "content_id": task.content_id,
                "action": action,
                "categories": list(categories),
            }
            if outcome:
                detail["outcome"] = outcome
            _audit(session, reviewer, "review.label", "review_task", task_id, detail)
            if complete:
                task.status, task.completed_at = "done", now
                if task.dedupe_key and task.dedupe_key.startswith("relabel:"):
                    task.dedupe_key = None  # a later label-error search may re-check the item again
                labels = [
                    _label(r)
                    for r in session.scalars(
                        select(ReviewLabelRow)
                        .where(ReviewLabelRow.task_id == task_id)
                        .order_by(ReviewLabelRow.id)
                    )
                ]
                if resolve is not None:
                    label.decision_updated = self._revise_decision(
                        session, task, labels, reviewer, resolve, now
                    )
                if task.appeal_id is not None:
                    self._resolve_appeal(session, task.appeal_id, reviewer, outcome, action, note, now)
            return label

    @staticmethod
    def _revise_decision(
        session: Session,
        task: ReviewTaskRow,
        labels: list[ReviewLabel],
        actor: str,
        resolve: Resolver,
        now: datetime,
    ) -> bool:
        row = session.scalar(
            select(DecisionRow).where(DecisionRow.decision_id == task.decision_id).with_for_update()
        )
        if row is None:
            raise NotFoundError(f"decision {task.decision_id} of task {task.id} no longer exists")
        current = Decision.model_validate(row.payload)
        revised = resolve(labels, current)
        if revised is None:
            return False
        payload = revised.model_dump(mode="json")
        row.action, row.flagged, row.payload, row.created_at = revised.action, revised.flagged, payload, now
        session.add(
            DecisionHistoryRow(
                decision_id=revised.decision_id,
                content_id=revised.content_id,
                payload=payload,
                created_at=now,
                actor=actor,
            )
        )
        detail = {
            "content_id": revised.content_id,
            "from": current.action,
            "to": revised.action,
            "task_id": task.id,
            "queue": task.queue,
            **({"appeal_id": task.appeal_id} if task.appeal_id else {}),
        }
        _audit(session, actor, "decision.revise", "decision", revised.decision_id, detail)
        return True

    @staticmethod
    def _resolve_appeal(
        session: Session,
        appeal_id: str,
        reviewer: str,
        outcome: str | None,
        action: str,
        note: str,
        now: datetime,
    ) -> None:
        appeal = session.scalar(select(AppealRow).where(AppealRow.id == appeal_id).with_for_update())
        if appeal is None:
            raise NotFoundError(f"unknown appeal {appeal_id!r}")
        reversed_ = outcome == "reverse"
        appeal.status = "reversed" if reversed_ else "upheld"
        appeal.outcome_action = action
        appeal.resolved_by, appeal.resolved_at, appeal.resolution_note = reviewer, now, note
        appeal.open_key = None
        detail = {
            "decision_id": appeal.decision_id,
            "content_id": appeal.content_id,
            "from": appeal.original_action,
            "to": action,
            "appellant": appeal.appellant,
        }
        _audit(
            session, reviewer, "appeal.reverse" if reversed_ else "appeal.uphold", "appeal", appeal_id, detail
        )

    def labelled_tasks(self, gold: bool | None = None) -> list[LabelledTask]:
        """Tasks with at least one label (and their labels), oldest task first."""
        where: list[ColumnElement[bool]] = []
        if gold is not None:
            where.append(T.gold.is_(gold))
        with self._sessions() as session:
            rows = session.execute(
                select(T, ReviewLabelRow)
                .join(ReviewLabelRow, ReviewLabelRow.task_id == T.id)
                .where(*where)
                .order_by(T.created_epoch, T.id, ReviewLabelRow.id)
            )
            out: dict[str, LabelledTask] = {}
            for task, label in rows:
                entry = out.get(task.id)
                if entry is None:
                    entry = out[task.id] = LabelledTask(
                        id=task.id,
                        queue=task.queue,
                        status=task.status,
                        gold=task.gold,
                        gold_answer=task.gold_answer,
                        reviews_required=task.reviews_required,
                        content_id=task.content_id,
                        decision_id=task.decision_id,
                        language=task.language,
                        category=task.category,
                        snapshot=task.snapshot,
                        completed_at=task.completed_at,
                    )
                entry.labels.append(_label(label))
        return list(out.values())

    def labels_for(self, task_id: str) -> list[ReviewLabel]:
        with self._sessions() as session:
            query = (
                select(ReviewLabelRow).where(ReviewLabelRow.task_id == task_id).order_by(ReviewLabelRow.id)
            )
            return [_label(r) for r in session.scalars(query)]

    # -- appeals ---------------------------------------------------------------------------------

    def create_appeal(
        self,
        appeal_id: str,
        decision_id: str,
        content_id: str,
        appellant: str,
        reason: str,
        original_action: str,
        actor: str,
        task: NewTask,
        now: datetime,
    ) -> Appeal:
        def once() -> Appeal:
            with self._sessions.begin() as session:
                open_id = session.scalar(select(AppealRow.id).where(AppealRow.open_key == decision_id))
                if open_id is not None:
                    raise ConflictError(f"decision {decision_id} already has an open appeal ({open_id})")
                row = AppealRow(
                    id=appeal_id,
                    decision_id=decision_id,
                    content_id=content_id,
                    appellant=appellant,
                    reason=reason,
                    status="open",
                    original_action=original_action,
                    outcome_action=None,
                    task_id=task.id,
                    resolved_by=None,
                    resolved_at=None,
                    resolution_note="",
                    created_at=now,
                    created_by=actor,
                    open_key=decision_id,
                )
                session.add(row)
                session.flush()
                self._insert_tasks(session, [task])
                detail = {
                    "decision_id": decision_id,
                    "content_id": content_id,
                    "appellant": appellant,
                    "original_action": original_action,
                    "task_id": task.id,
                }
                _audit(session, actor, "appeal.create", "appeal", appeal_id, detail)
                return _appeal(row)

        return self._retry(once, f"appealing decision {decision_id}")

    def get_appeal(self, appeal_id: str) -> Appeal:
        with self._sessions() as session:
            row = session.get(AppealRow, appeal_id)
            if row is None:
                raise NotFoundError(f"unknown appeal {appeal_id!r}")
            return _appeal(row)

    def list_appeals(
        self, decision_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Appeal]:
        query = select(AppealRow).order_by(AppealRow.created_at.desc(), AppealRow.id).limit(limit)
        if decision_id is not None:
            query = query.where(AppealRow.decision_id == decision_id)
        if status is not None:
            query = query.where(AppealRow.status == status)
        with self._sessions() as session:
            return [_appeal(r) for r in session.scalars(query)]
