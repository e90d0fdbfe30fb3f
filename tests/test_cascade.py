"""The cost-aware cascade: benign exits fitted on validation data, items that leave early, and the
trade-off the fit reports."""

from __future__ import annotations

from pathlib import Path

from support import require_data

from warden.cascade import CANDIDATES, CascadePlan, fit_cascade
from warden.content import Content
from warden.learn.validation import validation_sample
from warden.moderator import Moderator
from warden.settings import get_settings

BENIGN = "Lovely weather for a walk in the park this afternoon."
BORDERLINE = "stop being such a loser"


def test_fit_on_validation_data_and_round_trip(tmp_path: Path) -> None:
    items, truth = validation_sample(require_data(), 300, seed=1)
    assert len(items) == 300 and 0 < truth.sum() < 300
    moderator = Moderator.from_settings(get_settings().override(pipeline={"cascade_exits": False})).load()
    plan = fit_cascade(moderator, items, truth, max_missed=0.01)
    assert set(plan.exit_below) <= {"fast"} and all(v in CANDIDATES for v in plan.exit_below.values())
    rows = {row["exit_below"]: row for row in plan.tradeoff}
    assert rows[0.0]["escalated_share"] == 1.0 and rows[0.0]["agreement_with_full_cascade"] == 1.0
    shares = [rows[t]["escalated_share"] for t in CANDIDATES]
    assert shares == sorted(shares, reverse=True)  # higher exit threshold, fewer items go on
    plan.save(tmp_path)
    assert CascadePlan.load(tmp_path) == plan


def test_benign_exit_only_when_every_category_was_scored() -> None:
    moderator = Moderator.from_settings().load()
    fast = moderator.pipeline.stages[0]
    # The distilled fast tier scores every category of the default policy, sexual_minors included
    # (learned from the few-shot's scores): a clearly benign item may leave after it.
    assert set(fast.detectors[0].categories) == set(moderator.policy.category_ids)  # type: ignore[attr-defined]
    fast.exit_below = 0.7
    benign, borderline = moderator.moderate([Content(id="b", text=BENIGN), Content(id="x", text=BORDERLINE)])
    assert [s.name for s in benign.stages] == ["fast"] and benign.stages[0].exited
    assert benign.action == "allow"
    assert [s.name for s in borderline.stages] == ["fast", "encoder"]
    # A category written into the policy after training is scored only by the encoder stage's
    # few-shot: nothing leaves before that stage has run.
    new = moderator.policy.categories[0].model_copy(update={"id": "written_today", "title": "New"})
    policy = moderator.policy.model_copy(update={"categories": [*moderator.policy.categories, new]})
    wider = Moderator.from_settings(policy=policy).load()
    wider.pipeline.stages[0].exit_below = 0.7
    [decision] = wider.moderate([Content(id="b", text=BENIGN)])
    assert [s.name for s in decision.stages] == ["fast", "encoder"]
