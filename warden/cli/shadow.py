"""`warden shadow report`: how a shadow candidate's decisions compare with the live ones."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .common import _settings, app, console

shadow_app = typer.Typer(
    help="Shadow mode: a candidate model/policy decides a sample of live traffic (WARDEN_SHADOW__...).",
    no_args_is_help=True,
)
app.add_typer(shadow_app, name="shadow")


@shadow_app.command("report")
def shadow_report_command(
    candidate: Annotated[str | None, typer.Option(help="One candidate (default: every one).")] = None,
    examples: Annotated[int, typer.Option(help="Example flips per candidate.", min=0)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Agreement, action transitions and category flips, and the latency cost per sampled item."""
    from ..bootstrap import open_store
    from ..shadow import shadow_report

    store = open_store(_settings(None, None, database))
    try:
        report = shadow_report(store, candidate, examples)
    finally:
        store.close()
    if as_json:
        Console().print_json(json.dumps(report))
        return
    if not report:
        console.print("no shadow decisions stored (enable with WARDEN_SHADOW__ENABLED=true and a candidate)")
        return
    for r in report:
        console.print(
            f"[bold]{r['candidate']}[/]: {r['items']:,} items ({r['first']} .. {r['last']}); "
            f"action agreement {r['action_agreement']:.1%}, "
            f"flagged-set agreement {r['flagged_agreement']:.1%}; "
            f"live {r['live_ms_per_item']} ms/item, candidate {r['shadow_ms_per_item']} ms/item "
            f"(x{r['cost_per_sampled_item']} per sampled item)"
        )
        table = Table("category", "flagged by candidate only", "by live only")
        for cat, flips in r["categories"].items():
            table.add_row(cat, str(flips["up"]), str(flips["down"]))
        Console().print(table)
        console.print("transitions: " + ", ".join(f"{k} {v}" for k, v in r["transitions"].items()))
        for ex in r["examples"]:
            console.print(f"  {ex['content_id']}: {ex['live']} -> {ex['shadow']} ({ex['shadow_flagged']})")
