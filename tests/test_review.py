"""Human review against real SQLite and PostgreSQL: routing, priority and ageing, leases (expiry and
an atomic race between threads), multi-review, gold scoring, agreement against hand-computed values,
and appeals that reverse or uphold with decision history and audit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from warden.content import Content, Media
from warden.decision import CategoryScore, Decision, Reason, Versions
from warden.errors import ConflictError, NotFoundError, ValidationError
from warden.media.storage import MediaStore
from warden.policy.model import load_policy
from warden.review.priority import current_priority
from warden.review.routing import route
from warden.review.service import ReviewService, reviewer_view
from warden.settings import DEFAULT_POLICY_PATH, ReviewSettings, Settings
from warden.store import Store
from warden.store.tables import DecisionHistoryRow, ReviewAssignmentRow

POLICY = load_policy(DEFAULT_POLICY_PATH)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_service(store: Store, tmp_path: Path, clock: Clock, **review: Any) -> ReviewService:
    config = ReviewSettings(**{"qa_sample_rate": 0.0, "gold_rate": 0.0, **review})
    return ReviewService(store, POLICY, Settings(review=config), MediaStore(tmp_path / "media"), clock=clock)


def item(cid: str, text: str = "", **fields: Any) -> Content:
    return Content(id=cid, text=text or f"text of {cid}", **fields)


def decision_for(
    content: Content, action: str, scores: dict[str, float], flagged: dict[str, str] | None = None
) -> Decision:
    """A decision as the moderator makes them: scores per category, flagged ones with reasons."""
    categories = {c: CategoryScore(probability=p) for c, p in scores.items()}
    reasons = []
    for cat, act in (flagged or {}).items():
        categories[cat] = CategoryScore(probability=scores[cat], action=act, threshold=0.5, flagged=True)
        span = {"kind": "text_span", "start": 0, "end": 4, "text": content.text[:4]}
        reasons.append(
            Reason(
                category=cat, action=act, probability=scores[cat], threshold=0.5, clause="c", evidence=[span]
            )
        )
    return Decision(
        content_id=content.id,
        content_hash=content.content_hash(),
        action=action,
        flagged=bool(flagged),
        language=content.language or "en",
        categories=categories,
        reasons=reasons,
        versions=Versions(policy=POLICY.full_version, pipeline="pipe-test", models={"m": "1"}),
    )


def moderate(service: ReviewService, content: Content, decision: Decision) -> list[Any]:
    """Store the decision the way the API does, then hand it to review."""
    [stored] = service.store.save_decisions([decision], actor="apikey:platform")
    return service.enqueue_decisions([content], [stored], actor="apikey:platform")


# -- routing --------------------------------------------------------------------------------------


def test_routing_snapshot_and_idempotency(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock, qa_sample_rate=1.0)
    uncertain = item("u1", "maybe rude", media=[Media(data=PNG)], metadata={"views": 99})
    severe = item("s1", "an attack")
    qa = item("q1", "hello there")
    low = item("l1", "damn")
    [t_review] = moderate(
        svc, uncertain, decision_for(uncertain, "review", {"harassment": 0.45, "hate": 0.1})
    )
    [t_severe] = moderate(svc, severe, decision_for(severe, "remove", {"hate": 0.97}, {"hate": "remove"}))
    [t_qa] = moderate(svc, qa, decision_for(qa, "allow", {"hate": 0.01, "spam_scam": 0.02}))
    # A label on a low-severity category is neither review, severe nor in qa_actions.
    assert moderate(svc, low, decision_for(low, "label", {"profanity": 0.9}, {"profanity": "label"})) == []

    assert (t_review.queue, t_review.reviews_required, t_review.category) == ("review", 1, "harassment")
    assert (t_severe.queue, t_severe.category, t_severe.severity) == ("severe", "hate", "high")
    assert (t_qa.queue, t_qa.reviews_required, t_qa.route) == ("qa", 2, "qa_sample")
    # The reviewer sees what was judged: text, media from the media store, scores and evidence spans.
    assert t_review.text == "maybe rude" and t_review.scores["harassment"] == 0.45
    [ref] = t_review.media
    assert ref.stored and ref.kind == "image" and ref.content_type == "image/png"
    assert svc.media_store is not None and svc.media_store.get(ref.sha256 or "") == (PNG, "image/png")
    assert t_severe.reasons[0]["evidence"][0] == {"kind": "text_span", "start": 0, "end": 4, "text": "an a"}
    assert t_review.reach == pytest.approx(3.0)  # 1 + log10(1 + 99)
    assert t_severe.due_at - t_severe.created_at == timedelta(hours=4)  # high severity SLA

    # A retried moderation request hands the same decisions over again: nothing is queued twice.
    again = svc.enqueue_decisions([uncertain], [store.get_decision_by_content_id("u1")], actor="x")
    assert [t.id for t in again] == [t_review.id]
    assert sum(q.pending for q in svc.queues()) == 3


def test_a_decision_a_person_revised_is_not_queued_again(store: Store, tmp_path: Path, clock: Clock) -> None:
    """A client's retry hands the stored decision over again; once a reviewer revised it (here to a
    removal for a high-severity category, which alone would route to `severe`) nothing is queued."""
    svc = make_service(store, tmp_path, clock, qa_sample_rate=1.0)
    content = item("r1", "maybe rude")
    [task] = moderate(svc, content, decision_for(content, "review", {"harassment": 0.45, "hate": 0.3}))
    assert svc.lease_next("alice") is not None
    assert svc.decide(task.id, "alice", "remove", ["hate"]).decision_updated
    revised = store.get_decision_by_content_id("r1")
    assert (revised.action, revised.stages[-1].name) == ("remove", "human_review")
    assert svc.enqueue_decisions([content], [revised], actor="x") == []
    assert [t.id for t in svc.list_tasks(status="all")] == [task.id]


def test_qa_sample_is_seeded_and_near_its_rate() -> None:
    config = ReviewSettings(qa_sample_rate=0.25, sample_seed=7)
    decisions = [
        decision_for(item(f"d{i}"), "allow", {"hate": 0.01}).model_copy(update={"decision_id": f"id-{i}"})
        for i in range(800)
    ]
    picked = [d.decision_id for d in decisions if route(d, POLICY, config) is not None]
    assert 0.20 < len(picked) / 800 < 0.30
    assert picked == [d.decision_id for d in decisions if route(d, POLICY, config) is not None]
    other_seed = ReviewSettings(qa_sample_rate=0.25, sample_seed=8)
    assert picked != [d.decision_id for d in decisions if route(d, POLICY, other_seed) is not None]


# -- priority and ageing --------------------------------------------------------------------------


def test_priority_order_and_filters(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock)
    a = item("a", "x")  # medium x 1 x 0.5 = 1.0
    b = item("b", "y", language="de")  # high x 1 x 0.45 = 1.35
    c = item("c", "z", metadata={"reach": 999})  # medium x 4 x 0.5 = 4.0
    moderate(svc, a, decision_for(a, "review", {"harassment": 0.5}))
    moderate(svc, b, decision_for(b, "review", {"hate": 0.45, "harassment": 0.2}))
    moderate(svc, c, decision_for(c, "review", {"harassment": 0.5}))
    tasks = svc.list_tasks(queue="review")
    assert [t.content_id for t in tasks] == ["c", "b", "a"]
    assert [t.base_priority for t in tasks] == pytest.approx([4.0, 1.35, 1.0])
    assert [t.content_id for t in svc.list_tasks(category="hate")] == ["b"]
    assert [t.content_id for t in svc.list_tasks(language="de")] == ["b"]
    assert [t.content_id for t in svc.list_tasks(category="harassment", language="en")] == ["c", "a"]
    [review] = [q for q in svc.queues() if q.name == "review"]
    assert review.by_category == {"harassment": 2, "hate": 1} and review.by_language == {"en": 2, "de": 1}
    leased = svc.lease_next("alice", queue="review", category="hate")
    assert leased is not None and leased.content_id == "b"
    with pytest.raises(ValidationError):
        svc.list_tasks(status="weird")


def test_ageing_lets_an_overdue_task_overtake(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock)
    old, new = item("old"), item("new")
    moderate(svc, old, decision_for(old, "review", {"harassment": 0.4}))  # base 0.8, SLA 24 h
    clock.advance(hours=23)
    moderate(svc, new, decision_for(new, "review", {"harassment": 0.9}))  # base 1.8
    # 23 h in, the old task has aged to 0.8 x (1 + 23/24) = 1.57 < 1.8.
    assert [t.content_id for t in svc.list_tasks()] == ["new", "old"]
    clock.advance(hours=7)
    # 30 h: overdue by a quarter SLA, 0.8 x (1 + 1 + 4 x 0.25) = 2.4 > 1.8 x (1 + 7/24) = 2.325.
    tasks = svc.list_tasks()
    assert [t.content_id for t in tasks] == ["old", "new"]
    assert tasks[0].priority == pytest.approx(2.4) and tasks[1].priority == pytest.approx(1.8 * (1 + 7 / 24))
    assert tasks[0].overdue and not tasks[1].overdue
    now = clock().timestamp()
    for t in tasks:  # the SQL ordering and the Python number are the same formula
        assert t.priority == pytest.approx(
            current_priority(t.base_priority, now, t.created_at.timestamp(), t.due_at.timestamp(), 1.0, 4.0)
        )
    [review] = [q for q in svc.queues() if q.name == "review"]
    assert review.overdue == 1 and review.oldest_age_s == pytest.approx(30 * 3600)
    # Leasing follows the same order.
    first = svc.lease_next("alice")
    assert first is not None and first.content_id == "old"


# -- leases ---------------------------------------------------------------------------------------


def test_lease_expiry_release_and_ownership(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock, lease_seconds=300)
    one, two = item("one"), item("two")
    moderate(svc, one, decision_for(one, "review", {"harassment": 0.6}))
    moderate(svc, two, decision_for(two, "review", {"harassment": 0.5}))
    task = svc.lease_next("alice")
    assert task is not None and task.content_id == "one" and task.status == "leased"
    assert task.lease_reviewer == "alice" and task.lease_expires_at == clock() + timedelta(seconds=300)
    # Asking again renews the same lease instead of taking a second item.
    clock.advance(seconds=100)
    again = svc.lease_next("alice")
    assert (
        again is not None
        and again.id == task.id
        and again.lease_expires_at == clock() + timedelta(seconds=300)
    )
    other = svc.lease_next("bob")
    assert other is not None and other.content_id == "two"
    assert svc.lease_next("carol") is None
    with pytest.raises(ConflictError):
        svc.decide(task.id, "carol", "allow", [])
    # Alice walks away; once her lease expires carol may take the item, and alice's label is refused.
    clock.advance(seconds=301)
    taken = svc.lease_next("carol")
    assert taken is not None and taken.id == task.id and taken.lease_reviewer == "carol"
    with pytest.raises(ConflictError, match="lease"):
        svc.decide(task.id, "alice", "allow", [])
    label = svc.decide(task.id, "carol", "remove", ["harassment"], note="slur at the end")
    assert label.task_complete and label.reviewer == "carol"
    assert svc.get(task.id).status == "done"
    with pytest.raises(ConflictError, match="complete"):
        svc.decide(task.id, "carol", "remove", ["harassment"])
    # Bob's lease also ran out (nobody took it): giving the item back frees it for dave.
    svc.release(other.id, "bob")
    with pytest.raises(ConflictError):
        svc.release(other.id, "bob")
    freed = svc.lease_next("dave")
    assert freed is not None and freed.id == other.id
    with pytest.raises(NotFoundError):
        svc.decide("no-such-task", "dave", "allow", [])
    with pytest.raises(ValidationError, match="categories"):
        svc.decide(other.id, "dave", "remove", [])
    with pytest.raises(ValidationError, match="unknown"):
        svc.decide(other.id, "dave", "remove", ["not_a_category"])
    with pytest.raises(ValidationError):
        svc.decide(other.id, "dave", "review", ["harassment"])


def test_lease_race_is_atomic(store: Store, tmp_path: Path, clock: Clock, raw: Engine) -> None:
    """Threads with their own reviewers race for the same slots: each slot goes to exactly one."""
    svc = make_service(store, tmp_path, clock, qa_sample_rate=1.0, qa_reviews=2)
    for i in range(3):
        c = item(f"r{i}")
        moderate(svc, c, decision_for(c, "review", {"harassment": 0.5 + i / 10}))
    qa = item("qa")
    moderate(svc, qa, decision_for(qa, "allow", {"hate": 0.01}))

    def race(queue: str, workers: int) -> list[tuple[str, str]]:
        barrier = threading.Barrier(workers)

        def one(i: int) -> tuple[str, str] | None:
            barrier.wait()
            task = svc.lease_next(f"{queue}-reviewer-{i}", queue=queue)
            return (task.id, f"{queue}-reviewer-{i}") if task else None

        with ThreadPoolExecutor(workers) as pool:
            return [r for r in pool.map(one, range(workers)) if r is not None]

    won = race("review", 8)
    assert len(won) == 3 and len({task_id for task_id, _ in won}) == 3
    won_qa = race("qa", 6)  # a two-review item: two different reviewers hold it at once
    assert len(won_qa) == 2 and len({task_id for task_id, _ in won_qa}) == 1
    assert len({reviewer for _, reviewer in won_qa}) == 2
    [qa_task] = svc.list_tasks(queue="qa", status="leased")
    assert {lease.reviewer for lease in qa_task.leases} == {r for _, r in won_qa}
    with raw.connect() as conn:
        held = conn.scalar(
            select(func.count())
            .select_from(ReviewAssignmentRow)
            .where(ReviewAssignmentRow.reviewer.is_not(None))
        )
    assert held == 5


# -- multi-review, gold, agreement ----------------------------------------------------------------


def test_multi_review_completes_after_required_labels(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock, qa_sample_rate=1.0, qa_reviews=3)
    c = item("m")
    [task] = moderate(svc, c, decision_for(c, "remove", {"spam_scam": 0.99}, {"spam_scam": "remove"}))
    assert task.queue == "qa" and task.reviews_required == 3
    for reviewer in ("alice", "bob"):
        assert svc.lease_next(reviewer) is not None
    first = svc.decide(task.id, "alice", "remove", ["spam_scam"])
    assert not first.task_complete
    current = svc.get(task.id)
    assert (current.status, current.reviews_done) == ("pending", 1)  # one slot is still free
    assert svc.lease_next("alice") is None  # nobody reviews an item twice
    assert svc.lease_next("carol") is not None
    svc.decide(task.id, "bob", "remove", ["spam_scam"])
    last = svc.decide(task.id, "carol", "allow", [])
    assert last.task_complete and svc.get(task.id).status == "done"
    assert [label.reviewer for label in svc.labels(task.id)] == ["alice", "bob", "carol"]
    # QA tasks measure automation; they never rewrite the decision.
    assert store.get_decision_by_content_id("m").action == "remove"


def test_gold_items_score_reviewers(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock, gold_rate=1.0)
    g1 = svc.add_gold(item("gold-1", "buy cheap pills now"), "remove", ["spam_scam"], actor="admin")
    clock.advance(seconds=1)  # gold items are served oldest first
    g2 = svc.add_gold(item("gold-2", "lovely weather"), "allow", [], actor="admin")
    regular = item("r")
    moderate(svc, regular, decision_for(regular, "review", {"harassment": 0.5}))
    # Gold items stay out of queue listings and counts, and look like any other item to a reviewer.
    assert [t.content_id for t in svc.list_tasks()] == ["r"]
    assert sum(q.pending for q in svc.queues()) == 1
    served = svc.lease_next("alice")
    assert served is not None and served.id == g1.id and served.gold
    assert not reviewer_view(served).gold and reviewer_view(served).reviews_required == 1
    svc.decide(g1.id, "alice", "remove", ["spam_scam"])
    served = svc.lease_next("alice")
    assert served is not None and served.id == g2.id
    svc.decide(g2.id, "alice", "remove", ["spam_scam"])  # wrong
    served = svc.lease_next("alice")
    assert served is not None and served.content_id == "r"  # no unseen gold left for alice
    served = svc.lease_next("bob")
    assert served is not None and served.id == g1.id  # the same gold item, for another reviewer
    svc.decide(g1.id, "bob", "remove", ["spam_scam", "illicit_goods"])
    gold = {g.reviewer: g for g in svc.stats().gold}
    assert (gold["alice"].items, gold["alice"].correct, gold["alice"].accuracy) == (2, 1, 0.5)
    assert (gold["bob"].items, gold["bob"].correct, gold["bob"].category_accuracy) == (1, 1, 0.0)
    # Gold answers are not training labels.
    assert all(not row["content_id"].startswith("gold") for row in svc.export_labels())


def test_agreement_and_automation_precision(store: Store, tmp_path: Path, clock: Clock) -> None:
    """Two reviewers on four QA items: alice remove, remove, allow, allow; bob remove, allow, allow,
    allow. By hand: p_o = 3/4, p_e = 1/2 so kappa = 0.5; coincidences o_rr = 2, o_ra = o_ar = 1,
    o_aa = 4 give alpha = 1 - (2/8) / (30/56) = 16/30."""
    svc = make_service(store, tmp_path, clock, qa_sample_rate=1.0, qa_reviews=2)
    answers = {
        "k0": ("remove", "remove"),
        "k1": ("remove", "allow"),
        "k2": ("allow", "allow"),
        "k3": ("allow", "allow"),
    }
    for cid in answers:
        c = item(cid)
        moderate(svc, c, decision_for(c, "remove", {"spam_scam": 0.97}, {"spam_scam": "remove"}))
    for index, reviewer in enumerate(("alice", "bob")):
        while (task := svc.lease_next(reviewer)) is not None:
            action = answers[task.content_id][index]
            svc.decide(task.id, reviewer, action, ["spam_scam"] if action == "remove" else [])
    stats = svc.stats()
    assert stats.labels == 8 and stats.agreement.items == 4
    [pair] = stats.agreement.pairs
    assert (pair.reviewer_a, pair.reviewer_b, pair.items) == ("alice", "bob", 4)
    assert pair.kappa == pytest.approx(0.5)
    assert stats.agreement.alpha_action == pytest.approx(16 / 30)
    assert stats.agreement.alpha_violation == pytest.approx(16 / 30)
    # Automation precision: k1 has no majority; of k0, k2, k3 reviewers upheld the removal once.
    by_key = {(e.action, e.category): e for e in stats.automation}
    overall = by_key[("remove", None)]
    assert (overall.items, overall.agreed) == (3, 1)
    assert overall.low == pytest.approx(0.0615, abs=1e-3) and overall.high == pytest.approx(0.7923, abs=1e-3)
    assert (by_key[("remove", "spam_scam")].items, by_key[("remove", "spam_scam")].agreed) == (3, 1)


# -- appeals --------------------------------------------------------------------------------------


def _history(raw: Engine, decision_id: str) -> list[dict[str, Any]]:
    with raw.connect() as conn:
        rows = conn.execute(
            select(DecisionHistoryRow.payload, DecisionHistoryRow.actor)
            .where(DecisionHistoryRow.decision_id == decision_id)
            .order_by(DecisionHistoryRow.id)
        )
        return [{"action": payload["action"], "actor": actor} for payload, actor in rows]


def test_appeal_reverse_then_uphold(store: Store, tmp_path: Path, clock: Clock, raw: Engine) -> None:
    svc = make_service(store, tmp_path, clock)
    post = item("post-9", "you people are vermin")
    [severe] = moderate(svc, post, decision_for(post, "remove", {"hate": 0.93}, {"hate": "remove"}))
    decision_id = severe.decision_id
    assert svc.lease_next("rev-1") is not None
    label = svc.decide(severe.id, "rev-1", "remove", ["hate"])
    assert label.task_complete and not label.decision_updated  # the reviewer agreed: nothing to revise

    with pytest.raises(NotFoundError):
        svc.appeal("no-such-decision", "user-1", "please")
    with pytest.raises(ValidationError):
        svc.appeal(decision_id, "user-1", "   ")
    with pytest.raises(ValidationError, match="does not match"):
        svc.appeal(decision_id, "user-1", "context", content=item("post-9", "something else"))
    appeal = svc.appeal(decision_id, "user-1", "It was a quote from a film", actor="apikey:platform")
    assert (appeal.status, appeal.original_action, appeal.content_id) == ("open", "remove", "post-9")
    with pytest.raises(ConflictError, match="open appeal"):
        svc.appeal(decision_id, "user-1", "again")
    # The reviewer whose call is appealed does not judge the appeal.
    assert svc.lease_next("rev-1", queue="appeals") is None
    task = svc.lease_next("rev-2", queue="appeals")
    assert task is not None and task.appeal is not None and task.id == appeal.task_id
    assert task.text == "you people are vermin"  # from the earlier review task's snapshot
    assert (task.appeal.reason, task.appeal.appellant, task.original_action) == (
        "It was a quote from a film",
        "user-1",
        "remove",
    )
    with pytest.raises(ValidationError):
        svc.decide(task.id, "rev-2", "maybe", [])
    result = svc.decide(task.id, "rev-2", "reverse", [], note="quoted, not endorsed")
    assert result.outcome == "reverse" and result.action == "allow" and result.decision_updated

    resolved = svc.get_appeal(appeal.id)
    assert (resolved.status, resolved.outcome_action, resolved.resolved_by) == ("reversed", "allow", "rev-2")
    current = store.get_decision(decision_id)
    assert current.action == "allow" and not current.flagged and not current.categories["hate"].flagged
    assert current.categories["hate"].probability == 0.93  # the model's score is history, not opinion
    assert current.stages[-1].name == "human_review" and current.stages[-1].detectors == ["rev-2"]
    assert current.reasons[0].evidence[0]["appeal_id"] == appeal.id
    assert _history(raw, decision_id) == [
        {"action": "remove", "actor": "apikey:platform"},
        {"action": "allow", "actor": "rev-2"},
    ]

    # The other side appeals the reversal; this time the reviewer upholds (allow stays).
    second = svc.appeal(decision_id, "reporter-7", "It is hate speech", actor="apikey:platform")
    assert second.original_action == "allow"
    task2 = svc.lease_next("rev-3", queue="appeals")
    assert task2 is not None and task2.appeal is not None and task2.appeal.appeal_id == second.id
    upheld = svc.decide(task2.id, "rev-3", "uphold", [])
    assert upheld.outcome == "uphold" and not upheld.decision_updated
    assert svc.get_appeal(second.id).status == "upheld"
    assert store.get_decision(decision_id).action == "allow"
    assert len(_history(raw, decision_id)) == 2

    trail = [(row["action"], row["actor"]) for row in reversed(store.list_audit(limit=50))]
    assert ("appeal.create", "apikey:platform") in trail
    assert ("appeal.reverse", "rev-2") in trail and ("decision.revise", "rev-2") in trail
    assert ("appeal.uphold", "rev-3") in trail and ("review.label", "rev-1") in trail
    [revise] = store.list_audit(object_id=decision_id, limit=10)[:1]
    assert revise["detail"]["from"] == "remove" and revise["detail"]["to"] == "allow"
    sources = {(row["content_id"], row["source"], row["action"]) for row in svc.export_labels()}
    assert sources == {("post-9", "review", "remove"), ("post-9", "appeal", "allow")}


def test_appeal_of_an_unqueued_decision_needs_the_content(store: Store, tmp_path: Path, clock: Clock) -> None:
    svc = make_service(store, tmp_path, clock)
    c = item("quiet", "mild words")
    assert moderate(svc, c, decision_for(c, "label", {"profanity": 0.8}, {"profanity": "label"})) == []
    decision_id = store.get_decision_by_content_id("quiet").decision_id
    with pytest.raises(ValidationError, match="send the item"):
        svc.appeal(decision_id, "user-5", "not profanity")
    appeal = svc.appeal(decision_id, "user-5", "not profanity", content=c)
    task = svc.lease_next("rev", queue="appeals")
    assert task is not None and task.id == appeal.task_id and task.text == "mild words"
    assert svc.decide(task.id, "rev", "reverse", []).decision_updated
    assert store.get_decision(decision_id).action == "allow"


def test_review_outcome_becomes_a_decision_version(
    store: Store, tmp_path: Path, clock: Clock, raw: Engine
) -> None:
    svc = make_service(store, tmp_path, clock)
    c = item("unsure", "you should just disappear")
    [task] = moderate(svc, c, decision_for(c, "review", {"harassment": 0.55, "self_harm": 0.2}))
    assert svc.lease_next("rev-a") is not None
    label = svc.decide(task.id, "rev-a", "remove", ["harassment"], note="targeted")
    assert label.decision_updated
    current = store.get_decision(task.decision_id)
    assert current.action == "remove" and current.categories["harassment"].flagged
    assert not current.categories["self_harm"].flagged
    assert [h["action"] for h in _history(raw, task.decision_id)] == ["review", "remove"]
