"""`warden bank ...`: manage banks from the command line (same rules as the API, via BankService)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError

bank_app = typer.Typer(
    help="Banks of known violating content: create, fill, match, share.", no_args_is_help=True
)
console = Console(stderr=True)
out = Console()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _service(load_index: bool = False):  # type: ignore[no-untyped-def]
    from ..bootstrap import bank_service, open_store
    from ..settings import get_settings

    settings = get_settings()
    with console.status("loading bank indexes") if load_index else contextlib.nullcontext():
        return bank_service(settings, open_store(settings), load_index=load_index)


def _kind(path: Path, kind: str | None) -> str:
    if kind:
        return kind
    video = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".3gp", ".flv"}
    return "video" if path.suffix.lower() in video else "image"


@bank_app.command("create")
def create(
    name: str,
    category: Annotated[str, typer.Option(help="Policy category a match implies.")],
    action: Annotated[
        str, typer.Option(help="allow, label, age_restrict, limit, remove or review.")
    ] = "remove",
    description: Annotated[str, typer.Option(help="What the bank holds and where it comes from.")] = "",
) -> None:
    """Create a bank."""
    try:
        bank = _service().create_bank(name, category, action, description, actor="cli")
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]created[/] bank {bank.name!r}: {bank.category} -> {bank.action}")


@bank_app.command("list")
def list_banks() -> None:
    """List banks with their active entry counts."""
    table = Table("name", "category", "action", "enabled", "entries", "description")
    for b in _service().repo.list_banks():
        table.add_row(b.name, b.category, b.action, str(b.enabled), f"{b.entries:,}", b.description[:60])
    out.print(table)


@bank_app.command("show")
def show(
    name: str,
    signal_type: Annotated[str | None, typer.Option(help="Only this signal type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Show a bank's entries (a page at a time)."""
    try:
        entries, total = _service().repo.list_entries(name, signal_type, None, limit, offset)
    except WardenError as exc:
        _fail(str(exc))
    table = Table(
        "id", "type", "value", "quality", "enabled", "source", "added", title=f"{name}: {total:,} entries"
    )
    for e in entries:
        value = e.value if len(e.value) <= 66 else e.value[:63] + "..."
        quality = "" if e.quality is None else str(e.quality)
        table.add_row(
            str(e.id), e.signal_type, value, quality, str(e.enabled), e.source, f"{e.added_at:%Y-%m-%d}"
        )
    out.print(table)


@bank_app.command("delete")
def delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete a bank and all its entries."""
    if not yes:
        typer.confirm(f"delete bank {name!r} and all its entries?", abort=True)
    try:
        gone = _service().delete_bank(name, actor="cli")
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]deleted[/] bank {name!r} ({gone:,} entries)")


@bank_app.command("add")
def add(
    name: str,
    signal_type: Annotated[str | None, typer.Option("--type", help="Signal type of --value.")] = None,
    value: Annotated[
        str | None, typer.Option(help="The signal value (hash, or text for text types).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="A media file: all its fingerprints are added.", exists=True)
    ] = None,
    kind: Annotated[str | None, typer.Option(help="image or video (default: from the file suffix).")] = None,
    note: Annotated[str, typer.Option(help="Why this entry is in the bank.")] = "",
    source: Annotated[str, typer.Option(help="Where it came from.")] = "",
) -> None:
    """Add one entry: a value, or the fingerprints of a media file."""
    from ..banks.exchange import RawEntry

    service = _service()
    try:
        if file is not None:
            fps = service.matcher.media_fingerprints(file.read_bytes(), _kind(file, kind))
            raw = [RawEntry(1, t, fp.value, fp.quality, note, source) for t, v in fps.items() for fp in v]
        elif signal_type and value:
            raw = [RawEntry(1, signal_type, value, None, note, source)]
        else:
            _fail("give --type and --value, or --file")
        result, _ = service.add_entries(name, raw, actor="cli")
    except WardenError as exc:
        _fail(str(exc))
    for e in result.added:
        console.print(f"[green]added[/] entry {e.id} ({e.signal_type})")
    for d in result.duplicates:
        console.print(f"[yellow]already in the bank[/]: {d['signal_type']} (entry {d['existing_id']})")


@bank_app.command("import")
def import_file(
    name: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The file to import.")],
    format: Annotated[str, typer.Option("--format", "-f", help="pdq, te or csv.")] = "te",
    source: Annotated[str, typer.Option(help="Recorded on every entry (default: the file name).")] = "",
    skip_invalid: Annotated[bool, typer.Option(help="Add valid lines, report invalid ones.")] = False,
) -> None:
    """Import a hash file (PDQ hex, ThreatExchange 'TYPE VALUE' lines, or HMA-style CSV)."""
    from rich.progress import Progress

    service = _service()
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"{file} is not UTF-8 text: {exc}")
    try:
        with Progress(console=console) as bar:
            task = bar.add_task(f"importing {file.name}", total=None)
            result, skipped = service.import_text(
                name,
                text,
                format,
                actor="cli",
                source=source or file.name,
                skip_invalid=skip_invalid,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except WardenError as exc:
        _fail(str(exc))
    for message in skipped[:20]:
        console.print(f"[yellow]skipped[/] {message}")
    console.print(
        f"[green]imported[/] {len(result.added):,} entries; {len(result.duplicates):,} already present; "
        f"{len(skipped):,} skipped"
    )


@bank_app.command("export")
def export(
    name: str,
    format: Annotated[str, typer.Option("--format", "-f", help="pdq, te or csv.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default stdout).")] = None,
) -> None:
    """Export a bank for another system."""
    try:
        chunks = _service().export_text(name, format)
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for chunk in chunks:
                stream.write(chunk)
        finally:
            if output:
                stream.close()
    except (WardenError, ValueError) as exc:
        _fail(str(exc))


def _set_enabled(name: str, entry_id: int, enabled: bool) -> None:
    try:
        entry = _service().set_entry(name, entry_id, actor="cli", enabled=enabled)
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"entry {entry.id} of {name!r} is now {'enabled' if entry.enabled else 'disabled'}")


@bank_app.command("disable")
def disable(name: str, entry_id: int) -> None:
    """Stop an entry matching (running servers see it within banks.refresh_interval_s)."""
    _set_enabled(name, entry_id, False)


@bank_app.command("enable")
def enable(name: str, entry_id: int) -> None:
    """Let a disabled entry match again."""
    _set_enabled(name, entry_id, True)


@bank_app.command("hash")
def hash_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    kind: Annotated[str | None, typer.Option(help="image or video (default: from the suffix).")] = None,
) -> None:
    """Print a media file's fingerprints (every signal type for its kind) as 'TYPE VALUE' lines."""
    from ..banks.matcher import BankMatcher
    from ..settings import get_settings

    try:
        settings = get_settings()
        fps = BankMatcher(settings.banks, settings.limits).media_fingerprints(
            file.read_bytes(), _kind(file, kind)
        )
    except WardenError as exc:
        _fail(str(exc))
    for signal_type, values in fps.items():
        for fp in values:
            suffix = "" if fp.quality is None else f"  # quality {fp.quality}"
            out.print(f"{signal_type} {fp.value}{suffix}", soft_wrap=True, highlight=False)


@bank_app.command("match")
def match(
    text: Annotated[str | None, typer.Option(help="Text to look up.")] = None,
    file: Annotated[Path | None, typer.Option(help="Media file to look up.", exists=True)] = None,
    kind: Annotated[str | None, typer.Option(help="image or video (default: from the suffix).")] = None,
    hash_: Annotated[list[str] | None, typer.Option("--hash", help="TYPE=VALUE, repeatable.")] = None,
) -> None:
    """Look something up in every bank and print the matches with their distance."""
    service = _service(load_index=True)
    hashes: dict[str, list[str]] = {}
    for spec in hash_ or []:
        raw_type, _, value = spec.partition("=")
        hashes.setdefault(raw_type, []).append(value)
    media = (file.read_bytes(), _kind(file, kind)) if file is not None else None
    try:
        query = service.matcher.fingerprints(text or "", hashes, media)
    except (WardenError, ValueError) as exc:
        _fail(str(exc))
    if not query:
        _fail("give --text, --file or --hash")
    matches = service.matcher.match([query])[0]
    table = Table(
        "bank", "category", "action", "entry", "type", "distance", title=f"{len(matches)} match(es)"
    )
    for m in matches:
        table.add_row(
            m.bank,
            m.category,
            m.action,
            str(m.entry_id),
            m.signal_type,
            f"{m.distance:g} ({m.distance_unit})",
        )
    out.print(table)
    raise typer.Exit(0 if matches else 1)
