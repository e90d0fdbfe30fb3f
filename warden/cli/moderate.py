"""`warden moderate`: files of items (JSONL/CSV) or media files in, decisions out."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import WardenError
from ..settings import Settings

if TYPE_CHECKING:
    from ..bootstrap import Warden
    from ..content import Content
    from ..decision import Decision

from .common import (
    _fail,
    _progress,
    _remote,
    _settings,
    app,
    console,
)

# Rows that failed to parse carry their error under this key; evaluation keys are not Content fields.
_ERROR = "__error__"
_EVAL_KEYS = {"labels", "known", "dataset", "split"}


def _read_items(path: Path) -> Iterator[dict[str, Any]]:
    """JSONL (one object per line) or CSV with `id` and `text` columns."""
    if path.suffix.lower() == ".csv":
        raw_bytes = path.read_bytes()
        try:
            text = raw_bytes.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw_bytes[: exc.start].count(b"\n") + 1
            raise WardenError(
                f"{path}:{line}: invalid UTF-8 at byte {exc.start} (CSV must be UTF-8)"
            ) from exc
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise WardenError(f"{path}: CSV needs a header with a 'text' column (optional: id, language)")
        for n, row in enumerate(reader, start=2):
            item = {"id": row.get("id") or f"row-{n}", "text": row["text"]}
            if row.get("language"):
                item["language"] = row["language"]
            yield item
        return
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            # A bad line becomes an error record in the output; the rest of the file still runs.
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield {"id": f"line-{n}", _ERROR: f"{path}:{n}: invalid UTF-8 at byte {exc.start}"}
                continue
            except json.JSONDecodeError as exc:
                yield {"id": f"line-{n}", _ERROR: f"{path}:{n}: invalid JSON: {exc.msg}"}
                continue
            if not isinstance(obj, dict):
                yield {"id": f"line-{n}", _ERROR: f"{path}:{n}: each line must be a JSON object"}
                continue
            obj.setdefault("id", f"line-{n}")
            # Evaluation keys are ignored so labelled files can be moderated as they are; any
            # other unknown key reaches Content validation and is reported for that line.
            yield {k: v for k, v in obj.items() if k not in _EVAL_KEYS}


@app.command()
def moderate(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help='JSONL or CSV file with id and text (JSONL rows may carry media: [{"path": ...}]).',
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    image: Annotated[
        list[Path] | None, typer.Option("--image", help="An image or animated GIF to moderate (repeatable).")
    ] = None,
    video: Annotated[
        list[Path] | None, typer.Option("--video", help="A video to moderate (repeatable).")
    ] = None,
    caption: Annotated[str, typer.Option(help="Caption judged with each --image/--video.")] = "",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write decisions JSONL here (default stdout).")
    ] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    batch_size: Annotated[int, typer.Option(help="Items per model batch.", min=1, max=1000)] = 256,
    store: Annotated[bool, typer.Option(help="Also store decisions in the database.")] = False,
    banks: Annotated[bool, typer.Option(help="Match against the banks in the database first.")] = True,
) -> None:
    """Moderate a file of items; writes one decision per line. With `warden --remote URL` the items
    go to that server (which stores the decisions and runs its own policy) instead."""
    from ..content import Content
    from ..decision import Decision

    settings = _settings(policy)
    remote = _remote(ctx)
    if remote.url and policy is not None:
        _fail("--policy applies to local moderation; a remote server runs its active policy")
    try:
        decide = _remote_decider(remote) if remote.url else _local_decider(settings, store, banks)
    except (WardenError, FileNotFoundError) as exc:
        _fail(str(exc))
    try:
        rows = list(_read_items(file)) if file is not None else []
    except WardenError as exc:
        _fail(str(exc))
    rows += _media_rows(image or [], "image", caption) + _media_rows(video or [], "video", caption)
    if not rows and file is None:
        _fail("give a FILE of items, or media with --image / --video")
    base_dir = file.parent if file is not None else Path.cwd()
    if any(row.get("media") for row in rows):
        batch_size = min(batch_size, 16)  # media bytes are held per chunk: keep chunks small
    seen_ids: set[str] = set()
    errors = 0
    counts: dict[str, int] = {}
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with _progress() as bar:
            task = bar.add_task(f"moderating {file.name if file else 'media'}", total=len(rows))
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                # Every item is checked on its own, so one bad item never costs the others.
                checked = [
                    _check_row(row, settings, seen_ids, file.name if file else "the arguments", base_dir)
                    for row in chunk
                ]
                outcomes = decide.moderate([r for _, r in checked if isinstance(r, Content)])
                # Output keeps the input order: decisions and error records interleaved.
                for content_id, result in checked:
                    outcome = outcomes[result.id] if isinstance(result, Content) else result
                    if isinstance(outcome, Decision):
                        counts[outcome.action] = counts.get(outcome.action, 0) + 1
                        out.write(outcome.model_dump_json() + "\n")
                    else:
                        errors += 1
                        out.write(json.dumps({"content_id": content_id, "error": outcome}) + "\n")
                bar.advance(task, len(chunk))
    finally:
        if output:
            out.close()
        decide.close()
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    done = sum(counts.values())
    console.print(f"[green]done[/]: {done} decisions ({summary}); {errors} invalid item(s)")


def _media_rows(paths: list[Path], kind: str, caption: str) -> list[dict[str, Any]]:
    """One item per --image/--video file, its id the file name."""
    return [
        {"id": path.name, "kind": kind, "text": caption, "media": [{"path": str(path.resolve())}]}
        for path in paths
    ]


def _check_row(
    row: dict[str, Any], settings: Settings, seen_ids: set[str], source: str, base_dir: Path | None = None
) -> tuple[Any, Content | str]:
    """(id, Content) for a valid row, (id, error message) otherwise; ids must be unique in the file.

    Media paths are read here (relative ones from `base_dir`, the input file's folder), so a missing
    or oversized file is this row's error and the item's content hash names the bytes."""
    from pydantic import ValidationError as PydanticValidationError

    from ..content import Content, check_item
    from ..media.intake import resolve_item

    if _ERROR in row:
        return row["id"], row[_ERROR]
    try:
        item = Content.model_validate(row)
        check_item(item, settings.limits)
        if item.media and base_dir is not None:
            item = item.model_copy(
                update={
                    "media": [
                        m.model_copy(update={"path": str(base_dir / m.path)})
                        if m.path is not None and not Path(m.path).expanduser().is_absolute()
                        else m
                        for m in item.media
                    ]
                }
            )
        item = resolve_item(item, settings.media, settings.limits, allow_path=True)
    except PydanticValidationError as exc:
        return row.get("id"), "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    except WardenError as exc:
        return row.get("id"), str(exc)
    if item.id in seen_ids:
        return item.id, f"duplicate id {item.id!r} in {source}"
    seen_ids.add(item.id)
    return item.id, item


class _LocalDecider:
    """The models in this process, built by the composition root as for the API: banks and graph
    stages, and with --store the service that stores decisions and routes them to review."""

    def __init__(self, parts: Warden) -> None:
        self.parts = parts

    def moderate(self, items: list[Content]) -> dict[str, Decision | str]:
        """Decision (or error message) per content id; one bad item never costs the others theirs."""
        from ..decision import Decision

        outcomes = self.parts.moderate_each(items, actor="cli")
        return {cid: o if isinstance(o, Decision) else str(o) for cid, o in outcomes.items()}

    def close(self) -> None:
        self.parts.close()


def _local_decider(settings: Settings, store: bool, banks: bool) -> _LocalDecider:
    from ..bootstrap import build

    # The database is opened only when needed.
    needs_db = store or (banks and settings.banks.enabled)
    return _LocalDecider(
        build(settings, store=needs_db, store_decisions=store, use_banks=banks, load_media=False)
    )


class _RemoteDecider:
    """A Warden server through the client SDK (retries, batches split under the server's limits)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        from ..client import WardenClient

        self.client = WardenClient(url, api_key=api_key)

    def moderate(self, items: list[Content]) -> dict[str, Decision | str]:
        from ..client import WardenAPIError

        if not items:
            return {}
        try:
            result = self.client.moderate_batch(items)
        except WardenAPIError as exc:  # the whole request was refused: every item carries why
            return {item.id: exc.message for item in items}
        outcomes: dict[str, Decision | str] = {d.content_id: d for d in result.decisions}
        outcomes.update({e.content_id: e.message for e in result.errors})
        return outcomes

    def close(self) -> None:
        self.client.close()


def _remote_decider(remote: Any) -> _RemoteDecider:
    return _RemoteDecider(remote.url, remote.api_key)
