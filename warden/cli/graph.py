"""`warden graph ...`: thin commands over `GraphService` and `evaluate` (mounted by warden/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import WardenError
from ..graph.service import GraphService
from ..settings import get_settings

graph_app = typer.Typer(
    help="Interaction graph: ingest events, account risk, coordinated groups.", no_args_is_help=True
)
console = Console(stderr=True)
DEFAULT_GRAPH = Path(".warden/graph.npz")

GraphOption = Annotated[
    Path | None,
    typer.Option("--graph", help="Graph file (.npz); default WARDEN_GRAPH_PATH or .warden/graph.npz."),
]


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _service(graph: Path | None, labels: Path | None = None, must_exist: bool = True) -> GraphService:
    settings = get_settings().graph
    path = graph or settings.path or DEFAULT_GRAPH
    if must_exist and not path.exists():
        _fail(f"{path}: no graph yet (run `warden graph ingest FILE` first)")
    updates: dict[str, object] = {"path": path}
    if labels is not None:
        updates["labels_path"] = labels
    try:
        return GraphService.from_settings(settings.model_copy(update=updates))
    except (WardenError, OSError, ValueError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _spinner() -> Progress:
    return Progress(
        SpinnerColumn(), "[progress.description]{task.description}", TimeElapsedColumn(), console=console
    )


@graph_app.command("ingest")
def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            help="Events: JSONL, CSV with header, or SNAP SOURCE,TARGET,RATING,TIME.",
            exists=True,
            dir_okay=False,
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto | jsonl | csv | snap")] = "auto",
    graph: GraphOption = None,
    show_errors: Annotated[int, typer.Option(help="How many rejected rows to list.")] = 20,
) -> None:
    """Validate and append events to the graph file; bad rows are listed, the rest is kept."""
    service = _service(graph, must_exist=False)
    try:
        with _spinner() as bar:
            bar.add_task(f"ingesting {file.name}", total=None)
            result = service.ingest_file(file, fmt)
    except WardenError as exc:
        _fail(str(exc))
    if result.errors:
        table = Table("line", "event_id", "error", title=f"{len(result.errors)} rejected row(s)")
        for err in result.errors[:show_errors]:
            table.add_row(str(err.index), err.event_id or "-", err.message)
        console.print(table)
    s = service.graph.summary()
    console.print(
        f"[green]ingested[/] {result.accepted:,} event(s), rejected {len(result.errors):,}; graph "
        f"{service.settings.path}: {s['accounts']:,} accounts, {s['content']:,} content, {s['edges']:,} edges"
    )
    if result.errors and not result.accepted:
        raise typer.Exit(1)


@graph_app.command("score")
def score(
    graph: GraphOption = None,
    labels: Annotated[
        Path | None, typer.Option(help="CSV account_id,label of known accounts (bad/good).")
    ] = None,
    account: Annotated[
        list[str] | None, typer.Option(help="Only these accounts (repeatable), with evidence.")
    ] = None,
    top: Annotated[int, typer.Option(help="Show the N riskiest accounts.")] = 20,
) -> None:
    """Account risk for every account; prints the riskiest (or the named) accounts."""
    service = _service(graph, labels)
    with _spinner() as bar:
        bar.add_task("scoring every account", total=None)
        service.scores()
    if account:
        for account_id in account:
            try:
                typer.echo(json.dumps(service.account(account_id), indent=1, default=str))
            except WardenError as exc:
                _fail(str(exc))
        return
    table = Table("rank", "account", "risk", "known", title=f"top {top} accounts by risk")
    for rank, (account_id, risk) in enumerate(service.top(top), start=1):
        known = service.labels.get(account_id)
        table.add_row(
            str(rank), account_id, f"{risk:.4f}", "-" if known is None else ("bad" if known else "good")
        )
    Console().print(table)


@graph_app.command("clusters")
def clusters(
    graph: GraphOption = None,
    limit: Annotated[int, typer.Option(help="Largest N groups.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
) -> None:
    """Coordinated (lockstep) groups: accounts acting on the same targets in the same window."""
    service = _service(graph)
    found = service.clusters(limit)
    if as_json:
        typer.echo(json.dumps(found, indent=1))
        return
    table = Table("size", "members", "shared targets", "max co-actions", title=f"{len(found)} group(s)")
    for g in found:
        members = ", ".join(g["members"][:8]) + (" ..." if g["size"] > 8 else "")
        table.add_row(str(g["size"]), members, str(len(g["shared_targets"])), str(g["max_co_actions"]))
    Console().print(table)


@graph_app.command("eval")
def evaluate(
    data_dir: Annotated[Path | None, typer.Option(help="Data root (default: settings data_dir).")] = None,
    folds: Annotated[int, typer.Option(min=2, max=20)] = 5,
    seed: Annotated[int, typer.Option()] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the full report as JSON here.")] = None,
) -> None:
    """Cross-validated AUC/AP on Bitcoin OTC and the planted-campaign test on Bitcoin Alpha."""
    from ..graph.evaluate import run_evaluation

    try:
        report = run_evaluation(data_dir, folds, seed, progress=lambda msg: console.print(msg))
    except WardenError as exc:
        _fail(str(exc))
    table = Table("detector", "AUC", "AP", title=f"Bitcoin OTC, {folds}-fold CV (seed {seed}), mean ± std")
    for name, m in report["otc"]["summary"].items():
        table.add_row(
            name, f"{m['auc_mean']:.4f} ± {m['auc_std']:.4f}", f"{m['ap_mean']:.4f} ± {m['ap_std']:.4f}"
        )
    Console().print(table)
    inj = Table(
        "campaign",
        "planted",
        "flagged",
        "innocent flagged",
        "precision",
        "recall",
        title="planted lockstep campaign in Bitcoin Alpha (coordination detector)",
    )
    for name, r in report["injection"].items():
        inj.add_row(
            name,
            str(r["planted"]),
            str(r["flagged"]),
            str(r["innocent_flagged"]),
            f"{r['precision']:.3f}",
            f"{r['recall']:.3f}",
        )
    Console().print(inj)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, default=str) + "\n")
        console.print(f"report: {out}")
