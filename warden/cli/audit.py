"""`warden audit verify | anchor`: check the audit log's hash chain and export its state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import _fail, _settings, app, console

if TYPE_CHECKING:
    from ..store import Store

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify its hash chain, export anchors (WARDEN_AUDIT__...).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

Database = Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")]


def _open(database: str | None, with_key: bool) -> Store:
    from ..store import Store

    settings = _settings(database=database)
    key = None
    if with_key:
        try:
            # Never create a key here: a fresh key would only report every row as broken.
            key = settings.audit.resolve_key(create=False)
        except (OSError, ValueError) as exc:
            _fail(str(exc))
    try:
        store = Store(settings.database_url, audit_key=key)
        store.migrate()
    except Exception as exc:  # a malformed URL or unreachable server: say so, no traceback
        _fail(f"cannot open the database: {exc}")
    return store


def _read_anchor(path: Path) -> dict[str, Any]:
    try:
        anchor = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the anchor {path}: {exc}")
    if not isinstance(anchor, dict):
        _fail(f"{path} is not an audit anchor (expected a JSON object from `warden audit anchor`)")
    return anchor


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        Path | None,
        typer.Option(help="An anchor from `warden audit anchor`: also catches a cut tail or a rewrite."),
    ] = None,
    database: Database = None,
) -> None:
    """Check every audit row's hash link, oldest first. Exit 0 intact, 1 broken (first break shown)."""
    expected = _read_anchor(anchor) if anchor is not None else None
    store = _open(database, with_key=True)
    try:
        result = store.verify_audit(expected)
    except ValueError as exc:  # a malformed anchor
        _fail(str(exc))
    finally:
        store.close()
    if result.ok:
        console.print(f"[green]ok[/]: {result.describe()}", soft_wrap=True)
        return
    console.print(f"[red]broken[/]: {result.describe()}", soft_wrap=True, highlight=False)
    if result.broken_id is not None:
        console.print(f"first broken link: id {result.broken_id}: {result.reason}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor(
    out: Annotated[Path | None, typer.Option(help="Write the JSON here (default: standard output).")] = None,
    database: Database = None,
) -> None:
    """The chain's current state as JSON, to keep outside the database (WORM bucket, ticket)."""
    store = _open(database, with_key=False)  # the anchor reads the chain head: no key needed
    try:
        anchor = store.audit_anchor()
    finally:
        store.close()
    text = json.dumps(anchor, indent=1, sort_keys=True)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    console.print(f"anchor at id {anchor['last_id']} ({anchor['count']:,} rows) written to {out}")
