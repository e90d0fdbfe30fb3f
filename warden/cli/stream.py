"""`warden worker ...`: the Redis Streams consumer, a producer for files, and the stream's status."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import WardenError
from ..settings import Settings
from .common import _fail, _progress, _settings, app, console

worker_app = typer.Typer(
    help="Moderate a Redis stream: consumer-group workers, a producer, the stream's status.",
    no_args_is_help=True,
)
app.add_typer(worker_app, name="worker")

_REDIS = typer.Option(help="Redis URL (default: stream.redis_url).")
_STREAM = typer.Option(help="Input stream (default: stream.input_stream).")


def _stream_settings(settings: Settings, redis_url: str | None, stream: str | None, **more: Any) -> Settings:
    changes = {
        k: v for k, v in {"redis_url": redis_url, "input_stream": stream, **more}.items() if v is not None
    }
    try:
        return settings.override(stream=changes) if changes else settings
    except ValueError as exc:
        _fail(str(exc))
        raise


def _redis(settings: Settings) -> Any:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from ..stream.worker import connect

    client = connect(settings.stream.redis_url)
    try:
        client.ping()
    except RedisConnectionError as exc:
        _fail(f"cannot reach Redis at {settings.stream.redis_url}: {exc}")
    return client


@worker_app.command("run")
def worker_run(
    consumer: Annotated[
        str | None,
        typer.Option(help="Consumer name in the group (default: host-pid). Reuse it across restarts."),
    ] = None,
    redis_url: Annotated[str | None, _REDIS] = None,
    stream: Annotated[str | None, _STREAM] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (default: stream.group).")] = None,
    read_count: Annotated[int | None, typer.Option(help="Entries per batch.", min=1)] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.", min=0)] = None,
    drain: Annotated[
        bool, typer.Option(help="Exit once the stream has nothing new (batch jobs), not on SIGTERM only.")
    ] = False,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (default: the shipped policy).")] = None,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Consume the input stream until SIGTERM/SIGINT (then finish the batch in hand and exit)."""
    from ..bootstrap import build
    from ..observability import configure_logging
    from ..stream.worker import StreamWorker

    settings = _stream_settings(
        _settings(policy, None, database),
        redis_url,
        stream,
        group=group,
        read_count=read_count,
        metrics_port=metrics_port,
    )
    configure_logging(settings.logging)
    worker: StreamWorker | None = None

    def _on_signal(*_: object) -> None:
        # Before the worker exists (models loading) nothing is in flight: leave at once, cleanly.
        if worker is None:
            raise SystemExit(0)
        worker.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    client = _redis(settings)
    try:
        with console.status("loading models and the bank index"):
            warden = build(settings)
    except WardenError as exc:
        _fail(str(exc))
    with warden:
        worker = StreamWorker(warden, client, settings.stream, consumer=consumer)
        if settings.stream.metrics_port is not None:
            _serve_metrics(worker, settings.host, settings.stream.metrics_port)
        console.print(
            f"worker [bold]{worker.consumer}[/] on {settings.stream.input_stream} "
            f"(group {settings.stream.group}) -> {settings.stream.output_stream}"
        )
        stats = worker.run(idle_exit_after=3 if drain else None)
    console.print(
        f"stopped: {stats.decided:,} decided, {stats.dead_lettered:,} dead-lettered, "
        f"{stats.claimed:,} claimed, {stats.failed:,} failed deliveries, {stats.redis_errors} Redis errors"
    )


def _serve_metrics(worker: Any, host: str, port: int) -> None:
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=worker.metrics.registry)
    console.print(f"metrics on http://{host}:{port}/metrics")


@worker_app.command("push")
def worker_push(
    file: Annotated[Path, typer.Argument(help='JSONL of items ({"id": ..., "text": ...} per line).')],
    redis_url: Annotated[str | None, _REDIS] = None,
    stream: Annotated[str | None, _STREAM] = None,
) -> None:
    """Append a file's items to the input stream (lines are sent as they are: the worker validates
    them and dead-letters bad ones with the reason)."""
    from ..stream.worker import push_items

    settings = _stream_settings(_settings(), redis_url, stream)
    if not file.is_file():
        _fail(f"{file}: no such file")
    client = _redis(settings)
    lines = [raw.decode("utf-8", "replace").strip() for raw in file.read_bytes().splitlines() if raw.strip()]
    with _progress() as progress:
        task = progress.add_task(f"pushing to {settings.stream.input_stream}", total=len(lines))
        n = push_items(
            client, settings.stream.input_stream, lines, on_chunk=lambda k: progress.advance(task, k)
        )
    console.print(f"pushed {n:,} entries to {settings.stream.input_stream}")


@worker_app.command("status")
def worker_status(
    redis_url: Annotated[str | None, _REDIS] = None,
    stream: Annotated[str | None, _STREAM] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    dead_letters: Annotated[int, typer.Option(help="Also show the newest N dead letters.", min=0)] = 0,
) -> None:
    """The stream's length, the group's lag and pending entries, its consumers, dead letters."""
    from ..stream.worker import stream_status

    settings = _stream_settings(_settings(), redis_url, stream)
    client = _redis(settings)
    status = stream_status(client, settings.stream)
    if dead_letters:
        status["newest_dead_letters"] = [
            {"id": eid, **fields}
            for eid, fields in client.xrevrange(settings.stream.dead_letter_stream, count=dead_letters)
        ]
    if as_json:
        Console().print_json(json.dumps(status, default=str))
        return
    group = status["group"] or {}
    console.print(
        f"{settings.stream.input_stream}: {status['input_length']:,} entries, lag {group.get('lag')}, "
        f"pending {group.get('pending')}; output {status['output_length']:,}; "
        f"dead letters {status['dead_letters']:,}"
    )
    table = Table("consumer", "pending", "idle ms")
    for c in status["consumers"]:
        table.add_row(c["name"], str(c["pending"]), str(c["idle_ms"]))
    Console().print(table)
    for letter in status.get("newest_dead_letters", []):
        console.print(f"[yellow]{letter['id']}[/] ({letter.get('attempts')} attempts): {letter.get('error')}")
