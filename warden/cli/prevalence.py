"""`warden prevalence sample|estimate`: prevalence of stored decisions from a blind, stratified review
sample (thin, via warden.review.prevalence_sample)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError

if TYPE_CHECKING:
    from ..review.prevalence_sample import Figure

prevalence_app = typer.Typer(
    help="Prevalence with 95 % intervals from a stratified review sample of stored decisions.",
    no_args_is_help=True,
)
console = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


@prevalence_app.command("sample")
def sample(
    items: Annotated[Path, typer.Argument(help="JSONL of the items as moderated (the population).")],
    design_out: Annotated[Path, typer.Option("--out", help="Where to write the sample design (JSON).")],
    budget: Annotated[int, typer.Option(help="Labels to spend.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the draw.")] = 0,
    weight: Annotated[
        str, typer.Option(help="Metadata field holding views (prevalence of views); 'none' counts items.")
    ] = "views",
) -> None:
    """Draw the sample and queue it in the blind `prevalence` review queue."""
    from ..review.prevalence_sample import draw, read_items
    from .review import _service

    try:
        drawn = draw(_service(), read_items(items), budget, seed, None if weight == "none" else weight)
        drawn.save(design_out)
    except (WardenError, OSError) as exc:
        _fail(str(exc))
    out.print(
        f"sample {drawn.sample_id}: {len(drawn.design.sample)} of {drawn.population} items queued in "
        f"'prevalence' ({len(drawn.design.population_units)} strata; {drawn.skipped} without a stored "
        f"decision) -> {design_out}"
    )


@prevalence_app.command("estimate")
def estimate(
    design: Annotated[Path, typer.Argument(help="The design written by `warden prevalence sample`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Prevalence overall, per category and per language, and precision / recall of enforcement."""
    from ..review.prevalence_sample import PrevalenceSample
    from ..review.prevalence_sample import estimate as estimate_from
    from .review import _service

    try:
        report = estimate_from(_service(), PrevalenceSample.load(design))
    except WardenError as exc:
        _fail(str(exc))
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    table = Table("figure", "estimate", "95 % interval", "labels")
    rows: list[tuple[str, Figure | None]] = [("prevalence (all)", report.overall)]
    rows += [(f"  {c}", f) for c, f in report.by_category.items() if f.estimate > 0]
    rows += [(f"  language {lang}", f) for lang, f in report.by_language.items()]
    rows += [("precision of enforcement", report.precision), ("recall of enforcement", report.recall)]
    for name, fig in rows:
        if fig is not None:
            table.add_row(name, f"{fig.estimate:.4f}", f"{fig.low:.4f} - {fig.high:.4f}", str(fig.labelled))
    out.print(table)
    out.print(f"{report.labelled} of {report.sampled} sampled items labelled so far")
