"""Graph models on the real trust graphs: cross-validated AUC on Bitcoin OTC per detector and the
planted lockstep campaign in Bitcoin Alpha.

Skips when the data root is missing (set WARDEN_DATA_DIR) unless WARDEN_REQUIRE_DATA=1, in which
case it fails. The whole evaluation runs once per module (about 25 s on 2 cores).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import DATA_DIR, require_data

from warden.errors import MissingDataError
from warden.graph.coordination import CoordinationDetector
from warden.graph.data import load_alpha, load_otc
from warden.graph.evaluate import run_evaluation

NEEDED = [
    "bitcoin-otc-trust-graph/soc-sign-bitcoinotc.csv.gz",
    "bitcoin-alpha-trust-graph/soc-sign-bitcoinalpha.csv",
]


def _require_data() -> Path:
    for path in NEEDED:
        require_data(path)
    return DATA_DIR


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result = run_evaluation(_require_data(), folds=5, seed=0)
    summary = result["otc"]["summary"]
    print("\nBitcoin OTC, 5-fold CV (seed 0):")
    for name, m in summary.items():
        print(
            f"  {name:13s} AUC {m['auc_mean']:.4f} ± {m['auc_std']:.4f}",
            f"AP {m['ap_mean']:.4f} ± {m['ap_std']:.4f}",
        )
    for name, r in result["injection"].items():
        print(
            f"  injection {name}: precision {r['precision']:.3f} recall {r['recall']:.3f} "
            f"({r['innocent_flagged']} real accounts flagged)"
        )
    return result


def test_otc_is_the_expected_graph():
    graph, labels = load_otc(_require_data())
    assert graph.summary() == {"accounts": 5881, "content": 0, "edges": 35592}
    assert len(labels) == 316 and int(labels.y.sum()) == 180  # 180 fraudulent, 136 benign


def test_otc_cross_validated_auc_per_detector(report):
    s = report["otc"]["summary"]
    # Measured (seed 0): combined 0.998, rev2 0.998, gnn 0.998, pagerank 0.95; margins for noise.
    assert s["combined"]["auc_mean"] >= 0.99
    assert s["combined"]["ap_mean"] >= 0.99
    assert s["rev2"]["auc_mean"] >= 0.99
    assert s["gnn"]["auc_mean"] >= 0.98
    assert s["pagerank"]["auc_mean"] >= 0.90
    # Lockstep is not what OTC's labels are about: near chance, and said so in docs/graph.md.
    assert 0.3 <= s["coordination"]["auc_mean"] <= 0.7
    for fold in report["otc"]["per_fold"]:
        assert fold["combined"]["auc"] >= 0.97


def test_unsupervised_rev2_reference(report):
    assert report["otc"]["rev2_unsupervised"]["auc"] >= 0.99


def test_planted_lockstep_campaign_in_alpha(report):
    full, partial = report["injection"]["full"], report["injection"]["partial"]
    assert full["planted"] == 50
    assert full["recall"] == 1.0 and full["precision"] >= 0.9
    assert partial["recall"] >= 0.9 and partial["precision"] >= 0.9
    # The only real accounts flagged: one 3-account ring (see test below), never a crowd.
    assert full["innocent_flagged"] <= 5


def test_alpha_real_group_is_a_ring():
    """Without any planting, Alpha has one lockstep group: three consecutive new accounts that
    praise each other and slam established members on the same day (an evident sybil ring)."""
    graph = load_alpha(_require_data())
    groups, _ = CoordinationDetector().groups(graph)
    assert [sorted(graph.node_ids[m] for m in g.members) for g in groups] == [["7598", "7601", "7602"]]


def test_otc_lockstep_groups_are_labelled_fraud():
    """Every labelled member of OTC's lockstep groups is a known fraudster."""
    graph, labels = load_otc(_require_data())
    groups, _ = CoordinationDetector().groups(graph)
    members = {m for g in groups for m in g.members}
    known = dict(zip(labels.nodes.tolist(), labels.y.tolist(), strict=True))
    labelled = [known[m] for m in members if m in known]
    assert len(groups) >= 3 and len(labelled) >= 5
    assert all(y == 1 for y in labelled)


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(MissingDataError, match="WARDEN_DATA_DIR"):
        load_otc(tmp_path / "nowhere")
    with pytest.raises(MissingDataError, match="soc-sign-bitcoinalpha.csv is missing"):
        load_alpha(tmp_path)


def test_evidence_names_the_drivers():
    from warden.graph import GraphService

    graph, labels = load_otc(_require_data())
    service = GraphService(graph)
    known = dict(zip(labels.nodes.tolist(), labels.y.tolist(), strict=True))
    service.set_labels({graph.node_ids[n]: y for n, y in list(known.items())[:200]})
    held_out_bad = next(graph.node_ids[n] for n, y in list(known.items())[200:] if y == 1)
    result = service.account(held_out_bad)
    assert result["risk"] > 0.5
    detectors = result["evidence"]["detectors"]
    assert set(detectors) == {"rev2", "pagerank", "coordination", "gnn"}
    assert detectors["rev2"]["evidence"]["top_ratings"]
    assert np.isfinite(detectors["gnn"]["score"])
