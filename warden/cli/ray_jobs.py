"""`warden ray ...`: the same pipeline scaled out on Ray (a local cluster, or RAY_ADDRESS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError
from .common import _fail, _settings, app, console

ray_app = typer.Typer(help="Scale out on Ray: re-score history with a candidate.", no_args_is_help=True)
app.add_typer(ray_app, name="ray")


@ray_app.command("rescore")
def rescore(
    files: Annotated[
        list[Path], typer.Argument(help="JSONL files of past items (the objects /v1/moderate takes).")
    ],
    policy: Annotated[Path | None, typer.Option(help="The candidate policy YAML.")] = None,
    models: Annotated[
        Path | None, typer.Option(help="The candidate models folder (e.g. a registry version).")
    ] = None,
    write: Annotated[
        bool, typer.Option(help="Make the candidate's decisions the current versions of the stored ones.")
    ] = False,
    actors: Annotated[int, typer.Option(help="Ray actors (each loads the models once).", min=1)] = 2,
    batch_size: Annotated[int, typer.Option(help="Items per batch.", min=1)] = 64,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS or local).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the diff report here (JSON).")] = None,
    examples: Annotated[int, typer.Option(help="Example flips in the report.", min=0)] = 10,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Re-score past items with a candidate policy and/or models: how many decisions would flip,
    per action and category, with examples; `--write` stores them as new decision versions."""
    from ..rescore import RescoreOptions, rescore_on_ray

    settings = _settings(None, None, database)
    options = RescoreOptions(policy_path=policy, models_dir=models, write=write, examples=examples)
    try:
        with console.status(f"re-scoring on Ray ({actors} actors)"):
            result = rescore_on_ray(
                files, settings, options, actors=actors, batch_size=batch_size, address=address
            )
    except WardenError as exc:
        _fail(str(exc))
    if report is not None:
        report.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        console.print(f"report -> {report}")
    console.print(
        f"{result['items']:,} items in {result['seconds']} s ({result['items_per_s']} items/s); same action "
        f"{result['action_agreement']:.1%}; refused {result['refused']}; "
        + (
            f"revised {result['revised']:,}, kept {result['kept_human_or_absent']:,}"
            if write
            else "nothing written"
        )
    )
    table = Table("transition", "items")
    for name, n in result["transitions"].items():
        table.add_row(name, f"{n:,}")
    Console().print(table)
    cats = Table("category", "flagged by the candidate only", "by live only")
    for cat, flips in result["categories"].items():
        cats.add_row(cat, str(flips["up"]), str(flips["down"]))
    Console().print(cats)
