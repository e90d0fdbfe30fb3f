"""The `warden` CLI end to end: moderate a file, evaluate with a report, train on a small data set."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warden.cli import app
from warden.settings import get_settings

runner = CliRunner()


def test_moderate_jsonl_and_csv(tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            json.dumps(o)
            for o in [
                {"id": "1", "text": "What a lovely morning for a run"},
                {"id": "2", "text": "shut up you stupid bitch"},
                {"id": "3", "text": "Halt die Klappe, du Idiot"},
                {"id": "4", "text": 42},
            ]
        )
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["moderate", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4
    errors = [r for r in rows if "error" in r]
    assert len(errors) == 1 and errors[0]["content_id"] == "4"
    decisions = {r["content_id"]: r for r in rows if "error" not in r}
    assert decisions["1"]["action"] == "allow"
    assert decisions["2"]["flagged"]
    assert decisions["3"]["language"] == "de"
    assert all(len(d["categories"]) == 11 for d in decisions.values())

    typo = tmp_path / "typo.jsonl"
    typo.write_text('{"id": "t1", "txet": "oops"}\n{"id": "t2", "text": "fine", "labels": []}\n')
    res = runner.invoke(app, ["moderate", str(typo), "-o", str(tmp_path / "t.jsonl")])
    assert res.exit_code == 0, res.output
    typo_rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert "txet" in typo_rows[0]["error"] and typo_rows[1]["content_id"] == "t2"

    csv_src = tmp_path / "in.csv"
    csv_src.write_text('id,text\na,"hello there, friend"\nb,"buy cheap pills now, click here"\n')
    res = runner.invoke(app, ["moderate", str(csv_src), "-o", str(tmp_path / "o2.jsonl")])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "o2.jsonl").read_text().splitlines()) == 2


def test_moderate_rejects_invalid_utf8(tmp_path: Path):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(
        b'{"id": "1", "text": "ok"}\n{"id": "2", "text": "\xff\xfe"}\n{"id": "3", "text": "fine"}\n'
    )
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["moderate", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["content_id"] for r in rows if "error" not in r] == ["1", "3"]
    [bad] = [r for r in rows if "error" in r]
    assert "bad.jsonl:2: invalid UTF-8" in bad["error"]


def test_eval_writes_metrics_and_report(tmp_path: Path):
    data = tmp_path / "labelled.jsonl"
    rows = [
        {"id": f"b{i}", "text": t, "labels": []}
        for i, t in enumerate(
            [
                "I love this song",
                "See you tomorrow at school",
                "Great game last night",
                "The soup recipe was delicious",
                "Thanks for the help",
            ]
        )
    ] + [
        {"id": f"h{i}", "text": t, "labels": lab}
        for i, (t, lab) in enumerate(
            [
                ("fuck you bitch", ["profanity"]),
                ("you stupid idiot shut up", ["harassment"]),
                ("WIN a FREE prize, text CLAIM to 80082 now", ["spam_scam"]),
                ("go back to your country you filthy animals", ["any"]),
            ]
        )
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = tmp_path / "report"
    res = runner.invoke(app, ["eval", str(data), "--report", str(report)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((report / "metrics.json").read_text())
    assert {"precision", "recall", "f1", "pr_auc", "roc_auc", "fpr"} <= set(metrics["overall"])
    assert "profanity" in metrics["categories"] and "ece" in metrics["categories"]["profanity"]
    assert metrics["overall"]["n"] == 9
    assert "<img" in (report / "report.html").read_text()


def test_eval_reports_bad_labels(tmp_path: Path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "1", "text": "x", "labels": ["not_a_category"]}\n')
    res = runner.invoke(app, ["eval", str(data), "--report", str(tmp_path / "r")])
    assert res.exit_code == 2 and "bad.jsonl:1" in res.output


def _data_dir() -> Path:
    path = Path(get_settings().data_dir)
    if not (path / "sms-spam-collection").exists():
        if os.environ.get("WARDEN_REQUIRE_DATA") == "1":
            pytest.fail(f"data sets not found at {path} (WARDEN_REQUIRE_DATA=1)")
        pytest.skip(f"data sets not found at {path}; set WARDEN_DATA_DIR")
    return path


def test_train_smoke_on_one_data_set(tmp_path: Path):
    """`warden train` end to end on the SMS set only (fast tier + English heads + fusion)."""
    from warden.learn.train import TrainConfig, train
    from warden.policy import load_policy
    from warden.settings import DEFAULT_POLICY_PATH

    out = tmp_path / "models"
    report = train(
        load_policy(DEFAULT_POLICY_PATH),
        TrainConfig(
            data_dir=_data_dir(),
            out_dir=out,
            cache_dir=tmp_path / "cache",
            datasets=["sms-spam-collection"],
            skip_e5=True,
            max_items_per_dataset=1500,
        ),
    )
    assert report["learned_categories"] == ["spam_scam"]
    assert {"linear.npz", "encoder_minilm.npz", "fusion.json", "training.json"} <= {
        p.name for p in out.iterdir()
    }
    assert report["calibration_oof"]["spam_scam"]["oof_average_precision"] > 0.8
    # The fast tier is distilled from the encoder tier: it scores every category the teachers do
    # (the few-shot scores those without data), and agrees with them on held-out pool items.
    distill = report["distill"]
    assert set(distill["categories"]) == set(load_policy(DEFAULT_POLICY_PATH).category_ids)
    # (without E5, an SMS text detected as another language has no teacher: its label alone counts)
    sources = distill["teacher_sources"]["sexual_minors"]
    assert set(sources) == {"fewshot_minilm"} and sources["fewshot_minilm"] > 0.95 * distill["pool"]
    assert distill["agreement_held_out"]["spam_scam"]["agreement_at_0.5"] > 0.9


def test_moderate_store_queues_for_review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`warden moderate --store` routes decisions to review like the API: with a QA sample of 100 %
    every automated decision is queued, once, even when the file is moderated twice."""
    from warden.store import Store

    monkeypatch.setenv("WARDEN_REVIEW__QA_SAMPLE_RATE", "1")
    monkeypatch.setenv("WARDEN_MEDIA__STORE_DIR", str(tmp_path / "media"))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("WARDEN_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        src = tmp_path / "in.jsonl"
        src.write_text(
            json.dumps({"id": "q1", "text": "What a lovely morning for a run"})
            + "\n"
            + json.dumps({"id": "q2", "text": "shut up you stupid bitch"})
            + "\n"
        )
        for _ in range(2):
            res = runner.invoke(app, ["moderate", str(src), "--store", "-o", str(tmp_path / "o.jsonl")])
            assert res.exit_code == 0, res.output
        with Store(url) as db:
            from warden.policy.model import load_policy
            from warden.review.service import ReviewService

            settings = get_settings()
            tasks = ReviewService(db, load_policy(settings.policy_path), settings).list_tasks(status="all")
        assert sorted(t.content_id for t in tasks) == ["q1", "q2"]
    finally:
        get_settings.cache_clear()


def test_the_cli_runs_as_a_module() -> None:
    # `python -m warden.cli` is how the benchmarks and process managers start the server.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "warden.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "moderate" in done.stdout
