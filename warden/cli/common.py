"""What every command module shares: the Typer apps, the console and small helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

from ..settings import Settings, get_settings
from .banks import bank_app
from .graph import graph_app
from .prevalence import prevalence_app
from .review import review_app

if TYPE_CHECKING:
    from ..review.service import ReviewService


app = typer.Typer(help="Warden: policy-driven content moderation.", no_args_is_help=True)
policy_app = typer.Typer(help="Work with policy files.", no_args_is_help=True)
apikey_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
data_app = typer.Typer(help="Inspect and export the labelled data sets.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(apikey_app, name="apikey")
app.add_typer(data_app, name="data")
app.add_typer(bank_app, name="bank")
app.add_typer(graph_app, name="graph")
app.add_typer(review_app, name="review")
app.add_typer(prevalence_app, name="prevalence")
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
console = Console(stderr=True)


@dataclass
class Remote:
    """`warden --remote URL`: commands that support it talk to a Warden server instead of running
    the models here (`warden moderate`)."""

    url: str | None = None
    api_key: str | None = None


@app.callback()
def _main(
    ctx: typer.Context,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            envvar="WARDEN_REMOTE",
            help="Base URL of a Warden server: `moderate` sends the items there (warden.client).",
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="WARDEN_API_KEY", help="API key for --remote.")
    ] = None,
) -> None:
    ctx.obj = Remote(remote, api_key)


def _remote(ctx: typer.Context | None) -> Remote:
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Remote) else Remote()


def _settings(
    policy: Path | None = None, models: Path | None = None, database: str | None = None
) -> Settings:
    base = get_settings()
    updates: dict[str, Any] = {}
    if policy:
        updates["policy_path"] = policy
    if models:
        updates["models_dir"] = models
    if database:
        updates["database_url"] = database
    return base.model_copy(update=updates) if updates else base


def _review_service(settings: Settings) -> ReviewService:
    from ..bootstrap import open_store, review_service

    return review_service(settings, open_store(settings))


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
