"""Graph ingest, validation, incremental updates, persistence and the account-risk Signal (no data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from warden.errors import NotFoundError, ValidationError
from warden.graph import AccountRiskScorer, GraphService, InteractionGraph
from warden.graph.coordination import CoordinationDetector
from warden.graph.propagation import Rev2Detector
from warden.graph.service import read_labels

T0 = 1_700_000_000.0


def _lockstep_rows(n_accounts: int = 6, n_targets: int = 12, prefix: str = "bot") -> list[dict]:
    return [
        {
            "event_id": f"{prefix}{a}-{t}",
            "actor": f"{prefix}{a}",
            "target": f"post{t}",
            "target_kind": "content",
            "kind": "like",
            "timestamp": T0 + a * 60 + t,
        }
        for a in range(n_accounts)
        for t in range(n_targets)
    ]


def _background(n: int = 300, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "actor": f"user{rng.integers(0, 60)}",
            "target": f"user{rng.integers(0, 60)}",
            "kind": "rate",
            "weight": int(rng.integers(-10, 11)),
            "timestamp": T0 - float(rng.integers(0, 10**7)),
        }
        for _ in range(n)
    ]


def test_bad_rows_are_reported_and_the_rest_kept():
    graph = InteractionGraph()
    rows = [
        {"event_id": "1", "actor": "a", "target": "b", "kind": "rate", "weight": 5, "timestamp": T0},
        {"event_id": "2", "actor": "a", "target": "b", "kind": "poke", "timestamp": T0},
        {"event_id": "3", "actor": "a", "target": "b", "kind": "rate", "weight": "ten", "timestamp": T0},
        {"event_id": "4", "actor": "", "target": "b", "kind": "like", "timestamp": T0},
        {"event_id": "5", "actor": "a", "kind": "like", "timestamp": T0},
        {"event_id": "6", "actor": "a", "target": "b", "kind": "rate", "timestamp": T0},
        {"event_id": "7", "actor": "a", "target": "b", "kind": "like"},
        {"event_id": "8", "actor": "a", "target": "b", "kind": "like", "timestamp": "yesterday"},
        {"event_id": "1", "actor": "c", "target": "d", "kind": "like", "timestamp": T0},
        {"event_id": "9", "actor": "a", "target": "b", "kind": "like", "timestamp": T0, "colour": "red"},
        {
            "event_id": "10",
            "actor": "c",
            "target": "d",
            "kind": "follow",
            "timestamp": "2024-01-01T00:00:00Z",
        },
        {
            "actor": "c",
            "target": "x",
            "kind": "report",
            "weight": 2,
            "timestamp": T0,
            "target_kind": "content",
        },
    ]
    result = graph.add_rows(rows)
    messages = {e.index: e.message for e in result.errors}
    assert result.accepted == 3 and graph.n_edges == 3
    assert "unknown interaction type 'poke'" in messages[1]
    assert "weight must be a number" in messages[2]
    assert messages[3] == "actor is missing"
    assert messages[4] == "target is missing"
    assert "needs a numeric weight" in messages[5]
    assert messages[6] == "timestamp is missing"
    assert "neither Unix seconds nor ISO-8601" in messages[7]
    assert messages[8] == "duplicate event_id '1'"
    assert "unknown field(s) ['colour']" in messages[9]
    assert {e.event_id for e in result.errors} >= {"1", "2", "3"}
    # A report is a negative opinion whatever the sign given; content is its own node kind.
    assert graph.edges().weight.tolist() == [5.0, 1.0, -2.0]
    assert graph.summary() == {"accounts": 4, "content": 1, "edges": 3}
    # Ids seen in an earlier batch are rejected too.
    again = graph.add_rows([rows[0]])
    assert again.accepted == 0 and again.errors[0].message == "duplicate event_id '1'"


def test_file_formats(tmp_path: Path):
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(
        json.dumps({"actor": "a", "target": "b", "kind": "like", "timestamp": T0})
        + "\nnot json\n[1, 2]\n"
        + json.dumps({"actor": "a", "target": "c", "kind": "rate", "weight": "x", "timestamp": T0})
        + "\n"
    )
    snap = tmp_path / "soc-sign-test.csv"
    snap.write_text("source,target,weight,timestamp\n1,2,10,1407470400\n2,3,-5,1407470500\n3,1\n")
    csv_file = tmp_path / "events.csv"
    csv_file.write_text("event_id,actor,target,kind,weight,timestamp\ne1,a,b,rate,3,1\ne2,a,b,rate,,2\n")
    service = GraphService()
    r1 = service.ingest_file(jsonl)
    assert r1.accepted == 1
    assert [(e.index, e.message.split(":")[0]) for e in r1.errors] == [
        (2, "invalid JSON"),
        (3, "each line must be a JSON object"),
        (4, "weight must be a number, got 'x'"),
    ]
    r2 = service.ingest_file(snap)
    assert r2.accepted == 2 and r2.errors[0].index == 4
    assert service.ingest_file(snap).accepted == 0  # same file twice: every event id is a duplicate
    r3 = service.ingest_file(csv_file)
    assert r3.accepted == 1 and "needs a numeric weight" in r3.errors[0].message
    with pytest.raises(ValidationError, match="file not found"):
        service.ingest_file(tmp_path / "missing.jsonl")


def test_incremental_append_changes_scores_without_rebuilding():
    graph = InteractionGraph()
    graph.add_rows(_background())
    detector = CoordinationDetector(min_shared=10, min_group=3)
    before = detector.score(graph)
    edges_before = graph.edges()
    version = graph.version
    graph.add_rows(_lockstep_rows())
    assert graph.version == version + 1
    # The first chunk's arrays are reused as they are: appends never copy existing edges.
    assert graph._chunks[0] is edges_before
    after = detector.score(graph)
    bots = [graph.account_index(f"bot{a}") for a in range(6)]
    assert max(before.scores) < 0.5
    assert all(after.scores[b] >= 0.7 for b in bots)  # in a group: 0.5 + strength
    group = after.explain(bots[0])["group"]
    assert group["size"] == 6 and len(group["shared_targets"]) == 12
    assert group["shared_targets"][0]["actors"] == 6
    # Negative ratings from trusted raters lower goodness: REV2 risk rises for the target.
    rev2 = Rev2Detector()
    risk_before = rev2.score(graph).scores[graph.account_index("user1")]
    graph.add_rows(
        [
            {"actor": f"user{u}", "target": "user1", "kind": "rate", "weight": -10, "timestamp": T0 + u}
            for u in range(2, 40)
        ]
    )
    assert rev2.score(graph).scores[graph.account_index("user1")] > risk_before + 0.2


def test_save_and_load_round_trip(tmp_path: Path):
    graph = InteractionGraph()
    graph.add_rows(_background(50) + _lockstep_rows())
    graph.save(tmp_path / "g.npz")
    loaded = InteractionGraph.load(tmp_path / "g.npz")
    assert loaded.summary() == graph.summary()
    assert np.array_equal(loaded.edges().time, graph.edges().time)
    assert loaded.account_index("bot3") == graph.account_index("bot3")
    assert loaded.add_rows(_lockstep_rows()[:1]).errors[0].message.startswith("duplicate event_id")


def test_account_risk_signal():
    service = GraphService()
    service.ingest(_background() + _lockstep_rows())
    scorer = AccountRiskScorer(service)
    signals = scorer.score(["bot0", "user1", "nobody", None])
    assert [s.applicable for s in signals] == [True, True, False, False]
    assert signals[0].scores["account_risk"] >= 0.7
    assert signals[0].scores["coordinated"] == 1.0 and signals[1].scores["coordinated"] == 0.0
    assert signals[1].scores["account_risk"] < signals[0].scores["account_risk"]
    evidence = signals[0].evidence[0]
    assert evidence.category == "account_risk" and evidence.kind == "account"
    assert evidence.detail["detectors"]["coordination"]["evidence"]["group"]["size"] == 6
    assert signals[2].detail["reason"] == "author not in the interaction graph"
    with pytest.raises(NotFoundError):
        service.account("nobody")
    # Explanations are computed only where they are read: group members and risky authors.
    sparing = AccountRiskScorer(service, evidence_at=1.01).score(["bot0", "user1"])
    assert sparing[0].evidence and not sparing[1].evidence


def test_labels_switch_to_the_stacked_model(tmp_path: Path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "account_id,label\n" + "".join(f"user{i},{'bad' if i % 2 else 'good'}\n" for i in range(20))
    )
    known = read_labels(labels)
    assert known["user1"] == 1 and known["user2"] == 0
    service = GraphService()
    service.ingest(_background(600))
    assert service.scores().detector == "max"
    service.set_labels(known)
    scores = service.scores()
    assert scores.detector == "combined" and scores.scores.shape == (service.graph.n_nodes,)
    bad = tmp_path / "bad.csv"
    bad.write_text("user1,maybe\n")
    with pytest.raises(ValidationError, match="bad.csv:1"):
        read_labels(bad)
