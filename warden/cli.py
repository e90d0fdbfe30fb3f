"""`warden` command line: thin commands over the library (no logic lives only here)."""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column, Table

from .banks.cli import bank_app
from .errors import WardenError
from .graph.cli import graph_app
from .policy.model import PolicyError, load_policy
from .review.cli import review_app
from .settings import Settings, get_settings

if TYPE_CHECKING:
    from .bootstrap import Warden
    from .content import Content
    from .decision import Decision
    from .review.service import ReviewService

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
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
console = Console(stderr=True)


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


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per setting.")] = False,
) -> None:
    """Every setting's effective value and where it came from (environment, warden.toml, default)."""
    from .settings import describe_settings

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


def _review_service(settings: Settings) -> ReviewService:
    from .bootstrap import open_store, review_service

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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (default: the shipped policy).")] = None,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy database URL.")] = None,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    from .serve import run

    settings = _settings(policy, None, database)
    updates: dict[str, Any] = {}
    if host:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    run(settings.model_copy(update=updates) if updates else settings)


_ERROR = "__error__"
_EVAL_KEYS = {"labels", "known", "dataset", "split"}


class Split(enum.StrEnum):
    train = "train"
    calib = "calib"
    test = "test"


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
    """Moderate a file of items; writes one decision per line."""
    from .bootstrap import build
    from .content import Content
    from .decision import Decision

    settings = _settings(policy)
    # The composition root, as for the API: banks and graph stages, and with --store the service
    # that stores decisions and routes them to review. The database is opened only when needed.
    needs_db = store or (banks and settings.banks.enabled)
    try:
        parts = build(settings, store=needs_db, store_decisions=store, use_banks=banks, load_media=False)
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
                outcomes = _moderate_valid(
                    [r for _, r in checked if isinstance(r, Content)], parts
                )
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
        parts.close()
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

    from .content import Content, check_item
    from .media.intake import resolve_item

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


def _moderate_valid(items: list[Content], parts: Warden) -> dict[str, Decision | str]:
    """Decision (or error message) per content id."""

    from .media.intake import MediaBatchError

    def run(batch: list[Content]) -> list[Decision]:
        return parts.moderate(batch, actor="cli")

    refused: dict[str, Decision | str] = {}
    try:
        try:
            return {d.content_id: d for d in run(items)}
        except MediaBatchError as exc:
            # Undecodable media: those items get their error, the rest of the chunk is decided.
            refused = {cid: str(err) for cid, err in exc.failures.items()}
            items = [item for item in items if item.id not in refused]
            return {**refused, **{d.content_id: d for d in run(items)}}
    except WardenError:
        # e.g. an id already stored with other content, or a malformed hash: find the culprit(s)
        # one by one so the rest of the chunk still gets decisions.
        outcomes: dict[str, Decision | str] = dict(refused)
        for item in items:
            try:
                [outcomes[item.id]] = run([item])
            except WardenError as exc:
                outcomes[item.id] = str(exc)
        return outcomes


@app.command()
def train(
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of the data sets (default ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the model files.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    commercial_only: Annotated[
        bool, typer.Option(help="Train only on data sets whose licence allows commercial use.")
    ] = False,
    skip_multilingual: Annotated[bool, typer.Option(help="Skip the (slow) multilingual E5 heads.")] = False,
    labels: Annotated[
        Path | None, typer.Option(help="Review labels JSONL (`warden review export-labels`) to merge in.")
    ] = None,
    labels_from_store: Annotated[
        bool, typer.Option(help="Merge every review label in the database.")
    ] = False,
    golden: Annotated[
        Path | None, typer.Option(help="Golden set JSONL for the gate (default: the registry's).")
    ] = None,
    registry: Annotated[
        Path | None,
        typer.Option(help="Train a candidate version here and gate it (implied by --labels/--golden)."),
    ] = None,
    dataset: Annotated[list[str] | None, typer.Option(help="Only these data set(s).")] = None,
    max_items_per_dataset: Annotated[
        int | None, typer.Option(help="Cap per data set (quick experiments).", min=1)
    ] = None,
) -> None:
    """Train the text models; with a registry, as a candidate that is promoted only if not worse."""
    from .learn.train import TrainConfig
    from .learn.train import train as run_train

    settings = _settings(policy)
    gated = registry is not None or labels is not None or labels_from_store or golden is not None
    if gated and out is not None:
        _fail("--out writes models directly; with --registry/--labels/--golden the registry decides")
    config = TrainConfig(
        data_dir=data_dir or settings.data_dir,
        out_dir=out or settings.models_dir,
        commercial_only=commercial_only,
        skip_e5=skip_multilingual,
        datasets=dataset or None,
        max_items_per_dataset=max_items_per_dataset,
        pipeline=settings.pipeline,
    )
    try:
        if not gated:
            run_train(load_policy(settings.policy_path), config, console)
            return
        from .learn.registry import DEFAULT_ROOT, ModelRegistry, gate_table, train_and_gate
        from .learn.review_labels import labels_from_store as store_labels
        from .learn.review_labels import read_review_labels

        active = load_policy(settings.policy_path)
        review = read_review_labels(labels, active.category_ids) if labels else []
        review += store_labels(_review_service(settings)) if labels_from_store else []
        reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=settings.models_dir)
        report = train_and_gate(active, config, reg, settings, review, golden, console=console)
    except (WardenError, FileNotFoundError) as exc:
        _fail(str(exc))
    Console().print(gate_table(report))
    where = reg.path_of(report.candidate)
    if report.promoted:
        console.print(f"[green]promoted[/] {report.candidate} ({where}); live models: {reg.root / 'current'}")
    else:
        console.print(f"[yellow]kept in shadow[/] {report.candidate} ({where}): {'; '.join(report.reasons)}")


models_app = typer.Typer(help="Model versions in a registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")
_REGISTRY_OPTION = typer.Option(help="Registry root.")


@models_app.command("list")
def models_list(registry: Annotated[Path | None, _REGISTRY_OPTION] = None) -> None:
    """Versions with their status and gate result."""
    from .learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    table = Table("version", "status", "created", "parent", "gate", "macro F1 (live -> cand.)", "path")
    for v in reg.versions():
        g = v.gate or {}
        f1 = f"{g['current_macro_f1']:.4f} -> {g['candidate_macro_f1']:.4f}" if g else "-"
        verdict = (
            ("passed" if g.get("passed") else "failed: " + "; ".join(g.get("reasons", []))) if g else "-"
        )
        table.add_row(v.id, v.status, v.created_at, v.parent or "-", verdict, f1, v.path)
    Console().print(table)


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version id, e.g. v0002.")],
    registry: Annotated[Path | None, _REGISTRY_OPTION] = None,
) -> None:
    """Make a version live by hand (overrides the gate; recorded in the history)."""
    from .learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    try:
        reg.promote(version, reason="manual promote")
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]live[/]: {version} -> {reg.root / 'current'}")


@models_app.command("rollback")
def models_rollback(registry: Annotated[Path | None, _REGISTRY_OPTION] = None) -> None:
    """Make the previously live version live again."""
    from .learn.registry import DEFAULT_ROOT, ModelRegistry

    reg = ModelRegistry(registry or DEFAULT_ROOT, baseline=get_settings().models_dir)
    try:
        version = reg.rollback()
    except WardenError as exc:
        _fail(str(exc))
    console.print(f"[green]live[/]: {version}")


@app.command()
def learn(
    budget: Annotated[int, typer.Option(help="How many items to propose.", min=1)],
    data: Annotated[
        Path | None,
        typer.Option(help="Pool: JSONL/CSV of items (JSONL items with 'labels' count as labelled)."),
    ] = None,
    from_store: Annotated[
        bool, typer.Option(help="Pool: pending review tasks in the database (labelled: its review labels).")
    ] = False,
    strategy: Annotated[
        str, typer.Option(help="random | uncertainty | margin | kcenter | hybrid")
    ] = "hybrid",
    labels: Annotated[
        Path | None, typer.Option(help="Review labels JSONL: items with these texts count as labelled.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Write the proposed batch (JSONL) here.")] = Path("batch.jsonl"),
    seed: Annotated[int, typer.Option(help="Seed for tie-breaking and random sampling.")] = 0,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
) -> None:
    """Propose the next batch to label: the live models' uncertainty and/or diversity of MiniLM embeddings."""
    from .learn.active import mark_labelled, pool_from_store, propose_batch, read_pool
    from .learn.review_labels import read_review_labels
    from .moderator import Moderator

    if (data is None) == (not from_store):
        _fail("give exactly one pool: --data FILE or --from-store")
    settings = _settings(policy)
    try:
        pool = read_pool(data) if data is not None else pool_from_store(_review_service(settings))
        if labels is not None:
            pool = mark_labelled(pool, [lab.text for lab in read_review_labels(labels)])
        moderator = Moderator.from_settings(settings).load()
        with _progress() as bar:
            task = bar.add_task(f"scoring and embedding {len(pool):,} items", total=2 * len(pool))
            batch = propose_batch(
                moderator, pool, budget, strategy, seed, progress=lambda n: bar.advance(task, n)
            )
    except (WardenError, FileNotFoundError) as exc:
        _fail(str(exc))
    with out.open("w", encoding="utf-8") as fh:
        for row in batch:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    labelled = sum(i.labelled for i in pool)
    console.print(
        f"[green]proposed[/] {len(batch)} of {len(pool) - labelled:,} unlabelled items ({strategy}) -> {out}"
    )


@app.command("train-media-fusion")
def train_media_fusion(
    data_dir: Annotated[
        Path | None, typer.Option(help="Root of the data sets (default ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write media_fusion.json.")] = None,
    n_calib: Annotated[int | None, typer.Option(help="Calib-split memes to render (default all).")] = None,
    n_test: Annotated[int | None, typer.Option(help="Test-split memes to render (default all).")] = None,
) -> None:
    """Fit the multimodal fusion on rendered memes + captions (calib split); report on the test split."""
    from .media.fusion import DEFAULT_DIR
    from .media.ocr import TesseractOcr
    from .media.train_fusion import FusionTrainConfig
    from .media.train_fusion import train_media_fusion as run_fusion
    from .moderator import Moderator

    settings = _settings()
    config = FusionTrainConfig(
        data_dir=data_dir or settings.data_dir, out_dir=out or DEFAULT_DIR, n_calib=n_calib, n_test=n_test
    )
    try:
        moderator = Moderator.from_settings(settings).load()
        ocr = TesseractOcr(
            languages=settings.media.ocr_languages,
            timeout_s=settings.media.ocr_timeout_s,
            workers=settings.media.threads,
        )
        report = run_fusion(config, moderator, ocr, console)
    except WardenError as exc:
        _fail(str(exc))
    Console().print_json(data={k: v for k, v in report.items() if k.startswith("test")})


@app.command("eval")
def evaluate(
    data: Annotated[
        Path, typer.Argument(help="Labelled JSONL ({id, text, labels}) or CSV with category columns.")
    ],
    report: Annotated[Path, typer.Option(help="Directory for metrics.json and report.html.")] = Path(
        "reports/eval"
    ),
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    batch_size: Annotated[int, typer.Option(help="Items per model batch.", min=1, max=1000)] = 256,
) -> None:
    """Evaluate the pipeline on labelled data and write a report."""
    from .content import Content
    from .evaluate import read_labelled, run_evaluation
    from .moderator import Moderator

    settings = _settings(policy)
    if not data.exists():
        _fail(f"{data}: file not found")
    moderator = Moderator.from_settings(settings).load()
    try:
        items = read_labelled(data, moderator.policy.category_ids)
    except WardenError as exc:
        _fail(str(exc))
    decisions = []
    with _progress() as bar:
        task = bar.add_task(f"evaluating {data.name}", total=len(items))
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            contents = [
                Content(id=i.id, text=i.text[: settings.limits.max_text_chars], language=i.language)
                for i in chunk
            ]
            decisions += moderator.moderate(contents)
            bar.advance(task, len(chunk))
    meta = {
        "data": str(data),
        "policy": moderator.policy.full_version,
        "models": moderator.pipeline.model_versions(),
    }
    result = run_evaluation(items, decisions, moderator.policy.category_ids, meta, report)
    _print_metrics(result)
    console.print(f"report: {report / 'report.html'}")


def _print_metrics(result: dict[str, Any]) -> None:
    table = Table("scope", "n+", "precision", "recall", "f1", "pr_auc", "roc_auc", "fpr")

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    rows = [("overall", result["overall"])] + list(result.get("categories", {}).items())
    for name, m in rows:
        table.add_row(
            name,
            fmt(m.get("support_pos")),
            *(fmt(m.get(k)) for k in ("precision", "recall", "f1", "pr_auc", "roc_auc", "fpr")),
        )
    Console().print(table)


@app.command("model-card")
def model_card(
    data_dir: Annotated[Path | None, typer.Option(help="Root of the data sets.")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write a report per data set here.")] = None,
    quality: Annotated[
        Path,
        typer.Option(
            help="Generalisation figures (`make bench AREA=quality`) to include, if the file exists."
        ),
    ] = Path("bench/results/quality.json"),
) -> None:
    """Evaluate on every data set's test split and write the models' MODEL_CARD.md."""
    from .learn.model_card import evaluate_test_splits, write_model_card
    from .moderator import Moderator

    settings = get_settings()
    moderator = Moderator.from_settings(settings).load()
    try:
        results = evaluate_test_splits(moderator, data_dir or settings.data_dir, report, console)
    except WardenError as exc:
        _fail(str(exc))
    figures = json.loads(quality.read_text()) if quality.is_file() else None
    path = write_model_card(settings.models_dir, results, figures)
    for name, res in sorted(results.items()):
        console.print(f"[bold]{name}[/]")
        _print_metrics(res)
    console.print(f"model card: {path}")


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
    from .content import Content
    from .moderator import Moderator
    from .policy.backtest import backtest

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
    from .store import Store

    try:
        store = Store(_settings(database=database).database_url)
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
    from .learn.datasets import load_datasets, to_eval_jsonl

    try:
        items = load_datasets(data_dir or get_settings().data_dir, dataset or None)
    except (WardenError, ValueError, KeyError) as exc:
        _fail(str(exc))
    chosen = [i for i in items if i.split == split.value]
    to_eval_jsonl(chosen, out)
    console.print(f"wrote {len(chosen):,} items to {out}")


cascade_app = typer.Typer(
    help="The cost-aware cascade: fit where each stage lets items leave.", no_args_is_help=True
)
app.add_typer(cascade_app, name="cascade")


@cascade_app.command("fit")
def cascade_fit(
    sample: Annotated[
        int, typer.Option(help="Validation items to fit on (calibration split).", min=100)
    ] = 3000,
    max_missed: Annotated[
        float, typer.Option(help="Share of full-cascade flags early exits may lose.")
    ] = 0.01,
    data_dir: Annotated[Path | None, typer.Option(help="Root of the data sets.")] = None,
) -> None:
    """Fit the benign-exit thresholds on validation data and write cascade.json beside the models."""
    from .cascade import fit_cascade
    from .learn.validation import validation_sample
    from .moderator import Moderator

    settings = get_settings().override(pipeline={"cascade_exits": False})
    try:
        items, truth = validation_sample(data_dir or settings.data_dir, sample)
    except WardenError as exc:
        _fail(str(exc))
    moderator = Moderator.from_settings(settings).load()
    with console.status(f"running the full cascade on {len(items):,} validation items"):
        plan = fit_cascade(moderator, items, truth, max_missed=max_missed)
    table = Table("exit_below", "escalated", "agreement", "F1", "cost / 1,000", title="fast-stage trade-off")
    for row in plan.tradeoff:
        table.add_row(
            f"{row['exit_below']:g}",
            f"{row['escalated_share']:.1%}",
            f"{row['agreement_with_full_cascade']:.1%}",
            f"{row['f1']:.3f}",
            f"{row['cost_per_1000']:,.0f}",
        )
    Console().print(table)
    path = plan.save(settings.models_dir)
    console.print(f"exits {plan.exit_below} -> {path}")


judge_app = typer.Typer(help="The LLM policy judge.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")


@judge_app.command("eval")
def judge_eval(
    dataset: Annotated[str, typer.Option(help="Data set name, e.g. sms-spam-collection.")],
    category: Annotated[str, typer.Option(help="Policy category to ask about, e.g. spam_scam.")],
    n: Annotated[int, typer.Option("-n", help="Items (half violating, half not).", min=2)] = 200,
    split: Annotated[str, typer.Option(help="Split to sample.")] = "test",
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Agreement of the configured judge with a data set's labels (accuracy, kappa, F1, items/s)."""
    from .llm.evaluate import measure_agreement, sample_items
    from .llm.judge import PolicyJudge

    settings = get_settings()
    judge_settings = settings.judge.model_copy(update={"categories": [category], "cache_size": 0})
    try:
        items = sample_items(settings.data_dir, dataset, category, n, split, True, seed)
        judge = PolicyJudge(load_policy(settings.policy_path), settings=judge_settings)
        with console.status(f"judging {len(items)} items"):
            result = measure_agreement(judge, items, category)
    except (WardenError, ValueError) as exc:
        _fail(str(exc))
    table = Table("figure", "value", title=f"judge {judge.model_id} on {dataset} / {category}")
    for key, value in result.to_dict().items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)


@app.command()
def bench(
    area: Annotated[str | None, typer.Option(help="One area (e.g. text); default all.")] = None,
) -> None:
    """Run the benchmarks; figures go to bench/results/AREA.json."""
    from .bench import run_benchmarks

    run_benchmarks(area)


if __name__ == "__main__":  # pragma: no cover
    app()
