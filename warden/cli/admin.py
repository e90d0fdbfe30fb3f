"""Commands that inspect and administer: configuration, policy files, API keys, data export."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from ..errors import WardenError
from ..policy.model import PolicyError, load_policy
from ..settings import get_settings
from .common import (
    _fail,
    _progress,
    _settings,
    apikey_app,
    config_app,
    console,
    data_app,
    policy_app,
)
from .moderate import _ERROR, _read_items


class Split(enum.StrEnum):
    train = "train"
    calib = "calib"
    test = "test"


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per setting.")] = False,
) -> None:
    """Every setting's effective value and where it came from (environment, warden.toml, default)."""
    from ..settings import describe_settings

    try:
        rows = describe_settings()
    except ValueError as exc:  # pydantic's ValidationError: an invalid value in env or warden.toml
        _fail(f"invalid settings: {exc}")
    if as_json:
        for key, value, source in rows:
            print(json.dumps({"setting": key, "value": json.loads(value), "source": source}))
        return
    table = Table("setting", Column("value", overflow="fold"), "source")
    for key, value, source in rows:
        table.add_row(key, value, source)
    Console().print(table)


@policy_app.command("validate")
def policy_validate(file: Annotated[Path, typer.Argument(help="Policy YAML to check.")]) -> None:
    """Check a policy file; every problem is reported with its line."""
    try:
        p = load_policy(file)
    except PolicyError as exc:
        console.print(f"[red]{len(exc.problems)} problem(s)[/] in {file}:")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(f"[green]valid[/]: {p.full_version} with {len(p.categories)} categories")


@policy_app.command("backtest")
def policy_backtest(
    new_policy: Annotated[
        Path, typer.Argument(help="The candidate policy YAML.", exists=True, dir_okay=False)
    ],
    data: Annotated[Path, typer.Option("--data", help="JSONL or CSV items (id, text).", exists=True)],
    against: Annotated[
        Path | None, typer.Option(help="Policy to compare with (default: the active one).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.", min=1)] = None,
    examples: Annotated[int, typer.Option(help="Flipped items to show.", min=0)] = 10,
    out: Annotated[Path | None, typer.Option(help="Write the full report as JSON here.")] = None,
) -> None:
    """Show how decisions would change under NEW_POLICY: actions, flagged categories, flipped items."""
    from ..content import Content
    from ..evaluate.backtest import backtest
    from ..moderator import Moderator

    settings = get_settings()
    try:
        candidate = load_policy(new_policy)
        active = load_policy(against or settings.policy_path)
        rows = [r for r in _read_items(data) if _ERROR not in r]
    except (PolicyError, WardenError) as exc:
        _fail(str(exc))
    items = [Content.model_validate({k: v for k, v in r.items() if k in Content.model_fields}) for r in rows]
    items = items[:limit] if limit else items
    with console.status("loading models"):
        old = Moderator.from_settings(settings, policy=active).load()
        new = old.with_policy(candidate).load()
    with _progress() as bar:
        task = bar.add_task(f"backtesting {data.name}", total=len(items))
        report = backtest(old, new, items, progress=lambda n: bar.advance(task, n))
    actions = Table("action", active.full_version, candidate.full_version, title=f"{len(items):,} items")
    for action in sorted(set(report.old_actions) | set(report.new_actions)):
        actions.add_row(action, f"{report.old_actions[action]:,}", f"{report.new_actions[action]:,}")
    flagged = Table("category flagged", "old", "new", "change")
    for cat in sorted(set(report.old_flagged) | set(report.new_flagged)):
        before, after = report.old_flagged[cat], report.new_flagged[cat]
        flagged.add_row(cat, f"{before:,}", f"{after:,}", f"{after - before:+,}")
    flips = Table("id", "text", "old", "new", title=f"{report.changed:,} items change action")
    for flip in report.flips[:examples]:
        old_side = f"{flip.old_action} {','.join(flip.old_categories)}"
        new_side = f"{flip.new_action} {','.join(flip.new_categories)}"
        flips.add_row(flip.content_id, flip.text[:70], old_side, new_side)
    out_console = Console()
    for table in (actions, flagged, flips):
        out_console.print(table)
    if out:
        out.write_text(json.dumps(report.to_dict(max_examples=1000), indent=1) + "\n", encoding="utf-8")
        console.print(f"report: {out}")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="A unique name for the key.")],
    role: Annotated[str, typer.Option(help="client | reviewer | admin")] = "client",
    database: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Create an API key; it is printed once."""
    from ..store import Store

    try:
        settings = _settings(database=database)
        store = Store(settings.database_url, audit_key=settings.audit.resolve_key())
        store.migrate()
    except Exception as exc:  # a malformed URL or unreachable server: say so, no traceback
        _fail(f"cannot open the database: {exc}")
    try:
        key = store.create_api_key(name, role)
    except (WardenError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(key)


@data_app.command("export")
def data_export(
    out: Annotated[Path, typer.Argument(help="Output JSONL in the eval format.")],
    dataset: Annotated[list[str] | None, typer.Option(help="Data set name(s); default all.")] = None,
    split: Annotated[Split, typer.Option(help="Which split to export.")] = Split.test,
    data_dir: Annotated[Path | None, typer.Option(help="Root of the data sets.")] = None,
) -> None:
    """Export a split of the data sets as eval JSONL (for `warden eval`)."""
    from ..learn.datasets import load_datasets, to_eval_jsonl

    try:
        items = load_datasets(data_dir or get_settings().data_dir, dataset or None)
    except (WardenError, ValueError, KeyError) as exc:
        _fail(str(exc))
    chosen = [i for i in items if i.split == split.value]
    to_eval_jsonl(chosen, out)
    console.print(f"wrote {len(chosen):,} items to {out}")
