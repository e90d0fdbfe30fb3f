"""Measuring: evaluation reports, model cards, the LLM judge on labelled data, benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError
from ..policy.model import load_policy
from ..settings import get_settings
from .common import (
    _fail,
    _progress,
    _settings,
    app,
    console,
)


@app.command("eval")
def evaluate(
    data: Annotated[
        Path, typer.Argument(help="Labelled JSONL ({id, text, labels}) or CSV with category columns.")
    ],
    report: Annotated[Path, typer.Option(help="Directory for metrics.json and report.html.")] = Path(
        "reports/eval"
    ),
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    batch_size: Annotated[int, typer.Option(help="Items per model batch.", min=1, max=1000)] = 256,
) -> None:
    """Evaluate the pipeline on labelled data and write a report."""
    from ..content import Content
    from ..evaluate import read_labelled, run_evaluation
    from ..moderator import Moderator

    settings = _settings(policy)
    if not data.exists():
        _fail(f"{data}: file not found")
    moderator = Moderator.from_settings(settings).load()
    try:
        items = read_labelled(data, moderator.policy.category_ids)
    except WardenError as exc:
        _fail(str(exc))
    decisions = []
    with _progress() as bar:
        task = bar.add_task(f"evaluating {data.name}", total=len(items))
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            contents = [
                Content(id=i.id, text=i.text[: settings.limits.max_text_chars], language=i.language)
                for i in chunk
            ]
            decisions += moderator.moderate(contents)
            bar.advance(task, len(chunk))
    meta = {
        "data": str(data),
        "policy": moderator.policy.full_version,
        "models": moderator.pipeline.model_versions(),
    }
    result = run_evaluation(items, decisions, moderator.policy.category_ids, meta, report)
    _print_metrics(result)
    console.print(f"report: {report / 'report.html'}")


def _print_metrics(result: dict[str, Any]) -> None:
    table = Table("scope", "n+", "precision", "recall", "f1", "pr_auc", "roc_auc", "fpr")

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    rows = [("overall", result["overall"])] + list(result.get("categories", {}).items())
    for name, m in rows:
        table.add_row(
            name,
            fmt(m.get("support_pos")),
            *(fmt(m.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "roc_auc", "fpr")),
        )
    Console().print(table)


@app.command("model-card")
def model_card(
    data_dir: Annotated[Path | None, typer.Option(help="Root of the data sets.")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write a report per data set here.")] = None,
    quality: Annotated[
        Path,
        typer.Option(
            help="Generalisation figures (`make bench AREA=quality`) to include, if the file exists."
        ),
    ] = Path("bench/results/quality.json"),
) -> None:
    """Evaluate on every data set's test split and write the models' MODEL_CARD.md."""
    from ..learn.model_card import evaluate_test_splits, write_model_card
    from ..moderator import Moderator

    settings = get_settings()
    moderator = Moderator.from_settings(settings).load()
    try:
        results = evaluate_test_splits(moderator, data_dir or settings.data_dir, report, console)
    except WardenError as exc:
        _fail(str(exc))
    figures = json.loads(quality.read_text()) if quality.is_file() else None
    path = write_model_card(settings.models_dir, results, figures)
    for name, res in sorted(results.items()):
        console.print(f"[bold]{name}[/]")
        _print_metrics(res)
    console.print(f"model card: {path}")


judge_app = typer.Typer(help="The LLM policy judge.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")


@judge_app.command("eval")
def judge_eval(
    dataset: Annotated[str, typer.Option(help="Data set name, e.g. sms-spam-collection.")],
    category: Annotated[str, typer.Option(help="Policy category to ask about, e.g. spam_scam.")],
    n: Annotated[int, typer.Option("-n", help="Items (half violating, half not).", min=2)] = 200,
    split: Annotated[str, typer.Option(help="Split to sample.")] = "test",
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Agreement of the configured judge with a data set's labels (accuracy, kappa, F1, items/s)."""
    from ..evaluate.judge import measure_agreement
    from ..learn.datasets.sampling import sample_items
    from ..llm.judge import PolicyJudge

    settings = get_settings()
    judge_settings = settings.judge.model_copy(update={"categories": [category], "cache_size": 0})
    try:
        items = sample_items(settings.data_dir, dataset, category, n, split, True, seed)
        judge = PolicyJudge(load_policy(settings.policy_path), settings=judge_settings)
        with console.status(f"judging {len(items)} items"):
            result = measure_agreement(judge, items, category)
    except (WardenError, ValueError) as exc:
        _fail(str(exc))
    table = Table("figure", "value", title=f"judge {judge.model_id} on {dataset} / {category}")
    for key, value in result.to_dict().items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)


@app.command()
def bench(
    area: Annotated[str | None, typer.Option(help="One area (e.g. text); default all.")] = None,
) -> None:
    """Run the benchmarks; figures go to bench/results/AREA.json."""
    from ..bench import run_benchmarks

    run_benchmarks(area)


if __name__ == "__main__":  # pragma: no cover
    app()
