"""Model registry and regression gate: real models through the real pipeline on a small golden set.

Candidates are the shipped models copied (not worse: promoted), the shipped models with the spam
fusion broken (a real regression: kept in shadow), and one small real retrain with review labels.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from support import REPO, require_data
from typer.testing import CliRunner

from warden.cli import app
from warden.errors import NotFoundError, ValidationError
from warden.learn.datasets import DATASETS, load_datasets
from warden.learn.registry import (
    BASELINE,
    GateConfig,
    ModelRegistry,
    Scorecard,
    gate,
    train_and_gate,
    write_golden,
)
from warden.policy.model import load_policy
from warden.settings import DEFAULT_MODELS_DIR, DEFAULT_POLICY_PATH, Settings

# The candidates in these tests have no multilingual heads; the E5 tier is off for both sides.
SETTINGS = Settings(pipeline={"enable_multilingual": False})
# The test golden set has 40 spam items: below the default 50 positives a category is not gated.
SMALL_GOLDEN = GateConfig(min_positives=20)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 spam + 60 ham from the SMS test split (never trained on)."""
    data = require_data("sms-spam-collection").parent
    test = [i for i in load_datasets(data, ["sms-spam-collection"]) if i.split == "test"]
    spam = [i for i in test if i.labels.get("spam_scam") == 1][:40]
    ham = [i for i in test if i.labels.get("spam_scam") == 0][:60]
    path = tmp_path_factory.mktemp("golden") / "golden.jsonl"
    assert write_golden(spam + ham, path) == 100
    return path


def _copy_shipped(dest: Path) -> Path:
    for name in ("linear.npz", "encoder_minilm.npz", "fusion.json", "training.json"):
        shutil.copyfile(DEFAULT_MODELS_DIR / name, dest / name)
    return dest


def _break_spam(models: Path) -> None:
    """A real but bad model: the spam fusion says 'never spam' at every stage."""
    fusion = json.loads((models / "fusion.json").read_text())
    changed = 0
    for prefix in fusion["prefixes"].values():
        if "spam_scam" in prefix:
            prefix["spam_scam"]["coef"] = [0.0] * len(prefix["spam_scam"]["coef"])
            prefix["spam_scam"]["intercept"] = -12.0
            changed += 1
    assert changed
    (models / "fusion.json").write_text(json.dumps(fusion))


def test_without_a_registry_the_shipped_models_are_live(tmp_path: Path):
    reg = ModelRegistry(tmp_path / "none")
    assert not reg.exists and reg.live_dir() == DEFAULT_MODELS_DIR.resolve()
    assert [(v.id, v.status) for v in reg.versions()] == [(BASELINE, "live")]
    with pytest.raises(NotFoundError, match="no model registry"):
        reg.rollback()


def _card(version: str, f1: dict[str, float], support: int = 50) -> Scorecard:
    cats = {c: {"f1": v, "support_pos": support if c != "rare" else 3} for c, v in f1.items()}
    return Scorecard(version, 500, "sha", cats)


def test_gate_rule_tolerances():
    cfg = GateConfig(macro_tolerance=0.005, category_tolerance=0.02, min_positives=20)
    live = _card("a", {"hate": 0.70, "spam_scam": 0.90, "rare": 0.5})
    # Small moves inside the tolerances, and any change in a category with 3 positives, pass.
    assert gate(live, _card("b", {"hate": 0.685, "spam_scam": 0.91, "rare": 0.0}), cfg) == (True, [])
    passed, reasons = gate(live, _card("c", {"hate": 0.67, "spam_scam": 0.95, "rare": 0.5}), cfg)
    assert not passed and reasons == ["hate: F1 0.6700 < 0.7000 - 0.02"]
    # Each category within tolerance but the average down by more than 0.005.
    passed, reasons = gate(live, _card("d", {"hate": 0.69, "spam_scam": 0.89, "rare": 0.5}), cfg)
    assert not passed and reasons[0].startswith("macro F1 0.7900 < 0.8000")
    with pytest.raises(ValidationError, match="different golden sets"):
        gate(live, Scorecard("e", 500, "other", live.categories))
    with pytest.raises(ValidationError):
        GateConfig(category_tolerance=-0.1)


def test_gate_promotes_an_equal_candidate_and_shadows_a_regression(tmp_path: Path, golden: Path):
    reg = ModelRegistry(tmp_path / "reg")
    reg.init(golden=golden, config=SMALL_GOLDEN)
    assert reg.live_version() == BASELINE and reg.live_dir() == DEFAULT_MODELS_DIR.resolve()
    assert (reg.root / "golden.jsonl").read_bytes() == golden.read_bytes()
    policy = load_policy(DEFAULT_POLICY_PATH)

    bad_id, bad_dir = reg.new_version(note="broken spam fusion")
    _break_spam(_copy_shipped(bad_dir))
    report = reg.submit(bad_id, SETTINGS, policy)
    assert not report.passed and not report.promoted
    assert report.gated_categories == ["spam_scam"]
    assert report.current_scores.categories["spam_scam"]["f1"] > 0.8
    assert report.candidate_scores.categories["spam_scam"]["f1"] == 0.0
    assert any(r.startswith("spam_scam: F1 0.0000") for r in report.reasons)
    assert reg.version(bad_id).status == "shadow" and reg.live_version() == BASELINE
    assert (reg.root / "shadow").resolve() == bad_dir.resolve()
    assert json.loads((bad_dir / "gate.json").read_text())["passed"] is False

    # A candidate without the multilingual heads cannot go live where the E5 tier runs.
    e5_id, e5_dir = reg.new_version()
    _copy_shipped(e5_dir)
    report = reg.submit(e5_id, Settings(), policy)
    assert not report.passed and "multilingual_e5.npz" in report.reasons[0]

    good_id, good_dir = reg.new_version(note="same models")
    _copy_shipped(good_dir)
    report = reg.submit(good_id, SETTINGS, policy)
    assert report.passed and report.promoted and report.current == BASELINE
    assert report.candidate_macro_f1 == report.current_macro_f1
    assert reg.live_version() == good_id and reg.live_dir() == good_dir.resolve()
    assert (reg.root / "current").is_symlink()
    assert reg.version(BASELINE).status == "retired"
    with pytest.raises(ValidationError, match=f"live version {good_id} lacks multilingual_e5.npz"):
        reg.submit(e5_id, Settings(), policy)

    runner = CliRunner()
    res = runner.invoke(app, ["models", "list", "--registry", str(reg.root)])
    assert res.exit_code == 0 and "shadow" in res.output and "retired" in res.output
    res = runner.invoke(app, ["models", "rollback", "--registry", str(reg.root)])
    assert res.exit_code == 0, res.output
    assert reg.live_version() == BASELINE and reg.live_dir() == DEFAULT_MODELS_DIR.resolve()
    res = runner.invoke(app, ["models", "promote", "v0099", "--registry", str(reg.root)])
    assert res.exit_code == 2 and "unknown model version" in res.output


def test_train_with_review_labels_creates_a_gated_candidate(tmp_path: Path, golden: Path):
    """A small real retrain (SMS only) with review labels merged in, then the gate."""
    from warden.learn.review_labels import parse_review_labels
    from warden.learn.train import TrainConfig

    data = require_data("sms-spam-collection").parent
    items = load_datasets(data, ["sms-spam-collection"])
    train_spam = next(i for i in items if i.split == "train" and i.labels.get("spam_scam") == 1)
    test_text = next(i for i in items if i.split == "test").text
    rows = [
        # A reviewer overrides a data-set label; a test-split text must not be trained on.
        {"content_id": "r1", "text": train_spam.text, "categories": [], "action": "allow"},
        {"content_id": "r2", "text": "Claim ur reward now txt GO to 8888", "categories": ["spam_scam"]},
        {"content_id": "r3", "text": test_text, "categories": ["spam_scam"], "action": "remove"},
    ]
    stamp = {"reviewer": "rev", "at": "2026-01-02T03:04:05Z"}
    labels = parse_review_labels([stamp | {"action": "remove"} | r for r in rows])
    reg = ModelRegistry(tmp_path / "reg")
    config = TrainConfig(
        data_dir=data,
        out_dir=tmp_path / "ignored",
        cache_dir=REPO / ".cache" / "embeddings",
        datasets=["sms-spam-collection"],
        skip_e5=True,
        max_items_per_dataset=800,
    )
    policy = load_policy(DEFAULT_POLICY_PATH)
    report = train_and_gate(policy, config, reg, SETTINGS, labels, golden, gate_config=SMALL_GOLDEN)
    vid = report.candidate
    training = json.loads((reg.path_of(vid) / "training.json").read_text())
    assert training["review_labels"] == {
        "review_items": 2,
        "review_dropped_test_overlap": 1,
        "dataset_items_overridden": 1,
        "dataset_items_dropped_protected": 0,
    }
    assert training["datasets"].get("review") == 2 and training["model_version"].endswith(vid)
    assert report.current == BASELINE and report.gated_categories == ["spam_scam"]
    # The retrained candidate is a working spam model, whether or not it clears the gate.
    assert report.candidate_scores.categories["spam_scam"]["f1"] > 0.9
    # The outcome follows the gate rule either way, and the registry agrees with the report.
    assert report.passed == gate(report.current_scores, report.candidate_scores, report.config)[0]
    assert reg.version(vid).status == ("live" if report.passed else "shadow")
    record = reg.version(vid).training
    assert record["n_train"] == training["n_train"]
    # The version says what made it: configuration, data manifest with file hashes, metrics.
    assert record["config"]["datasets"] == ["sms-spam-collection"] and record["config"]["skip_e5"]
    sms = record["data_manifest"]["sms-spam-collection"]
    some_file, digest = next(iter(sms["files"].items()))
    folder = data / DATASETS["sms-spam-collection"].path
    assert hashlib.sha256((folder / some_file).read_bytes()).hexdigest() == digest
    assert sms["commercial_ok"] == DATASETS["sms-spam-collection"].commercial_ok
    assert record["data_manifest"]["review"]["sha256"] is None  # merged labels: no folder
    assert record["metrics"]["spam_scam"]["oof_average_precision"] > 0.9
    shown = CliRunner().invoke(app, ["models", "show", vid, "--registry", str(reg.root)])
    assert shown.exit_code == 0, shown.output
    assert "sms-spam-collection" in shown.output and sms["sha256"][:16] in shown.output
    as_json = CliRunner().invoke(app, ["models", "show", vid, "--registry", str(reg.root), "--json"])
    assert json.loads(as_json.output)["training"]["data_manifest"]["sms-spam-collection"] == sms
