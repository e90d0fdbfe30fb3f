"""Account risk in item decisions: a borderline post from an account in a coordinated group goes to
review, with the group as evidence; the same post from an ordinary or unknown account is allowed."""

from __future__ import annotations

from warden.content import Content
from warden.graph.service import GraphService
from warden.graph.signal import AccountRiskScorer
from warden.moderator import Moderator

T0 = 1_700_000_000
BORDERLINE = "nobody likes you, loser"


def _graph() -> GraphService:
    lockstep = [
        {
            "event_id": f"b{a}-{t}",
            "actor": f"bot{a}",
            "target": f"acct{t}",
            "kind": "rate",
            "weight": 10,
            "timestamp": T0 + 30 * a + t,
        }
        for a in range(6)
        for t in range(12)
    ]
    organic = [
        {
            "event_id": f"n{a}-{t}",
            "actor": f"user{a}",
            "target": f"acct{(a * 7 + t * 3) % 40}",
            "kind": "rate",
            "weight": 5,
            "timestamp": T0 + 86_400 * t + 5_000 * a,
        }
        for a in range(30)
        for t in range(4)
    ]
    service = GraphService()
    assert not service.ingest(lockstep + organic).errors
    return service


def test_borderline_post_from_a_coordinated_account_goes_to_review() -> None:
    scorer = AccountRiskScorer(_graph())
    bot, user, unknown = scorer.score(["bot0", "user3", "stranger"])
    assert bot.scores["coordinated"] == 1.0 and user.scores["coordinated"] == 0.0 and not unknown.applicable
    moderator = Moderator.from_settings(account_risk=scorer).load()
    by_bot, by_user, by_stranger = moderator.moderate(
        [
            Content(id=f"p{i}", text=BORDERLINE, author_id=a)
            for i, a in enumerate(["bot0", "user3", "stranger"])
        ]
    )
    assert by_bot.action == "review"
    reason = by_bot.reasons[-1]
    assert reason.action == "review" and "coordinated group" in reason.clause
    group = reason.evidence[0]["detail"]["detectors"]["coordination"]["evidence"]["group"]
    assert "bot0" in group["members"] and len(group["shared_targets"]) >= 10
    assert [s.name for s in by_bot.stages][-1] == "graph"
    assert by_user.action == "allow" and [s.name for s in by_user.stages][-1] == "graph"
    assert by_stranger.action == "allow" and "graph" not in [s.name for s in by_stranger.stages]
