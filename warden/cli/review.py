"""`warden review ...`: queue health, quality stats, label errors, label export (thin, via ReviewService)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError

if TYPE_CHECKING:
    from ..review.service import ReviewService

review_app = typer.Typer(
    help="Human review: queues, quality of review, label errors, labels.", no_args_is_help=True
)
console = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _service() -> ReviewService:
    from ..bootstrap import open_store, review_service
    from ..settings import get_settings

    settings = get_settings()
    return review_service(settings, open_store(settings))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@review_app.command("queues")
def queues() -> None:
    """Pending, leased and overdue tasks per queue."""
    try:
        summaries = _service().queues()
    except WardenError as exc:
        _fail(str(exc))
    table = Table("queue", "pending", "leased", "overdue", "oldest", "by category")
    for q in summaries:
        oldest = "-" if q.oldest_age_s is None else f"{q.oldest_age_s / 3600:.1f} h"
        cats = ", ".join(f"{k} {v}" for k, v in sorted(q.by_category.items(), key=lambda kv: -kv[1]))
        table.add_row(q.name, str(q.pending), str(q.leased), str(q.overdue), oldest, cats)
    out.print(table)


@review_app.command("stats")
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print the full stats as JSON.")] = False,
) -> None:
    """Agreement (Cohen's kappa, Krippendorff's alpha), gold accuracy, precision of automation."""
    try:
        result = _service().stats()
    except WardenError as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(result.model_dump_json())
        return
    a = result.agreement
    out.print(
        f"labels {result.labels}; multi-review items {a.items}; alpha(action) {_fmt(a.alpha_action)}; "
        f"alpha(violating) {_fmt(a.alpha_violation)}; relabel queue {result.label_error_candidates}"
    )
    if a.pairs:
        table = Table("reviewer A", "reviewer B", "items", "kappa", title="Cohen's kappa")
        for p in a.pairs:
            table.add_row(p.reviewer_a, p.reviewer_b, str(p.items), _fmt(p.kappa))
        out.print(table)
    if result.gold:
        table = Table("reviewer", "gold items", "correct", "accuracy", "categories exact", title="Gold")
        for g in result.gold:
            table.add_row(
                g.reviewer, str(g.items), str(g.correct), _fmt(g.accuracy), _fmt(g.category_accuracy)
            )
        out.print(table)
    if result.automation:
        table = Table(
            "action", "category", "items", "agreed", "precision", "95 % CI", title="Automation (QA)"
        )
        for e in result.automation:
            ci = f"{e.low:.3f}-{e.high:.3f}"
            table.add_row(e.action, e.category or "(all)", str(e.items), str(e.agreed), _fmt(e.precision), ci)
        out.print(table)


def _read_probabilities(path: Path) -> dict[str, dict[str, float]]:
    """JSONL lines {"content_id": ..., "probabilities": {category: p}} (or "scores"), or one JSON object
    content_id -> {category: p}."""
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return {str(k): {str(c): float(p) for c, p in v.items()} for k, v in whole.items()}
    result: dict[str, dict[str, float]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
            probs = row.get("probabilities", row.get("scores"))
            result[str(row["content_id"])] = {str(c): float(p) for c, p in probs.items()}
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError, ValueError) as exc:
            raise WardenError(
                f"{path}:{number}: expected {{'content_id': ..., 'probabilities': {{category: p}}}} ({exc})"
            ) from None
    return result


@review_app.command("label-errors")
def label_errors(
    probabilities: Annotated[
        Path | None,
        typer.Option(help="Out-of-sample model probabilities (JSONL); default: decision-time scores."),
    ] = None,
    category: Annotated[list[str] | None, typer.Option(help="Only these categories (repeatable).")] = None,
    enqueue: Annotated[bool, typer.Option(help="Queue flagged items for re-review (relabel).")] = True,
) -> None:
    """Find review labels cleanlab considers likely wrong; queue them for re-review."""
    try:
        probs = _read_probabilities(probabilities) if probabilities else None
        issues = _service().label_errors(probs, category or None, enqueue=enqueue, actor="cli")
    except (WardenError, OSError) as exc:
        _fail(str(exc))
    table = Table(
        "content id", "category", "labelled", "model P", "label quality", "reviewers", "relabel task"
    )
    for i in issues:
        table.add_row(
            i.content_id,
            i.category,
            "violating" if i.labelled_violating else "ok",
            _fmt(i.model_probability),
            _fmt(i.label_quality),
            ", ".join(i.reviewers),
            i.task_id or "-",
        )
    out.print(table)
    console.print(f"{len(issues)} likely label error(s)")


@review_app.command("export-labels")
def export_labels(
    output: Annotated[Path | None, typer.Option("--out", help="JSONL file (default: stdout).")] = None,
) -> None:
    """Every review and appeal label as JSONL (content_id, text, language, categories, action, reviewer,
    at, source)."""
    try:
        rows = _service().export_labels()
    except WardenError as exc:
        _fail(str(exc))
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if output is None:
        sys.stdout.write(lines)
    else:
        output.write_text(lines, encoding="utf-8")
        console.print(f"wrote {len(rows)} labels to {output}")


QueueOption = Annotated[
    str | None, typer.Option("--queue", help="Only this queue's logged leases (default: every logged queue).")
]


@review_app.command("train-bandit")
def train_bandit(
    queue: QueueOption = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Model file (default: settings review.bandit.model_path).")
    ] = None,
    holdout: Annotated[
        float,
        typer.Option(help="Leave the newest share of leases out for `evaluate-policy` (0: final model)."),
    ] = 0.2,
) -> None:
    """Train the review bandit on the rewarded logged leases and save it (serving processes pick it up)."""
    try:
        report = _service().ordering.train(queue, out_path, holdout)
    except WardenError as exc:
        _fail(str(exc))
    if report.used == 0:
        console.print(
            "[yellow]no rewarded logged leases yet[/]: log a queue first (review.bandit.log_queues) "
            "and let reviewers label; the saved model is untrained and serving stays on the formula"
        )
    out.print(
        f"trained {report.version} on {report.used} rewarded leases of {', '.join(report.queues) or '-'} "
        f"in {report.seconds:.1f} s -> {report.path}"
    )


@review_app.command("evaluate-policy")
def evaluate_policy(
    queue: QueueOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimates as JSON.")] = False,
) -> None:
    """Offline evaluation (IPS and doubly robust, 95 % intervals) of the bandit against today's formula
    on the logged leases: the mean harm prevented per lease each ordering would have achieved."""
    try:
        report = _service().ordering.evaluate(queue)
    except (WardenError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
        return
    table = Table("ordering", "estimator", "harm prevented / lease", "95 % interval")
    for name, estimates in (("bandit", report.bandit), ("formula", report.formula)):
        for estimator in ("dr", "ips"):
            e = estimates[estimator]
            interval = f"{_fmt(e['low'], 2)} - {_fmt(e['high'], 2)}"
            table.add_row(name, estimator.upper(), _fmt(e["value"], 2), interval)
    out.print(table)
    gain = "-" if report.dr_gain is None else f"{report.dr_gain:.3f}"
    out.print(
        f"{report.events} rewarded leases; logged policy's mean {report.logged_mean_reward:.2f}; "
        f"DR ratio bandit / formula {gain} (model {report.model_version})"
    )
