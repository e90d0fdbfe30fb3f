"""ReviewService: routing decisions to queues, leasing, reviewer decisions, appeals, quality metrics.

The one API for human review, shared by the HTTP endpoints (warden.serve.review_api), the web
console and the CLI (`warden review ...`). Storage and every concurrency guarantee live in
`Store.review`; this class holds the rules (validation, routing, outcomes, metrics).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from ..content import Content, Media
from ..decision import Decision
from ..errors import ConflictError, ValidationError
from ..evaluate.metrics import wilson_interval
from ..media.storage import MediaStore
from ..policy.model import Policy
from ..settings import ReviewSettings, Settings
from ..store import Store
from ..store.review import LabelledTask, NewTask, Resolver
from .agreement import cohen_kappa, krippendorff_alpha_nominal, majority
from .appeals import REVIEWER_ACTIONS, appeal_outcome, revised_decision
from .label_errors import LabelledItem, find_label_errors
from .models import (
    QUEUES,
    AgreementStats,
    Appeal,
    LabelIssue,
    MediaRef,
    PairAgreement,
    PrecisionEstimate,
    QueueSummary,
    ReviewerAccuracy,
    ReviewLabel,
    ReviewStats,
    ReviewTask,
)
from .ordering import LearnedOrdering
from .priority import Ageing, base_priority, reach_factor, severity_weight
from .routing import HOUR_S, TopCategory, category_severity, route, top_category

log = logging.getLogger("warden.review")

MAX_NOTE_CHARS = 4_000
MAX_REASON_CHARS = 4_000
MAX_LIST_LIMIT = 500
_STATUSES = ("pending", "leased", "open", "done", "all")
# Leading bytes of the media types reviewers are shown, for attachments sent without a content type.
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF8", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (4, b"ftyp", "video/mp4"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
]


def sniff_content_type(data: bytes) -> str:
    for offset, magic, content_type in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return content_type
    return "application/octet-stream"


def reviewer_view(task: ReviewTask) -> ReviewTask:
    """The task as a reviewer may see it: a gold item must look like any other."""
    if not task.gold:
        return task
    return task.model_copy(update={"gold": False, "reviews_required": 1, "reviews_done": 0})


class ReviewService:
    def __init__(
        self,
        store: Store,
        policy: Policy,
        settings: Settings,
        media_store: MediaStore | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.settings = settings
        self.media_store = media_store
        # Injectable so tests (and backfills) can move time for SLAs, ageing and lease expiry.
        self.clock = clock or (lambda: datetime.now(UTC))
        self._rng = random.Random(settings.review.sample_seed)
        self._rng_lock = threading.Lock()
        self.ordering = LearnedOrdering(store, settings.review, policy)

    @property
    def config(self) -> ReviewSettings:
        return self.settings.review

    @property
    def ageing(self) -> Ageing:
        return Ageing(self.config.ageing_before_due, self.config.ageing_after_due)

    # -- routing ---------------------------------------------------------------------------------

    def _media_ref(self, media: Media, item_kind: str) -> MediaRef:
        content_type = media.content_type
        sha = None
        stored = False
        if media.data is not None:
            content_type = content_type or sniff_content_type(media.data)
            if self.media_store is not None:
                sha, stored = self.media_store.put(media.data, content_type), True
            else:
                sha = media.sha256()
        major = (content_type or "").split("/")[0]
        kind = (
            major
            if major in ("image", "video")
            else (item_kind if item_kind in ("image", "video") else "other")
        )
        # Never a local path or a URL: reviewers fetch bytes from the media store only.
        return MediaRef(
            sha256=sha, content_type=content_type, kind=kind, filename=media.filename, stored=stored
        )

    def _media_refs(self, item: Content | None, decision: Decision | None) -> list[dict[str, Any]]:
        refs = [self._media_ref(m, item.kind) for m in item.media] if item else []
        # Media sent by URL has no bytes here; the media pipeline's results name what it fetched.
        for index, result in enumerate(decision.media if decision else []):
            if index < len(refs) and refs[index].sha256 is not None:
                continue
            stored = self.media_store is not None and result.sha256 in self.media_store
            ref = MediaRef(
                sha256=result.sha256,
                content_type=result.content_type,
                kind="video" if result.kind == "video" else "image",
                stored=stored,
            )
            if index < len(refs):
                refs[index] = ref.model_copy(update={"filename": refs[index].filename})
            else:
                refs.append(ref)
        return [r.model_dump(mode="json") for r in refs]

    def _snapshot(self, item: Content | None, decision: Decision | None, route_reason: str) -> dict[str, Any]:
        """What the reviewer is shown. Without a decision (a gold item added bare): no model output."""
        return {
            "kind": item.kind if item else "text",
            "text": item.text if item else "",
            "context": item.context if item else None,
            "author_id": item.author_id if item else None,
            "metadata": dict(item.metadata) if item else {},
            "media": self._media_refs(item, decision),
            "media_results": [m.model_dump(mode="json") for m in decision.media] if decision else [],
            "scores": decision.probabilities() if decision else {},
            "flagged": [c for c, s in decision.categories.items() if s.flagged] if decision else [],
            "original_action": decision.action if decision else "review",
            "reasons": [r.model_dump(mode="json") for r in decision.reasons] if decision else [],
            "judge": decision.judge if decision else None,
            "route": route_reason,
        }

    def enqueue_decisions(
        self, items: Sequence[Content], decisions: Sequence[Decision], actor: str
    ) -> list[ReviewTask]:
        """Route stored decisions to review queues. Idempotent: a decision already queued in its queue
        returns the existing task, so callers may retry (e.g. after a resubmitted moderation)."""
        if not self.config.enabled:
            return []
        by_id = {item.id: item for item in items}
        now = self.clock()
        tasks: list[NewTask] = []
        for decision in decisions:
            chosen = route(decision, self.policy, self.config)
            if chosen is None:
                continue
            item = by_id.get(decision.content_id)
            reach = reach_factor(item.metadata if item else None)
            top = chosen.top
            tasks.append(
                NewTask(
                    queue=chosen.queue,
                    content_id=decision.content_id,
                    decision_id=decision.decision_id,
                    kind=item.kind if item else "text",
                    language=decision.language or (item.language if item else None),
                    category=top.category,
                    severity=top.severity,
                    probability=top.probability,
                    reach=reach,
                    base_priority=base_priority(top.severity, reach, top.probability),
                    created_at=now,
                    sla_s=chosen.sla_s,
                    reviews_required=chosen.reviews_required,
                    snapshot=self._snapshot(item, decision, chosen.reason),
                    created_by=actor,
                    dedupe_key=f"route:{decision.decision_id}:{chosen.queue}",
                )
            )
        if not tasks:
            return []
        ids = self.store.review.add_tasks(tasks)
        return self.store.review.get_tasks(ids, now, self.ageing)

    def add_gold(
        self,
        item: Content,
        action: str,
        categories: list[str],
        actor: str,
        queue: str = "review",
        decision: Decision | None = None,
    ) -> ReviewTask:
        """Add a known-answer item. Every reviewer is served it once (at `gold_rate`); their answers
        score them in `stats().gold`. Idempotent per content id."""
        categories = self._check_label(action, categories)
        if queue not in QUEUES:
            raise ValidationError(f"queue must be one of {', '.join(QUEUES)}, got {queue!r}")
        now = self.clock()
        snap = self._snapshot(item, decision, "uncertain")  # what a real item says: gold must not stand out
        top = (
            top_category(decision, self.policy)
            if decision
            else top_category_for(self.policy, categories, snap["scores"])
        )
        task = NewTask(
            queue=queue,
            content_id=item.id,
            decision_id=decision.decision_id if decision else f"gold:{item.id}",
            kind=item.kind,
            language=item.language,
            category=top.category,
            severity=top.severity,
            probability=top.probability,
            reach=1.0,
            base_priority=0.0,
            created_at=now,
            sla_s=self.config.qa_sla_hours * HOUR_S,
            reviews_required=0,
            snapshot=snap,
            created_by=actor,
            dedupe_key=f"gold:{item.id}",
            gold=True,
            gold_answer={"action": action, "categories": categories},
        )
        [task_id] = self.store.review.add_tasks([task])
        self.store.append_audit(
            actor, "review.gold.add", "review_task", task_id, {"content_id": item.id, "queue": queue}
        )
        return self.get(task_id)

    # -- queues and leases -----------------------------------------------------------------------

    def add_suggestion(
        self,
        item: Content,
        decision: Decision,
        categories: list[str],
        detail: dict[str, Any],
        actor: str,
    ) -> ReviewTask:
        """An outside opinion of a decided item (a community's flag, a Perspective client's
        `comments:suggestscore`): queued in `relabel` with the suggestion beside the model's view,
        so a reviewer's label - not the suggestion itself - is what reaches training and decisions.
        One task per decision and suggester; a repeated suggestion returns the open task."""
        now = self.clock()
        snap = self._snapshot(item, decision, f"suggested:{actor}")
        snap["suggestion"] = {"categories": categories, **detail}
        top = (
            top_category_for(self.policy, categories, snap["scores"])
            if categories
            else top_category(decision, self.policy)
        )
        task = NewTask(
            queue="relabel",
            content_id=item.id,
            decision_id=decision.decision_id,
            kind=item.kind,
            language=decision.language or item.language,
            category=top.category,
            severity=top.severity,
            probability=top.probability,
            reach=1.0,
            base_priority=base_priority(top.severity, 1.0, top.probability),
            created_at=now,
            sla_s=self.config.relabel_sla_hours * HOUR_S,
            reviews_required=1,
            snapshot=snap,
            created_by=actor,
            dedupe_key=f"suggest:{decision.decision_id}:{actor}",
        )
        ids = self.store.review.add_tasks([task])
        return self.store.review.get_tasks(ids, now, self.ageing)[0]

    def queues(self) -> list[QueueSummary]:
        return self.store.review.queue_summaries(self.clock(), QUEUES)

    def list_tasks(
        self,
        queue: str | None = None,
        category: str | None = None,
        language: str | None = None,
        status: str = "pending",
        limit: int = 50,
        include_gold: bool = False,
    ) -> list[ReviewTask]:
        """Tasks ordered by current priority (done tasks: most recently completed first)."""
        if status not in _STATUSES:
            raise ValidationError(f"status must be one of {', '.join(_STATUSES)}, got {status!r}")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        return self.store.review.list_tasks(
            self.clock(), self.ageing, queue, category, language, status, limit, include_gold
        )

    def lease_next(
        self,
        reviewer: str,
        queue: str | None = None,
        category: str | None = None,
        language: str | None = None,
    ) -> ReviewTask | None:
        """The reviewer's next task (their current lease if one matches, renewed), or None when the
        queue has nothing they may take. Two reviewers never receive the same review slot."""
        if not reviewer:
            raise ValidationError("reviewer must not be empty")
        with self._rng_lock:
            gold_first = self._rng.random() < self.config.gold_rate
        now = self.clock()
        # A named bandit-logged queue: the learned ordering picks among the formula's first tasks.
        chooser = self.ordering.chooser_for(queue, now)
        task = self.store.review.lease(
            reviewer,
            now,
            self.config.lease_seconds,
            self.ageing,
            queue,
            category,
            language,
            gold_first=gold_first,
            chooser=chooser,
        )
        self.ordering.record_lease(chooser, task, reviewer, now)
        return task

    def get(self, task_id: str, viewer: str | None = None) -> ReviewTask:
        return self.store.review.get_task(task_id, self.clock(), self.ageing, viewer)

    def release(self, task_id: str, reviewer: str) -> None:
        self.store.review.release(task_id, reviewer)

    def labels(self, task_id: str) -> list[ReviewLabel]:
        """Every label of a task (for admins: reviewers should not see each other's answers)."""
        return self.store.review.labels_for(task_id)

    # -- decisions -------------------------------------------------------------------------------

    def _check_label(self, action: str, categories: Sequence[str]) -> list[str]:
        cats = list(dict.fromkeys(categories))
        unknown = [c for c in cats if c not in self.policy.category_ids]
        if unknown:
            raise ValidationError(
                f"unknown categories {', '.join(unknown)}; "
                f"the policy has {', '.join(self.policy.category_ids)}"
            )
        if action not in REVIEWER_ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(REVIEWER_ACTIONS)}, got {action!r}")
        if action == "allow" and cats:
            raise ValidationError("'allow' takes no categories: the item violates none")
        if action != "allow" and not cats:
            raise ValidationError(f"name the categories the item violates to {action} it")
        return cats

    def decide(
        self, task_id: str, reviewer: str, action: str, categories: list[str], note: str = ""
    ) -> ReviewLabel:
        """Record the reviewer's decision. The reviewer must hold the task's lease (ConflictError).

        Review tasks: `action` is what should happen to the item (allow, label, age_restrict, limit,
        remove) with the violated categories. Appeal tasks: "uphold", "reverse" (to allow) or a
        concrete action (the original upholds, another reverses to it); a reversal writes a new
        decision version. A completed review/severe task whose reviewers agree also writes one when
        the outcome differs from the decision (settings.review.apply_queues)."""
        if len(note) > MAX_NOTE_CHARS:
            raise ValidationError(f"note has {len(note)} characters, the limit is {MAX_NOTE_CHARS}")
        task = self.get(task_id)
        if task.status == "done":
            raise ConflictError(f"review task {task_id} is already complete")
        outcome: str | None = None
        resolve: Resolver | None = None
        if task.appeal is not None:
            outcome, effective = appeal_outcome(action, task.appeal.original_action)
            if outcome == "uphold":
                cats = (
                    self._check_label(effective, categories or task.flagged) if effective != "allow" else []
                )
            else:
                cats = self._check_label(
                    effective, categories or ([] if effective == "allow" else task.flagged)
                )
                resolve = self._appeal_resolver(task, effective, cats, reviewer, note)
            source = "appeal"
        else:
            effective, cats = action, self._check_label(action, categories)
            source = "gold" if task.gold else "review"
            if not task.gold and task.queue in self.config.apply_queues:
                resolve = self._consensus_resolver(task)
        now = self.clock()
        label = self.store.review.record_label(
            task_id, reviewer, effective, cats, note, source, now, outcome=outcome, resolve=resolve
        )
        self.ordering.reward(task, reviewer, effective, cats, now)
        return label

    def _appeal_resolver(
        self, task: ReviewTask, action: str, categories: list[str], reviewer: str, note: str
    ) -> Resolver:
        assert task.appeal is not None
        via = {
            "task_id": task.id,
            "queue": task.queue,
            "appeal_id": task.appeal.appeal_id,
            "category": task.category,
        }

        def resolve(_labels: list[ReviewLabel], current: Decision) -> Decision | None:
            return revised_decision(
                current, self.policy, action, categories, reviewer, note, via, self.clock()
            )

        return resolve

    def _consensus_resolver(self, task: ReviewTask) -> Resolver:
        def resolve(labels: list[ReviewLabel], current: Decision) -> Decision | None:
            actions = {label.action for label in labels}
            if len(actions) != 1:
                return None  # reviewers split: the automated decision stands; agreement stats show it
            action = actions.pop()
            cats = _majority_categories(labels)
            flagged = {c for c, s in current.categories.items() if s.flagged}
            if action == current.action and (action == "allow" or set(cats) == flagged):
                return None
            reviewers = ",".join(label.reviewer for label in labels)
            note = " | ".join(label.note for label in labels if label.note)
            via = {"task_id": task.id, "queue": task.queue, "category": task.category}
            return revised_decision(current, self.policy, action, cats, reviewers, note, via, self.clock())

        return resolve

    # -- appeals ---------------------------------------------------------------------------------

    def appeal(
        self,
        decision_id: str,
        appellant: str,
        reason: str,
        content: Content | None = None,
        actor: str = "system",
    ) -> Appeal:
        """Open an appeal of the current decision and queue it in `appeals`. `content` is the item as it
        was judged (it must hash to the decision's content_hash); it may be left out only when a review
        task already captured the item. A second open appeal of one decision is a conflict."""
        appellant, reason = appellant.strip(), reason.strip()
        if not 1 <= len(appellant) <= 256:
            raise ValidationError("appellant must be 1 to 256 characters")
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise ValidationError(f"reason must be 1 to {MAX_REASON_CHARS} characters")
        decision = self.store.get_decision(decision_id)
        if content is not None and (
            content.id != decision.content_id or content.content_hash() != decision.content_hash
        ):
            raise ValidationError(
                f"content does not match decision {decision_id}: its id and content must be the ones judged"
            )
        earlier = self.store.review.find_tasks(decision_id)
        if content is None and not earlier:
            # Warden keeps no copy of content that never reached review: a reviewer needs to see it.
            raise ValidationError(
                f"decision {decision_id} was never queued for review, so no copy of its content is kept: "
                "send the item as `content` with the appeal"
            )
        snap = self._snapshot(content, decision, "appeal")
        if content is None:
            seen = earlier[-1][2]  # the item as the last review task captured it
            for key in ("kind", "text", "context", "author_id", "metadata", "media"):
                snap[key] = seen.get(key, snap[key])
        now = self.clock()
        appeal_id = uuid.uuid4().hex
        snap["appeal"] = {
            "appeal_id": appeal_id,
            "appellant": appellant,
            "reason": reason,
            "original_action": decision.action,
            "created_at": now.isoformat(),
        }
        # The reviewers whose outcome is being appealed must not judge the appeal.
        earlier_ids = {task_id for task_id, queue, _ in earlier if queue in self.config.apply_queues}
        exclude = sorted(
            {label.reviewer for tid in earlier_ids for label in self.store.review.labels_for(tid)}
        )
        flagged = [c for c, s in decision.categories.items() if s.flagged]
        top = top_category(decision, self.policy, among=flagged or None)
        reach = reach_factor(snap.get("metadata"))
        task = NewTask(
            queue="appeals",
            content_id=decision.content_id,
            decision_id=decision.decision_id,
            kind=str(snap.get("kind", "text")),
            language=decision.language,
            category=top.category,
            severity=top.severity,
            probability=top.probability,
            reach=reach,
            base_priority=base_priority(top.severity, reach, top.probability),
            created_at=now,
            sla_s=self.config.appeal_sla_hours * HOUR_S,
            reviews_required=1,
            snapshot=snap,
            created_by=actor,
            dedupe_key=f"appeal:{appeal_id}",
            appeal_id=appeal_id,
            exclude_reviewers=exclude,
        )
        return self.store.review.create_appeal(
            appeal_id,
            decision.decision_id,
            decision.content_id,
            appellant,
            reason,
            decision.action,
            actor,
            task,
            now,
        )

    def get_appeal(self, appeal_id: str) -> Appeal:
        return self.store.review.get_appeal(appeal_id)

    def list_appeals(self, decision_id: str | None = None, status: str | None = None) -> list[Appeal]:
        return self.store.review.list_appeals(decision_id, status)

    # -- quality ---------------------------------------------------------------------------------

    def stats(self) -> ReviewStats:
        tasks = self.store.review.labelled_tasks()
        regular = [t for t in tasks if not t.gold]
        return ReviewStats(
            queues=self.queues(),
            labels=sum(len(t.labels) for t in tasks),
            agreement=_agreement([t for t in regular if t.reviews_required >= 2 and len(t.labels) >= 2]),
            gold=_gold_scores([t for t in tasks if t.gold and t.gold_answer]),
            automation=_automation_precision([t for t in regular if t.queue == "qa" and t.status == "done"]),
            label_error_candidates=self.store.review.count_open("relabel"),
        )

    def label_errors(
        self,
        probabilities: Mapping[str, Mapping[str, float]] | None = None,
        categories: Sequence[str] | None = None,
        enqueue: bool = True,
        actor: str = "system",
    ) -> list[LabelIssue]:
        """cleanlab over the settled review labels (majority per completed task, the latest task per
        content id) against `probabilities` (content id -> category -> P(violation); default: the
        model's scores at decision time). Flagged items go to the `relabel` queue, away from the
        reviewers who labelled them (enqueue=False only reports)."""
        cats = list(categories) if categories is not None else self.policy.category_ids
        unknown = [c for c in cats if c not in self.policy.category_ids]
        if unknown:
            raise ValidationError(f"unknown categories {', '.join(unknown)}")
        if probabilities is not None:
            for cid, given in probabilities.items():
                bad = {k: v for k, v in given.items() if not 0.0 <= float(v) <= 1.0}
                if bad:
                    raise ValidationError(f"probabilities[{cid!r}] outside [0, 1]: {bad}")
        settled: dict[str, LabelledItem] = {}
        latest: dict[str, LabelledTask] = {}
        done = [t for t in self.store.review.labelled_tasks(gold=False) if t.status == "done"]
        # The newest label wins (a relabel or an appeal settles what an earlier review said).
        done.sort(key=lambda t: max(label.id for label in t.labels))
        for task in done:
            settled[task.content_id] = LabelledItem(
                content_id=task.content_id,
                categories=set(_majority_categories(task.labels)),
                reviewers=[label.reviewer for label in task.labels],
                label_ids=[label.id for label in task.labels],
            )
            latest[task.content_id] = task
        probs = (
            probabilities
            if probabilities is not None
            else {cid: t.snapshot.get("scores", {}) for cid, t in latest.items()}
        )
        issues = find_label_errors(list(settled.values()), probs, cats, self.config.label_error_min_per_class)
        if enqueue and issues:
            self._enqueue_relabel(issues, latest, actor)
        return issues

    def _enqueue_relabel(self, issues: list[LabelIssue], latest: dict[str, LabelledTask], actor: str) -> None:
        now = self.clock()
        first: dict[str, LabelIssue] = {}
        for issue in issues:  # worst first: one relabel task per item, about its worst category
            first.setdefault(issue.content_id, issue)
        tasks = []
        for cid, issue in first.items():
            source = latest[cid]
            snap = dict(source.snapshot)
            snap["route"] = f"label_error:{issue.category}"
            snap.pop("appeal", None)
            severity = category_severity(self.policy, issue.category)
            reach = reach_factor(snap.get("metadata"))
            doubt = 1.0 - issue.label_quality
            tasks.append(
                NewTask(
                    queue="relabel",
                    content_id=cid,
                    decision_id=source.decision_id,
                    kind=str(snap.get("kind", "text")),
                    language=source.language,
                    category=issue.category,
                    severity=severity,
                    probability=issue.model_probability,
                    reach=reach,
                    base_priority=severity_weight(severity) * reach * doubt,
                    created_at=now,
                    sla_s=self.config.relabel_sla_hours * HOUR_S,
                    reviews_required=1,
                    snapshot=snap,
                    created_by=actor,
                    dedupe_key=f"relabel:{cid}",
                    exclude_reviewers=issue.reviewers,
                )
            )
        ids = self.store.review.add_tasks(tasks)
        by_content = dict(zip(first, ids, strict=True))
        for issue in issues:
            issue.task_id = by_content.get(issue.content_id)
        self.store.append_audit(
            actor,
            "review.label_errors",
            "review_queue",
            "relabel",
            {"issues": len(issues), "items": len(first), "tasks": sorted(set(ids))},
        )

    def export_labels(self) -> list[dict[str, Any]]:
        """Every review and appeal label (gold answers excluded), oldest first, for training sets.
        An item may have several (multi-review, relabel, appeal): `at` orders them."""
        rows = []
        for task in self.store.review.labelled_tasks(gold=False):
            for label in task.labels:
                rows.append(
                    {
                        "content_id": task.content_id,
                        "text": task.snapshot.get("text", ""),
                        "language": task.language,
                        "categories": list(label.categories),
                        "action": label.action,
                        "reviewer": label.reviewer,
                        "at": label.created_at.isoformat(),
                        "source": "appeal" if label.source == "appeal" else "review",
                        "queue": task.queue,
                        "task_id": task.id,
                        "decision_id": task.decision_id,
                        "label_id": label.id,
                        "note": label.note,
                    }
                )
        rows.sort(key=lambda r: r["label_id"])
        return rows


# -- metrics helpers (pure) -----------------------------------------------------------------------


def top_category_for(policy: Policy, categories: list[str], scores: Mapping[str, float]) -> TopCategory:
    """Top category of a gold item without a decision: the most severe answer category."""
    if not categories:
        return TopCategory(None, "low", 0.0)
    best = max(categories, key=lambda c: severity_weight(category_severity(policy, c)))
    return TopCategory(best, category_severity(policy, best), float(scores.get(best, 1.0)))


def _majority_categories(labels: Sequence[ReviewLabel]) -> list[str]:
    counts = Counter(c for label in labels for c in set(label.categories))
    return sorted(c for c, n in counts.items() if n * 2 > len(labels))


def _agreement(tasks: list[LabelledTask]) -> AgreementStats:
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for task in tasks:
        by_reviewer = {label.reviewer: label.action for label in task.labels}
        for a, b in combinations(sorted(by_reviewer), 2):
            pairs[(a, b)].append((by_reviewer[a], by_reviewer[b]))
    return AgreementStats(
        items=len(tasks),
        alpha_action=krippendorff_alpha_nominal([[label.action for label in t.labels] for t in tasks]),
        alpha_violation=krippendorff_alpha_nominal(
            [[label.action != "allow" for label in t.labels] for t in tasks]
        ),
        pairs=[
            PairAgreement(
                reviewer_a=a,
                reviewer_b=b,
                items=len(values),
                kappa=cohen_kappa([x for x, _ in values], [y for _, y in values]),
            )
            for (a, b), values in sorted(pairs.items())
        ],
    )


def _gold_scores(tasks: list[LabelledTask]) -> list[ReviewerAccuracy]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for task in tasks:
        answer = task.gold_answer or {}
        for label in task.labels:
            counts = tally[label.reviewer]
            counts[0] += 1
            counts[1] += int(label.action == answer.get("action"))
            counts[2] += int(set(label.categories) == set(answer.get("categories", [])))
    return [
        ReviewerAccuracy(
            reviewer=reviewer,
            items=n,
            correct=correct,
            accuracy=correct / n,
            category_accuracy=cats / n,
        )
        for reviewer, (n, correct, cats) in sorted(tally.items())
    ]


def _automation_precision(tasks: list[LabelledTask]) -> list[PrecisionEstimate]:
    """Per automated action (and per flagged category of enforcement actions), how often the QA
    reviewers' majority agreed. Items without a majority are left out (no verdict to compare)."""
    per_action: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_category: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for task in tasks:
        original = str(task.snapshot.get("original_action", "allow"))
        verdict = majority([label.action for label in task.labels])
        if verdict is None:
            continue
        per_action[original][0] += 1
        per_action[original][1] += int(verdict == original)
        if original == "allow":
            continue
        confirmed = set(_majority_categories(task.labels))
        for cat in task.snapshot.get("flagged", []):
            per_category[(original, cat)][0] += 1
            per_category[(original, cat)][1] += int(verdict != "allow" and cat in confirmed)

    def estimate(action: str, category: str | None, n: int, agreed: int) -> PrecisionEstimate:
        low, high = wilson_interval(agreed, n) or (0.0, 1.0)  # n >= 1: never None
        return PrecisionEstimate(
            action=action, category=category, items=n, agreed=agreed, precision=agreed / n, low=low, high=high
        )

    out = [estimate(a, None, n, k) for a, (n, k) in sorted(per_action.items())]
    out += [estimate(a, c, n, k) for (a, c), (n, k) in sorted(per_category.items())]
    return out
