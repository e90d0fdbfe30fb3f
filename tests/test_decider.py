"""Policy rules -> thresholds -> actions, per calibration route; pipeline early exit."""

import numpy as np

from warden.content import Content
from warden.decider import Decider
from warden.fusion import CategoryFusion, FusionModel, PrecisionCurve, route_of
from warden.pipeline import Pipeline, Stage
from warden.policy import load_policy_text
from warden.signals import Signal

POLICY = """
name: t
version: "1"
categories:
  - id: hate
    title: Hate
    definition: Attacks on people for who they are.
    severity: high
    in_scope: ["a", "b", "c"]
    actions:
      - {action: remove, target_precision: 0.9}
      - {action: label, target_precision: 0.6}
      - {action: review, min_probability: 0.2}
  - id: self_harm
    title: Self-harm
    definition: Encouraging people to hurt themselves.
    severity: high
    in_scope: ["a", "b", "c"]
    actions:
      - {action: review, min_probability: 0.3}
"""


def _fusion() -> FusionModel:
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    return FusionModel(
        version="f-test",
        curves={
            "hate": PrecisionCurve(thresholds, [0.3, 0.55, 0.65, 0.92, 0.95], [1.0, 0.8, 0.6, 0.4, 0.1]),
            "hate@multi": PrecisionCurve(thresholds, [0.5, 0.62, 0.7, 0.8, 0.91], [1.0, 0.8, 0.6, 0.4, 0.1]),
        },
    )


def test_target_precision_resolves_per_route_and_falls_back():
    decider = Decider(load_policy_text(POLICY), _fusion())
    en = {r.action: r.threshold for r in decider.route_rules["en"]["hate"]}
    multi = {r.action: r.threshold for r in decider.route_rules["multi"]["hate"]}
    assert en == {"remove": 0.7, "label": 0.5, "review": 0.2}
    assert multi == {"remove": 0.9, "label": 0.3, "review": 0.2}
    assert decider.flag_threshold("hate") == 0.5
    # Only-review category: review is what flags it.
    assert decider.flag_threshold("self_harm") == 0.3


def test_precision_must_hold_above_the_threshold():
    curve = PrecisionCurve([0.1, 0.2, 0.3, 0.4], [0.9, 0.5, 0.95, 0.96], [1, 0.9, 0.5, 0.2])
    assert curve.threshold_for_precision(0.9) == 0.3
    assert curve.threshold_for_precision(0.99) is None


def test_no_calibration_data_uses_the_target_as_probability():
    decider = Decider(load_policy_text(POLICY), FusionModel(version="empty"))
    assert [r.threshold for r in decider.rules["hate"]] == [0.9, 0.6, 0.2]
    assert "no calibration data" in decider.rules["hate"][0].source


def test_actions_and_precedence():
    decider = Decider(load_policy_text(POLICY), _fusion())
    assert decider.decide_category("hate", 0.95).action == "remove"
    label = decider.decide_category("hate", 0.55)
    assert label.action == "label" and label.flagged
    review = decider.decide_category("hate", 0.25)
    assert review.action == "review" and not review.flagged
    assert decider.decide_category("hate", 0.55, route="multi").action == "label"
    scores = {"hate": label, "self_harm": decider.decide_category("self_harm", 0.4)}
    assert decider.overall_action(scores) == "review"  # review outranks label by default precedence
    assert route_of("de") == "multi" and route_of("und") == "en" and route_of(None) == "en"


class _Const:
    """A real (tiny) detector: returns a fixed score for 'hate'."""

    cost = 1.0
    version = "1"

    def __init__(self, name: str, score: float) -> None:
        self.name, self.score, self.calls = name, score, 0

    @property
    def identity(self) -> str:
        return f"{self.name}@1"

    def load(self) -> None:
        pass

    def detect(self, items, languages=None):
        self.calls += len(items)
        return [Signal(self.name, "1", scores={"hate": self.score}) for _ in items]


def test_pipeline_early_exit_skips_later_stages():
    fast, slow = _Const("fast", 0.999), _Const("slow", 0.5)
    fusion = FusionModel(
        version="f",
        prefixes={
            "fast": {"hate": CategoryFusion(["fast"], [1.0, 0.0], 0.0)},
            "fast+slow": {"hate": CategoryFusion(["fast", "slow"], [1.0, 0.0, 1.0, 0.0], 0.0)},
        },
    )
    pipe = Pipeline([Stage("s1", [fast], exit_at=0.99), Stage("s2", [slow])], fusion, ["hate"])  # type: ignore[list-item]
    [res] = pipe.run([Content(id="1", text="x")], ["en"])
    assert slow.calls == 0 and res.stages[0].exited and len(res.stages) == 1
    assert res.probabilities is not None and np.isclose(res.probabilities[0], 0.999, atol=1e-3)
    fast.score = 0.6
    [res] = pipe.run([Content(id="2", text="y")], ["en"])
    assert slow.calls == 1 and len(res.stages) == 2 and not res.stages[0].exited


def test_review_budget_rules_use_the_calibration_traffic():
    text = POLICY.replace(
        "      - {action: review, min_probability: 0.3}", "      - {action: review, max_share: 0.01}"
    )
    fusion = _fusion()
    fusion.shares = {"self_harm": {"0.001": 0.4, "0.01": 0.2, "0.1": 0.05}}
    decider = Decider(load_policy_text(text), fusion)
    [rule] = decider.rules["self_harm"]
    assert rule.source == "max_share" and abs(rule.threshold - 0.2) < 1e-9
    # Between table points the threshold is interpolated in log-share.
    assert 0.2 < fusion.threshold_for_share("self_harm", 0.005) < 0.4  # type: ignore[operator]
    # No traffic table (older model files): the budget flags nothing rather than everything.
    [fallback] = Decider(load_policy_text(text), FusionModel(version="empty")).rules["self_harm"]
    assert fallback.threshold == 1.0 and "no calibration traffic" in fallback.source


def test_a_rule_needs_exactly_one_threshold():
    import pytest

    from warden.policy import PolicyError

    bad = POLICY.replace(
        "{action: review, min_probability: 0.3}", "{action: review, max_share: 0.01, min_probability: 0.3}"
    )
    with pytest.raises(PolicyError, match="exactly one of target_precision, min_probability or max_share"):
        load_policy_text(bad)
